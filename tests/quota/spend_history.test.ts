// Spend history (issue 24 item 5, opt-in): per consumer, model and UTC day and month, written by
// the settlement script itself, exactly once, only for charges; and the admin usage query.
import * as net from "node:net";
import { LogLevel, ManualClock, PluginVm, RespFramer, decodeCommand } from "../../host";
import { BASE_CONFIG, QuotaFixture, adminGet, chat, jsonResponse, openAiJson, openAiSse, openChat, request, testWithRedisHostCalls } from "./fixture";

let fx: QuotaFixture;
let clock: ManualClock;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => {
  await fx.flush();
  clock = new ManualClock(Date.UTC(2026, 11, 7, 10, 0, 0));
});

const HISTORY = { ...BASE_CONFIG, spend_history: { ttl_days: 30 } };

async function plugin(extra: object = {}, base: object = HISTORY): Promise<PluginVm> {
  return fx.plugin({ ...base, ...extra }, { clock });
}

/** A usage hash's key (keys.ts usageDay/usageMonth), in the balance key's slot. */
function usageKey(consumer: string, kind: "d" | "m", when: string, prefix = "chat_quota:"): string {
  const subject = prefix + consumer;
  return `ai_quota_state:{${subject}}:c:${Buffer.byteLength(subject)}:${subject}:usage:${kind}:${when}`;
}

