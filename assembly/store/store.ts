// Where balances live, as the quota logic sees it: a place that runs Redis commands and calls back.
// The Higress build talks to Redis through Higress's host calls (redis/client.ts, wrapped by
// store/redis_store.ts); the plain-Envoy build talks to a Redis REST endpoint over proxy_http_call
// (store/http_store.ts). Which one a
// module carries is decided by its entry file, so each module imports only what its host provides.
import { encodeCommand, evalQueryFor } from "../redis/resp";
import { REDIS_UNREACHABLE, StoreCallback, StoreReply } from "../redis/reply";
import { isNoScript } from "../redis/errors";

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

/** The NOSCRIPT fallback, the one for every store (Redis and HTTP alike). */
class NoScriptFallback extends StoreCallback {
  constructor(public store: Store, public query: ArrayBuffer, public script: string, public inner: StoreCallback) {
    super(inner.contextId);
  }

  onReply(reply: StoreReply): void {
    if (isNoScript(reply)) {
      const q = evalQueryFor(this.query, this.script);
      if (q !== null && this.store.send(q, this.inner)) return;
      this.inner.onReply(new StoreReply(null, REDIS_UNREACHABLE));
      return;
    }
    this.inner.onReply(reply);
  }

  onStreamGone(reply: StoreReply): void {
    this.inner.onStreamGone(reply);
  }
}
