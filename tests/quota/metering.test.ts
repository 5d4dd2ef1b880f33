// Operator controls: which paths are metered, per-model cost weights, and the plugin's metrics.
import { PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, adminGet, adminPost, chat, jsonResponse, openAiJson, request, sseResponse } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const anthropicSse = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"m1","model":"claude-sonnet-4","usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
].join("");

describe("metered paths (enable_path_suffixes)", () => {
  // Higress's behaviour for the paths not listed: they pass (other_paths: pass; the default refuses them).
  const config = { ...BASE_CONFIG, enable_path_suffixes: ["/v1/chat/completions", "/v1/messages", "/v1/responses"], other_paths: { action: "pass" } };

  test("each listed suffix is metered; the admin API stays under /v1/chat/completions; with other_paths: pass, others pass untouched", async () => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    const anthropic = await chat(vm, "c1", sseResponse(anthropicSse), { path: "/anthropic/v1/messages" });
    expect(anthropic.local).toBeNull();
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(1000 - (25 + 5) - 15));

    const q = await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota?consumer=c1", "admin") } });
    expect(q.local?.body.toString()).toBe('{"consumer":"c1","quota":955}');

    const before = vm.redisCommands().length;
    for (const path of ["/v1/embeddings", "/v1/messages/quota?consumer=c1"]) {
      const other = await chat(vm, "c1", jsonResponse(openAiJson(5, 5)), { path });
      expect(other.local).toBeNull();
      expect(other.upstream).not.toBeNull();
    }
    await vm.idle();
    expect(vm.redisCommands().length).toBe(before);
  });

  test("`paths` is read as a deprecated alias, with a warning; both keys at once are refused", async () => {
    const { configured, vm } = await fx.vm({ ...BASE_CONFIG, paths: ["/v1/messages"] });
    expect(configured).toBe(true);
    expect(vm.logText()).toMatch(/paths is deprecated: name it enable_path_suffixes/);
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(5, 5)), { path: "/v1/messages" });
    await vm.idle();
    expect(await fx.balance("c1")).toBe("990");
    const both = await fx.vm({ ...BASE_CONFIG, paths: ["/v1/messages"], enable_path_suffixes: ["/v1/messages"] });
    expect(both.configured).toBe(false);
    expect(both.vm.logText()).toMatch(/set only enable_path_suffixes/);
  });

  test("bad suffixes are refused with the field named", async () => {
    for (const [enable_path_suffixes, msg] of [
      [[], /enable_path_suffixes must not be empty/],
      ["x", /enable_path_suffixes must be a list/],
      [[1], /enable_path_suffixes\[0\] must be a string/],
      [["/"], /enable_path_suffixes\[0\] must name a path end/],
      [["/v1/messages?x"], /without '\?' or '#'/],
    ] as const) {
      const { configured, vm } = await fx.vm({ ...BASE_CONFIG, enable_path_suffixes });
      expect(configured).toBe(false);
      expect(vm.logText()).toMatch(msg);
    }
  });
});

describe("cost weights", () => {
  const config = {
    ...BASE_CONFIG,
    weights: {
      default: { input: 1, output: 2 },
      models: { "gpt-4o": { input: 2.5, output: 10 }, "cheap": { input: 0.001, output: 0.002 }, "gpt-4o-mini": { input: 0.05, output: 0.05 }, "claude-*-sonnet*": { input: 3, output: 15 } },
    },
  };

  test.each([
    ["gpt-4o", 10, 3, 10 * 2.5 + 3 * 10],
    ["gpt-4o", 1, 0, 3], // 2.5 rounds up
    ["cheap", 100, 100, 1], // 0.3 rounds up
    ["unknown-model", 10, 3, 16], // default weights
    ["gpt-4o-2024-08-06", 10, 3, 10 * 2.5 + 3 * 10], // OpenAI names the snapshot: gpt-4o's weight (longest prefix)
    ["GPT-4o", 10, 3, 10 * 2.5 + 3 * 10], // names are compared without regard to case
    ["gpt-4o-mini-2024-07-18", 10, 3, 1], // a longer listed prefix wins
    ["claude-3-5-sonnet-20241022", 10, 3, 10 * 3 + 3 * 15], // a `*` pattern
  ])("%s with %i in / %i out costs %i", async (model, input, output, cost) => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(input, output, model)));
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(1000 - cost));
  });

  test("the model from ai_log counts when ai-statistics provides usage", async () => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1, "other")), {
      filterState: { "wasm.ai_log": JSON.stringify({ model: "gpt-4o", input_token: 2, output_token: 1 }) },
    });
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(1000 - 15));
  });

  test("bad weights are refused with the field named", async () => {
    for (const [weights, msg] of [
      [{ default: { input: -1 } }, /weights.default.input must be a number/],
      [{ models: { m: { output: "2" } } }, /weights.models.m.output must be a number/],
      [{ models: { m: { input: 0.0000001 } } }, /at most 6 decimals/],
      [{ models: [] }, /weights.models must be an object/],
      [{ models: { "GPT-4o": {}, "gpt-4o": {} } }, /weights.models.gpt-4o is listed twice/],
      [{ models: { "**": {} } }, /needs some text besides/],
      ["x", /weights must be an object/],
    ] as const) {
      const { configured, vm } = await fx.vm({ ...BASE_CONFIG, weights });
      expect(configured).toBe(false);
      expect(vm.logText()).toMatch(msg);
    }
  });
});

