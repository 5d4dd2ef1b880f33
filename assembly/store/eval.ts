// Running a Lua script by its SHA-1, falling back to sending the script itself once when Redis
// answers NOSCRIPT (after a restart or SCRIPT FLUSH); EVAL caches it again for the next call.
// The command is written with redis/command.ts; the store does the fallback (Store.evalsha).
import { StoreCallback } from "../redis/reply";
import { Store } from "./store";
import { argBuffer, beginCommand, endCommand } from "../redis/command";

const EVALSHA = String.UTF8.encode("EVALSHA");

/** Starts an EVALSHA command: add the keys and arguments (command.ts), then send it with sendScript. */
export function beginScript(sha: ArrayBuffer): void {
  beginCommand();
  argBuffer(EVALSHA);
  argBuffer(sha);
}

export function sendScript(store: Store, script: string, callback: StoreCallback): bool {
  return store.evalsha(endCommand(), script, callback);
}
