// The behaviour suite's core on a real Redis Cluster, for ordinary names and for every name issue
// 16 found broken (a balance key with its own hash tag, a `}` in the name, a tag in the prefix):
// charges, the admin API, fixed reservations under concurrency, windows, cut streams, anonymous
// limits, and a SCRIPT FLUSH on every master. No command may meet CROSSSLOT, and every balance
// must end exact.
import { LogLevel, PluginVm } from "../../host";
import { keySlot } from "../../host/redis-cluster";
import { BASE_CONFIG, adminGet, adminPost, chat, jsonResponse, openAiJson, openAiSse, openChat, request, sseResponse } from "../quota/fixture";
import { ClusterFixture } from "./cluster-fixture";

jest.setTimeout(60_000);

let fx: ClusterFixture;
beforeAll(async () => { fx = await ClusterFixture.start(); }, 60_000);
afterAll(async () => fx?.stop());
beforeEach(async () => fx.flush());

/** Redis error replies the VM received, but NOSCRIPT (a fresh script cache): none may be CROSSSLOT or any other. */
function errorReplies(vm: PluginVm): string[] {
  return vm.redisCalls.filter((c) => c.reply !== undefined && c.reply[0] === 0x2d).map((c) => c.reply!.toString().trim())
    .filter((e) => !e.startsWith("-NOSCRIPT"));
}

/** Every key in the cluster now, with its slot. */
async function keysWithSlots(): Promise<Array<[string, number]>> {
  const keys = await fx.client.keys("*");
  const out: Array<[string, number]> = [];
  for (const k of keys) out.push([k, Number(await fx.client.command("CLUSTER", "KEYSLOT", k))]);
  return out;
}

const SSE_HEAD: [string, string][] = [[":status", "200"], ["content-type", "text/event-stream"]];

describe.each([
  ["chat_quota:", "alice"],
  ["chat_quota:", "team{a}"],
  ["chat_quota:", "x}y"],
  ["chat_quota:", "{ops}"],
  ["{quota}:", "bob"],
])("prefix %j, consumer %j", (prefix, consumer) => {
  const balanceKey = prefix + consumer;
  const base = { ...BASE_CONFIG, redis_key_prefix: prefix };

  /** Every key of the consumer lives in its balance key's slot; there is at least one derived key. */
  async function expectOneSlot(): Promise<void> {
    const all = await keysWithSlots();
    expect(all.length).toBeGreaterThan(1);
    for (const [k, slot] of all) expect([k, slot]).toEqual([k, keySlot(balanceKey)]);
  }

  test("charges: streamed usage charged once (the settlement's marker in the balance key's slot)", async () => {
    const vm = await fx.plugin(base);
    await fx.setBalance(consumer, 1000, prefix);
    expect((await chat(vm, consumer, sseResponse(openAiSse(10, 20)))).local).toBeNull();
    expect((await chat(vm, consumer, jsonResponse(openAiJson(3, 4)))).local).toBeNull();
    await vm.idle();
    expect(await fx.balance(consumer, prefix)).toBe("963");
    await expectOneSlot();
    expect(errorReplies(vm)).toEqual([]);
  });

  test("admin API: refresh, delta, and a query with windows (one MGET in one slot)", async () => {
    const vm = await fx.plugin({ ...base, limits: [{ unit: "requests", limit: 10, window: "day" }, { unit: "tokens", limit: 500, window: "hour" }] });
    const name = encodeURIComponent(consumer);
    expect((await adminPost(vm, "admin", "refresh", `consumer=${name}&quota=500`)).local?.status).toBe(200);
    expect((await adminPost(vm, "admin", "delta", `consumer=${name}&value=-100`)).local?.status).toBe(200);
    expect((await chat(vm, consumer, jsonResponse(openAiJson(2, 3)))).local).toBeNull();
    await vm.idle();
    const q = JSON.parse((await adminGet(vm, "admin", `?consumer=${name}`)).local!.body.toString());
    expect(q.consumer).toBe(consumer);
    expect(q.quota).toBe(395);
    expect(q.windows.map((w: { used: number }) => w.used)).toEqual([1, 5]);
    await expectOneSlot();
    expect(errorReplies(vm)).toEqual([]);
  });

  test("fixed reservations under 60 concurrent requests: exactly balance / reservation admitted, balances exact", async () => {
    const vm = await fx.plugin({ ...base, reservation: { mode: "fixed", tokens: 100, require_full: true } });
    await fx.setBalance(consumer, 1000, prefix);
    const streams = await Promise.all(Array.from({ length: 60 }, () => openChat(vm, consumer)));
    const admitted = streams.filter((s) => s.upstream.ended && s.localResponse === null);
    expect(admitted.length).toBe(10);
    expect(streams.filter((s) => s.localResponse?.status === 403).length).toBe(50);
    expect(await fx.balance(consumer, prefix)).toBe("0");
    for (const s of admitted) {
      s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
      s.responseBody(openAiJson(10, 20), true);
    }
    await vm.idle();
    expect(await fx.balance(consumer, prefix)).toBe("700");
    // Every admission's marker was consumed by its settlement (each script one slot, no CROSSSLOT).
    expect(await fx.client.keys("ai_quota_settled:*")).toEqual([]);
    expect(errorReplies(vm)).toEqual([]);
  });

  test("windows: the 4th request of the day is refused, token windows charged at settlement", async () => {
    const vm = await fx.plugin({ ...base, limits: [{ unit: "requests", limit: 3, window: "day" }, { unit: "tokens", limit: 1000, window: "day" }] });
    await fx.setBalance(consumer, 1000, prefix);
    for (let i = 0; i < 3; i++) expect((await chat(vm, consumer, jsonResponse(openAiJson(5, 5)))).local).toBeNull();
    const r = await chat(vm, consumer, jsonResponse(openAiJson(5, 5)));
    expect(r.local?.status).toBe(429);
    await vm.idle();
    expect(await fx.balance(consumer, prefix)).toBe("970");
    const counters = (await fx.client.keys("ai_quota_state:*")).sort();
    expect(counters.length).toBe(2);
    const values = await Promise.all(counters.map((k) => fx.client.command("GET", k)));
    expect(values.map(String).sort()).toEqual(["3", "30"]);
    await expectOneSlot();
    expect(errorReplies(vm)).toEqual([]);
  });

  test("a stream cut after its usage event, with a reservation and a token window: charged the usage, once", async () => {
    const vm = await fx.plugin({ ...base, reservation: { mode: "fixed", tokens: 100 }, limits: [{ unit: "tokens", limit: 10_000, window: "day" }] });
    await fx.setBalance(consumer, 1000, prefix);
    const s = await openChat(vm, consumer);
    expect(s.upstream.ended).toBe(true);
    s.responseHeaders(SSE_HEAD);
    const body = openAiSse(30, 12);
    s.responseBody(body.slice(0, body.indexOf("data: [DONE]")), false);
    s.finish("client disconnected");
    await vm.idle();
    expect(await fx.balance(consumer, prefix)).toBe("958");
    const [counter] = await fx.client.keys("ai_quota_state:*");
    expect(await fx.client.command("GET", counter)).toBe("42");
    expect(await fx.client.keys("ai_quota_settled:*")).toEqual([]);
    expect(errorReplies(vm)).toEqual([]);
  });

  test("SCRIPT FLUSH on every master: each script sent in full once more, never in a loop", async () => {
    const vm = await fx.plugin({ ...base, reservation: { mode: "fixed", tokens: 100 }, limits: [{ unit: "requests", limit: 100, window: "day" }] });
    await fx.setBalance(consumer, 1000, prefix);
    await chat(vm, consumer, jsonResponse(openAiJson(1, 1)));
    await vm.idle();
    await fx.client.all("SCRIPT", "FLUSH");
    const before = vm.redisCommands().length;
    await chat(vm, consumer, jsonResponse(openAiJson(1, 1)));
    await vm.idle();
    const names = vm.redisCommands().slice(before).map((c) => c[0]);
    // Admission and settlement: EVALSHA → NOSCRIPT → EVAL, once each.
    expect(names).toEqual(["EVALSHA", "EVAL", "EVALSHA", "EVAL"]);
    expect(await fx.balance(consumer, prefix)).toBe("996");
    expect(errorReplies(vm)).toEqual([]);
  });
});

