// What a root context's code needs from the host, in its own words.
import { BufferType } from "./types";
import { bufferBytes } from "./hostcalls";

export function pluginConfiguration(size: u32): Uint8Array {
  return bufferBytes(BufferType.PluginConfiguration, size);
}
