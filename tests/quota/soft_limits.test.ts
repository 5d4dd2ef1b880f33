// Soft limits (`soft` on a window limit): at or above the threshold, the answer carries
// x-ai-quota-soft-limit and a metric counts it; the first request of a window to be there logs
// it, once per window however many gateways share the Redis (the admission script sets the flag).
// Against the real plugin and a real Redis.
import { BASE_CONFIG, QuotaFixture, chat, header, jsonResponse, openAiJson } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const REQUESTS = { ...BASE_CONFIG, limits: [{ unit: "requests", limit: 5, window: "day", soft: 0.6 }] };

describe("soft limits on windows", () => {
  test("requests 3, 4 and 5 of 5 carry the header; the 3rd logs once; the 6th is refused as before", async () => {
    const vm = await fx.plugin(REQUESTS);
    await fx.setBalance("c1", 1000);
    const seen: Array<string | undefined> = [];
    for (let i = 0; i < 5; i++) {
      const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
      expect(r.status).toBe(200);
      seen.push(header(r.headers, "x-ai-quota-soft-limit"));
    }
    const none = undefined;
    const soft = "3 of 5 requests per day";
    expect(seen).toEqual([none, none, soft, soft, soft]);
    const sixth = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(sixth.local?.details).toBe("ai-quota.window_exceeded");
    await vm.idle();
    expect(vm.metrics()["ai_quota.soft_limit.over"]).toBe(3);
    expect(vm.metrics()["ai_quota.soft_limit.reached"]).toBe(1);
    expect(vm.logText().match(/soft limit: c1 reached 3 of 5 requests per day/g)?.length).toBe(1);
    expect(vm.trapped).toBeNull();
  });

  test("two gateways on one Redis: the window reaches its soft limit once, logged by one of them", async () => {
    const a = await fx.plugin(REQUESTS);
    const b = await fx.plugin(REQUESTS);
    await fx.setBalance("c1", 1000);
    for (let i = 0; i < 5; i++) await chat(i % 2 === 0 ? a : b, "c1", jsonResponse(openAiJson(1, 1)));
    const reached = Number(a.metrics()["ai_quota.soft_limit.reached"] ?? 0) + Number(b.metrics()["ai_quota.soft_limit.reached"] ?? 0);
    expect(reached).toBe(1);
  });

  test("consumers have their own windows and flags", async () => {
    const vm = await fx.plugin(REQUESTS);
    await fx.setBalance("c1", 1000);
    await fx.setBalance("c2", 1000);
    for (let i = 0; i < 3; i++) await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    const other = await chat(vm, "c2", jsonResponse(openAiJson(1, 1)));
    expect(header(other.headers, "x-ai-quota-soft-limit")).toBeUndefined();
    expect(vm.metrics()["ai_quota.soft_limit.reached"]).toBe(1);
  });

  test("a token window is seen at its soft limit by the first request admitted after usage reached it", async () => {
    const vm = await fx.plugin({ ...BASE_CONFIG, limits: [{ unit: "tokens", limit: 100, window: "hour", soft: 0.5 }] });
    await fx.setBalance("c1", 1000);
    const first = await chat(vm, "c1", jsonResponse(openAiJson(30, 30)));
    expect(header(first.headers, "x-ai-quota-soft-limit")).toBeUndefined();
    await vm.idle();
    const second = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(header(second.headers, "x-ai-quota-soft-limit")).toBe("50 of 100 tokens per hour");
    expect(vm.metrics()["ai_quota.soft_limit.reached"]).toBe(1);
  });

  test("without soft, no header, no flag key in Redis", async () => {
    const vm = await fx.plugin({ ...BASE_CONFIG, limits: [{ unit: "requests", limit: 5, window: "day" }] });
    await fx.setBalance("c1", 1000);
    for (let i = 0; i < 5; i++) {
      const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
      expect(header(r.headers, "x-ai-quota-soft-limit")).toBeUndefined();
    }
    await vm.idle();
    const keys = (await fx.client.command("KEYS", "*:soft")) as unknown[];
    expect(keys).toEqual([]);
  });

  test.each([[0], [1], [1.5], [-0.2], ["0.8"], [true]])("soft: %p is refused at start", async (soft) => {
    const { configured, vm } = await fx.vm({ ...BASE_CONFIG, limits: [{ unit: "requests", limit: 5, window: "day", soft }] });
    expect(configured).toBe(false);
    expect(vm.logText()).toMatch(/limits\[0\]\.soft must be a fraction of the limit between 0 and 1/);
  });
});
