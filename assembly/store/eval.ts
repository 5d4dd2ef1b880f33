// Running a Lua script by its SHA-1, falling back to sending the script itself once when Redis
// answers NOSCRIPT (after a restart or SCRIPT FLUSH); EVAL caches it again for the next call.
import { Store, StoreCallback, StoreReply } from "./store";

/** `keysAndArgs` starts with the number of keys, as EVAL's arguments do. */
export function evalScript(store: Store, sha: string, script: string, keysAndArgs: Array<string>, callback: StoreCallback): bool {
  const args = ["EVALSHA", sha].concat(keysAndArgs);
  return store.command(args, new NoScriptFallback(store, script, keysAndArgs, callback));
}

class NoScriptFallback extends StoreCallback {
  constructor(public store: Store, public script: string, public keysAndArgs: Array<string>, public inner: StoreCallback) {
    super(inner.contextId);
  }

  onReply(reply: StoreReply): void {
    if (reply.isError() && reply.error.startsWith("NOSCRIPT")) {
      const args = ["EVAL", this.script].concat(this.keysAndArgs);
      if (this.store.command(args, this.inner)) return;
      this.inner.onReply(new StoreReply(null, "cannot connect to redis cluster"));
      return;
    }
    this.inner.onReply(reply);
  }

  onStreamGone(reply: StoreReply): void {
    this.inner.onStreamGone(reply);
  }
}
