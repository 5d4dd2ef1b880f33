// GET …/quota/usage?consumer=X[&from=YYYY-MM-DD][&to=YYYY-MM-DD][&model=M]: a consumer's spend
// history (spend_history.ts), per UTC day and model, read in one round trip (scripts.ts
// USAGE_SCRIPT over the day hashes, all in the consumer's slot). Only the admin consumer gets here.
import { Store } from "../store/store";
import { REDIS_UNREACHABLE, StoreCallback, StoreReply } from "../redis/reply";
import { RespType, RespValue } from "../redis/resp";
import { argInt, argString } from "../redis/command";
import { beginScript, sendScript } from "../store/eval";
import { nowSeconds } from "../abi/clock";
import { parseQuery } from "../util/urlencoded";
import { quoteJsonString } from "../json/quote";
import { QuotaConfig } from "./config";
import { consumerKeys } from "./keys";
import { daysFromCivil } from "./calendar";
import { floorDays, isoDate } from "./spend_history";
import { USAGE_SCRIPT, USAGE_SCRIPT_SHA } from "./scripts";
import { AdminCaller } from "./admin";
import * as answers from "./answers";

/** The most days one query covers (a quarter). */
export const MAX_USAGE_DAYS: i64 = 92;
/** Without `from`, the query covers this many days up to `to`. */
const DEFAULT_DAYS: i64 = 7;
const USAGE_SHA = String.UTF8.encode(USAGE_SCRIPT_SHA);
/** The day given, or NO_DAY for a text that is not a real date in YYYY-MM-DD. */
const NO_DAY: i64 = i64.MIN_VALUE;

/** A "YYYY-MM-DD" of a real (proleptic Gregorian) date, as days since 1970-01-01; else NO_DAY. */
export function parseDate(s: string): i64 {
  if (s.length != 10 || s.charCodeAt(4) != 0x2d || s.charCodeAt(7) != 0x2d) return NO_DAY;
  let y: i64 = 0, m: i64 = 0, d: i64 = 0;
  for (let i = 0; i < 10; i++) {
    if (i == 4 || i == 7) continue;
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return NO_DAY;
    const v = <i64>(c - 0x30);
    if (i < 4) y = y * 10 + v;
    else if (i < 7) m = m * 10 + v;
    else d = d * 10 + v;
  }
  if (m < 1 || m > 12 || d < 1 || d > 31) return NO_DAY;
  const day = daysFromCivil(y, m, d);
  // 2026-02-30 is a day number too (March 2nd): only a date that reads back the same is real.
  return isoDate(day) == s ? day : NO_DAY;
}

/** One model's counts on one day. */
class ModelUsage {
  input: i64 = 0;
  output: i64 = 0;
  units: i64 = 0;
  requests: i64 = 0;
  constructor(public model: string) {}

  add(kind: i32, v: i64): void {
    if (kind == 0x69) this.input = sat(this.input, v);
    else if (kind == 0x6f) this.output = sat(this.output, v);
    else if (kind == 0x75) this.units = sat(this.units, v);
    else this.requests = sat(this.requests, v);
  }

  json(): string {
    return "{\"input_tokens\":" + this.input.toString() + ",\"output_tokens\":" + this.output.toString() +
      ",\"units\":" + this.units.toString() + ",\"requests\":" + this.requests.toString() + "}";
  }
}

/** Saturating addition of counts (each at least 0): a total never wraps. */
function sat(a: i64, b: i64): i64 {
  return a > i64.MAX_VALUE - b ? i64.MAX_VALUE : a + b;
}

class UsageReply extends StoreCallback {
  constructor(public caller: AdminCaller, public consumer: string, public from: i64, public to: i64) { super(caller.contextId); }

