// Both shipped ai-quota WasmPlugins, run as Higress runs them: the controller emulation
// (host/higress-controller.ts) turns each YAML into the exact configuration the gateway delivers,
// the real build/ai-quota.wasm starts on it, and streams carry the route_name, cluster_name and
// :authority Envoy gives a request on the shipped Ingress, or on some other route.
import * as fs from "node:fs";
import * as path from "node:path";
import { PluginVm, RedisClient, RedisServer, Stream, startRedis } from "../../host";
import { AI_LOG_STATE_KEY, AiStatistics, marshalStr } from "../../host/ai-statistics";
import { deliverWasmPlugin, ingressClusterName, readKubernetesYaml, routeNameOf } from "../../host/higress-controller";

const ROOT = path.resolve(__dirname, "../..");
const WASM = path.join(ROOT, "build/ai-quota.wasm");

function onlyDoc(file: string): ReturnType<typeof readKubernetesYaml>[number] {
  const docs = readKubernetesYaml(fs.readFileSync(path.join(ROOT, file), "utf8"));
  if (docs.length !== 1) throw new Error(`${file}: expected one document`);
  return docs[0];
}

const CONFIG_BODY = '"admin_consumer":"consumer3","admin_path":"/quota","redis":{"service_name":"redis.dns","service_port":6379,"timeout":2000},"redis_key_prefix":"chat_quota:"';

const variants = [
  {
    name: "kubernetes",
    plugin: "higress/wasmplugin.yaml",
    ingress: "higress/ingress.yaml",
    statistics: "higress/ai-statistics.yaml",
    route: "default/llm-route",
    cluster: "outbound|8000||llm-upstream.default.svc.cluster.local",
    otherRoute: "default/other-route",
  },
  {
    name: "standalone",
    plugin: "higress/standalone/wasmplugins/ai-quota.yaml",
    ingress: "higress/standalone/ingresses/llm-route.yaml",
    statistics: "higress/standalone/wasmplugins/ai-statistics.yaml",
    route: "llm-route",
    cluster: "outbound|8000||llm-mock.dns",
    otherRoute: "other-route",
  },
];

let redis: RedisServer;
let client: RedisClient;

beforeAll(async () => {
  redis = await startRedis();
  client = await RedisClient.connect(redis.port);
});

afterAll(async () => {
  client?.close();
  await redis?.stop();
});

function chatHeaders(consumer: string | null, pathname = "/v1/chat/completions"): Array<[string, string]> {
  const h: Array<[string, string]> = [[":method", "POST"], [":path", pathname], [":authority", "gateway.example.com"], [":scheme", "http"], ["content-type", "application/json"]];
  if (consumer !== null) h.push(["x-mse-consumer", consumer]);
  return h;
}

const CHAT_BODY = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
const answer = (prompt: number, completion: number): string =>
  JSON.stringify({ id: "chatcmpl-1", object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } });

