// Calendar periods (window: week | month with period_start and utc_offset): the period is reckoned
// in the configured offset from UTC, its key names the period's start, and retry-after and the key's
// expiry end exactly at the next period's start. The clock is the host's, driven here.
import { LogLevel, ManualClock, PluginVm } from "../../host";
import { BASE_CONFIG, QuotaFixture, chat, header, jsonResponse, openAiJson, request } from "./fixture";

let fx: QuotaFixture;
let clock: ManualClock;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => { await fx.flush(); });

async function plugin(limits: object[]): Promise<PluginVm> {
  return fx.plugin({ ...BASE_CONFIG, limits, balance: false }, { clock });
}

function windowKey(consumer: string, unit: string, windowName: string, start: number): string {
  const subject = `chat_quota:${consumer}`;
  return `ai_quota_state:{${subject}}:c:${Buffer.byteLength(subject)}:${subject}:${unit}:${windowName}:${start}`;
}

const ok = () => jsonResponse(openAiJson(1, 1));

describe("window: week", () => {
  // 2026-11-22 is a Sunday; 23:30 UTC is Monday 07:30 at +08:00.
  test("a week starting Monday at +08:00: keyed by local Monday midnight, refusing until the next one", async () => {
    clock = new ManualClock(Date.UTC(2026, 10, 22, 23, 30));
    const vm = await plugin([{ unit: "requests", limit: 2, window: "week", period_start: 1, utc_offset: "+08:00" }]);
    const start = Date.UTC(2026, 10, 22, 16) / 1000; // Monday 2026-11-23 00:00 at +08:00
    expect((await chat(vm, "c1", ok())).local).toBeNull();
    expect((await chat(vm, "c1", ok())).local).toBeNull();
    expect(await fx.client.command("GET", windowKey("c1", "requests", "week", start))).toBe("2");
    const ttl = Number(await fx.client.command("TTL", windowKey("c1", "requests", "week", start)));
    expect(ttl).toBe(7 * 86400 - 7.5 * 3600);
    // One second before the next local Monday: still refused, retry-after 1.
    clock.set((start + 7 * 86400 - 1) * 1000);
    const r = await chat(vm, "c1", ok());
    expect(r.local?.status).toBe(429);
    expect(JSON.parse(r.local!.body.toString()).error.message).toBe("Quota exceeded: 2 requests per week");
    expect(header(r.local!.headers, "retry-after")).toBe("1");
    // At the boundary a new key counts from zero.
    clock.set((start + 7 * 86400) * 1000);
    expect((await chat(vm, "c1", ok())).local).toBeNull();
    expect(await fx.client.command("GET", windowKey("c1", "requests", "week", start + 7 * 86400))).toBe("1");
  });

  test("default week starts Monday 00:00 UTC; period_start 7 starts Sunday", async () => {
    clock = new ManualClock(Date.UTC(2026, 10, 25, 12)); // Wednesday
    const vm = await plugin([
      { unit: "requests", limit: 10, window: "week" },
      { unit: "tokens", limit: 1000, window: "week", period_start: 7 },
    ]);
    const r = await chat(vm, "c1", ok());
    expect(r.local).toBeNull();
    await vm.idle();
    expect(await fx.client.command("GET", windowKey("c1", "requests", "week", Date.UTC(2026, 10, 23) / 1000))).toBe("1");
    expect(await fx.client.command("GET", windowKey("c1", "tokens", "week", Date.UTC(2026, 10, 22) / 1000))).toBe("2");
  });
});

