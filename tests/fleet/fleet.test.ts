// A fleet: three gateway processes (three plugin VMs) behind one real redis-server, many
// concurrent streaming requests from ten consumers with known usage, some cut mid-stream by the
// client, and Redis restarted once mid-run. Every balance must end exactly at
// initial − Σ(usage of the answers the clients received in full).
import { RedisClient, RedisServer, startRedis } from "../../host";
import { GatewayProcess } from "../gateway/gateway-process";
import { CONSUMERS, Plan, send as sendPlan, startUpstream as startPlanUpstream } from "./fleet-harness";

jest.setTimeout(180_000);


async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // Settlements retried by the gateways' once-a-second tick: poll Redis, bounded by the deadline.
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function fleet(redis: RedisServer, upstream: string, plugin: object, count: number): Promise<GatewayProcess[]> {
  return Promise.all(Array.from({ length: count }, () => GatewayProcess.start(
    { consumers: CONSUMERS, plugin, upstream },
    ["--redis", `${redis.host}:${redis.port}`, "--log-level", "warn"],
  )));
}

// missing_usage: none — a stream cut after its usage event costs exactly what it reported and one
// cut before costs nothing, so every balance is known to the token (estimates have their own tests).
const BASE = { admin_consumer: "admin", missing_usage: "none", redis: { service_name: "redis.static", timeout: 1000 } };

