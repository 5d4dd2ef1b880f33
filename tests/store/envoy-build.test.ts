// build/ai-quota-envoy.wasm, the plain-Envoy build, as Envoy would see it: only standard proxy-wasm
// ABI v0.2.1 host functions imported (no Higress Redis call), no Redis callback exported; it loads
// in a host without Redis calls; and the configs shipped under envoy/ run it end to end against a
// Redis REST bridge in front of a real redis-server.
import { readFileSync } from "node:fs";
import { FuncSig, LogLevel, PluginVm, RedisClient, RedisRestBridge, RedisServer, formatSig, inspectWasm, startRedis, startRedisRestBridge } from "../../host";
import { adminGet, adminPost, chat, jsonResponse, openAiJson } from "../quota/fixture";
import { allShippedPluginConfigs } from "../deploy/plugin-configs";
import { ENVOY_WASM, HIGRESS_WASM } from "./fake-store";
import { PROXY_WASM_0_2_1 } from "../abi-signatures";


const envoy = inspectWasm(readFileSync(ENVOY_WASM));
const higress = inspectWasm(readFileSync(HIGRESS_WASM));
const show = (s: FuncSig | undefined) => (s ? formatSig(s) : "memory");

describe("the module", () => {
  test("imports only standard proxy-wasm v0.2.1 env.proxy_* functions, with their signatures; no Redis call", () => {
    expect(envoy.imports.length).toBeGreaterThan(0);
    for (const imp of envoy.imports) {
      expect({ name: `${imp.module}.${imp.name}`, standard: imp.module === "env" && imp.name in PROXY_WASM_0_2_1 }).toEqual({
        name: `${imp.module}.${imp.name}`,
        standard: true,
      });
      expect(show(imp.sig)).toBe(show(PROXY_WASM_0_2_1[imp.name]));
    }
    const names = envoy.imports.map((x) => x.name);
    expect(names.filter((n) => n.startsWith("proxy_redis_"))).toEqual([]);
    // What the HTTP store and the abort handler need.
    expect(names).toEqual(expect.arrayContaining(["proxy_http_call", "proxy_set_effective_context", "proxy_get_header_map_value", "proxy_get_buffer_bytes", "proxy_log"]));
  });

  test("exports what the Higress build exports, except Higress's Redis callback and its ABI marker", () => {
    const mine = envoy.exports.map((e) => `${e.name} ${e.kind === "memory" ? "memory" : show(e.sig)}`).sort();
    const theirs = higress.exports
      .filter((e) => e.name !== "proxy_on_redis_call_response")
      // Higress's fork declares 0.2.100 where stock Envoy knows 0.2.1 (see assembly/abi/abi_0_2_100.ts).
      .map((e) => (e.name === "proxy_abi_version_0_2_100" ? { ...e, name: "proxy_abi_version_0_2_1" } : e))
      .map((e) => `${e.name} ${e.kind === "memory" ? "memory" : show(e.sig)}`)
      .sort();
    expect(mine).toEqual(theirs);
    expect(envoy.exports.map((e) => e.name)).not.toContain("proxy_on_redis_call_response");
    expect(envoy.exports.map((e) => e.name)).toContain("proxy_on_http_call_response");
  });

  test("plain Envoy loads it, and refuses the Higress build (an ABI marker it does not know)", async () => {
    const vm = await PluginVm.load({ wasmPath: ENVOY_WASM, withRedisImports: false });
    await vm.close();
    await expect(PluginVm.load({ wasmPath: HIGRESS_WASM, withRedisImports: false })).rejects.toThrow(/unknown Proxy-Wasm ABI version/);
  });

  test("a release build measured in kilobytes", () => {
    expect(readFileSync(ENVOY_WASM).length).toBeLessThan(256 * 1024);
  });
});

describe("the configs shipped under envoy/, run end to end", () => {
  let redis: RedisServer;
  let client: RedisClient;
  const bridges: RedisRestBridge[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    client = await RedisClient.connect(redis.port);
  });
  afterAll(async () => {
    for (const b of bridges) await b.close();
    client?.close();
    await redis?.stop();
  });

  const shipped = allShippedPluginConfigs().filter((c) => c.source.startsWith("envoy/"));

  test("there are two: envoy.yaml and istio-wasmplugin.yaml", () => {
    expect(shipped.map((c) => c.source.split("#")[0]).sort()).toEqual(["envoy/envoy.yaml", "envoy/istio-wasmplugin.yaml"]);
  });

  test.each(shipped.map((c) => [c.source, c.config] as const))("%s", async (_source, config) => {
    const c = config as { admin_consumer: string; redis_key_prefix: string; store: { cluster: string; path: string; token: string } };
    const bridge = await startRedisRestBridge({ redisPort: redis.port, token: c.store.token, path: c.store.path });
    bridges.push(bridge);
    const vm = await PluginVm.load({
      wasmPath: ENVOY_WASM,
      withRedisImports: false,
      http: { resolve: (name) => (name === c.store.cluster ? bridge.url : undefined) },
    });
    try {
      expect(await vm.start("", JSON.stringify(config))).toBe(true);
      expect(vm.logText(LogLevel.Warn)).not.toMatch(/unknown config key/);
      const refresh = await adminPost(vm, c.admin_consumer, "refresh", "consumer=consumer1&quota=100");
      expect(refresh.local?.status).toBe(200);
      expect(await client.command("GET", c.redis_key_prefix + "consumer1")).toBe("100");
      const r = await chat(vm, "consumer1", jsonResponse(openAiJson(5, 7)));
      expect(r.local).toBeNull();
      expect(r.status).toBe(200);
      await vm.idle();
      expect(await client.command("GET", c.redis_key_prefix + "consumer1")).toBe("88");
      const q = await adminGet(vm, c.admin_consumer, "?consumer=consumer1");
      expect(q.local?.body.toString()).toBe('{"consumer":"consumer1","quota":88}');
      expect(bridge.commands.length).toBeGreaterThanOrEqual(4);
      expect(vm.trapped).toBeNull();
    } finally {
      await vm.close();
    }
  });
});
