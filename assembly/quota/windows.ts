// Windowed limits (opt-in): per consumer, count requests or tokens per fixed window (second,
// minute, hour, day, calendar month in UTC, or N seconds). Each window is one Redis key that
// expires with its window, named by keys.ts: on a Redis Cluster every key of a consumer — balance
// and windows — lives in one slot, so one script can check and update them all atomically.
import { JsonType, JsonValue } from "../json/parser";
import { ConsumerKeys } from "./keys";
import { MAX_AMOUNT } from "./scripts";

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
    /** Length in seconds; 0 for a calendar month. */
    public seconds: i64,
    public status: u32,
  ) {}

  unitName(): string {
    return this.unit == LimitUnit.Requests ? "requests" : "tokens";
  }
}

/** One limit's current window: where it starts and ends, and its key. */
export class WindowSpan {
  constructor(public limit: Limit, public start: i64, public end: i64, public key: string) {}

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
    if (l.seconds == 0) {
      start = monthStart(now, 0);
      end = monthStart(now, 1);
    } else {
      start = now - (now % l.seconds);
      end = start + l.seconds;
    }
    spans.push(new WindowSpan(l, start, end, keys.window(l.unitName(), l.windowName, start)));
  }
  return spans;
}

/** Epoch seconds of the first second of the UTC month `offset` months after the one holding `now`. */
function monthStart(now: i64, offset: i32): i64 {
  const days = (now >= 0 ? now : now - 86399) / 86400;
  // Civil-from-days (Howard Hinnant's algorithm), then back to days for the 1st of the month.
  const z = days + 719468;
  const era = (z >= 0 ? z : z - 146096) / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  let y = yoe + era * 400;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  let m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y += 1;
  m += offset;
  while (m > 12) { m -= 12; y += 1; }
  return daysFromCivil(y, m, 1) * 86400;
}

function daysFromCivil(y0: i64, m: i64, d: i64): i64 {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

export class LimitsResult {
  constructor(public limits: Array<Limit> | null, public error: string) {}
}

const NAMED_WINDOWS: Array<string> = ["second", "minute", "hour", "day", "month"];
const NAMED_SECONDS: Array<i64> = [1, 60, 3600, 86400, 0];

/** `[{unit, limit, window, status?}]`; `field` names the list in errors. */
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
    if (seconds < 0) return new LimitsResult(null, at + ".window must be second, minute, hour, day, month or a number of seconds");
    let status: u32 = 429;
    const st = item.get("status");
    if (st !== null && st.type != JsonType.Null) {
      if (!st.isInteger() || st.asI64() < 400 || st.asI64() > 599) return new LimitsResult(null, at + ".status must be an HTTP error status (400-599)");
      status = <u32>st.asI64();
    }
    limits.push(new Limit(unit.stringValue == "requests" ? LimitUnit.Requests : LimitUnit.Tokens, limit.asI64(), name, seconds, status));
  }
  return new LimitsResult(limits, "");
}

export function hasTokenLimits(limits: Array<Limit>): bool {
  for (let i = 0; i < limits.length; i++) if (limits[i].unit == LimitUnit.Tokens) return true;
  return false;
}
