// Tiers (issue 24 item 1): named sets of limits per consumer, by config, default, or a header an
// auth stage sets. Attacked first: a client naming a better tier itself (on a route where the
// consumer header is not trusted, beside the auth stage's value, in another spelling), and N
// concurrent requests of each tier never passing more than its limit.
import { ManualClock, PluginVm } from "../../host";
import { BASE_CONFIG, Headers, QuotaFixture, adminGet, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
let clock: ManualClock;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => {
  await fx.flush();
  clock = new ManualClock(Date.UTC(2026, 10, 23, 10, 0, 0));
});

const DAY_START = Date.UTC(2026, 10, 23) / 1000;

const TIERS = {
  tiers: {
    free: { limits: [{ unit: "requests", limit: 2, window: "day" }] },
    pro: { limits: [{ unit: "requests", limit: 5, window: "day" }, { unit: "tokens", limit: 10_000, window: "day" }] },
  },
  consumers: { alice: "pro", mallory: "free" },
};

async function plugin(extra: object): Promise<PluginVm> {
  return fx.plugin({ ...BASE_CONFIG, ...extra }, { clock });
}

/** One chat call by `consumer` with extra request headers; the upstream answers 1+1 tokens. */
function call(vm: PluginVm, consumer: string | null, extra: Headers = [], peer = "203.0.113.9:4000") {
  return vm.newStream({ sourceAddress: peer }).run({
    request: { headers: request("POST", "/v1/chat/completions", consumer, [["content-type", "application/json"], ...extra]), body: '{"model":"gpt-4o","messages":[]}' },
    response: () => jsonResponse(openAiJson(1, 1)),
  });
}

/** Statuses of `n` calls in a row (200 when the plugin let it through). */
async function statuses(vm: PluginVm, consumer: string | null, n: number, extra: Headers = []): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await call(vm, consumer, extra)).local?.status ?? 200);
  return out;
}

function dayKey(consumer: string, unit = "requests"): string {
  const subject = `chat_quota:${consumer}`;
  return `ai_quota_state:{${subject}}:c:${Buffer.byteLength(subject)}:${subject}:${unit}:day:${DAY_START}`;
}

describe("config", () => {
  test.each([
    [{ tiers: [] }, "tiers must be an object of named tiers"],
    [{ tiers: {} }, "tiers must not be empty"],
    [{ tiers: { "": {} } }, "tiers: tier name must not be empty"],
    [{ tiers: { "a b": {} } }, "tiers: tier name must be printable, without spaces or commas"],
    [{ tiers: { free: { limits: [{ unit: "requests", limit: 0, window: "day" }] } } }, "tiers.free.limits[0].limit must be an integer"],
    [{ tiers: { free: { balance: "no" } } }, "tiers.free.balance must be true or false"],
    [{ tiers: { free: { balance: false } } }, "tiers.free: balance false needs limits"],
    [{ tiers: { free: {} }, consumers: { alice: "pro" } }, "consumers.alice names tier pro, which tiers does not define"],
    [{ tiers: { free: {} }, consumers: { alice: 1 } }, "consumers.alice must be a tier name"],
    [{ tiers: { free: {} }, default_tier: "gold" }, "default_tier names tier gold, which tiers does not define"],
    [{ tiers: { free: {} }, tier_header: "X-Tier" }, "tier_header must be a lower-case HTTP header name"],
    [{ tiers: { free: {} }, tier_header: "x-mse-consumer" }, "tier_header must not be x-mse-consumer"],
    [{ consumers: { alice: "pro" } }, "consumers needs tiers"],
    [{ default_tier: "free" }, "default_tier needs tiers"],
    [{ tier_header: "x-tier" }, "tier_header needs tiers"],
  ])("%j is refused: %s", async (extra, message) => {
    const { vm, configured } = await fx.vm({ ...BASE_CONFIG, ...extra });
    expect(configured).toBe(false);
    expect(vm.logText()).toContain(message);
  });

  test("a duplicated tier or consumer is refused, not resolved by position", async () => {
    const dupTier = `{"admin_consumer":"admin","redis":{"service_name":"redis.static"},"tiers":{"free":{},"free":{"limits":[]}}}`;
    const r1 = await fx.vm(dupTier);
    expect(r1.configured).toBe(false);
    expect(r1.vm.logText()).toContain("tiers.free is defined twice");
    const dupConsumer = `{"admin_consumer":"admin","redis":{"service_name":"redis.static"},"tiers":{"free":{},"pro":{}},"consumers":{"eve":"free","eve":"pro"}}`;
    const r2 = await fx.vm(dupConsumer);
    expect(r2.configured).toBe(false);
    expect(r2.vm.logText()).toContain("consumers.eve is listed twice");
  });

  test("an unknown key inside a tier is a warning; the config starts", async () => {
    const vm = await plugin({ tiers: { free: { limit: 3 } } });
    expect(vm.logText()).toContain("unknown config key tiers.free.limit is ignored");
  });
});

