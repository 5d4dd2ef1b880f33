// `_match_domain_` picks a rule as Envoy picks a virtual host: ASCII case ignored, one trailing dot
// ignored, the port stripped; `*.suffix` and `prefix*` likewise. Run through the real plugin with
// the `_rules_` document Higress delivers and no global config, so a request that matched no rule
// would pass untouched (status 200 at balance 0): each spelling below must be refused instead.
import * as path from "node:path";
import { PluginVm, RedisClient, RedisServer, startRedis } from "../../host";

const WASM = path.join(__dirname, "../../build/ai-quota.wasm");

let server: RedisServer;
let client: RedisClient;
let vm: PluginVm;

const rule = (domains: string[], prefix: string) => ({
  _match_domain_: domains,
  admin_consumer: "admin",
  redis_key_prefix: prefix,
  redis: { service_name: "store.dns", service_port: 6379 },
});

// No global config: a request no rule matches passes untouched (wasm-go's GetMatchConfig returns nil).
const CONFIG = {
  _rules_: [
    rule(["api.example.com"], "exact:"),
    rule(["*.wild.example"], "suffix:"),
    rule(["llm-*"], "prefix:"),
    rule(["Mixed.Case.Example."], "configured:"),
  ],
};

beforeAll(async () => {
  server = await startRedis();
  client = await RedisClient.connect(server.port);
  vm = await PluginVm.load({
    wasmPath: WASM,
    redis: { resolve: (name) => (name === "outbound|6379||store.dns" ? { host: server.host, port: server.port } : undefined) },
  });
  expect(await vm.start("", JSON.stringify(CONFIG))).toBe(true);
});

afterAll(async () => {
  await vm?.close();
  client?.close();
  await server?.stop();
});

beforeEach(async () => {
  await client.command("FLUSHALL");
});

async function chat(authority: string): Promise<{ status: number | null; upstream: boolean }> {
  let upstream = false;
  const r = await vm.newStream().run({
    request: {
      headers: [[":method", "POST"], [":path", "/v1/chat/completions"], [":authority", authority], ["x-mse-consumer", "u"], ["content-type", "application/json"]],
      body: '{"messages":[{"role":"user","content":"hi"}]}',
    },
    response: () => {
      upstream = true;
      return {
        headers: [[":status", "200"], ["content-type", "application/json"]],
        body: JSON.stringify({ choices: [], model: "m", usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }),
      };
    },
  });
  return { status: r.status, upstream };
}

describe("a rule's domain matches every spelling Envoy routes to that host", () => {
  test.each([
    ["api.example.com", "exact:"],
    ["API.EXAMPLE.COM", "exact:"],
    ["Api.Example.Com:443", "exact:"],
    ["API.Example.com", "exact:"],
    ["api.example.com.", "exact:"],
    ["api.example.com:443", "exact:"],
    ["API.example.com.:8443", "exact:"],
    ["x.wild.example", "suffix:"],
    ["X.WILD.EXAMPLE", "suffix:"],
    ["x.Wild.Example.", "suffix:"],
    ["x.wild.example.:80", "suffix:"],
    ["llm-a.internal", "prefix:"],
    ["LLM-A.internal", "prefix:"],
    ["Llm-B.Internal.:8080", "prefix:"],
    ["mixed.case.example", "configured:"],
    ["MIXED.CASE.EXAMPLE.", "configured:"],
  ])("%s is refused at balance 0 by its rule, and charged by it when funded", async (authority, prefix) => {
    const refused = await chat(authority);
    expect(refused).toEqual({ status: 403, upstream: false });

    await client.command("SET", `${prefix}u`, "100");
    const ok = await chat(authority);
    expect(ok).toEqual({ status: 200, upstream: true });
    await vm.idle();
    expect(await client.command("GET", `${prefix}u`)).toBe("93");
    expect(vm.trapped).toBeNull();
  });

  test.each([
    "api.example.com..", // two dots: not the same name
    "api.example.co",
    "wild.example", // `*.wild.example` needs a label before the dot, as before
    "xllm-a.internal",
  ])("%s matches no rule and passes untouched (no global config)", async (authority) => {
    const r = await chat(authority);
    expect(r).toEqual({ status: 200, upstream: true });
    await vm.idle();
    expect(vm.trapped).toBeNull();
  });
});
