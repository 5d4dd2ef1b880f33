// Calendar periods operators bill by: weeks and months that start on a configured day, in a
// configured fixed offset from UTC (`utc_offset`, no daylight-saving rules: an operator in a zone
// that changes offset picks the one they bill in). Everything is epoch seconds; a period is
// computed in local time (now + offset) and turned back into UTC epoch seconds.
import { JsonType, JsonValue } from "../json/parser";

export enum Calendar {
  /** A fixed window of `seconds` aligned to the epoch (second, minute, hour, day, N seconds). */
  None,
  Week,
  Month,
}

/** The most a fixed offset from UTC can be (UTC+14:00, Line Islands; UTC-12:00 fits within). */
export const MAX_OFFSET_MINUTES: i64 = 14 * 60;

/** Where one period starts and ends, in epoch seconds. */
export class Period {
  constructor(public start: i64, public end: i64) {}
}

function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/** The week holding `now`: it starts on ISO weekday `startDay` (1 = Monday … 7 = Sunday) at local midnight. */
export function weekAt(now: i64, startDay: i32, offsetSeconds: i64): Period {
  const localDay = floorDiv(now + offsetSeconds, 86400);
  // 1970-01-01 was a Thursday (ISO weekday 4).
  const weekday = localDay + 3 - floorDiv(localDay + 3, 7) * 7 + 1;
  const back = (weekday - <i64>startDay + 7) % 7;
  const start = (localDay - back) * 86400 - offsetSeconds;
  return new Period(start, start + 7 * 86400);
}

/** The month holding `now`: it starts on day `startDay` (1..28) of a local calendar month at local midnight. */
export function monthAt(now: i64, startDay: i32, offsetSeconds: i64): Period {
  const localDay = floorDiv(now + offsetSeconds, 86400);
  const c = civilFromDays(localDay);
  let y = c.year;
  let m = c.month;
  if (c.day < <i64>startDay) {
    m -= 1;
    if (m < 1) { m = 12; y -= 1; }
  }
  let ny = y;
  let nm = m + 1;
  if (nm > 12) { nm = 1; ny += 1; }
  const start = daysFromCivil(y, m, startDay) * 86400 - offsetSeconds;
  const end = daysFromCivil(ny, nm, startDay) * 86400 - offsetSeconds;
  return new Period(start, end);
}

export class Civil {
  constructor(public year: i64, public month: i64, public day: i64) {}
}

// Howard Hinnant's civil-from-days / days-from-civil (proleptic Gregorian calendar).
export function civilFromDays(days: i64): Civil {
  const z = days + 719468;
  const era = floorDiv(z, 146097);
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const d = doy - (153 * mp + 2) / 5 + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return new Civil(m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d);
}

export function daysFromCivil(y0: i64, m: i64, d: i64): i64 {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = floorDiv(y, 400);
  const yoe = y - era * 400;
  const doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

export class OffsetResult {
  constructor(public seconds: i64, public error: string) {}
}

/**
 * `utc_offset`: "+08:00", "-05:30", "+0800", "Z", or an integer number of minutes; absent is UTC.
 * `at` names the field in errors.
 */
export function parseUtcOffset(v: JsonValue | null, at: string): OffsetResult {
  if (v === null || v.type == JsonType.Null) return new OffsetResult(0, "");
  const bad = at + " must be minutes from UTC (-840..840) or \"+HH:MM\" / \"-HH:MM\"";
  if (v.type == JsonType.Number) {
    if (!v.isInteger() || v.asI64() < -MAX_OFFSET_MINUTES || v.asI64() > MAX_OFFSET_MINUTES) return new OffsetResult(0, bad);
    return new OffsetResult(v.asI64() * 60, "");
  }
  if (v.type != JsonType.String) return new OffsetResult(0, bad);
  const s = v.stringValue;
  if (s == "Z" || s == "UTC") return new OffsetResult(0, "");
  // [+-]HH:MM or [+-]HHMM, digits only (no spaces, no unicode digits).
  let compact: string;
  if (s.length == 6 && s.charCodeAt(3) == 0x3a) compact = s.substring(0, 3) + s.substring(4);
  else if (s.length == 5) compact = s;
  else return new OffsetResult(0, bad);
  const sign = compact.charCodeAt(0);
  if (sign != 0x2b && sign != 0x2d) return new OffsetResult(0, bad);
  let digits: i64 = 0;
  for (let i = 1; i < 5; i++) {
    const c = compact.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return new OffsetResult(0, bad);
    digits = digits * 10 + <i64>(c - 0x30);
  }
  const hours = digits / 100;
  const minutes = digits % 100;
  if (minutes >= 60) return new OffsetResult(0, bad);
  const total = hours * 60 + minutes;
  if (total > MAX_OFFSET_MINUTES) return new OffsetResult(0, bad);
  return new OffsetResult((sign == 0x2d ? -total : total) * 60, "");
}
