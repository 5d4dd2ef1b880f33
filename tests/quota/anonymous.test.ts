// Routes with anonymous clients, attacked: on such a route no auth plugin enforces, so a client's
// x-mse-consumer is its own words (ignored unless the operator declares an auth stage), and a
// client's x-forwarded-for entries are its own words too (only entries written by the operator's
// proxies count, Envoy's xff_num_trusted_hops model). Real plugin, real Redis.
import { ManualClock, PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, Headers, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
let clock: ManualClock;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => {
  await fx.flush();
  clock = new ManualClock(Date.UTC(2026, 10, 23, 10, 0, 0));
});

const DAY_START = Date.UTC(2026, 10, 23) / 1000;
const LIMIT_2 = [{ unit: "requests", limit: 2, window: "day" }];

/** Today's request counter of a consumer, or of an anonymous client ("anonymous:<address>"): keys.ts. */
function requestsToday(consumer: string): Promise<unknown> {
  const subject = `chat_quota:${consumer}`;
  const kind = consumer.startsWith("anonymous:") ? "a" : "c";
  return fx.client.command("GET", `ai_quota_state:{${subject}}:${kind}:${Buffer.byteLength(subject)}:${subject}:requests:day:${DAY_START}`);
}

async function plugin(anonymous: object): Promise<PluginVm> {
  return fx.plugin({ ...BASE_CONFIG, anonymous: { limits: LIMIT_2, ...anonymous } }, { clock });
}

/** One chat call from `peer` (source.address) with the given extra headers. */
function call(vm: PluginVm, peer: string, extra: Headers, consumer: string | null = null, path = "/v1/chat/completions") {
  return vm.newStream({ sourceAddress: peer }).run({
    request: { headers: request("POST", path, consumer, [["content-type", "application/json"], ...extra]), body: "{}" },
    response: () => jsonResponse(openAiJson(10, 5)),
  });
}

describe("a client-sent x-mse-consumer on an anonymous route", () => {
  test("is ignored by default: it spends no one's balance, the client is limited by its address", async () => {
    const vm = await plugin({});
    await fx.setBalance("victim", 1000);
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await call(vm, "203.0.113.9:4000", [], "victim"));
    expect(results.map((r) => r.local?.status ?? 200)).toEqual([200, 200, 429]);
    await vm.idle();
    expect(await fx.balance("victim")).toBe("1000");
    expect(await requestsToday("anonymous:203.0.113.9")).toBe("2");
    expect(await requestsToday("victim")).toBeNull();
  });

  test("never reaches the admin API: query, refresh and delta as 'admin' are refused and change nothing", async () => {
    const vm = await plugin({});
    await fx.setBalance("c1", 5);
    const query = await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota?consumer=c1", "admin") } });
    expect(query.local?.status).toBe(401);
    for (const op of ["refresh", "delta"]) {
      const headers = request("POST", `/v1/chat/completions/quota/${op}`, "admin", [["content-type", "application/x-www-form-urlencoded"]]);
      const r = await vm.newStream().run({ request: { headers, body: op === "refresh" ? "consumer=c1&quota=999999" : "consumer=c1&value=999999" } });
      expect(r.local?.status).toBe(401);
      expect(r.upstream).toBeNull();
    }
    await vm.idle();
    expect(await fx.balance("c1")).toBe("5");
  });

  test("a repeated or malformed header makes no difference: the request is anonymous", async () => {
    const vm = await plugin({});
    const r = await call(vm, "203.0.113.9:4000", [["x-mse-consumer", "admin"]], "victim");
    expect(r.local).toBeNull();
    expect(await requestsToday("anonymous:203.0.113.9")).toBe("1");
  });

  test("with trust_consumer_header (an auth stage sets or strips it) a named consumer spends its balance and the admin API answers", async () => {
    const vm = await plugin({ trust_consumer_header: true });
    await fx.setBalance("c1", 1000);
    const named = await call(vm, "203.0.113.9:4000", [], "c1");
    expect(named.local).toBeNull();
    await vm.idle();
    expect(await fx.balance("c1")).toBe("985");
    expect(await requestsToday("anonymous:203.0.113.9")).toBeNull();
    const query = await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota?consumer=c1", "admin") } });
    expect(query.local?.body.toString()).toBe('{"consumer":"c1","quota":985}');
    const anonymous = await call(vm, "203.0.113.9:4000", []);
    expect(anonymous.local).toBeNull();
    expect(await requestsToday("anonymous:203.0.113.9")).toBe("1");
  });

  test("without `anonymous` the header is Higress's identity, as before", async () => {
    const vm = await fx.plugin(BASE_CONFIG, { clock });
    await fx.setBalance("c1", 100);
    expect((await call(vm, "203.0.113.9:4000", [], "c1")).local).toBeNull();
    expect((await call(vm, "203.0.113.9:4000", [])).local?.status).toBe(401);
  });
});

