// A consumer's slot moves to another master while its requests are admitted and settled. During
// the move every scripted admission and settlement is answered TRYAGAIN (its marker does not exist
// yet on either side); the plugin sends it again from its tick, faster while anything waits, for as
// long as redis.timeout allows. So the move costs latency, not refusals, and every balance ends exact.
import { LogLevel, PluginVm, Stream } from "../../host";
import { keySlot } from "../../host/redis-cluster";
import { BASE_CONFIG, openAiJson, request } from "../quota/fixture";
import { ClusterFixture } from "./cluster-fixture";

jest.setTimeout(60_000);

let fx: ClusterFixture;
beforeAll(async () => { fx = await ClusterFixture.start(); }, 60_000);
afterAll(async () => fx?.stop());
beforeEach(async () => fx.flush());

const CONSUMER = "mover";
const KEY = "chat_quota:" + CONSUMER;

function tryAgains(vm: PluginVm): number {
  return vm.redisCalls.filter((c) => c.reply !== undefined && c.reply.toString().startsWith("-TRYAGAIN")).length;
}

function start(vm: PluginVm): Stream {
  const s = vm.newStream();
  s.requestHeaders(request("POST", "/v1/chat/completions", CONSUMER, [["content-type", "application/json"]]), false);
  s.requestBody('{"messages":[]}', true);
  return s;
}

function answer(s: Stream, prompt: number, completion: number): void {
  s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
  s.responseBody(openAiJson(prompt, completion), true);
}

async function waitUntil(vm: PluginVm, what: string, cond: () => boolean): Promise<void> {
  await vm.signal.waitUntil(cond, 20_000, () => what);
}

describe.each([
  ["a fixed reservation", { reservation: { mode: "fixed", tokens: 100 } }],
  ["windows only", { balance: false }],
])("the consumer's slot migrates mid-traffic (%s)", (_name, policy) => {
  const config = { ...BASE_CONFIG, ...policy, redis: { ...BASE_CONFIG.redis, timeout: 10_000 }, limits: [{ unit: "requests", limit: 1000, window: "day" }, { unit: "tokens", limit: 1_000_000, window: "day" }] };
  const withBalance = !("balance" in policy);

  test("no request refused, every balance and window exact", async () => {
    const periods: number[] = [];
    const vm = await fx.plugin(config, {
      tickTimer: true,
      onHostCall: (name, args) => { if (name === "proxy_set_tick_period_milliseconds") periods.push(Number(args[0])); },
    });
    await fx.setBalance(CONSUMER, 100_000);
    const slot = keySlot(KEY);
    const owner = await fx.cluster.ownerOf(slot);
    const target = fx.cluster.nodes.find((n) => n.id !== owner.id)!;
    let used = 0;
    const charge = (s: Stream, p: number, c: number) => { answer(s, p, c); used += p + c; };

    // Admitted before the move, settled during it.
    const early = Array.from({ length: 10 }, () => start(vm));
    await Promise.all(early.map((s) => s.waitFor(() => s.upstream.ended, "admission before the move")));

    const migration = fx.cluster.migration(slot, target);
    await migration.begin();
    // Step 1, MIGRATING with every key still on the source: admissions and settlements wait.
    const during = Array.from({ length: 10 }, () => start(vm));
    early.slice(0, 5).forEach((s, i) => charge(s, 10 + i, 5));
    await waitUntil(vm, "TRYAGAIN answers while the slot is MIGRATING", () => tryAgains(vm) >= 10);
    expect(during.every((s) => !s.upstream.ended && s.localResponse === null)).toBe(true);
    // Step 2, the keys moved: the source says ASK, the target (no marker yet) TRYAGAIN.
    const moved = await migration.moveKeys();
    expect(moved).toBeGreaterThan(0);
    const seen = tryAgains(vm);
    early.slice(5).forEach((s, i) => charge(s, 20 + i, 7));
    await waitUntil(vm, "TRYAGAIN from the importing master after ASK", () => tryAgains(vm) >= seen + 10);
    expect(fx.routes.some((r) => r.via === "ask")).toBe(true);
    // Step 3, the slot is the target's: everything waiting goes through.
    await migration.finish();
    await Promise.all(during.map((s) => s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission after the move")));
    expect(during.map((s) => s.localResponse?.status ?? "admitted")).toEqual(during.map(() => "admitted"));
    during.forEach((s, i) => charge(s, 3 + i, 2));
    const after = Array.from({ length: 5 }, () => start(vm));
    await Promise.all(after.map((s) => s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission after the move")));
    after.forEach((s) => charge(s, 1, 1));

    const windows = (await fx.client.keys("ai_quota_state:*")).sort();
    // Settled: no command in flight, none waiting to be sent again (the tick is back to once a second).
    await waitUntil(vm, "every settlement to land", () => vm.tickPeriodMs === 1000 && vm.redisCalls.every((c) => c.status !== undefined));
    await fx.client.refresh();
    if (withBalance) expect(await fx.balance(CONSUMER)).toBe(String(100_000 - used));
    const counters = await Promise.all(windows.map(async (k) => [k.includes(":requests:") ? "requests" : "tokens", String(await fx.client.command("GET", k))]));
    expect(Object.fromEntries(counters)).toEqual({ requests: "25", tokens: String(used) });
    expect(await fx.client.keys("ai_quota_settled:*")).toEqual([]);
    expect((await fx.cluster.ownerOf(slot)).id).toBe(target.id);
    expect(vm.logText(LogLevel.Warn)).toBe("");
    expect(vm.metrics()["ai_quota.redis.tryagain"]).toBeGreaterThanOrEqual(tryAgains(vm));
    // The tick ran every 10 ms while commands waited, and is back to once a second.
    expect(periods[0]).toBe(1000);
    expect(periods).toContain(10);
    expect(periods[periods.length - 1]).toBe(1000);
  });
});

test("a move that outlasts redis.timeout: the admission ends in the failure policy (deny: 403), and nothing is written", async () => {
  const vm = await fx.plugin({ ...BASE_CONFIG, reservation: { mode: "fixed", tokens: 100 }, redis: { ...BASE_CONFIG.redis, timeout: 300 } }, { tickTimer: true });
  await fx.setBalance(CONSUMER, 1000);
  const slot = keySlot(KEY);
  const owner = await fx.cluster.ownerOf(slot);
  const target = fx.cluster.nodes.find((n) => n.id !== owner.id)!;
  const migration = fx.cluster.migration(slot, target);
  await migration.begin();
  try {
    const s = start(vm);
    await s.waitFor(() => s.localResponse !== null || s.upstream.ended, "the admission's end", 10_000);
    expect(s.localResponse?.status).toBe(403);
    // Sent again within 300 ms of waits (10 + 20 + 40 + 80 + 100 ms), then given up.
    expect(tryAgains(vm)).toBeGreaterThanOrEqual(3);
    expect(tryAgains(vm)).toBeLessThanOrEqual(6);
    expect(await fx.balance(CONSUMER)).toBe("1000");
  } finally {
    await migration.moveKeys();
    await migration.finish();
  }
});
