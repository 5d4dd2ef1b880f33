// Where balances live, as the quota logic sees it: a place that runs Redis commands and calls back.
// The Higress build talks to Redis through Higress's host calls (redis/client.ts); the plain-Envoy
// build talks to a Redis REST endpoint over proxy_http_call (store/http_store.ts). Which one a
// module carries is decided by its entry file, so each module imports only what its host provides.
import { RespValue, encodeCommand, evalQueryFor } from "../redis/resp";
import { setEffectiveContext } from "../abi/hostcalls";
import { liveHttpContext } from "../abi/dispatcher";
import { Status } from "../abi/types";

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

export class Store {
  /** Sends a command; false when it could not be sent (then the callback never runs). */
  command(args: Array<string>, callback: StoreCallback): bool {
    return this.send(encodeCommand(args), callback);
  }

  /** Sends a RESP-encoded command (redis/command.ts); false when it could not be sent. */
  send(query: ArrayBuffer, callback: StoreCallback): bool { return false; }

  /**
   * Sends an EVALSHA command (`query`); when the store answers NOSCRIPT (it forgot the script: a
   * restart, SCRIPT FLUSH), sends the same as EVAL of `script` once, and answers that.
   */
  evalsha(query: ArrayBuffer, script: string, callback: StoreCallback): bool {
    return this.send(query, new NoScriptFallback(this, query, script, callback));
  }
  /** A name for logs: the Redis cluster or the HTTP endpoint. */
  describe(): string { return ""; }
  onRedisCallResponse(calloutId: u32, status: u32, size: u32): void {}
  onHttpCallResponse(calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {}
}

/** The generic NOSCRIPT fallback (a store may handle it itself, as the Redis client does). */
class NoScriptFallback extends StoreCallback {
  constructor(public store: Store, public query: ArrayBuffer, public script: string, public inner: StoreCallback) {
    super(inner.contextId);
  }

  onReply(reply: StoreReply): void {
    if (isNoScript(reply)) {
      const q = evalQueryFor(this.query, this.script);
      if (q !== null && this.store.send(q, this.inner)) return;
      this.inner.onReply(new StoreReply(null, "cannot connect to redis cluster"));
      return;
    }
    this.inner.onReply(reply);
  }

  onStreamGone(reply: StoreReply): void {
    this.inner.onStreamGone(reply);
  }
}

/** The store forgot the script: EVAL it. */
export function isNoScript(reply: StoreReply): bool {
  return reply.isError() && reply.error.startsWith("NOSCRIPT");
}
