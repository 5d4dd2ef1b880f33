// Running a Lua script by its SHA-1, falling back to sending the script itself once when Redis
// answers NOSCRIPT (after a restart or SCRIPT FLUSH); EVAL caches it again for the next call.
// The command is written with redis/command.ts; the store does the fallback (Store.evalsha).
import { Store, StoreCallback } from "./store";
import { argBuffer, argString, beginCommand, endCommand } from "../redis/command";

const EVALSHA = String.UTF8.encode("EVALSHA");

/** `keysAndArgs` starts with the number of keys, as EVAL's arguments do. */
export function evalScript(store: Store, sha: string, script: string, keysAndArgs: Array<string>, callback: StoreCallback): bool {
  beginCommand();
  argBuffer(EVALSHA);
  argString(sha);
  for (let i = 0; i < keysAndArgs.length; i++) argString(keysAndArgs[i]);
  return store.evalsha(endCommand(), script, callback);
}

/** Starts an EVALSHA command: add the keys and arguments (command.ts), then send it with sendScript. */
export function beginScript(sha: ArrayBuffer): void {
  beginCommand();
  argBuffer(EVALSHA);
  argBuffer(sha);
}

export function sendScript(store: Store, script: string, callback: StoreCallback): bool {
  return store.evalsha(endCommand(), script, callback);
}
