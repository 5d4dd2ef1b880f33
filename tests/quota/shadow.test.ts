// `shadow: true`: how an operator rolls a quota out. The balance and every window are evaluated
// as usual, what they would refuse is counted and logged, and the request is admitted and charged
// its usage once. Checks that are not quotas (identity, bodies the plugin cannot read, other_paths)
// still refuse. Against the real plugin and a real Redis.
import { BASE_CONFIG, QuotaFixture, chat, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const SHADOW = { ...BASE_CONFIG, shadow: true };

describe("shadow: true", () => {
  test("a spent balance refuses nothing: the request passes, is charged its usage, and is counted and logged", async () => {
    const vm = await fx.plugin(SHADOW);
    await fx.setBalance("c1", 0);
    const r = await chat(vm, "c1", jsonResponse(openAiJson(10, 5)));
    expect(r.local).toBeNull();
    expect(r.status).toBe(200);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("-15");
    expect(vm.metrics()["ai_quota.shadow.noquota"]).toBe(1);
    expect(vm.metrics()["ai_quota.requests.denied.noquota"] ?? 0).toBe(0);
    expect(vm.logText()).toMatch(/shadow: c1 would be refused \(no quota left\), admitted/);
    expect(vm.trapped).toBeNull();
  });

  test("a consumer with no balance key at all passes too (Higress refuses it), and its charge creates the key", async () => {
    const vm = await fx.plugin(SHADOW);
    await chat(vm, "newcomer", jsonResponse(openAiJson(3, 4)));
    await vm.idle();
    expect(await fx.balance("newcomer")).toBe("-7");
    expect(vm.metrics()["ai_quota.shadow.noquota"]).toBe(1);
  });

  test("a full window refuses nothing; the refusals it would make are counted per window", async () => {
    const vm = await fx.plugin({ ...SHADOW, limits: [{ unit: "requests", limit: 2, window: "minute" }] });
    await fx.setBalance("c1", 1000);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat(vm, "c1", jsonResponse(openAiJson(1, 1)))).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("992");
    expect(vm.metrics()["ai_quota.shadow.window"]).toBe(2);
    expect(vm.logText()).toMatch(/would be refused \(quota exceeded: 2 requests per minute\)/);
  });

  test("with a reservation, each request is still charged exactly once, admitted or shadow-admitted", async () => {
    const vm = await fx.plugin({ ...SHADOW, reservation: { mode: "fixed", tokens: 100, require_full: true } });
    await fx.setBalance("c1", 250);
    const streams = [];
    for (let i = 0; i < 6; i++) {
      const s = vm.newStream();
      s.requestHeaders(request("POST", "/v1/chat/completions", "c1"), false);
      s.requestBody('{"messages":[]}', true);
      streams.push(s);
    }
    await Promise.all(streams.map((s) => s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission")));
    expect(streams.filter((s) => s.localResponse !== null)).toEqual([]);
    for (const s of streams) {
      s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
      s.responseBody(openAiJson(20, 10), true);
    }
    await vm.idle();
    // Two covered by the balance (reserved, then 70 each given back), four shadow-admitted: 6 × 30 charged.
    expect(await fx.balance("c1")).toBe(String(250 - 6 * 30));
    expect(vm.metrics()["ai_quota.shadow.noquota"]).toBe(4);
  });

  test("checks that are not quotas still refuse: no consumer, an unreadable body, other_paths", async () => {
    const vm = await fx.plugin(SHADOW);
    await fx.setBalance("c1", 0);
    expect((await chat(vm, null, jsonResponse(openAiJson(1, 1)))).local?.details).toBe("ai-quota.no_key");
    const unreadable = await vm.newStream().run({
      request: { headers: request("POST", "/v1/chat/completions", "c1"), body: '{"stream":true,"stream_options":{"include_usage":"no"}}' },
      response: () => jsonResponse(openAiJson(1, 1)),
    });
    expect(unreadable.local?.details).toBe("ai-quota.unreadable_body");
    const other = await vm.newStream().run({ request: { headers: request("POST", "/v1/images/generations", "c1"), body: "{}" } });
    expect(other.local?.details).toBe("ai-quota.path_not_metered");
  });

  test("without shadow, the same requests are refused (the default is false)", async () => {
    const vm = await fx.plugin();
    await fx.setBalance("c1", 0);
    expect((await chat(vm, "c1", jsonResponse(openAiJson(1, 1)))).local?.details).toBe("ai-quota.noquota");
    expect(vm.metrics()["ai_quota.shadow.noquota"] ?? 0).toBe(0);
  });

  test("shadow must be a boolean", async () => {
    const { configured, vm } = await fx.vm({ ...BASE_CONFIG, shadow: "yes" });
    expect(configured).toBe(false);
    expect(vm.logText()).toMatch(/shadow must be true or false/);
  });
});
