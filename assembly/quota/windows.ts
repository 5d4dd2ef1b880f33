// Windowed limits (opt-in): per consumer, count requests or tokens per fixed window (second,
// minute, hour, day, N seconds, or a calendar week or month — UTC by default, or starting on a
// configured day in a configured offset from UTC, calendar.ts). Each window is one Redis key that
// expires with its window, named by keys.ts: on a Redis Cluster every key of a consumer — balance
// and windows — lives in one slot, so one script can check and update them all atomically.
import { JsonType, JsonValue } from "../json/parser";
import { ConsumerKeys } from "./keys";
import { MAX_AMOUNT } from "./scripts";
import { Calendar, Period, monthAt, parseUtcOffset, weekAt } from "./calendar";

export enum LimitUnit {
  Requests,
  Tokens,
}

export class Limit {
  constructor(
    public unit: LimitUnit,
    public limit: i64,
    /** The window's name as configured ("day", "3600"…), used in keys and messages. */
    public windowName: string,
    /** Length in seconds; 0 for a calendar week or month. */
    public seconds: i64,
    public status: u32,
    public calendar: Calendar = Calendar.None,
    /** Week: ISO weekday the week starts on (1 = Monday). Month: the day of month (1..28). */
    public periodStart: i32 = 1,
    /** Seconds east of UTC that the calendar period is reckoned in. */
    public offsetSeconds: i64 = 0,
    /** The count at which the soft limit is reached (`soft` × limit, rounded up); 0: none. */
    public soft: i64 = 0,
  ) {}

  unitName(): string {
    return this.unit == LimitUnit.Requests ? "requests" : "tokens";
  }
}

/** One limit's current window: where it starts and ends, and its key. */
export class WindowSpan {
  constructor(public limit: Limit, public start: i64, public end: i64, public key: string) {}

  /** The flag the admission script sets once its window reaches the soft limit (same slot as `key`). */
  softKey(): string {
    return this.key + ":soft";
  }

  /** Seconds until the window ends, at least 1 (what Retry-After says and what the key lives). */
  remaining(now: i64): i64 {
    const r = this.end - now;
    return r < 1 ? 1 : r;
  }
}

/** The windows `now` falls in, with `keys`' counter for each. */
export function windowsAt(limits: Array<Limit>, keys: ConsumerKeys, now: i64): Array<WindowSpan> {
  const spans = new Array<WindowSpan>();
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i];
    let start: i64;
    let end: i64;
    if (l.calendar != Calendar.None) {
      const p: Period = l.calendar == Calendar.Week ? weekAt(now, l.periodStart, l.offsetSeconds) : monthAt(now, l.periodStart, l.offsetSeconds);
      start = p.start;
      end = p.end;
    } else {
      start = now - (now % l.seconds);
      end = start + l.seconds;
    }
    spans.push(new WindowSpan(l, start, end, keys.window(l.unitName(), l.windowName, start)));
  }
  return spans;
}

export class LimitsResult {
  constructor(public limits: Array<Limit> | null, public error: string) {}
}

const NAMED_WINDOWS: Array<string> = ["second", "minute", "hour", "day", "week", "month"];
const NAMED_SECONDS: Array<i64> = [1, 60, 3600, 86400, 0, 0];

