// Windowed limits, request counting and anonymous clients: atomic, expiring, and never counting
// a rejected request. The clock is the host's (proxy_get_current_time_nanoseconds), driven here.
import { ManualClock, PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, chat, header, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
let clock: ManualClock;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => {
  await fx.flush();
  clock = new ManualClock(Date.UTC(2026, 10, 23, 10, 0, 0));
});

const DAY_START = Date.UTC(2026, 10, 23) / 1000;

async function plugin(extra: object): Promise<PluginVm> {
  return fx.plugin({ ...BASE_CONFIG, ...extra }, { clock });
}

/** A window counter's key (keys.ts): outside the prefix, tagged with the balance key's slot. */
function windowKey(consumer: string, unit: string, windowName: string, start: number, anonymous = false): string {
  const subject = `chat_quota:${consumer}`;
  return `ai_quota_state:{${subject}}:${anonymous ? "a" : "c"}:${Buffer.byteLength(subject)}:${subject}:${unit}:${windowName}:${start}`;
}

function dayKey(consumer: string, unit: string, windowName = "day", start = DAY_START): string {
  return windowKey(consumer, unit, windowName, start);
}

async function ttl(key: string): Promise<number> {
  return Number(await fx.client.command("TTL", key));
}

describe("request windows", () => {
  const limits = { limits: [{ unit: "requests", limit: 3, window: "day" }] };

  test("the 4th request of the day → 429 with an OpenAI-style error and retry-after; the key expires with the day", async () => {
    const vm = await plugin(limits);
    await fx.setBalance("c1", 1000);
    for (let i = 0; i < 3; i++) expect((await chat(vm, "c1", jsonResponse(openAiJson(1, 1)))).local).toBeNull();
    const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(r.local?.status).toBe(429);
    expect(r.local?.details).toBe("ai-quota.window_exceeded");
    expect(JSON.parse(r.local!.body.toString())).toEqual({
      error: { message: "Quota exceeded: 3 requests per day", type: "rate_limit_exceeded", param: null, code: "quota_exceeded" },
    });
    expect(header(r.local!.headers, "retry-after")).toBe(String(14 * 3600));
    expect(header(r.local!.headers, "content-type")).toBe("application/json");
    expect(await fx.client.command("GET", dayKey("c1", "requests"))).toBe("3");
    const t = await ttl(dayKey("c1", "requests"));
    expect(t).toBeGreaterThan(14 * 3600 - 5);
    expect(t).toBeLessThanOrEqual(14 * 3600);
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(1000 - 3 * 2));
  });

  test("the window rolls over at midnight UTC (clock driven through the host)", async () => {
    const vm = await plugin(limits);
    await fx.setBalance("c1", 1000);
    for (let i = 0; i < 3; i++) await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect((await chat(vm, "c1", jsonResponse(openAiJson(1, 1)))).local?.status).toBe(429);
    clock.set(Date.UTC(2026, 10, 24, 0, 0, 1));
    expect((await chat(vm, "c1", jsonResponse(openAiJson(1, 1)))).local).toBeNull();
    expect(await fx.client.command("GET", dayKey("c1", "requests", "day", DAY_START + 86400))).toBe("1");
  });

  test("N parallel requests against limit L: exactly L pass", async () => {
    const vm = await plugin({ limits: [{ unit: "requests", limit: 7, window: "minute" }] });
    await fx.setBalance("c1", 1_000_000);
    const results = await Promise.all(Array.from({ length: 30 }, () => chat(vm, "c1", jsonResponse(openAiJson(1, 1)))));
    expect(results.filter((r) => r.local === null).length).toBe(7);
    expect(results.filter((r) => r.local?.status === 429).length).toBe(23);
  });

  test("a request rejected by the balance consumes no window, and a window rejection consumes no balance", async () => {
    const vm = await plugin({ limits: [{ unit: "requests", limit: 1, window: "hour" }], reservation: { mode: "fixed", tokens: 10 } });
    await fx.setBalance("c1", 0);
    expect((await chat(vm, "c1", jsonResponse(openAiJson(1, 1)))).local?.details).toBe("ai-quota.noquota");
    expect(await fx.client.command("GET", windowKey("c1", "requests", "hour", DAY_START + 10 * 3600))).toBeNull();
    await fx.setBalance("c1", 100);
    expect((await chat(vm, "c1", jsonResponse(openAiJson(1, 1)))).local).toBeNull();
    await vm.idle();
    expect(await fx.balance("c1")).toBe("98");
    expect((await chat(vm, "c1", jsonResponse(openAiJson(1, 1)))).local?.status).toBe(429);
    expect(await fx.balance("c1")).toBe("98");
  });

  test("windows of N seconds and calendar months", async () => {
    const vm = await plugin({ limits: [{ unit: "requests", limit: 100, window: 90 }, { unit: "requests", limit: 100, window: "month" }], balance: false });
    await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    const now = Date.UTC(2026, 10, 23, 10) / 1000;
    const start90 = now - (now % 90);
    expect(await fx.client.command("GET", windowKey("c1", "requests", "90s", start90))).toBe("1");
    const month = Date.UTC(2026, 10, 1) / 1000;
    const monthKey = windowKey("c1", "requests", "month", month);
    expect(await fx.client.command("GET", monthKey)).toBe("1");
    const t = await ttl(monthKey);
    expect(t).toBe((Date.UTC(2026, 11, 1) - Date.UTC(2026, 10, 23, 10)) / 1000);
  });
});