describe.each(variants)("$name: $plugin in the emulated Higress", (v) => {
  let vm: PluginVm;
  const delivered = deliverWasmPlugin(onlyDoc(v.plugin));

  beforeAll(async () => {
    vm = await PluginVm.load({
      wasmPath: WASM,
      // Higress's cluster for the McpBridge registry "redis" of type dns: outbound|6379||redis.dns.
      redis: { resolve: (name) => (name === "outbound|6379||redis.dns" ? { host: redis.host, port: redis.port } : undefined) },
    });
  });

  afterAll(async () => {
    await vm?.close();
  });

  beforeEach(async () => {
    await client.command("FLUSHALL");
    await client.command("SET", "chat_quota:consumer1", "1000");
  });

  test("the controller delivers one route rule for the shipped Ingress's route, and no global config", () => {
    expect(delivered).toEqual({ delivered: true, reason: "", configuration: `{"_rules_":[{"_match_route_":[${JSON.stringify(v.route)}],${CONFIG_BODY}}]}` });
    const ingress = onlyDoc(v.ingress);
    expect(routeNameOf(ingress)).toBe(v.route);
    expect(ingressClusterName(ingress)).toBe(v.cluster);
  });

  test("the plugin configures on that JSON", async () => {
    expect(await vm.start("", delivered.configuration)).toBe(true);
    expect(vm.logText()).not.toMatch(/invalid config|unknown config key/);
  });

  function stream(routeName: string): Stream {
    return vm.newStream({ routeName, clusterName: v.cluster });
  }

  test("a chat on the route is metered", async () => {
    const r = await stream(v.route).run({
      request: { headers: chatHeaders("consumer1"), body: CHAT_BODY },
      response: () => ({ headers: [[":status", "200"], ["content-type", "application/json"]], body: answer(5, 7) }),
    });
    expect(r.status).toBe(200);
    expect(r.upstream).not.toBeNull();
    await vm.idle();
    expect(await client.command("GET", "chat_quota:consumer1")).toBe("988");
  });

  test("the admin API answers on the route", async () => {
    const r = await stream(v.route).run({ request: { headers: [[":method", "GET"], [":path", "/v1/chat/completions/quota?consumer=consumer1"], [":authority", "gateway.example.com"], ["x-mse-consumer", "consumer3"]] } });
    expect(r.status).toBe(200);
    expect(r.upstream).toBeNull();
    expect(JSON.parse(r.text)).toMatchObject({ consumer: "consumer1", quota: 1000 });
  });

  test.each([
    ["another route", v.otherRoute],
    ["no route name", ""],
  ])("%s: left alone - no answer, no Redis, the request passes as sent", async (_what, routeName) => {
    const before = vm.redisCalls.length;
    // No consumer at all: on the metered route this would be Higress's 401.
    const headers = chatHeaders(null);
    const r = await stream(routeName).run({
      request: { headers, body: CHAT_BODY },
      response: () => ({ headers: [[":status", "200"], ["content-type", "application/json"]], body: answer(5, 7) }),
    });
    expect(r.local).toBeNull();
    expect(r.status).toBe(200);
    expect(r.upstream?.headers).toEqual(headers);
    expect(r.upstream?.body.toString()).toBe(CHAT_BODY);
    expect(vm.redisCalls.length).toBe(before);
    expect(await client.command("GET", "chat_quota:consumer1")).toBe("1000");
  });

  test("the count ai-statistics writes in ai_log (wasm-go's escaped form) is what is charged", async () => {
    // ai-statistics sits nearer the upstream (priority 200 < 750): it sees the answer first and
    // writes ai_log before ai-quota settles. Its count here differs from the body's on purpose,
    // to show which one is used.
    const stats = onlyDoc(v.statistics) as { spec: { matchRules: Array<{ config: { attributes: Array<{ key: string; value_source: string; value: string; apply_to_log?: boolean }> } }> } };
    const s = stream(v.route);
    const ai = new AiStatistics(s.facts.filterState, stats.spec.matchRules[0].config, () => 0);
    const headers = chatHeaders("consumer1");
    ai.onRequestHeaders(headers, v.route);
    s.requestHeaders(headers, false);
    ai.onRequestBody(CHAT_BODY);
    s.requestBody(CHAT_BODY, true);
    await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
    expect(s.localResponse).toBeNull();
    ai.onResponseBody(answer(100, 50));
    const log = s.facts.filterState.get(AI_LOG_STATE_KEY)?.toString() ?? "";
    expect(log.startsWith('{\\"')).toBe(true); // MarshalStr: escaped, without quotes
    expect(log).toContain(marshalStr('"consumer":"consumer1"'));
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(answer(5, 7), true);
    await s.settled();
    expect(await client.command("GET", "chat_quota:consumer1")).toBe("850");
  });
});

test("a WasmPlugin outside higress-system, or with every rule disabled, is never delivered", () => {
  const doc = onlyDoc("higress/wasmplugin.yaml") as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  expect(deliverWasmPlugin({ ...doc, metadata: { ...doc.metadata, namespace: "default" } } as never).delivered).toBe(false);
  const rules = (doc.spec.matchRules as Array<Record<string, unknown>>).map((r) => ({ ...r, configDisable: true }));
  expect(deliverWasmPlugin({ ...doc, spec: { ...doc.spec, matchRules: rules } } as never)).toEqual({ delivered: false, configuration: "", reason: "config disabled" });
});
