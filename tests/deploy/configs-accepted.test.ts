// Every plugin config the deployment files ship is accepted by the real plugin: the Higress build
// for Redis configs, the plain-Envoy build (without Redis host calls) for HTTP-store configs.
import * as path from "node:path";
import { PluginVm } from "../../host";
import { REPO_ROOT, allShippedPluginConfigs, isObject } from "./plugin-configs";

const HIGRESS = path.join(REPO_ROOT, "build/ai-quota.wasm");
const ENVOY = path.join(REPO_ROOT, "build/ai-quota-envoy.wasm");

const shipped = allShippedPluginConfigs();

test("the deployment files ship plugin configs", () => {
  expect(shipped.length).toBeGreaterThanOrEqual(2);
});

test.each(shipped.map((s) => [s.source, s.config] as const))("%s: accepted by the real plugin", async (_source, config) => {
  const http = isObject(config) && isObject(config.store) && config.store.type === "http";
  const vm = await PluginVm.load({
    wasmPath: http ? ENVOY : HIGRESS,
    withRedisImports: !http,
    // Nothing is reachable here: configure must still succeed (a Redis that cannot be reached at start is retried on use).
    redis: { resolve: () => undefined },
    http: { resolve: () => undefined },
  });
  try {
    const ok = await vm.start("", JSON.stringify(config));
    expect({ ok, log: ok ? "" : vm.logText() }).toEqual({ ok: true, log: "" });
    expect(vm.trapped).toBeNull();
  } finally {
    await vm.close();
  }
});