async function hash(key: string): Promise<Record<string, string>> {
  const flat = (await fx.client.command("HGETALL", key)) as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

async function usageKeys(): Promise<string[]> {
  return ((await fx.client.command("KEYS", "ai_quota_state:*:usage:*")) as string[]).sort();
}

function usageGet(vm: PluginVm, consumer: string | null, query: string) {
  return adminGet(vm, consumer, "/usage" + query);
}

function noUsageJson(model: string): string {
  return JSON.stringify({ id: "x", object: "chat.completion", model, choices: [{ index: 0, message: { role: "assistant", content: "hello there, friend" }, finish_reason: "stop" }] });
}

describe("recording", () => {
  test("off by default: no usage key is written; the settlement is as before (2 keys; Higress's DECRBY with retries off)", async () => {
    const vm = await plugin({}, BASE_CONFIG);
    await fx.setBalance("c1", 100);
    await chat(vm, "c1", jsonResponse(openAiJson(3, 4)));
    await vm.idle();
    expect(await fx.balance("c1")).toBe("93");
    expect(await usageKeys()).toEqual([]);
    const settle = vm.redisCommands().filter((c) => c[0] === "EVALSHA");
    expect(settle.map((c) => c[2])).toEqual(["2"]);
    const plain = await plugin({ settlement_retry_seconds: 0 }, BASE_CONFIG);
    await chat(plain, "c1", jsonResponse(openAiJson(3, 4)));
    await plain.idle();
    expect(await fx.balance("c1")).toBe("86");
    expect(await usageKeys()).toEqual([]);
    expect(plain.redisCommands().map((c) => c[0])).toEqual(["GET", "DECRBY"]);
  });

  test("charges are recorded per model in the day and month hashes, with the TTL set", async () => {
    const vm = await plugin();
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(3, 4)));
    await chat(vm, "c1", jsonResponse(openAiJson(10, 20)));
    await chat(vm, "c1", jsonResponse(openAiJson(1, 2, "gpt-4o-mini")));
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(1000 - 7 - 30 - 3));
    const expected = {
      "gpt-4o\ni": "13", "gpt-4o\no": "24", "gpt-4o\nu": "37", "gpt-4o\nr": "2",
      "gpt-4o-mini\ni": "1", "gpt-4o-mini\no": "2", "gpt-4o-mini\nu": "3", "gpt-4o-mini\nr": "1",
    };
    expect(await hash(usageKey("c1", "d", "2026-12-07"))).toEqual(expected);
    expect(await hash(usageKey("c1", "m", "2026-12"))).toEqual(expected);
    // Each lives until its period ends (the plugin's clock: 10:00 on 2026-12-07), then 30 days.
    const dayLeft = 14 * 3600;
    const monthLeft = 24 * 86400 + 14 * 3600;
    for (const [k, left] of [[usageKey("c1", "d", "2026-12-07"), dayLeft], [usageKey("c1", "m", "2026-12"), monthLeft]] as const) {
      const ttl = Number(await fx.client.command("TTL", k));
      expect(ttl).toBeGreaterThan(left + 30 * 86400 - 60);
      expect(ttl).toBeLessThanOrEqual(left + 30 * 86400);
    }
    // Higress's plain DECRBY is replaced by the settlement script: it writes the history too.
    expect(vm.redisCommands().filter((c) => c[0] === "DECRBY")).toEqual([]);
  });

  test("a new UTC day gets its own day hash; the month hash keeps adding", async () => {
    const vm = await plugin();
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(3, 4)));
    await vm.idle();
    clock.set(Date.UTC(2026, 11, 8, 0, 0, 1));
    await chat(vm, "c1", jsonResponse(openAiJson(5, 5)));
    await vm.idle();
    expect((await hash(usageKey("c1", "d", "2026-12-07")))["gpt-4o\nu"]).toBe("7");
    expect((await hash(usageKey("c1", "d", "2026-12-08")))["gpt-4o\nu"]).toBe("10");
    expect((await hash(usageKey("c1", "m", "2026-12")))["gpt-4o\nu"]).toBe("17");
    clock.set(Date.UTC(2027, 0, 1, 0, 0, 0));
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    await vm.idle();
    expect((await hash(usageKey("c1", "m", "2027-01")))["gpt-4o\nr"]).toBe("1");
    expect((await hash(usageKey("c1", "d", "2027-01-01")))["gpt-4o\nr"]).toBe("1");
  });

  test.each([
    ["without a reservation (a fresh marker, SET NX)", {}],
    ["with a reservation (the admission's marker)", { reservation: { mode: "fixed", tokens: 50 } }],
  ])("exactly once %s: the settlement sent again after a lost reply changes nothing", async (_what, extra) => {
    const vm = await plugin(extra);
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(3, 4)));
    await vm.idle();
    const settle = vm.redisCommands().filter((c) => c[0] === "EVALSHA").pop()!;
    const before = await hash(usageKey("c1", "d", "2026-12-07"));
    expect(before["gpt-4o\nr"]).toBe("1");
    // What the retry from the tick sends, byte for byte, once Redis applied the first and its reply was lost.
    expect(await fx.client.command(...settle)).toBe(0);
    expect(await hash(usageKey("c1", "d", "2026-12-07"))).toEqual(before);
    expect((await hash(usageKey("c1", "m", "2026-12")))["gpt-4o\nu"]).toBe("7");
    expect(await fx.balance("c1")).toBe("993");
  });

  testWithRedisHostCalls("a settlement Redis applied but whose reply was lost (connection dropped) is retried from the tick and recorded once", async () => {
    // A proxy in front of the real Redis that forwards the settlement (the script carrying a usage
    // key), lets Redis apply it, and drops the connection instead of passing the reply on.
    let dropped = 0;
    const server = net.createServer((client) => {
      const up = net.connect(fx.redis.port, fx.redis.host);
      const framer = new RespFramer();
      let dropNext = false;
      client.on("data", (chunk) => {
        for (const frame of framer.push(chunk)) {
          const cmd = decodeCommand(frame) ?? [];
          if (dropped === 0 && /^EVAL/i.test(cmd[0] ?? "") && cmd.some((a) => a.includes(":usage:d:"))) dropNext = true;
        }
        up.write(chunk);
      });
      up.on("data", (chunk) => {
        if (dropNext && !chunk.toString("latin1").startsWith("-NOSCRIPT")) {
          dropNext = false;
          dropped++;
          client.destroy();
          up.destroy();
          return;
        }
        dropNext = false;
        client.write(chunk);
      });
      client.on("error", () => up.destroy());
      up.on("error", () => client.destroy());
      client.on("close", () => up.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const vm = await fx.plugin(HISTORY, { clock, redis: { resolve: () => ({ host: "127.0.0.1", port }) } });
      await fx.setBalance("c1", 1000);
      await chat(vm, "c1", jsonResponse(openAiJson(3, 4)));
      await vm.idle();
      expect(dropped).toBe(1);
      // Applied once already, though the plugin never heard.
      expect(await fx.balance("c1")).toBe("993");
      expect(vm.logText(LogLevel.Warn)).toContain("will retry");
      for (let i = 0; i < 3; i++) {
        vm.tick();
        await vm.idle();
      }
      expect(vm.metrics()["ai_quota.settlements.retried"]).toBeGreaterThanOrEqual(1);
      expect(await fx.balance("c1")).toBe("993");
      expect(await hash(usageKey("c1", "d", "2026-12-07"))).toEqual({ "gpt-4o\ni": "3", "gpt-4o\no": "4", "gpt-4o\nu": "7", "gpt-4o\nr": "1" });
      expect((await hash(usageKey("c1", "m", "2026-12")))["gpt-4o\nr"]).toBe("1");
      expect(vm.trapped).toBeNull();
    } finally {
      server.close();
    }
  });

  test("with settlement_retry_seconds: 0 the history is written once too (the script with no marker)", async () => {
    const vm = await plugin({ settlement_retry_seconds: 0 });
    await fx.setBalance("c1", 100);
    await chat(vm, "c1", jsonResponse(openAiJson(3, 4)));
    await vm.idle();
    expect(await fx.balance("c1")).toBe("93");
    expect((await hash(usageKey("c1", "d", "2026-12-07")))["gpt-4o\nu"]).toBe("7");
  });

  test("an estimate is recorded with its split and model (the request's, the answer naming none)", async () => {
    const vm = await plugin();
    await fx.setBalance("c1", 1000);
    const s = vm.newStream();
    await s.run({
      request: { headers: request("POST", "/v1/chat/completions", "c1", [["content-type", "application/json"]]), body: '{"model":"gpt-4o","messages":[{"role":"user","content":"hi there, how are you today?"}]}' },
      response: () => jsonResponse(noUsageJson("")),
    });
    await vm.idle();
    const used = 1000 - Number(await fx.balance("c1"));
    expect(used).toBeGreaterThan(0);
    const h = await hash(usageKey("c1", "d", "2026-12-07"));
    expect(h["gpt-4o\nu"]).toBe(String(used));
    expect(Number(h["gpt-4o\ni"])).toBeGreaterThan(0);
    expect(Number(h["gpt-4o\no"])).toBeGreaterThan(0);
    expect(Number(h["gpt-4o\ni"]) + Number(h["gpt-4o\no"])).toBe(used);
    expect(h["gpt-4o\nr"]).toBe("1");
  });

  test("a reservation given back (upstream error, nothing used) is not recorded", async () => {
    const vm = await plugin({ reservation: { mode: "fixed", tokens: 100 } });
    await fx.setBalance("c1", 1000);
    const r = await vm.newStream().run({
      request: { headers: request("POST", "/v1/chat/completions", "c1", [["content-type", "application/json"]]), body: '{"model":"gpt-4o","messages":[]}' },
      response: () => ({ headers: [[":status", "500"], ["content-type", "application/json"]], body: "" }),
    });
    expect(r.status).toBe(500);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("1000");
    expect(await usageKeys()).toEqual([]);
  });

  test.each([
    ["released (missing_usage none): not recorded", { missing_usage: "none" }, "1000", null],
    ["kept as the charge (missing_usage none, on_incomplete: charge_reserved): recorded", { missing_usage: "none", on_incomplete: "charge_reserved" }, "900", { "(other)\nu": "100", "(other)\nr": "1" }],
  ])("a client gone before any usage, the reservation %s", async (_what, policy, balance, recorded) => {
    const vm = await plugin({ reservation: { mode: "fixed", tokens: 100 }, ...policy });
    await fx.setBalance("c1", 1000);
    const s = await openChat(vm, "c1");
    s.responseHeaders([[":status", "200"], ["content-type", "text/event-stream"]]);
    s.responseBody(openAiSse(10, 10).split("\n\n").slice(0, 2).join("\n\n") + "\n\n", false);
    s.finish("client disconnected");
    await vm.idle();
    expect(await fx.balance("c1")).toBe(balance);
    if (recorded === null) expect(await usageKeys()).toEqual([]);
    else expect(await hash(usageKey("c1", "d", "2026-12-07"))).toEqual(recorded);
    expect(await fx.client.command("KEYS", "ai_quota_settled:*")).toEqual([]);
  });

  test("a flat-cost path is recorded as (other), units and requests only", async () => {
    const vm = await plugin({ other_paths: { action: "charge", request_cost: 7 } });
    await fx.setBalance("c1", 100);
    await vm.newStream().run({
      request: { headers: request("POST", "/v1/images/generations", "c1"), body: '{"prompt":"a cat","model":"dall-e-3"}' },
      response: () => jsonResponse(openAiJson(1000, 1000)),
    });
    await vm.idle();
    expect(await fx.balance("c1")).toBe("93");
    expect(await hash(usageKey("c1", "d", "2026-12-07"))).toEqual({ "(other)\nu": "7", "(other)\nr": "1" });
  });

  test("a model name cannot forge another model's fields (a newline in it), and a long one is (other)", async () => {
    const vm = await plugin();
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(5, 6, "gpt\nu")));
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1, "m".repeat(129))));
    await vm.idle();
    const r = await usageGet(vm, "admin", "?consumer=c1");
    const body = JSON.parse(r.local!.body.toString());
    expect(body.days[0].models).toEqual({
      "gpt\nu": { input_tokens: 5, output_tokens: 6, units: 11, requests: 1 },
      "(other)": { input_tokens: 1, output_tokens: 1, units: 2, requests: 1 },
    });
  });

  test("a day holds at most 64 models: the 65th is (other), models already there keep adding (memory bounded per consumer and day)", async () => {
    const vm = await plugin();
    await fx.setBalance("c1", 100_000);
    for (let i = 0; i < 65; i++) await chat(vm, "c1", jsonResponse(openAiJson(1, 1, `model-${i}`)));
    await chat(vm, "c1", jsonResponse(openAiJson(2, 2, "model-0")));
    await chat(vm, "c1", jsonResponse(openAiJson(3, 3, "model-99")));
    await vm.idle();
    for (const key of [usageKey("c1", "d", "2026-12-07"), usageKey("c1", "m", "2026-12")]) {
      const h = await hash(key);
      expect(Object.keys(h).length).toBe(64 * 4 + 4);
      expect(h["model-63\nr"]).toBe("1");
      expect(h["model-64\nr"]).toBeUndefined();
      expect(h["model-0\nu"]).toBe("6");
      expect([h["(other)\ni"], h["(other)\no"], h["(other)\nu"], h["(other)\nr"]]).toEqual(["4", "4", "8", "2"]);
    }
    expect(await fx.balance("c1")).toBe(String(100_000 - 65 * 2 - 4 - 6));
  });

  test("a usage key that is not a hash of integers: the charge still applies, the history line is skipped and logged", async () => {
    const vm = await plugin();
    await fx.setBalance("c1", 100);
    await fx.client.command("SET", usageKey("c1", "d", "2026-12-07"), "junk");
    await chat(vm, "c1", jsonResponse(openAiJson(3, 4)));
    await vm.idle();
    expect(await fx.client.command("GET", usageKey("c1", "d", "2026-12-07"))).toBe("junk");
    expect(await fx.client.command("EXISTS", usageKey("c1", "m", "2026-12"))).toBe(0);
    await fx.client.command("DEL", usageKey("c1", "d", "2026-12-07"));
    await fx.client.command("HSET", usageKey("c1", "m", "2026-12"), "gpt-4o\nu", "9223372036854775807");
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(100 - 7 - 2));
    // Neither hash got a partial line: all or nothing.
    expect(await fx.client.command("EXISTS", usageKey("c1", "d", "2026-12-07"))).toBe(0);
    expect(await hash(usageKey("c1", "m", "2026-12"))).toEqual({ "gpt-4o\nu": "9223372036854775807" });
    expect(vm.logText()).toContain("not recorded in the spend history");
    expect(vm.trapped).toBeNull();
  });

  test.each<[string, unknown, RegExp]>([
    ["not an object", true, /spend_history must be an object/],
    ["ttl_days 0", { ttl_days: 0 }, /spend_history\.ttl_days must be between 1 and 3660, got 0/],
    ["ttl_days 3661", { ttl_days: 3661 }, /spend_history\.ttl_days must be between 1 and 3660, got 3661/],
    ["ttl_days fractional", { ttl_days: 1.5 }, /spend_history\.ttl_days must be an integer/],
    ["ttl_days a string", { ttl_days: "90" }, /spend_history\.ttl_days must be an integer/],
  ])("config: %s is refused at start, naming the field", async (_what, value, message) => {
    const { vm, configured } = await fx.vm({ ...BASE_CONFIG, spend_history: value });
    expect(configured).toBe(false);
    expect(vm.logText()).toMatch(message);
    await vm.close();
  });

  test("config: {} is on with the default 90 days", async () => {
    const vm = await plugin({ spend_history: {} });
    await fx.setBalance("c1", 100);
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    await vm.idle();
    const ttl = Number(await fx.client.command("TTL", usageKey("c1", "d", "2026-12-07")));
    expect(ttl).toBeGreaterThan(14 * 3600 + 90 * 86400 - 60);
    expect(ttl).toBeLessThanOrEqual(14 * 3600 + 90 * 86400);
  });
});