  onReply(reply: StoreReply): void {
    this.caller.answering();
    if (reply.isError()) {
      answers.answerRedisError(reply.error);
      return;
    }
    const v = reply.value!;
    if (v.type == RespType.Integer && v.integer == -1) {
      answers.denyBadUsageQuery("too much usage for one answer: ask for fewer days or one model");
      return;
    }
    const n = <i32>(this.to - this.from + 1);
    if (v.type != RespType.Array || v.items.length != n) {
      answers.answerRedisError("unexpected reply type");
      return;
    }
    const total = new ModelUsage("");
    let days = "";
    for (let i = 0; i < n; i++) {
      const fields = v.items[i];
      if (fields.type != RespType.Array || (fields.items.length & 1) != 0) {
        answers.answerRedisError("unexpected reply type");
        return;
      }
      const models = readDay(fields.items, total);
      if (models === null) {
        answers.answerRedisError("usage value of " + this.consumer + " is not an integer");
        return;
      }
      if (models.length == 0) continue;
      if (days.length > 0) days += ",";
      days += "{\"date\":\"" + isoDate(this.from + <i64>i) + "\",\"models\":{";
      for (let j = 0; j < models.length; j++) {
        if (j > 0) days += ",";
        days += quoteJsonString(models[j].model) + ":" + models[j].json();
      }
      days += "}}";
    }
    answers.answerUsage("{\"consumer\":" + quoteJsonString(this.consumer) + ",\"from\":\"" + isoDate(this.from) + "\",\"to\":\"" +
      isoDate(this.to) + "\",\"days\":[" + days + "],\"total\":" + total.json() + "}");
  }
}

/**
 * One day's hash, `<model>\n<i|o|u|r>` → count: its models in the order Redis gave them; null when a
 * value is not a non-negative integer. Fields of another shape are not ours and are skipped.
 */
function readDay(items: Array<RespValue>, total: ModelUsage): Array<ModelUsage> | null {
  const models = new Array<ModelUsage>();
  for (let k = 0; k + 1 < items.length; k += 2) {
    const f = items[k];
    if (f.type != RespType.BulkString) continue;
    const name = f.text;
    const cut = name.lastIndexOf("\n");
    if (cut < 0 || cut != name.length - 2) continue;
    const kind = name.charCodeAt(cut + 1);
    if (kind != 0x69 && kind != 0x6f && kind != 0x75 && kind != 0x72) continue;
    const parsed = items[k + 1].toInteger();
    if (!parsed.ok || parsed.value < 0) return null;
    const model = name.substring(0, cut);
    let u: ModelUsage | null = null;
    for (let j = 0; j < models.length; j++) {
      if (models[j].model == model) {
        u = models[j];
        break;
      }
    }
    if (u === null) {
      u = new ModelUsage(model);
      models.push(u);
    }
    u.add(kind, parsed.value);
    total.add(kind, parsed.value);
  }
  return models;
}

/** The query above; false when it answered at once (a bad query, Redis unreachable). */
export function queryUsage(store: Store, c: QuotaConfig, caller: AdminCaller, rawQuery: string): bool {
  const q = parseQuery(rawQuery);
  const consumer = q.first("consumer");
  if (consumer === null || consumer.length == 0) {
    answers.denyQueryWithoutConsumer();
    return false;
  }
  if (c.spendHistory === null) {
    answers.denyBadUsageQuery("spend_history is not enabled in the plugin's config");
    return false;
  }
  const today = floorDays(nowSeconds());
  const toText = q.first("to");
  const fromText = q.first("from");
  const to = toText === null ? today : parseDate(toText);
  if (to == NO_DAY) {
    answers.denyBadUsageQuery("to must be a date as YYYY-MM-DD");
    return false;
  }
  const from = fromText === null ? to - (DEFAULT_DAYS - 1) : parseDate(fromText);
  if (from == NO_DAY) {
    answers.denyBadUsageQuery("from must be a date as YYYY-MM-DD");
    return false;
  }
  if (from > to) {
    answers.denyBadUsageQuery("from must not be after to");
    return false;
  }
  if (to - from + 1 > MAX_USAGE_DAYS) {
    answers.denyBadUsageQuery("at most " + MAX_USAGE_DAYS.toString() + " days per query, got " + (to - from + 1).toString());
    return false;
  }
  const modelText = q.first("model");
  const keys = consumerKeys(c.redisKeyPrefix, consumer);
  beginScript(USAGE_SHA);
  argInt(to - from + 1);
  for (let d = from; d <= to; d++) argString(keys.usageDay(isoDate(d)));
  argString(modelText === null ? "" : modelText);
  if (!sendScript(store, USAGE_SCRIPT, new UsageReply(caller, consumer, from, to))) {
    answers.answerRedisError(REDIS_UNREACHABLE);
    return false;
  }
  return true;
}
