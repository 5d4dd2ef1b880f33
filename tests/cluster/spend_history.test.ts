// Spend history on a real three-master Redis Cluster: the day and month hashes sit in the
// balance key's slot for ordinary names and the names issue 16 found broken, concurrent
// settlements each record exactly once, no command meets CROSSSLOT, and the admin usage query
// (one script over the day keys) answers there.
import { ManualClock, PluginVm } from "../../host";
import { keySlot } from "../../host/redis-cluster";
import { BASE_CONFIG, jsonResponse, openAiJson, request } from "../quota/fixture";
import { ClusterFixture } from "./cluster-fixture";

jest.setTimeout(60_000);

let fx: ClusterFixture;
beforeAll(async () => { fx = await ClusterFixture.start(); }, 60_000);
afterAll(async () => fx?.stop());
beforeEach(async () => fx.flush());

function errorReplies(vm: PluginVm): string[] {
  return vm.redisCalls.filter((c) => c.reply !== undefined && c.reply[0] === 0x2d).map((c) => c.reply!.toString().trim())
    .filter((e) => !e.startsWith("-NOSCRIPT"));
}

function call(vm: PluginVm, consumer: string, model: string) {
  return vm.newStream().run({
    request: { headers: request("POST", "/v1/chat/completions", consumer, [["content-type", "application/json"]]), body: "{}" },
    response: () => jsonResponse(openAiJson(3, 4, model)),
  });
}

describe.each([
  ["chat_quota:", "alice"],
  ["chat_quota:", "x}y"],
  ["{quota}:", "{ops}"],
])("prefix %j, consumer %j", (prefix, consumer) => {
  test("20 concurrent charges over two models: each recorded once, every key in the balance key's slot, the query answers", async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 7, 10));
    const vm = await fx.plugin({
      ...BASE_CONFIG,
      redis_key_prefix: prefix,
      reservation: { mode: "fixed", tokens: 20 },
      limits: [{ unit: "tokens", limit: 100_000, window: "day" }],
      spend_history: { ttl_days: 7 },
    }, { clock });
    await fx.setBalance(consumer, 10_000, prefix);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(vm, consumer, i % 2 === 0 ? "gpt-4o" : "gpt-4o-mini")));
    expect(results.filter((r) => r.local === null).length).toBe(20);
    await vm.idle();
    expect(await fx.balance(consumer, prefix)).toBe(String(10_000 - 20 * 7));
    const slot = keySlot(prefix + consumer);
    const keys = await fx.client.keys("*");
    const usage = keys.filter((k) => k.includes(":usage:"));
    expect(usage.length).toBe(2);
    for (const k of keys) expect([k, Number(await fx.client.command("CLUSTER", "KEYSLOT", k))]).toEqual([k, slot]);
    const r = await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota/usage?consumer=" + encodeURIComponent(consumer), "admin") } });
    expect(r.local?.status).toBe(200);
    const per = { input_tokens: 30, output_tokens: 40, units: 70, requests: 10 };
    expect(JSON.parse(r.local!.body.toString())).toEqual({
      consumer, from: "2026-12-01", to: "2026-12-07",
      days: [{ date: "2026-12-07", models: { "gpt-4o": per, "gpt-4o-mini": per } }],
      total: { input_tokens: 60, output_tokens: 80, units: 140, requests: 20 },
    });
    expect(errorReplies(vm)).toEqual([]);
  });
});