describe("admin usage query", () => {
  async function seeded(): Promise<PluginVm> {
    const vm = await plugin();
    await fx.setBalance("c1", 10_000);
    clock.set(Date.UTC(2026, 11, 1, 12));
    await chat(vm, "c1", jsonResponse(openAiJson(100, 1)));
    clock.set(Date.UTC(2026, 11, 5, 12));
    await chat(vm, "c1", jsonResponse(openAiJson(1, 2)));
    await chat(vm, "c1", jsonResponse(openAiJson(3, 4, "gpt-4o-mini")));
    clock.set(Date.UTC(2026, 11, 7, 12));
    await chat(vm, "c1", jsonResponse(openAiJson(5, 6)));
    await vm.idle();
    return vm;
  }

  test("default range: the last 7 days up to today UTC; days without usage omitted", async () => {
    const vm = await seeded();
    const r = await usageGet(vm, "admin", "?consumer=c1");
    expect(r.local?.status).toBe(200);
    expect(r.local?.details).toBe("ai-quota.usage");
    expect(JSON.parse(r.local!.body.toString())).toEqual({
      consumer: "c1", from: "2026-12-01", to: "2026-12-07",
      days: [
        { date: "2026-12-01", models: { "gpt-4o": { input_tokens: 100, output_tokens: 1, units: 101, requests: 1 } } },
        { date: "2026-12-05", models: {
          "gpt-4o": { input_tokens: 1, output_tokens: 2, units: 3, requests: 1 },
          "gpt-4o-mini": { input_tokens: 3, output_tokens: 4, units: 7, requests: 1 },
        } },
        { date: "2026-12-07", models: { "gpt-4o": { input_tokens: 5, output_tokens: 6, units: 11, requests: 1 } } },
      ],
      total: { input_tokens: 109, output_tokens: 13, units: 122, requests: 4 },
    });
  });

  test("from/to and an exact model filter", async () => {
    const vm = await seeded();
    const r = await usageGet(vm, "admin", "?consumer=c1&from=2026-12-02&to=2026-12-06&model=gpt-4o");
    expect(JSON.parse(r.local!.body.toString())).toEqual({
      consumer: "c1", from: "2026-12-02", to: "2026-12-06",
      days: [{ date: "2026-12-05", models: { "gpt-4o": { input_tokens: 1, output_tokens: 2, units: 3, requests: 1 } } }],
      total: { input_tokens: 1, output_tokens: 2, units: 3, requests: 1 },
    });
    const none = await usageGet(vm, "admin", "?consumer=c1&model=gpt-4");
    expect(JSON.parse(none.local!.body.toString()).days).toEqual([]);
    const other = await usageGet(vm, "admin", "?consumer=c2");
    expect(JSON.parse(other.local!.body.toString())).toEqual({
      consumer: "c2", from: "2026-12-01", to: "2026-12-07", days: [], total: { input_tokens: 0, output_tokens: 0, units: 0, requests: 0 },
    });
  });

  test("92 days is the most; one more is refused with 400", async () => {
    const vm = await seeded();
    const ok = await usageGet(vm, "admin", "?consumer=c1&from=2026-09-07&to=2026-12-07");
    expect(ok.local?.status).toBe(200);
    expect(JSON.parse(ok.local!.body.toString()).total.requests).toBe(4);
    const r = await usageGet(vm, "admin", "?consumer=c1&from=2026-09-06&to=2026-12-07");
    expect(r.local?.status).toBe(400);
    expect(r.local?.body.toString()).toBe("Request denied by ai quota check. at most 92 days per query, got 93.");
  });

  test.each([
    ["from=2026-02-30", "from must be a date as YYYY-MM-DD"],
    ["from=2026-1-01", "from must be a date as YYYY-MM-DD"],
    ["to=2026-12-07x", "to must be a date as YYYY-MM-DD"],
    ["to=%EF%BC%92026-12-07", "to must be a date as YYYY-MM-DD"],
    ["from=2026-13-01", "from must be a date as YYYY-MM-DD"],
    ["from=2026-12-08&to=2026-12-07", "from must not be after to"],
  ])("a bad date or range (%s) is refused with 400", async (q, message) => {
    const vm = await plugin();
    const r = await usageGet(vm, "admin", "?consumer=c1&" + q);
    expect(r.local?.status).toBe(400);
    expect(r.local?.details).toBe("ai-quota.bad_usage_query");
    expect(r.local?.body.toString()).toBe(`Request denied by ai quota check. ${message}.`);
  });

  test("a non-admin consumer, or no consumer, is refused as the quota query is", async () => {
    const vm = await seeded();
    const r = await usageGet(vm, "c1", "?consumer=c1");
    expect(r.local?.status).toBe(403);
    expect(r.local?.body.toString()).toBe("Request denied by ai quota check. Unauthorized admin consumer.");
    const none = await usageGet(vm, "admin", "?from=2026-12-01");
    expect(none.local?.status).toBe(403);
    expect(none.local?.body.toString()).toBe("Request denied by ai quota check. consumer can't be empty.");
    const anon = await usageGet(vm, null, "?consumer=c1");
    expect(anon.local?.status).toBe(401);
  });

  test("with spend_history off the query says so (400)", async () => {
    const vm = await plugin({}, BASE_CONFIG);
    const r = await usageGet(vm, "admin", "?consumer=c1");
    expect(r.local?.status).toBe(400);
    expect(r.local?.body.toString()).toBe("Request denied by ai quota check. spend_history is not enabled in the plugin's config.");
  });

  test("a Redis error is a 503, as the other admin answers", async () => {
    const vm = await plugin();
    await fx.client.command("SET", usageKey("c1", "d", "2026-12-07"), "junk");
    const r = await usageGet(vm, "admin", "?consumer=c1");
    expect(r.local?.status).toBe(503);
    expect(r.local?.body.toString()).toMatch(/^redis error:.*WRONGTYPE/);
  });

  test("the quota query still answers at …/quota (the usage path does not shadow it)", async () => {
    const vm = await seeded();
    const r = await adminGet(vm, "admin", "?consumer=c1");
    expect(JSON.parse(r.local!.body.toString())).toEqual({ consumer: "c1", quota: 10_000 - 122 });
  });
});
