// Checked arithmetic (issue 15, item 5) and errors retrying cannot fix (issue 16): no admission or
// settlement script leaves a key half-updated, amounts are capped at 2^50 on both sides, and an
// error Redis answers for good is neither "Redis is down" (redis_failure: allow) nor a silent loss.
import * as fc from "fast-check";
import { LogLevel, ManualClock, PluginVm, RespError } from "../../host";
import { loadKeys } from "../cluster/keys-module";
import { BASE_CONFIG, QuotaFixture, chat, jsonResponse, openAiJson, openChat, request } from "./fixture";

/** The VMs' time (proxy_get_current_time_nanoseconds), fixed mid-day: a run that crosses UTC midnight keeps one day window. */
const TEST_NOW = Date.UTC(2026, 10, 23, 10, 0, 0);

let fx: QuotaFixture;
let clock: ManualClock;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => {
  await fx.flush();
  clock = new ManualClock(TEST_NOW);
});

const MAX = 2n ** 50n;
const I64_MAX = 2n ** 63n - 1n;

function windowKey(consumer: string, unit: string, windowName: string, start: number): string {
  const subject = `chat_quota:${consumer}`;
  return `ai_quota_state:{${subject}}:c:${Buffer.byteLength(subject)}:${subject}:${unit}:${windowName}:${start}`;
}

/** The start of the day window the VMs' clock is in (TEST_NOW's UTC day), in seconds. */
function dayStart(): number {
  const now = Math.floor(TEST_NOW / 1000);
  return now - (now % 86400);
}

async function snapshot(): Promise<Record<string, string | null>> {
  const keys = ((await fx.client.command("KEYS", "*")) as string[]).sort();
  const out: Record<string, string | null> = {};
  for (const k of keys) {
    const type = await fx.client.command("TYPE", k);
    out[k] = type === "string" ? String(await fx.client.command("GET", k)) : `<${String(type)}>`;
  }
  return out;
}

async function usageAnswer(vm: PluginVm, consumer: string, body: string, usageJson: string) {
  const s = vm.newStream();
  s.requestHeaders(request("POST", "/v1/chat/completions", consumer, [["content-type", "application/json"]]), false);
  s.requestBody(body, true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
  return {
    stream: s,
    finish: async () => {
      s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
      s.responseBody(usageJson, true);
      await vm.idle();
    },
  };
}

describe("amounts are capped at 2^50, all or nothing", () => {
  test("max_tokens 2^63−1 with a token window: the same capped reservation from balance and window, the settlement restores both exactly", async () => {
    const vm = await fx.plugin({ ...BASE_CONFIG, reservation: { mode: "max_tokens" }, limits: [{ unit: "tokens", limit: 10 ** 15, window: "day" }] }, { clock });
    await fx.setBalance("c1", 1000);
    const r = await usageAnswer(vm, "c1", `{"max_tokens":${I64_MAX},"messages":[]}`, openAiJson(10, 20));
    expect(r.stream.upstream.ended).toBe(true);
    // Whichever cap applies first (the request reader's, or the scripts' 2^50), one amount moved.
    const reserved = 1000n - BigInt((await fx.balance("c1"))!);
    expect(reserved).toBeGreaterThan(1000n);
    expect(reserved).toBeLessThanOrEqual(MAX);
    expect(BigInt(String(await fx.client.command("GET", windowKey("c1", "tokens", "day", dayStart()))))).toBe(reserved);
    await r.finish();
    expect(await fx.balance("c1")).toBe("970");
    expect(await fx.client.command("GET", windowKey("c1", "tokens", "day", dayStart()))).toBe("30");
  });

  test("the same with require_full: denied, nothing written", async () => {
    const vm = await fx.plugin({ ...BASE_CONFIG, reservation: { mode: "max_tokens", require_full: true }, limits: [{ unit: "tokens", limit: 10 ** 15, window: "day" }] });
    await fx.setBalance("c1", 1000);
    const before = await snapshot();
    const r = await usageAnswer(vm, "c1", `{"max_tokens":${I64_MAX}}`, openAiJson(1, 1));
    expect(r.stream.localResponse?.status).toBe(403);
    expect(await snapshot()).toEqual(before);
  });

  test("usage above 2^50 is charged 2^50 and logged", async () => {
    const vm = await fx.plugin(BASE_CONFIG);
    await fx.setBalance("c1", 1000);
    const huge = 2n ** 60n;
    await chat(vm, "c1", jsonResponse(`{"usage":{"prompt_tokens":${huge},"completion_tokens":1,"total_tokens":${huge + 1n}}}`));
    await vm.idle();
    expect(BigInt((await fx.balance("c1"))!)).toBe(1000n - MAX);
    expect(vm.logText(LogLevel.Warn)).toContain(`charge of ${huge + 1n} tokens to chat_quota:c1 capped at ${MAX}`);
  });

  test("a balance of 2^63−1 (an 'unlimited' sentinel) is still admitted and charged", async () => {
    for (const policy of [{}, { reservation: { mode: "fixed", tokens: 100 } }]) {
      const vm = await fx.plugin({ ...BASE_CONFIG, ...policy });
      await fx.setBalance("c1", String(I64_MAX));
      expect((await chat(vm, "c1", jsonResponse(openAiJson(10, 20)))).local).toBeNull();
      await vm.idle();
      expect(await fx.balance("c1")).toBe(String(I64_MAX - 30n));
    }
  });

  test("a window limit above 2^50 is a config error naming the field", async () => {
    const { configured, vm } = await fx.vm({ ...BASE_CONFIG, limits: [{ unit: "tokens", limit: 2 ** 51, window: "day" }] });
    expect(configured).toBe(false);
    expect(vm.logText()).toMatch(/limits\[0\]\.limit must be an integer between 1 and 1125899906842624/);
  });
});

describe("errors retrying cannot fix", () => {
  const allow = { ...BASE_CONFIG, redis_failure: "allow" };

  test.each([
    ["Higress's GET", {}],
    ["a reservation script", { reservation: { mode: "fixed", tokens: 10 } }],
  ])("WRONGTYPE on the balance (%s) is not 'Redis is down': denied even with redis_failure: allow, logged and counted", async (_name, policy) => {
    const vm = await fx.plugin({ ...allow, ...policy });
    await fx.client.command("LPUSH", "chat_quota:c1", "x");
    const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(r.local?.status).toBe(403);
    expect(r.local?.details).toBe("ai-quota.noquota");
    expect(vm.logText(LogLevel.Error)).toMatch(/redis refused the admission of chat_quota:c1: WRONGTYPE.*request denied/);
    expect(vm.metrics()["ai_quota.redis.rejected"]).toBe(1);
    expect(await fx.client.command("TYPE", "chat_quota:c1")).toBe("list");
  });

  test("a window counter Redis cannot add to: denied even with redis_failure: allow, nothing written, the key named", async () => {
    const vm = await fx.plugin({ ...allow, reservation: { mode: "fixed", tokens: 10 }, limits: [{ unit: "requests", limit: 5, window: "day" }] }, { clock });
    await fx.setBalance("c1", 100);
    await fx.client.command("SET", windowKey("c1", "requests", "day", dayStart()), "007");
    const before = await snapshot();
    const r = await chat(vm, "c1", jsonResponse(openAiJson(1, 1)));
    expect(r.local?.status).toBe(403);
    expect(await snapshot()).toEqual(before);
    expect(vm.logText(LogLevel.Error)).toContain(`${windowKey("c1", "requests", "day", dayStart())} is not an integer Redis can add to`);
  });

  test("a settlement Redis refuses writes nothing, keeps its marker, and logs the commands that would apply it", async () => {
    const vm = await fx.plugin({ ...BASE_CONFIG, reservation: { mode: "fixed", tokens: 100 } });
    await fx.setBalance("c1", 1000);
    const s = await openChat(vm, "c1");
    expect(await fx.balance("c1")).toBe("900");
    await fx.setBalance("c1", "12 tokens");
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(10, 20), true);
    await vm.idle();
    expect(await fx.balance("c1")).toBe("12 tokens");
    expect(((await fx.client.command("KEYS", "ai_quota_settled:*")) as string[]).length).toBe(1);
    expect(vm.logText(LogLevel.Error)).toContain("charge of 30 tokens to chat_quota:c1 failed: the balance is not an integer Redis can add to " +
      "(the reservation of 100 stays charged); not applied, to apply it by hand: INCRBY chat_quota:c1 70");
    const m = vm.metrics();
    expect([m["ai_quota.settlements.failed"], m["ai_quota.redis.rejected"]]).toEqual([1, 1]);
    // Not retried: the same answer would come back.
    const sent = vm.redisCommands().length;
    vm.tick();
    await vm.idle();
    expect(vm.redisCommands().length).toBe(sent);
  });
});

