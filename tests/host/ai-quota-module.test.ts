// The shipped module, build/ai-quota.wasm, as Envoy/Higress would see it: what it imports (only
// proxy-wasm host functions, with their ABI signatures; never AssemblyScript's env.abort, seed or
// trace), what it exports (exactly the callbacks below), and that the host loads and runs it.
import { readFileSync } from "node:fs";
import { FuncSig, PluginVm, RedisServer, formatSig, inspectWasm, startRedis } from "../../host";
import { PLUGIN_WASM, get } from "./helpers";
import { HIGRESS_REDIS, PROXY_WASM_0_2_1, i, sig } from "../abi-signatures";

/** Every host function the Higress build may import, with its signature. */
const ALLOWED_IMPORTS: Record<string, FuncSig> = { ...PROXY_WASM_0_2_1, ...HIGRESS_REDIS };

/** Exactly what the Higress build exports. */
const EXPECTED_EXPORTS: Record<string, FuncSig | "memory"> = {
  _initialize: sig([], []),
  memory: "memory",
  // Higress's ABI marker (assembly/abi/abi_0_2_100.ts); stock Envoy does not know it.
  proxy_abi_version_0_2_100: sig([], []),
  proxy_on_memory_allocate: sig(i(1), i(1)),
  proxy_on_context_create: sig(i(2), []),
  proxy_on_vm_start: sig(i(2), i(1)),
  proxy_on_configure: sig(i(2), i(1)),
  proxy_on_tick: sig(i(1), []),
  proxy_on_request_headers: sig(i(3), i(1)),
  proxy_on_request_body: sig(i(3), i(1)),
  proxy_on_request_trailers: sig(i(2), i(1)),
  proxy_on_response_headers: sig(i(3), i(1)),
  proxy_on_response_body: sig(i(3), i(1)),
  proxy_on_response_trailers: sig(i(2), i(1)),
  proxy_on_done: sig(i(1), i(1)),
  proxy_on_log: sig(i(1), []),
  proxy_on_delete: sig(i(1), []),
  proxy_on_http_call_response: sig(i(5), []),
  proxy_on_redis_call_response: sig(i(4), []),
};

const shape = inspectWasm(readFileSync(PLUGIN_WASM));
const show = (s: FuncSig | undefined) => (s ? formatSig(s) : "memory");

test("imports: only env.proxy_* host functions, each with its ABI signature", () => {
  for (const imp of shape.imports) {
    expect(`${imp.module}.${imp.name}`).toMatch(/^env\.proxy_/);
    expect(ALLOWED_IMPORTS[imp.name]).toBeDefined();
    expect(show(imp.sig)).toBe(show(ALLOWED_IMPORTS[imp.name]));
  }
  const names = shape.imports.map((x) => x.name);
  for (const forbidden of ["abort", "seed", "trace"]) expect(names).not.toContain(forbidden);
  // The abort handler logs before it traps, so proxy_log is always there.
  expect(names).toContain("proxy_log");
});

test("exports: exactly the proxy-wasm callbacks, Higress's Redis callback, memory and _initialize", () => {
  const actual = Object.fromEntries(shape.exports.map((e) => [e.name, e.kind === "memory" ? "memory" : show(e.sig)]));
  const expected = Object.fromEntries(Object.entries(EXPECTED_EXPORTS).map(([k, v]) => [k, v === "memory" ? v : show(v)]));
  expect(actual).toEqual(expected);
});

describe("running it", () => {
  let redis: RedisServer;
  let vm: PluginVm;

  beforeAll(async () => {
    redis = await startRedis();
    vm = await PluginVm.load({
      wasmPath: PLUGIN_WASM,
      redis: { resolve: (name) => (name === "outbound|6379||redis.static" ? { host: redis.host, port: redis.port } : undefined) },
    });
  });

  afterAll(async () => {
    await vm?.close();
    await redis?.stop();
  });

  test("starts with a Higress-style configuration, and lets a path it does not meter through untouched", async () => {
    const config = {
      admin_consumer: "admin",
      admin_path: "/quota",
      redis_key_prefix: "chat_quota:",
      redis: { service_name: "redis.static", service_port: 6379, timeout: 1000 },
    };
    expect(await vm.start("", JSON.stringify(config))).toBe(true);
    const headers = get("/healthz", [["x-mse-consumer", "alice"]]);
    const r = await vm.newStream().run({ request: { headers }, response: () => ({ headers: [[":status", "204"]] }) });
    expect(r.status).toBe(204);
    expect(r.upstream?.headers).toEqual(headers);
    expect(vm.trapped).toBeNull();
  });

  test("plain Envoy refuses it: it declares Higress's ABI 0.2.100 (and needs Higress's Redis calls)", async () => {
    expect(shape.imports.some((x) => x.name.startsWith("proxy_redis_"))).toBe(true);
    await expect(PluginVm.load({ wasmPath: PLUGIN_WASM, withRedisImports: false })).rejects.toThrow(/unknown Proxy-Wasm ABI version/);
  });
});
