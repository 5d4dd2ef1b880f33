// Which Redis errors are worth sending again. A reply Redis (or the proxy in front of it) gives
// while it is busy, loading, failing over or moving a slot goes away by itself: the command is
// retried, and on the request path it counts as "Redis is down" (the `redis_failure` policy).
// Any other error reply is an answer about the command itself — CROSSSLOT, WRONGTYPE, MOVED that
// nothing followed, a script refusing its arguments — and sending it again gets the same answer:
// it is refused (never admitted by `redis_failure: allow`), logged at error and counted.
import { StoreReply } from "./reply";

const TRANSIENT: Array<string> = [
  // Redis: loading its data, running a long script, a cluster slot moving or the cluster down,
  // a replica that lost its master or is read-only after a failover, out of memory for now.
  "LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "OOM", "NOREPLICAS",
  // The connection lost its AUTH (the client re-authenticates once before it gets here).
  "NOAUTH",
  "ERR max number of clients reached",
  // Envoy's redis_proxy (source/extensions/filters/network/redis_proxy/command_splitter_impl.h, Response).
  "no upstream host", "upstream failure", "upstream protocol error",
];

/** An error that may go away by itself (always true for no answer at all). */
export function isTransientError(error: string): bool {
  for (let i = 0; i < TRANSIENT.length; i++) {
    if (error.startsWith(TRANSIENT[i])) return true;
  }
  return false;
}

/** Redis answered with an error that sending the command again cannot fix. */
export function isPermanentError(reply: StoreReply): bool {
  return reply.isError() && reply.value !== null && !isTransientError(reply.error);
}

/** Redis is moving the command's slot: try again in a moment. */
export function isTryAgain(reply: StoreReply): bool {
  return reply.isError() && reply.value !== null && reply.error.startsWith("TRYAGAIN");
}

/** The store forgot the script: EVAL it. */
export function isNoScript(reply: StoreReply): bool {
  return reply.isError() && reply.error.startsWith("NOSCRIPT");
}