describe("the settlement script's overflow check is exact at the 64-bit edges", () => {
  const I64_MIN = -(2n ** 63n);
  const edge = fc.oneof(
    fc.bigInt({ min: I64_MAX - 3n * MAX, max: I64_MAX }),
    fc.bigInt({ min: I64_MIN, max: I64_MIN + 3n * MAX }),
    fc.bigInt({ min: I64_MIN, max: I64_MAX }),
  );
  const amount = fc.oneof(fc.bigInt({ min: -MAX, max: MAX }), fc.constantFrom(-MAX, MAX, 1n, -1n));

  test("applied exactly when value + amount fits in 64 bits, else refused with nothing written", async () => {
    const settle = loadKeys().script(2);
    await fc.assert(fc.asyncProperty(edge, amount, async (value, add) => {
      await fx.client.command("SET", "b", String(value));
      await fx.client.command("DEL", "m");
      const fits = value + add >= I64_MIN && value + add <= I64_MAX;
      const reply = await fx.client.command("EVAL", settle, 2, "b", "m", String(add), "60");
      const after = BigInt(String(await fx.client.command("GET", "b")));
      const marker = await fx.client.command("EXISTS", "m");
      if (add === 0n) return reply === 1 && after === value;
      return fits ? reply === 1 && after === value + add && marker === 1 : reply === -2 && after === value && marker === 0;
    }), { numRuns: 400 });
  });

  test("values Redis would refuse to add to are refused before anything is written", async () => {
    const settle = loadKeys().script(2);
    for (const bad of ["007", "+5", " 5", "5 ", "-0", "9223372036854775808", "-9223372036854775809", "1e3", "", "12 tokens"]) {
      await fx.client.command("SET", "b", bad);
      await fx.client.command("DEL", "m");
      expect([bad, await fx.client.command("EVAL", settle, 2, "b", "m", "5", "60")]).toEqual([bad, -2]);
      expect(await fx.client.command("GET", "b")).toBe(bad);
      // What the check stands for: Redis itself refuses these.
      await expect(fx.client.command("INCRBY", "b", "5")).rejects.toBeInstanceOf(RespError);
    }
  });
});