describe("token windows", () => {
  test("tokens are counted when the response ends, and a full window refuses the next request", async () => {
    const vm = await plugin({ limits: [{ unit: "tokens", limit: 50, window: "hour", status: 403 }] });
    await fx.setBalance("c1", 1000);
    await chat(vm, "c1", jsonResponse(openAiJson(20, 20)));
    await vm.idle();
    const key = windowKey("c1", "tokens", "hour", DAY_START + 10 * 3600);
    expect(await fx.client.command("GET", key)).toBe("40");
    expect(await ttl(key)).toBeGreaterThan(0);
    expect(await fx.balance("c1")).toBe("960");
    await chat(vm, "c1", jsonResponse(openAiJson(10, 10)));
    await vm.idle();
    const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(r.local?.status).toBe(403);
    expect(r.local?.details).toBe("ai-quota.window_exceeded");
    expect(await fx.balance("c1")).toBe("940");
  });

  test("with a reservation, the window holds the reservation until settlement replaces it with the usage", async () => {
    const vm = await plugin({ limits: [{ unit: "tokens", limit: 1000, window: "day" }], reservation: { mode: "fixed", tokens: 100 } });
    await fx.setBalance("c1", 1000);
    const s = vm.newStream();
    s.requestHeaders(request("POST", "/v1/chat/completions", "c1"), false);
    s.requestBody("{}", true);
    await s.waitFor(() => s.upstream.ended, "admission");
    expect(await fx.client.command("GET", dayKey("c1", "tokens"))).toBe("100");
    expect(await fx.balance("c1")).toBe("900");
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(3, 4), true);
    await vm.idle();
    expect(await fx.client.command("GET", dayKey("c1", "tokens"))).toBe("7");
    expect(await fx.balance("c1")).toBe("993");
  });

  test("a settlement after the window ended leaves the old window alone (no key without expiry)", async () => {
    const vm = await plugin({ limits: [{ unit: "tokens", limit: 1000, window: "second" }], balance: false });
    const s = vm.newStream();
    s.requestHeaders(request("POST", "/v1/chat/completions", "c1"), false);
    s.requestBody("{}", true);
    await s.waitFor(() => s.upstream.ended, "admission");
    clock.advance(5000);
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(3, 4), true);
    await vm.idle();
    const keys = (await fx.client.command("KEYS", "*")) as string[];
    for (const k of keys) expect(await ttl(k)).not.toBe(-1);
  });
});

