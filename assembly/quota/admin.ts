// The admin API: query, refresh and delta of a consumer's balance, answered exactly as Higress's
// ai-quota answers them. Only the admin consumer gets here (checked by the request flow).
import { Store } from "../store/store";
import { REDIS_UNREACHABLE, StoreCallback, StoreReply } from "../redis/reply";
import { RespType, RespValue } from "../redis/resp";
import { Limit, WindowSpan, windowsAt } from "./windows";
import { consumerKeys } from "./keys";
import { Tiers, configuredTier } from "./tiers";
import { nowSeconds } from "../abi/clock";
import { parseInt64Strict } from "../util/int64";
import { parseQuery } from "../util/urlencoded";
import { quoteJsonString } from "../json/quote";
import * as answers from "./answers";

/** The stream an admin call answers; told just before its answer is sent. */
export class AdminCaller {
  constructor(public contextId: u32) {}
  answering(): void {}
}

/** Answers a query once Redis has replied: a missing key is a balance of 0. */
class QueryReply extends StoreCallback {
  constructor(public caller: AdminCaller, public consumer: string, public windows: Array<WindowSpan>) { super(caller.contextId); }

  onReply(reply: StoreReply): void {
    this.caller.answering();
    if (reply.isError()) {
      answers.answerRedisError(reply.error);
      return;
    }
    let v = reply.value!;
    let windowsJson = "";
    if (this.windows.length > 0) {
      // MGET: the balance, then one value per window.
      if (v.type != RespType.Array || v.items.length != this.windows.length + 1) {
        answers.answerRedisError("unexpected reply type");
        return;
      }
      windowsJson = describeWindows(this.windows, v.items);
      v = v.items[0];
    }
    let quota: i64 = 0;
    if (v.type == RespType.Integer || v.type == RespType.BulkString || v.type == RespType.SimpleString) {
      const n = v.toInteger();
      if (!n.ok) {
        // Higress would print 0 here; a balance that is not a number is a problem to report.
        answers.answerRedisError("quota value of " + this.consumer + " is not an integer");
        return;
      }
      quota = n.value;
    } else if (v.type != RespType.Null) {
      answers.answerRedisError("unexpected reply type");
      return;
    }
    answers.answerQuota("{\"consumer\":" + quoteJsonString(this.consumer) + ",\"quota\":" + quota.toString() + windowsJson + "}");
  }
}

/** Answers a refresh or delta once Redis has replied. */
class UpdateReply extends StoreCallback {
  constructor(public caller: AdminCaller, public isRefresh: bool) { super(caller.contextId); }

  onReply(reply: StoreReply): void {
    this.caller.answering();
    if (reply.isError()) answers.answerRedisError(reply.error);
    else if (this.isRefresh) answers.answerRefreshed();
    else answers.answerDelta();
  }
}

/** `,"windows":[{"unit":…,"limit":…,"window":…,"used":…,"reset":<epoch seconds>}]` */
function describeWindows(windows: Array<WindowSpan>, values: Array<RespValue>): string {
  let out = ",\"windows\":[";
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i];
    const n = values[i + 1].toInteger();
    const used: i64 = n.ok ? n.value : 0;
    if (i > 0) out += ",";
    out += "{\"unit\":\"" + w.limit.unitName() + "\",\"limit\":" + w.limit.limit.toString() +
      ",\"window\":" + quoteJsonString(w.limit.windowName) + ",\"used\":" + used.toString() +
      ",\"reset\":" + w.end.toString() + "}";
  }
  return out + "]";
}

/**
 * GET …/quota?consumer=X; with windows configured, their usage and reset times are added.
 * These three answer false when they answered at once (a bad form, Redis unreachable).
 */
export function queryQuota(store: Store, keyPrefix: string, topLimits: Array<Limit>, tiers: Tiers, caller: AdminCaller, rawQuery: string): bool {
  const consumer = parseQuery(rawQuery).first("consumer");
  if (consumer === null || consumer.length == 0) {
    answers.denyQueryWithoutConsumer();
    return false;
  }
  const keys = consumerKeys(keyPrefix, consumer);
  const key = keys.balance;
  // The tier the config gives the consumer (a tier header is the request's, not the admin's).
  const tier = configuredTier(tiers, consumer);
  const limits = tier !== null ? tier.limits : topLimits;
  const windows = limits.length == 0 ? new Array<WindowSpan>() : windowsAt(limits, keys, nowSeconds());
  let command = ["GET", key];
  if (windows.length > 0) {
    command = ["MGET", key];
    for (let i = 0; i < windows.length; i++) command.push(windows[i].key);
  }
  if (!store.command(command, new QueryReply(caller, consumer, windows))) {
    answers.answerRedisError(REDIS_UNREACHABLE);
    return false;
  }
  return true;
}

/** POST …/quota/refresh with `consumer=X&quota=N`: SET the balance. */
export function refreshQuota(store: Store, keyPrefix: string, caller: AdminCaller, form: string): bool {
  const values = parseQuery(form);
  const consumer = values.first("consumer");
  const quotaText = values.first("quota");
  const quota = parseInt64Strict(quotaText === null ? "" : quotaText);
  if (consumer === null || consumer.length == 0 || !quota.ok) {
    answers.denyBadRefresh();
    return false;
  }
  if (!store.command(["SET", keyPrefix + consumer, quota.value.toString()], new UpdateReply(caller, true))) {
    answers.answerRedisError(REDIS_UNREACHABLE);
    return false;
  }
  return true;
}

/** POST …/quota/delta with `consumer=X&value=±N`: INCRBY or DECRBY by |N|. */
export function deltaQuota(store: Store, keyPrefix: string, caller: AdminCaller, form: string): bool {
  const values = parseQuery(form);
  const consumer = values.first("consumer");
  const valueText = values.first("value");
  const delta = parseInt64Strict(valueText === null ? "" : valueText);
  if (consumer === null || consumer.length == 0 || !delta.ok) {
    answers.denyBadDelta();
    return false;
  }
  const v = delta.value;
  // |i64.MIN| does not fit an i64: INCRBY by the negative value says the same thing.
  const args = v >= 0 || v == i64.MIN_VALUE
    ? ["INCRBY", keyPrefix + consumer, v.toString()]
    : ["DECRBY", keyPrefix + consumer, (-v).toString()];
  if (!store.command(args, new UpdateReply(caller, false))) {
    answers.answerRedisError(REDIS_UNREACHABLE);
    return false;
  }
  return true;
}