describe("fleet of three gateways on one Redis", () => {
  let redis: RedisServer;
  let client: RedisClient;
  let upstream: { url: string; close: () => void };
  let gateways: GatewayProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis({ persistent: true });
    client = await RedisClient.connect(redis.port);
    upstream = await startPlanUpstream("before-usage");
  });
  afterEach(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    gateways = [];
  });
  afterAll(async () => {
    client.close();
    upstream.close();
    await redis.stop();
  });

  async function balances(): Promise<number[]> {
    const values = (await client.command("MGET", ...CONSUMERS.map((c) => `chat_quota:${c.name}`))) as (string | null)[];
    return values.map((v) => Number(v));
  }

  test.each([
    ["Higress behaviour (no reservation)", {}],
    ["reservation: fixed", { reservation: { mode: "fixed", tokens: 200 } }],
  ])("%s: 200 concurrent streams, some cut, Redis restarted mid-run → balances exact", async (_name, policy) => {
    client = await reconnectIfClosed(client, redis);
    await client.command("FLUSHALL");
    const initial = 1_000_000;
    for (const c of CONSUMERS) await client.command("SET", `chat_quota:${c.name}`, String(initial));
    gateways = await fleet(redis, upstream.url, { ...BASE, ...policy }, 3);

    const plans: Plan[] = Array.from({ length: 200 }, (_, i) => ({
      consumer: i % 10, input: 5 + (i % 13), output: 1 + ((i * 7) % 31), cut: i % 9 === 4,
    }));
    // The first hundred start together; when half of them are done, Redis restarts while the
    // second hundred start: admissions and settlements meet a Redis that is away.
    let done = 0;
    let halfDone: () => void = () => undefined;
    const half = new Promise<void>((r) => (halfDone = r));
    const run = (i: number) => sendPlan(gateways[i % 3].url, plans[i], "before-usage").then((o) => {
      if (++done === 50) halfDone();
      return o;
    });
    const first = plans.slice(0, 100).map((_, i) => run(i));
    await half;
    const restart = (async () => { await redis.stop(); await redis.restart(); })();
    const second = plans.slice(100).map((_, i) => run(100 + i));
    const outcomes = await Promise.all([...first, ...second]);
    await restart;
    client = await reconnectIfClosed(client, redis);

    const expected = CONSUMERS.map(() => initial);
    plans.forEach((p, i) => { if (outcomes[i] === "charged") expected[p.consumer] -= p.input + p.output; });
    expect(outcomes.filter((o) => o === "other")).toEqual([]);
    expect(outcomes.filter((o) => o === "charged").length).toBeGreaterThan(50);
    expect(outcomes.filter((o) => o === "cut").length).toBeGreaterThan(0);

    let last: number[] = [];
    await waitFor("every settlement to land", async () => {
      client = await reconnectIfClosed(client, redis);
      last = await balances();
      return last.every((b, i) => b === expected[i]);
    }, 30_000).catch(() => undefined);
    if (!last.every((b, i) => b === expected[i])) {
      // Say what the gateways said, to find where a charge went.
      for (const g of gateways) {
        const stats = await fetch(`${g.url}/stats/prometheus`).then((r) => r.text());
        console.log(stats.split("\n").filter((l) => /settlement|charged|admitted/.test(l)).join("\n"));
        console.log(g.lines.filter((l) => /error|gave up/i.test(l)).slice(0, 20).join("\n"));
      }
    }
    expect(last).toEqual(expected);
    const denied = outcomes.filter((o) => o === "denied").length;
    console.log(`fleet ${_name}: ${outcomes.filter((o) => o === "charged").length} charged, ${outcomes.filter((o) => o === "cut").length} cut, ${denied} denied during the Redis restart; balances exact`);
  });

  // Overspend: each consumer has 100 tokens and fires 20 requests at once across the fleet, each
  // answer using 30. The bound for a reservation R (each answer using at most R) is R − 1 below
  // zero, and 0 with require_full; Higress's check lets every request through.
  // What each can produce (README, "Measured"), k being one consumer's admissions, its final balance
  // 100 − 30k: without a reservation a request passes while the balance is > 0, so 4 ≤ k ≤ 20
  // (at least 4: three charges leave 10). Fixed 40 admits while the balance is > 0 and each settlement
  // gives 10 back: 3 admissions at once (100, 60, 20), a 4th only if settlements land first
  // (100 − 30·3 = 10 > 0), never a 5th (−20): k ∈ {3, 4}. With require_full the balance must be ≥ 40:
  // 2 at once, a 3rd only after both settle (40): k ∈ {2, 3}. How many runs land where is timing.
  test.each([
    ["Higress behaviour (no reservation)", {}, -(20 * 30 - 100), [20, 100], [-500, -20]],
    ["reservation: fixed 40", { reservation: { mode: "fixed", tokens: 40 } }, -(40 - 1), [15, 20], [-20, 10]],
    ["reservation: fixed 40, require_full", { reservation: { mode: "fixed", tokens: 40, require_full: true } }, 0, [10, 15], [10, 40]],
  ] as const)("overspend, %s", async (name, policy, bound, [fewest, most], [lowestMin, lowestMax]) => {
    client = await reconnectIfClosed(client, redis);
    await client.command("FLUSHALL");
    for (const c of CONSUMERS.slice(0, 5)) await client.command("SET", `chat_quota:${c.name}`, "100");
    gateways = await fleet(redis, upstream.url, { ...BASE, ...policy }, 3);
    const plans: Plan[] = Array.from({ length: 100 }, (_, i) => ({ consumer: i % 5, input: 10, output: 20, cut: false }));
    const outcomes = await Promise.all(plans.map((p, i) => sendPlan(gateways[i % 3].url, p, "before-usage")));
    const admitted = outcomes.filter((o) => o === "charged").length;
    let finals: number[] = [];
    await waitFor("the settlements", async () => {
      const values = (await client.command("MGET", ...CONSUMERS.slice(0, 5).map((c) => `chat_quota:${c.name}`))) as string[];
      finals = values.map(Number);
      const expected = 5 * 100 - admitted * 30;
      return finals.reduce((a, b) => a + b, 0) === expected;
    }, 30_000).catch(() => undefined);
    const lowest = Math.min(...finals);
    console.log(`overspend ${name}: ${admitted}/100 admitted, lowest final balance ${lowest} (quota 100 each, 30 tokens per answer)`);
    expect(finals.reduce((a, b) => a + b, 0)).toBe(5 * 100 - admitted * 30);
    expect(lowest).toBeGreaterThanOrEqual(bound);
    expect(admitted).toBeGreaterThanOrEqual(fewest);
    expect(admitted).toBeLessThanOrEqual(most);
    expect(lowest).toBeGreaterThanOrEqual(lowestMin);
    expect(lowest).toBeLessThanOrEqual(lowestMax);
    expect((100 - lowest) % 30).toBe(0);
  });
});

async function reconnectIfClosed(client: RedisClient, redis: RedisServer): Promise<RedisClient> {
  try {
    await client.command("PING");
    return client;
  } catch {
    client.close();
    return RedisClient.connect(redis.port);
  }
}