describe("anonymous clients", () => {
  const anonymous = { anonymous: { limits: [{ unit: "requests", limit: 2, window: "day" }] } };

  test("without `anonymous`, no consumer is still Higress's 401", async () => {
    const vm = await plugin({});
    expect((await chat(vm, null, jsonResponse(openAiJson(1, 1)))).local?.status).toBe(401);
  });

  test("keyed by the peer address; no balance is needed or charged", async () => {
    const vm = await plugin(anonymous);
    const go = (addr: string) => vm.newStream({ sourceAddress: addr }).run({
      request: { headers: request("POST", "/v1/chat/completions", null), body: "{}" },
      response: () => jsonResponse(openAiJson(1, 1)),
    });
    expect((await go("10.0.0.1:1111")).local).toBeNull();
    expect((await go("10.0.0.1:2222")).local).toBeNull();
    expect((await go("10.0.0.1:3333")).local?.status).toBe(429);
    expect((await go("10.0.0.2:1111")).local).toBeNull();
    expect(await fx.client.command("GET", windowKey("anonymous:10.0.0.1", "requests", "day", DAY_START, true))).toBe("2");
    await vm.idle();
    expect(await fx.balance("anonymous:10.0.0.1")).toBeNull();
  });

  test("anonymous clients never reach the admin API", async () => {
    const vm = await plugin(anonymous);
    const r = await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota?consumer=c1", null) } });
    expect(r.local?.status).toBe(401);
  });
});

describe("admin query and rejections", () => {
  test("the query answer gains the windows' usage and reset times", async () => {
    const vm = await plugin({ limits: [{ unit: "requests", limit: 10, window: "day" }, { unit: "tokens", limit: 500, window: "hour" }] });
    await fx.setBalance("c1", 100);
    await chat(vm, "c1", jsonResponse(openAiJson(2, 3)));
    await vm.idle();
    const r = await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota?consumer=c1", "admin") } });
    expect(JSON.parse(r.local!.body.toString())).toEqual({
      consumer: "c1", quota: 95,
      windows: [
        { unit: "requests", limit: 10, window: "day", used: 1, reset: DAY_START + 86400 },
        { unit: "tokens", limit: 500, window: "hour", used: 5, reset: DAY_START + 11 * 3600 },
      ],
    });
  });

  test("balance_rejection: a 429 OpenAI-style error instead of Higress's 403 text", async () => {
    const vm = await plugin({ balance_rejection: { status: 429, format: "openai" } });
    const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(r.local?.status).toBe(429);
    expect(r.local?.details).toBe("ai-quota.noquota");
    expect(JSON.parse(r.local!.body.toString()).error.type).toBe("insufficient_quota");
  });

  test("bad limits are refused with the field named", async () => {
    for (const [extra, msg] of [
      [{ limits: {} }, /limits must be a list/],
      [{ limits: [{ unit: "calls", limit: 1, window: "day" }] }, /limits\[0\].unit must be requests or tokens/],
      [{ limits: [{ unit: "requests", limit: 0, window: "day" }] }, /limits\[0\].limit must be an integer between 1 and 1125899906842624/],
      [{ limits: [{ unit: "requests", limit: 1, window: "fortnight" }] }, /limits\[0\].window must be/],
      [{ limits: [{ unit: "requests", limit: 1, window: "day", status: 200 }] }, /limits\[0\].status must be an HTTP error status/],
      [{ anonymous: { limits: [] } }, /anonymous.limits must not be empty/],
      [{ balance: false }, /balance: false needs limits/],
      [{ balance_rejection: { format: "xml" } }, /balance_rejection.format must be one of text, openai/],
    ] as const) {
      const { configured, vm } = await fx.vm({ ...BASE_CONFIG, ...extra });
      expect(configured).toBe(false);
      expect(vm.logText()).toMatch(msg);
    }
  });
});