describe("client addresses: x-forwarded-for rotation", () => {
  /** XFF as Envoy delivers it with use_remote_address: the peer appended last. */
  const xff = (...entries: string[]): Headers => [["x-forwarded-for", entries.join(", ")]];

  test("0 trusted hops (default): XFF is never read; rotating it gets 2 of 10 through a limit of 2", async () => {
    const vm = await plugin({});
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      const r = await call(vm, "198.51.100.7:5000", xff(`10.1.2.${i}`, "198.51.100.7"));
      if (r.local === null) admitted++;
    }
    expect(admitted).toBe(2);
    expect(await requestsToday("anonymous:198.51.100.7")).toBe("2");
  });

  test("0 trusted hops: naming a victim's address in XFF does not spend the victim's limit", async () => {
    const vm = await plugin({});
    for (let i = 0; i < 5; i++) await call(vm, "198.51.100.7:5000", xff("203.0.113.50", "198.51.100.7"));
    expect(await requestsToday("anonymous:203.0.113.50")).toBeNull();
    expect((await call(vm, "203.0.113.50:6000", [])).local).toBeNull();
  });

  test("1 trusted hop: the entry the load balancer wrote is the client; everything left of it is ignored", async () => {
    const vm = await plugin({ xff_num_trusted_hops: 1 });
    const lb = "10.0.0.2:40000";
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      // The client writes "10.9.9.i, 203.0.113.50"; the LB appends the client's address; Envoy appends the LB.
      const r = await call(vm, lb, xff(`10.9.9.${i}`, "203.0.113.50", "198.51.100.7", "10.0.0.2"));
      if (r.local === null) admitted++;
    }
    expect(admitted).toBe(2);
    expect(await requestsToday("anonymous:198.51.100.7")).toBe("2");
    expect(await requestsToday("anonymous:203.0.113.50")).toBeNull();
    // The victim, through the same LB, still has its own limit.
    expect((await call(vm, lb, xff("198.51.100.8", "10.0.0.2"))).local).toBeNull();
  });

  test("1 trusted hop: repeated x-forwarded-for headers read as one list, in order", async () => {
    const vm = await plugin({ xff_num_trusted_hops: 1 });
    await call(vm, "10.0.0.2:40000", [["x-forwarded-for", "203.0.113.50"], ["x-forwarded-for", "198.51.100.9, 10.0.0.2"]]);
    expect(await requestsToday("anonymous:198.51.100.9")).toBe("1");
    expect(await requestsToday("anonymous:203.0.113.50")).toBeNull();
  });

  test("many repeated x-forwarded-for headers cost their size once, not their count squared", async () => {
    const vm = await plugin({ xff_num_trusted_hops: 1 });
    await call(vm, "10.0.0.2:40000", xff("198.51.100.7", "10.0.0.2"));
    const before = vm.memoryBytes();
    // 120 headers of ~500 bytes (within Envoy's 60 KiB header limit): joined by concatenation this
    // made ~7 MB of strings inside one callback, and linear memory never gives it back.
    const entry = Array.from({ length: 40 }, (_, i) => `10.1.${i}.1`).join(", ");
    const many: Headers = Array.from({ length: 120 }, () => ["x-forwarded-for", entry] as [string, string]);
    const r = await call(vm, "10.0.0.2:40000", [...many, ["x-forwarded-for", "198.51.100.7, 10.0.0.2"]]);
    expect(r.local).toBeNull();
    expect(vm.memoryBytes() - before).toBeLessThan(1 << 20);
  });

  test("1 trusted hop: fewer entries than that, or an entry that is not an address, fall back to the peer (as Envoy)", async () => {
    const vm = await plugin({ xff_num_trusted_hops: 1 });
    await call(vm, "10.0.0.2:40000", xff("10.0.0.2"));
    await call(vm, "10.0.0.2:40000", []);
    expect(await requestsToday("anonymous:10.0.0.2")).toBe("2");
    await call(vm, "10.0.0.3:40000", xff("not-an-ip", "10.0.0.3"));
    expect(await requestsToday("anonymous:10.0.0.3")).toBe("1");
  });

  test("IPv6 clients are limited per /64: rotating within it does not escape", async () => {
    const vm = await plugin({});
    const results = [];
    for (const host of ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"]) results.push(await call(vm, `[${host}]:5000`, []));
    expect(results.map((r) => r.local?.status ?? 200)).toEqual([200, 200, 429]);
    expect(await requestsToday("anonymous:2001:db8:1:2::/64")).toBe("2");
  });

  test("trust_forwarded_for: true is refused (it trusted the client's own entry); false is a deprecation warning", async () => {
    const refused = await fx.vm({ ...BASE_CONFIG, anonymous: { limits: LIMIT_2, trust_forwarded_for: true } });
    expect(refused.configured).toBe(false);
    expect(refused.vm.logText()).toMatch(/anonymous.trust_forwarded_for was removed.*xff_num_trusted_hops/);
    const warned = await fx.vm({ ...BASE_CONFIG, anonymous: { limits: LIMIT_2, trust_forwarded_for: false } });
    expect(warned.configured).toBe(true);
    expect(warned.vm.logText()).toMatch(/trust_forwarded_for is deprecated and ignored/);
    for (const [anonymous, msg] of [
      [{ limits: LIMIT_2, xff_num_trusted_hops: -1 }, /anonymous.xff_num_trusted_hops must be between 0 and 64/],
      [{ limits: LIMIT_2, trust_consumer_header: "yes" }, /anonymous.trust_consumer_header must be true or false/],
    ] as const) {
      const bad = await fx.vm({ ...BASE_CONFIG, anonymous });
      expect(bad.configured).toBe(false);
      expect(bad.vm.logText()).toMatch(msg);
    }
  });
});
