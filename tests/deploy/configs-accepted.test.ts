// Every plugin configuration the deployment files make a host deliver is accepted by the real
// plugin, byte for byte as delivered: WasmPlugins through the Higress controller emulation (the
// `_rules_` JSON), Envoy's `configuration` strings as written, Istio's pluginConfig as Istio
// marshals it. The Higress build runs Redis configs, the plain-Envoy build HTTP-store ones.
import * as path from "node:path";
import { PluginVm } from "../../host";
import { REPO_ROOT, deliveredPluginConfigs } from "./plugin-configs";

const HIGRESS = path.join(REPO_ROOT, "build/ai-quota.wasm");
const ENVOY = path.join(REPO_ROOT, "build/ai-quota-envoy.wasm");

const delivered = deliveredPluginConfigs();

test("the deployment files deliver plugin configs: two WasmPlugins, the Envoy filter, the Istio plugin", () => {
  expect(delivered.length).toBeGreaterThanOrEqual(4);
  expect(delivered.filter((d) => d.configuration.startsWith('{"_rules_":'))).toHaveLength(2);
});

test.each(delivered.map((d) => [d.source, d] as const))("%s: uses the current key names (PLAN.md), not their deprecated aliases", (_source, d) => {
  expect(d.configuration).not.toMatch(/"(paths|trust_forwarded_for)"\s*:/);
});

test.each(delivered.map((d) => [d.source, d] as const))("%s: accepted by the real plugin", async (_source, d) => {
  const vm = await PluginVm.load({
    wasmPath: d.envoyBuild ? ENVOY : HIGRESS,
    withRedisImports: !d.envoyBuild,
    // Nothing is reachable here: configure must still succeed (a Redis that cannot be reached at start is retried on use).
    redis: { resolve: () => undefined },
    http: { resolve: () => undefined },
  });
  try {
    const ok = await vm.start("", d.configuration);
    expect({ ok, log: ok ? "" : vm.logText() }).toEqual({ ok: true, log: "" });
    expect(vm.logText()).not.toMatch(/unknown config key|is invalid and not used/);
    expect(vm.trapped).toBeNull();
  } finally {
    await vm.close();
  }
});