describe("metrics", () => {
  test("counters after a known sequence of requests", async () => {
    const vm: PluginVm = await fx.plugin();
    await fx.setBalance("c1", 100);
    await chat(vm, "c1", jsonResponse(openAiJson(10, 5))); // admitted, 15 charged
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1))); // admitted, 2 charged
    await chat(vm, "nobody", jsonResponse(openAiJson(1, 1))); // denied: noquota
    await chat(vm, null, jsonResponse(openAiJson(1, 1))); // denied: no_key
    await chat(vm, "", jsonResponse(openAiJson(1, 1))); // denied: unauthorized
    await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota?consumer=c1", "c1") } }); // denied: unauthorized (not admin)
    await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions", null, [["x-mse-consumer", "a"], ["x-mse-consumer", "b"]]) } });
    await vm.idle();
    const m = vm.metrics();
    expect(m["ai_quota.requests.admitted"]).toBe(2);
    expect(m["ai_quota.tokens.charged"]).toBe(17);
    expect(m["ai_quota.requests.denied.noquota"]).toBe(1);
    expect(m["ai_quota.requests.denied.no_key"]).toBe(1);
    expect(m["ai_quota.requests.denied.unauthorized"]).toBe(2);
    expect(m["ai_quota.requests.denied.bad_consumer"]).toBe(1);
    expect(m["ai_quota.redis.errors"]).toBe(0);
    expect(m["ai_quota.settlements.failed"]).toBe(0);
  });

  test("denied.unauthorized counts every refusal whose details are ai-quota.unauthorized: four refused admin calls read 4", async () => {
    const vm: PluginVm = await fx.plugin();
    const refused = [
      await adminGet(vm, "c1", "?consumer=c1"), // not the admin
      await adminGet(vm, "admin", ""), // query without consumer
      await adminPost(vm, "admin", "refresh", "consumer=c1&quota=ten"), // quota not an integer
      await adminPost(vm, "admin", "delta", "consumer=&value=1"), // no consumer
    ];
    await vm.idle();
    for (const r of refused) expect(r.local).toMatchObject({ status: 403, details: "ai-quota.unauthorized" });
    const m = vm.metrics();
    expect(m["ai_quota.requests.denied.unauthorized"]).toBe(4);
    // Three of them were the admin's own (malformed) calls.
    expect(m["ai_quota.admin.requests"]).toBe(3);
  });

  test("debug logs name each request's operation (not the enum's number)", async () => {
    const vm: PluginVm = await fx.plugin();
    await fx.setBalance("c1", 100);
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    await adminGet(vm, "admin", "?consumer=c1");
    await adminPost(vm, "admin", "refresh", "consumer=c1&quota=5");
    await adminPost(vm, "admin", "delta", "consumer=c1&value=1");
    await vm.idle();
    const logs = vm.logText();
    for (const op of ["chat", "admin-query", "admin-refresh", "admin-delta"]) expect(logs).toContain(`operation ${op}`);
    expect(logs).not.toMatch(/operation \d/);
  });
});
