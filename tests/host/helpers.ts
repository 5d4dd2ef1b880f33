// Shared setup for the host's tests: the probe module, a VM wired to a Redis server, and
// request headers in the shape a client sends.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { HeaderPairs, PluginVm, PluginVmOptions, RedisServer } from "../../host";
import { renameExport } from "./wasm-builder";

export const ROOT = path.resolve(__dirname, "../..");
export const PROBE_WASM = path.join(ROOT, "build/test/abi_probe.wasm");
/** The same probe without Redis host calls, loadable by plain Envoy. */
export const PROBE_ENVOY_WASM = path.join(ROOT, "build/test/abi_probe_envoy.wasm");
export const PLUGIN_WASM = path.join(ROOT, "build/ai-quota.wasm");
export const CLUSTER = "outbound|6379||redis.static";

export function get(p: string, extra: HeaderPairs = []): HeaderPairs {
  return [[":method", "GET"], [":path", p], [":authority", "gateway.test"], [":scheme", "http"], ...extra];
}

export function post(p: string, extra: HeaderPairs = []): HeaderPairs {
  return [[":method", "POST"], [":path", p], [":authority", "gateway.test"], [":scheme", "http"], ...extra];
}

/**
 * The probe plugin's bytes declaring the given ABI: as compiled (0_2_1), or with its marker
 * renamed to Higress's 0_2_100 (whose header StopIteration Higress does not turn into StopAll).
 * `envoy`: the build without Redis host calls.
 */
export function probeBytes(abi: "0_2_1" | "0_2_100", envoy = false): Uint8Array {
  const bytes = readFileSync(envoy ? PROBE_ENVOY_WASM : PROBE_WASM);
  return abi === "0_2_1" ? bytes : renameExport(bytes, "proxy_abi_version_0_2_1", "proxy_abi_version_0_2_100");
}

/**
 * A started probe VM whose Redis cluster points at `redis` (or nowhere). On the Higress host (the
 * default) the probe declares 0_2_100 unless told otherwise, so its header StopIteration holds
 * only the headers; `abi: "0_2_1"` gives the translated semantics. With `vm.flavour: "envoy"`
 * (or `withRedisImports: false`) it is the probe build without Redis, declaring 0_2_1.
 */
export async function probeVm(options: {
  redis?: RedisServer | { host: string; port: number };
  config?: string;
  abi?: "0_2_1" | "0_2_100";
  vm?: Partial<PluginVmOptions>;
} = {}): Promise<PluginVm> {
  const target = options.redis;
  const flavour = options.vm?.flavour ?? (options.vm?.withRedisImports === false ? "envoy" : "higress");
  const vm = await PluginVm.load({
    wasmBytes: probeBytes(options.abi ?? (flavour === "higress" ? "0_2_100" : "0_2_1"), flavour === "envoy"),
    redis: { resolve: (name) => (name === CLUSTER && target ? { host: target.host, port: target.port } : undefined) },
    ...options.vm,
  });
  const ok = await vm.start("", options.config ?? (target ? CLUSTER : ""));
  if (!ok) throw new Error(`probe did not configure:\n${vm.logText()}\n${vm.trapped?.message ?? ""}`);
  return vm;
}