describe("which tier a consumer is in", () => {
  test("by consumers: alice (pro) gets 5 a day, mallory (free) 2; the counters are the consumer's own", async () => {
    const vm = await plugin(TIERS);
    await fx.setBalance("alice", 1000);
    await fx.setBalance("mallory", 1000);
    expect(await statuses(vm, "alice", 6)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await statuses(vm, "mallory", 3)).toEqual([200, 200, 429]);
    expect(await fx.client.command("GET", dayKey("alice"))).toBe("5");
    expect(await fx.client.command("GET", dayKey("mallory"))).toBe("2");
    await vm.idle();
    // The pro tier's token window was charged the usage; the balance (Higress's key) too.
    expect(await fx.client.command("GET", dayKey("alice", "tokens"))).toBe("10");
    expect(await fx.balance("alice")).toBe("990");
    expect(await fx.balance("mallory")).toBe("996");
  });

  test("a consumer in no tier: default_tier when set, else the top-level limits", async () => {
    const top = { limits: [{ unit: "requests", limit: 1, window: "day" }] };
    const withoutDefault = await plugin({ ...TIERS, ...top });
    await fx.setBalance("carol", 1000);
    expect(await statuses(withoutDefault, "carol", 2)).toEqual([200, 429]);
    await fx.flush();
    await fx.setBalance("carol", 1000);
    const withDefault = await plugin({ ...TIERS, ...top, default_tier: "free" });
    expect(await statuses(withDefault, "carol", 3)).toEqual([200, 200, 429]);
  });

  test("a tier with balance: false needs no Higress key and charges none", async () => {
    const vm = await plugin({ tiers: { trial: { balance: false, limits: [{ unit: "requests", limit: 2, window: "day" }] }, paid: {} }, consumers: { tom: "trial", pat: "paid" } });
    expect(await statuses(vm, "tom", 3)).toEqual([200, 200, 429]);
    await vm.idle();
    expect(await fx.balance("tom")).toBeNull();
    // A tier without limits is Higress's balance check: no key, 403.
    const r = await call(vm, "pat");
    expect(r.local?.status).toBe(403);
    expect(r.local?.details).toBe("ai-quota.noquota");
  });

  test("the admin query shows the windows of the consumer's configured tier", async () => {
    const vm = await plugin(TIERS);
    await fx.setBalance("alice", 100);
    await call(vm, "alice");
    await vm.idle();
    const q = JSON.parse((await adminGet(vm, "admin", "?consumer=alice")).local!.body.toString());
    expect(q.windows.map((w: { unit: string; limit: number; used: number }) => [w.unit, w.limit, w.used])).toEqual([["requests", 5, 1], ["tokens", 10_000, 2]]);
    const m = JSON.parse((await adminGet(vm, "admin", "?consumer=mallory")).local!.body.toString());
    expect(m.windows.map((w: { limit: number }) => w.limit)).toEqual([2]);
  });
});

