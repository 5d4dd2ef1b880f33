import { proxy_log } from "./imports";
import { LogLevel } from "./types";

// AssemblyScript calls this on a failed bounds check or assertion. Envoy provides no `env.abort`,
// so the module must not import one: log what we can, then trap. Code above the ABI layer is written
// so that this is never reached; a trap here takes down the VM and every stream on it.
export function onAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "ai-quota: abort: ";
  if (message !== null) text += message;
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  const bytes = String.UTF8.encode(text);
  proxy_log(LogLevel.Critical, changetype<usize>(bytes), <usize>bytes.byteLength);
  unreachable();
}
