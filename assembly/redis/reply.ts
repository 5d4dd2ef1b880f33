// What a command comes back with, and the continuation it resumes. Both stores (the Redis client
// here and the HTTP store in store/) answer with these, so they sit below store/.
import { RespValue } from "./resp";
import { setEffectiveContext } from "../abi/hostcalls";
import { liveHttpContext } from "../abi/dispatcher";
import { Status } from "../abi/types";

/** The error a command gets when Redis could not be reached or the command not sent. */
export const REDIS_UNREACHABLE = "cannot connect to redis cluster";

/** What a command came back with: a value, or why there is none (transport failure or a Redis error reply). */
export class StoreReply {
  constructor(public value: RespValue | null, public error: string) {}
  isError(): bool { return this.error.length > 0; }
}

/**
 * The continuation of a command. `contextId` names the HTTP stream to resume (0: none);
 * when that stream is gone by the time the reply comes, `onStreamGone` runs instead of `onReply`.
 */
export class StoreCallback {
  constructor(public contextId: u32) {}
  onReply(reply: StoreReply): void {}
  onStreamGone(reply: StoreReply): void {}
}

/**
 * Runs a reply's continuation in the stream it belongs to, or `onStreamGone` when that stream is
 * over. Our own table decides first: the host keeps a context until its deferred delete, so
 * proxy_set_effective_context can still succeed for a stream that has ended.
 */
export function deliver(callback: StoreCallback, reply: StoreReply): void {
  const id = callback.contextId;
  if (id != 0 && (liveHttpContext(id) === null || setEffectiveContext(id) != Status.Ok)) {
    callback.onStreamGone(reply);
    return;
  }
  callback.onReply(reply);
}