describe("anonymous clients on a cluster", () => {
  const anonymous = {
    ...BASE_CONFIG,
    redis_failure: "allow",
    // One proxy in front: the client address is the x-forwarded-for entry it wrote.
    anonymous: { limits: [{ unit: "requests", limit: 2, window: "day" }], xff_num_trusted_hops: 1 },
  };

  test.each(["203.0.113.7", "203.0.113.7}x", "{victim}", "a}{b}"])("an address %j written by the client: limited like any other, never admitted by redis_failure: allow", async (address) => {
    const vm = await fx.plugin(anonymous);
    const go = () => vm.newStream({ sourceAddress: "10.0.0.1:1234" }).run({
      request: { headers: request("POST", "/v1/chat/completions", null, [["x-forwarded-for", address]]), body: "{}" },
      response: () => jsonResponse(openAiJson(1, 1)),
    });
    const statuses: Array<number | null> = [];
    for (let i = 0; i < 6; i++) statuses.push((await go()).local?.status ?? null);
    expect(statuses).toEqual([null, null, 429, 429, 429, 429]);
    expect(errorReplies(vm)).toEqual([]);
    expect(vm.logText(LogLevel.Warn)).not.toMatch(/admitting .* by redis_failure: allow/);
    // Nothing written under the prefix: an anonymous client has no balance.
    expect(await fx.client.keys("chat_quota:*")).toEqual([]);
  });

  test("an anonymous client is apart from a consumer named anonymous:<address>", async () => {
    // An auth stage sets x-mse-consumer on this route (so a named consumer is trusted).
    const vm = await fx.plugin({ ...anonymous, anonymous: { ...anonymous.anonymous, trust_consumer_header: true }, limits: [{ unit: "requests", limit: 2, window: "day" }] });
    await fx.setBalance("anonymous:203.0.113.9", 1000);
    const anon = () => vm.newStream({ sourceAddress: "203.0.113.9:1" }).run({
      request: { headers: request("POST", "/v1/chat/completions", null), body: "{}" },
      response: () => jsonResponse(openAiJson(1, 1)),
    });
    expect((await anon()).local).toBeNull();
    expect((await anon()).local).toBeNull();
    expect((await anon()).local?.status).toBe(429);
    // The consumer of that name still has both of its own requests.
    expect((await chat(vm, "anonymous:203.0.113.9", jsonResponse(openAiJson(1, 1)))).local).toBeNull();
    expect((await chat(vm, "anonymous:203.0.113.9", jsonResponse(openAiJson(1, 1)))).local).toBeNull();
    expect((await chat(vm, "anonymous:203.0.113.9", jsonResponse(openAiJson(1, 1)))).local?.status).toBe(429);
    await vm.idle();
    expect(await fx.balance("anonymous:203.0.113.9")).toBe("996");
  });
});
