// Spend history (`spend_history: {ttl_days: N}`, opt-in): per consumer, model and UTC day (and
// month), the input and output tokens, the units charged and the requests, kept in two Redis
// hashes beside the consumer's other keys (keys.ts usageDay/usageMonth, same slot) and written by
// the settlement script itself (scripts.ts SETTLE_SCRIPT), so only a settlement that applies
// records, exactly once, and no extra round trip is made. Only charges are recorded: a reservation
// given back is not spend. Anonymous clients have no consumer and no history. A hash holds at most
// 64 models (the script adds a model new to a full one to OTHER_MODEL): memory per consumer and day
// is bounded whatever model names answers carry.
import { JsonType, JsonValue } from "../json/parser";
import { civilFromDays, daysFromCivil } from "./calendar";
import { ConsumerKeys } from "./keys";
import { capAmount } from "./scripts";

/** The most ttl_days may be (ten years). */
export const MAX_TTL_DAYS: i64 = 3660;
export const DEFAULT_TTL_DAYS: i64 = 90;
/** A model name longer than this (UTF-8 bytes) is recorded as OTHER_MODEL: a hash field stays small. */
export const MAX_MODEL_BYTES: i32 = 128;
/** What a charge with no model (a flat-cost path, an answer and request naming none) is recorded as. */
export const OTHER_MODEL = "(other)";

export class SpendHistory {
  constructor(public ttlSeconds: i64) {}
}

export class SpendHistoryResult {
  constructor(public value: SpendHistory | null, public error: string) {}
}

/** `spend_history`: absent or null is off; an object, with `ttl_days` (1..3660, default 90). */
export function parseSpendHistory(v: JsonValue | null, warnings: Array<string>): SpendHistoryResult {
  if (v === null || v.type == JsonType.Null) return new SpendHistoryResult(null, "");
  if (v.type != JsonType.Object) return new SpendHistoryResult(null, "spend_history must be an object such as {\"ttl_days\": 90}");
  const keys = v.keys;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] != "ttl_days") warnings.push("unknown config key spend_history." + keys[i] + " is ignored");
  }
  const t = v.get("ttl_days");
  let days = DEFAULT_TTL_DAYS;
  if (t !== null && t.type != JsonType.Null) {
    if (t.type != JsonType.Number || !t.isInteger()) return new SpendHistoryResult(null, "spend_history.ttl_days must be an integer");
    days = t.asI64();
    if (days < 1 || days > MAX_TTL_DAYS) {
      return new SpendHistoryResult(null, "spend_history.ttl_days must be between 1 and " + MAX_TTL_DAYS.toString() + ", got " + days.toString());
    }
  }
  return new SpendHistoryResult(new SpendHistory(days * 86400), "");
}

/** One charge's line in the history, sent with its settlement. */
export class SpendRecord {
  constructor(
    public dayKey: string,
    public monthKey: string,
    public model: string,
    public input: i64,
    public output: i64,
    /** Seconds each hash lives from now: until its day (month) ends, then ttl_days. */
    public dayTtl: i64,
    public monthTtl: i64,
  ) {}
}

/** The record of a charge to `keys` at `now` (epoch seconds). */
export function spendRecord(h: SpendHistory, keys: ConsumerKeys, now: i64, model: string, input: i64, output: i64): SpendRecord {
  const day = floorDays(now);
  const m = model.length == 0 || String.UTF8.byteLength(model) > MAX_MODEL_BYTES ? OTHER_MODEL : model;
  const c = civilFromDays(day);
  const date = isoDate(day);
  const nextMonth = c.month == 12 ? daysFromCivil(c.year + 1, 1, 1) : daysFromCivil(c.year, c.month + 1, 1);
  return new SpendRecord(keys.usageDay(date), keys.usageMonth(date.substring(0, 7)), m,
    clampCount(input), clampCount(output), (day + 1) * 86400 - now + h.ttlSeconds, nextMonth * 86400 - now + h.ttlSeconds);
}

function clampCount(v: i64): i64 {
  return v < 0 ? 0 : capAmount(v);
}

/** Days since 1970-01-01 of epoch second `t` (floor). */
export function floorDays(t: i64): i64 {
  const q = t / 86400;
  return t % 86400 != 0 && t < 0 ? q - 1 : q;
}

function pad(v: i64, width: i32): string {
  let s = v.toString();
  while (s.length < width) s = "0" + s;
  return s;
}

/** "YYYY-MM-DD" of a day number (days since 1970-01-01, UTC). */
export function isoDate(day: i64): string {
  const c = civilFromDays(day);
  return pad(c.year, 4) + "-" + pad(c.month, 2) + "-" + pad(c.day, 2);
}
