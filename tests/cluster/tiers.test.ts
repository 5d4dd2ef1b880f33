// Tiers on a real three-master Redis Cluster, for ordinary names and the names issue 16 found
// broken: concurrent requests of two tiers (named by config and by header) each pass exactly
// their tier's limit, balances end exact, every key sits in the consumer's balance key's slot
// and no command meets CROSSSLOT.
import { PluginVm } from "../../host";
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

function call(vm: PluginVm, consumer: string, tier: string | null) {
  const extra: Array<[string, string]> = [["content-type", "application/json"]];
  if (tier !== null) extra.push(["x-tier", tier]);
  return vm.newStream().run({
    request: { headers: request("POST", "/v1/chat/completions", consumer, extra), body: "{}" },
    response: () => jsonResponse(openAiJson(3, 4)),
  });
}

describe.each([
  ["chat_quota:", "alice", "bob"],
  ["chat_quota:", "team{a}", "x}y"],
  ["{quota}:", "{ops}", "bob"],
])("prefix %j, consumers %j (pro by config) and %j (pro by header)", (prefix, listed, headered) => {
  test("30 concurrent requests each against free (3/day) and pro (8/day): exact counts, one slot per consumer", async () => {
    const vm = await fx.plugin({
      ...BASE_CONFIG,
      redis_key_prefix: prefix,
      reservation: { mode: "fixed", tokens: 20 },
      tiers: {
        free: { limits: [{ unit: "requests", limit: 3, window: "day" }] },
        pro: { limits: [{ unit: "requests", limit: 8, window: "day" }, { unit: "tokens", limit: 100_000, window: "hour" }] },
      },
      consumers: { [listed]: "pro" },
      default_tier: "free",
      tier_header: "x-tier",
    });
    await fx.setBalance(listed, 10_000, prefix);
    await fx.setBalance(headered, 10_000, prefix);
    await fx.setBalance("carol", 10_000, prefix);
    const results = await Promise.all([
      ...Array.from({ length: 30 }, () => call(vm, listed, "free")),
      ...Array.from({ length: 30 }, () => call(vm, headered, "pro")),
      ...Array.from({ length: 30 }, () => call(vm, "carol", null)),
    ]);
    const passed = (from: number) => results.slice(from, from + 30).filter((r) => r.local === null).length;
    expect([passed(0), passed(30), passed(60)]).toEqual([8, 8, 3]);
    await vm.idle();
    expect(await fx.balance(listed, prefix)).toBe(String(10_000 - 8 * 7));
    expect(await fx.balance(headered, prefix)).toBe(String(10_000 - 8 * 7));
    expect(await fx.balance("carol", prefix)).toBe(String(10_000 - 3 * 7));
    expect(await fx.client.keys("ai_quota_settled:*")).toEqual([]);
    const slots = new Map([[listed, keySlot(prefix + listed)], [headered, keySlot(prefix + headered)], ["carol", keySlot(prefix + "carol")]]);
    for (const k of await fx.client.keys("*")) {
      const owner = [...slots.keys()].find((c) => k === prefix + c || k.includes(`:${Buffer.byteLength(prefix + c)}:${prefix + c}:`));
      expect([k, owner !== undefined]).toEqual([k, true]);
      expect([k, Number(await fx.client.command("CLUSTER", "KEYSLOT", k))]).toEqual([k, slots.get(owner!)]);
    }
    expect(errorReplies(vm)).toEqual([]);
  });
});