/** `[{unit, limit, window, status?, period_start?, utc_offset?}]`; `field` names the list in errors. */
export function parseLimits(v: JsonValue, field: string): LimitsResult {
  if (v.type != JsonType.Array) return new LimitsResult(null, field + " must be a list");
  const limits = new Array<Limit>();
  for (let i = 0; i < v.items.length; i++) {
    const item = v.items[i];
    const at = field + "[" + i.toString() + "]";
    if (item.type != JsonType.Object) return new LimitsResult(null, at + " must be an object");
    const unit = item.get("unit");
    if (unit === null || unit.type != JsonType.String || (unit.stringValue != "requests" && unit.stringValue != "tokens")) {
      return new LimitsResult(null, at + ".unit must be requests or tokens");
    }
    const limit = item.get("limit");
    if (limit === null || !limit.isInteger() || limit.asI64() < 1 || limit.asI64() > MAX_AMOUNT) {
      return new LimitsResult(null, at + ".limit must be an integer between 1 and " + MAX_AMOUNT.toString());
    }
    const window = item.get("window");
    let name = "";
    let seconds: i64 = -1;
    if (window !== null && window.type == JsonType.String) {
      const k = NAMED_WINDOWS.indexOf(window.stringValue);
      if (k >= 0) {
        name = window.stringValue;
        seconds = NAMED_SECONDS[k];
      }
    } else if (window !== null && window.isInteger() && window.asI64() >= 1 && window.asI64() <= 31_622_400) {
      seconds = window.asI64();
      name = seconds.toString() + "s";
    }
    if (seconds < 0) return new LimitsResult(null, at + ".window must be second, minute, hour, day, week, month or a number of seconds");
    const calendar = name == "week" ? Calendar.Week : name == "month" ? Calendar.Month : Calendar.None;
    const period = parsePeriod(item, at, calendar);
    if (period.error.length > 0) return new LimitsResult(null, period.error);
    let status: u32 = 429;
    const st = item.get("status");
    if (st !== null && st.type != JsonType.Null) {
      if (!st.isInteger() || st.asI64() < 400 || st.asI64() > 599) return new LimitsResult(null, at + ".status must be an HTTP error status (400-599)");
      status = <u32>st.asI64();
    }
    const soft = parseSoft(item, at, limit.asI64());
    if (soft < 0) return new LimitsResult(null, at + ".soft must be a fraction of the limit between 0 and 1 (0.8: warn at 80%)");
    limits.push(new Limit(unit.stringValue == "requests" ? LimitUnit.Requests : LimitUnit.Tokens, limit.asI64(), name, seconds, status,
      calendar, period.startDay, period.offsetSeconds, soft));
  }
  return new LimitsResult(limits, "");
}

/** `soft`: the count (at least 1) at which a limit's soft threshold is reached; 0 absent; -1 malformed. */
function parseSoft(item: JsonValue, at: string, limit: i64): i64 {
  const v = item.get("soft");
  if (v === null || v.type == JsonType.Null) return 0;
  if (v.type != JsonType.Number) return -1;
  const f = v.asF64();
  if (!(f > 0 && f < 1)) return -1;
  const t = <i64>Math.ceil(f * <f64>limit);
  return t < 1 ? 1 : t > limit ? limit : t;
}

export function hasTokenLimits(limits: Array<Limit>): bool {
  for (let i = 0; i < limits.length; i++) if (limits[i].unit == LimitUnit.Tokens) return true;
  return false;
}

class PeriodResult {
  constructor(public startDay: i32, public offsetSeconds: i64, public error: string) {}
}

/** `period_start` and `utc_offset` of a week or month limit; refused on fixed windows, which have no calendar. */
function parsePeriod(item: JsonValue, at: string, calendar: Calendar): PeriodResult {
  const ps = item.get("period_start");
  const off = item.get("utc_offset");
  const hasStart = ps !== null && ps.type != JsonType.Null;
  const hasOffset = off !== null && off.type != JsonType.Null;
  if (calendar == Calendar.None) {
    if (hasStart) return new PeriodResult(1, 0, at + ".period_start applies only to window week or month");
    if (hasOffset) return new PeriodResult(1, 0, at + ".utc_offset applies only to window week or month");
    return new PeriodResult(1, 0, "");
  }
  let startDay: i32 = 1;
  if (hasStart) {
    const max: i64 = calendar == Calendar.Week ? 7 : 28;
    if (!ps!.isInteger() || ps!.asI64() < 1 || ps!.asI64() > max) {
      return new PeriodResult(1, 0, at + ".period_start must be " + (calendar == Calendar.Week ? "a weekday 1 (Monday) to 7 (Sunday)" : "a day of month 1 to 28"));
    }
    startDay = <i32>ps!.asI64();
  }
  const o = parseUtcOffset(off, at + ".utc_offset");
  if (o.error.length > 0) return new PeriodResult(1, 0, o.error);
  return new PeriodResult(startDay, o.seconds, "");
}
