// What a root context's code needs from the host, in its own words.
import { BufferType } from "./types";
import { bufferBytes, setTickPeriodMs } from "./hostcalls";

export function pluginConfiguration(size: u32): Uint8Array {
  return bufferBytes(BufferType.PluginConfiguration, size);
}

/** Asks the host to call proxy_on_tick every `ms` milliseconds. */
export function tickEvery(ms: u32): void {
  setTickPeriodMs(ms);
}