describe("window: month", () => {
  test("a month starting on the 15th at -05:00: reset and key at local midnight of the 15th", async () => {
    // 2026-12-15 03:00 UTC is still 2026-12-14 22:00 at -05:00: the period began 2026-11-15.
    clock = new ManualClock(Date.UTC(2026, 11, 15, 3));
    const vm = await plugin([{ unit: "requests", limit: 1, window: "month", period_start: 15, utc_offset: -300 }]);
    const start = Date.UTC(2026, 10, 15, 5) / 1000;
    const next = Date.UTC(2026, 11, 15, 5) / 1000;
    expect((await chat(vm, "c1", ok())).local).toBeNull();
    expect(await fx.client.command("GET", windowKey("c1", "requests", "month", start))).toBe("1");
    const r = await chat(vm, "c1", ok());
    expect(r.local?.status).toBe(429);
    expect(header(r.local!.headers, "retry-after")).toBe(String(next - Date.UTC(2026, 11, 15, 3) / 1000));
    clock.set(next * 1000);
    expect((await chat(vm, "c1", ok())).local).toBeNull();
    expect(await fx.client.command("GET", windowKey("c1", "requests", "month", next))).toBe("1");
  });

  test("across a year end and February: period_start 28 from 2026-12-28 to 2027-01-28, then to 2027-02-28", async () => {
    clock = new ManualClock(Date.UTC(2027, 0, 27, 23, 59, 59));
    const vm = await plugin([{ unit: "requests", limit: 5, window: "month", period_start: 28 }]);
    await chat(vm, "c1", ok());
    expect(await fx.client.command("GET", windowKey("c1", "requests", "month", Date.UTC(2026, 11, 28) / 1000))).toBe("1");
    clock.set(Date.UTC(2027, 0, 28));
    await chat(vm, "c1", ok());
    const key = windowKey("c1", "requests", "month", Date.UTC(2027, 0, 28) / 1000);
    expect(await fx.client.command("GET", key)).toBe("1");
    expect(Number(await fx.client.command("TTL", key))).toBe((Date.UTC(2027, 1, 28) - Date.UTC(2027, 0, 28)) / 1000);
  });

  test("admin query reports the calendar period's reset", async () => {
    clock = new ManualClock(Date.UTC(2026, 10, 23, 10));
    const vm = await plugin([{ unit: "requests", limit: 5, window: "month", period_start: 10, utc_offset: "+09:00" }]);
    await chat(vm, "c1", ok());
    const r = await vm.newStream().run({ request: { headers: request("GET", "/v1/chat/completions/quota?consumer=c1", "admin") } });
    expect(JSON.parse(r.local!.body.toString()).windows).toEqual([{ unit: "requests", limit: 5, window: "month", used: 1, reset: Date.UTC(2026, 11, 9, 15) / 1000 }]);
  });
});

describe("bad calendar configs name the field", () => {
  test.each([
    [{ unit: "requests", limit: 1, window: "day", period_start: 2 }, /limits\[0\]\.period_start applies only to window week or month/],
    [{ unit: "requests", limit: 1, window: 3600, utc_offset: "+01:00" }, /limits\[0\]\.utc_offset applies only to window week or month/],
    [{ unit: "requests", limit: 1, window: "week", period_start: 8 }, /limits\[0\]\.period_start must be a weekday 1 \(Monday\) to 7 \(Sunday\)/],
    [{ unit: "requests", limit: 1, window: "month", period_start: 29 }, /limits\[0\]\.period_start must be a day of month 1 to 28/],
    [{ unit: "requests", limit: 1, window: "month", period_start: "1" }, /limits\[0\]\.period_start must be a day of month/],
    [{ unit: "requests", limit: 1, window: "month", utc_offset: "+14:01" }, /limits\[0\]\.utc_offset must be minutes from UTC/],
    [{ unit: "requests", limit: 1, window: "month", utc_offset: "8" }, /limits\[0\]\.utc_offset must be minutes from UTC/],
    [{ unit: "requests", limit: 1, window: "month", utc_offset: "+08:60" }, /limits\[0\]\.utc_offset must be minutes from UTC/],
    [{ unit: "requests", limit: 1, window: "month", utc_offset: 841 }, /limits\[0\]\.utc_offset must be minutes from UTC/],
    [{ unit: "requests", limit: 1, window: "month", utc_offset: 1.5 }, /limits\[0\]\.utc_offset must be minutes from UTC/],
    [{ unit: "requests", limit: 1, window: "fortnight" }, /limits\[0\]\.window must be second, minute, hour, day, week, month/],
  ])("%j", async (limit, message) => {
    const { vm, configured } = await fx.vm({ ...BASE_CONFIG, limits: [limit] });
    expect(configured).toBe(false);
    expect(vm.trapped).toBeNull();
    expect(vm.logText(LogLevel.Error)).toMatch(message);
  });
});
