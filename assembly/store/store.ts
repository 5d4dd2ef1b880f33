// Where balances live, as the quota logic sees it: a place that runs Redis commands and calls back.
// The Higress build talks to Redis through Higress's host calls (redis/client.ts, wrapped by
// store/redis_store.ts); the plain-Envoy build talks to a Redis REST endpoint over proxy_http_call
// (store/http_store.ts). Which one a
// module carries is decided by its entry file, so each module imports only what its host provides.
import { encodeCommand } from "../redis/resp";
import { StoreCallback } from "../redis/reply";
import { CallSender, PendingCall } from "../redis/calls";

export class Store extends CallSender {
  /** Sends a command; false when it could not be sent (then the callback never runs). */
  command(args: Array<string>, callback: StoreCallback): bool {
    return this.send(encodeCommand(args), callback);
  }

  /** Sends a RESP-encoded command (redis/command.ts); false when it could not be sent. */
  send(query: ArrayBuffer, callback: StoreCallback): bool {
    return this.sendCall(new PendingCall(query, callback, false, null));
  }

  /**
   * Sends an EVALSHA command (`query`); when the store answers NOSCRIPT (it forgot the script: a
   * restart, SCRIPT FLUSH), sends the same as EVAL of `script` once, and answers that (redis/calls.ts).
   */
  evalsha(query: ArrayBuffer, script: string, callback: StoreCallback): bool {
    return this.sendCall(new PendingCall(query, callback, false, script));
  }
  /** A name for logs: the Redis cluster or the HTTP endpoint. */
  describe(): string { return ""; }
  onRedisCallResponse(calloutId: u32, status: u32, size: u32): void {}
  onHttpCallResponse(calloutId: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {}
}