describe("a tier named by a header an auth stage sets", () => {
  const HEADERED = { ...TIERS, default_tier: "free", tier_header: "x-tier" };

  test("the header picks the tier of a consumer the config does not list", async () => {
    const vm = await plugin(HEADERED);
    await fx.setBalance("dave", 1000);
    expect(await statuses(vm, "dave", 6, [["x-tier", "pro"]])).toEqual([200, 200, 200, 200, 200, 429]);
  });

  test("attack: the config's word beats the header (mallory, free, says pro)", async () => {
    const vm = await plugin(HEADERED);
    await fx.setBalance("mallory", 1000);
    expect(await statuses(vm, "mallory", 3, [["x-tier", "pro"]])).toEqual([200, 200, 429]);
  });

  test("attack: a second value beside the auth stage's, or a tier the operator did not write, is refused (401 bad_tier), charged nothing", async () => {
    const vm = await plugin(HEADERED);
    await fx.setBalance("dave", 1000);
    for (const extra of [
      [["x-tier", "free"], ["x-tier", "pro"]],
      [["x-tier", "pro"], ["x-tier", "pro"]],
      [["x-tier", "PRO"]],
      [["x-tier", "pro "]],
      [["x-tier", "free,pro"]],
      [["x-tier", ""]],
      [["x-tier", "p".repeat(5000)]],
    ] as Headers[]) {
      const r = await call(vm, "dave", extra);
      expect([JSON.stringify(extra).slice(0, 60), r.local?.status, r.local?.details]).toEqual([JSON.stringify(extra).slice(0, 60), 401, "ai-quota.bad_tier"]);
      expect(r.upstream).toBeNull();
    }
    expect(vm.metrics()["ai_quota.requests.denied.bad_tier"]).toBe(7);
    expect(await fx.client.command("GET", dayKey("dave"))).toBeNull();
    await vm.idle();
    expect(await fx.balance("dave")).toBe("1000");
  });

  test("attack: where x-mse-consumer is not trusted (anonymous route), the tier header is not either", async () => {
    const vm = await plugin({ ...HEADERED, anonymous: { limits: [{ unit: "requests", limit: 1, window: "day" }] } });
    await fx.setBalance("dave", 1000);
    // Both headers are the client's words: the request is anonymous, limited by its address.
    expect(await statuses(vm, "dave", 2, [["x-tier", "pro"]])).toEqual([200, 429]);
    expect(await statuses(vm, null, 1, [["x-tier", "pro"]])).toEqual([429]);
    expect(await fx.client.command("GET", dayKey("dave"))).toBeNull();
  });

  test("with anonymous.trust_consumer_header (an auth stage declared), the header counts again", async () => {
    const vm = await plugin({ ...HEADERED, anonymous: { limits: [{ unit: "requests", limit: 1, window: "day" }], trust_consumer_header: true } });
    await fx.setBalance("dave", 1000);
    expect(await statuses(vm, "dave", 6, [["x-tier", "pro"]])).toEqual([200, 200, 200, 200, 200, 429]);
  });

  test("without tier_header the header is ignored (free by default)", async () => {
    const vm = await plugin({ ...TIERS, default_tier: "free" });
    await fx.setBalance("dave", 1000);
    expect(await statuses(vm, "dave", 3, [["x-tier", "pro"], ["x-tier", "pro"]])).toEqual([200, 200, 429]);
  });
});

describe("under concurrency", () => {
  test("40 concurrent requests of each tier: exactly the tier's limit passes, balances exact", async () => {
    const vm = await plugin({ ...TIERS, consumers: { alice: "pro", bob: "free" }, reservation: { mode: "fixed", tokens: 50 } });
    await fx.setBalance("alice", 100_000);
    await fx.setBalance("bob", 100_000);
    const all = await Promise.all([
      ...Array.from({ length: 40 }, () => call(vm, "alice")),
      ...Array.from({ length: 40 }, () => call(vm, "bob")),
    ]);
    const passed = (from: number) => all.slice(from, from + 40).filter((r) => r.local === null).length;
    expect([passed(0), passed(40)]).toEqual([5, 2]);
    await vm.idle();
    expect(await fx.balance("alice")).toBe(String(100_000 - 5 * 2));
    expect(await fx.balance("bob")).toBe(String(100_000 - 2 * 2));
    expect(await fx.client.command("GET", dayKey("alice", "tokens"))).toBe("10");
    expect(await fx.client.command("KEYS", "ai_quota_settled:*")).toEqual([]);
  });
});
