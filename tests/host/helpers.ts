// Shared setup for the host's tests: the probe module, a VM wired to a Redis server, and
// request headers in the shape a client sends.
import * as path from "node:path";
import { HeaderPairs, PluginVm, PluginVmOptions, RedisServer } from "../../host";

export const ROOT = path.resolve(__dirname, "../..");
export const PROBE_WASM = path.join(ROOT, "build/test/abi_probe.wasm");
export const PLUGIN_WASM = path.join(ROOT, "build/ai-quota.wasm");
export const CLUSTER = "outbound|6379||redis.static";

export function get(p: string, extra: HeaderPairs = []): HeaderPairs {
  return [[":method", "GET"], [":path", p], [":authority", "gateway.test"], [":scheme", "http"], ...extra];
}

export function post(p: string, extra: HeaderPairs = []): HeaderPairs {
  return [[":method", "POST"], [":path", p], [":authority", "gateway.test"], [":scheme", "http"], ...extra];
}

/** A started probe VM whose Redis cluster points at `redis` (or nowhere). */
export async function probeVm(options: {
  redis?: RedisServer | { host: string; port: number };
  config?: string;
  vm?: Partial<PluginVmOptions>;
} = {}): Promise<PluginVm> {
  const target = options.redis;
  const vm = await PluginVm.load({
    wasmPath: PROBE_WASM,
    redis: { resolve: (name) => (name === CLUSTER && target ? { host: target.host, port: target.port } : undefined) },
    ...options.vm,
  });
  const ok = await vm.start("", options.config ?? (target ? CLUSTER : ""));
  if (!ok) throw new Error(`probe did not configure:\n${vm.logText()}\n${vm.trapped?.message ?? ""}`);
  return vm;
}
