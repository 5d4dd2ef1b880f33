// Settling a request once its answer is known: the consumer pays what the model used. Without a
// reservation that is Higress's DECRBY of the usage; with one, the reservation minus the usage
// goes back (negative when the answer cost more than was reserved); token windows get the usage.
//
// Exactly once: a settlement Redis could not be reached for is kept and sent again from the
// plugin's tick, and each carries a marker key so that one whose reply was lost (applied, but the
// connection dropped) changes nothing the second time. With `settlement_retry_seconds: 0` the plugin
// sends Higress's plain commands instead and a failed one is only logged.
//
// Never silently dropped: a settlement Redis refuses for good (an error retrying cannot fix, or the
// script finding a value it cannot add to — it then writes nothing) is logged at error with the
// amount, the keys and the commands that would apply it by hand, and counted
// (ai_quota.settlements.failed, ai_quota.redis.rejected). Amounts are capped at MAX_AMOUNT.
import { logError, logWarn } from "../abi/log";
import { StoreCallback, Store, StoreReply } from "../store/store";
import { subChecked } from "../util/int64";
import { count, countBy, gauge, metrics } from "./metrics";
import { evalScript } from "../store/eval";
import { isTransientError } from "../store/errors";
import { RespType } from "../redis/resp";
import { MAX_AMOUNT, SETTLE_SCRIPT, SETTLE_SCRIPT_SHA, capAmount } from "./scripts";
import { LimitUnit, WindowSpan } from "./windows";

/** Settlements waiting for Redis to come back, at most this many (then new ones are logged lost). */
const MAX_PENDING = 10000;

/** What one request owes, and where. */
export class Charge {
  constructor(
    public store: Store,
    public key: string,
    /** This settlement's marker key (same Redis slot as `key`). */
    public markerKey: string,
    public checkBalance: bool,
    public windows: Array<WindowSpan>,
    public now: i64,
    public reserved: i64,
    public used: i64,
    /** How long to keep retrying (seconds, one try per tick); 0: Higress's plain, single attempt. */
    public retrySeconds: i32,
    /** The admission left `markerKey` behind: apply only while it is there (and remove it). */
    public admissionMarked: bool,
    /** Also give back the request windows' count (for an admission that may have happened but was refused). */
    public undoRequestCounts: bool,
  ) {}
}

class Settlement {
  attempts: i32 = 0;
  constructor(
    public charge: Charge,
    public args: Array<string>,
    public script: bool,
    /** The commands that apply this settlement by hand, for the log when Redis refuses it. */
    public manual: string,
  ) {}

  send(): bool {
    const store = this.charge.store;
    const reply = new SettlementReply(this);
    if (this.script) return evalScript(store, SETTLE_SCRIPT_SHA, SETTLE_SCRIPT, this.args, reply);
    return store.command(this.args, reply);
  }
}

let pending = new Array<Settlement>();

/** Not tied to its stream: a settlement must land even when the client is gone. */
class SettlementReply extends StoreCallback {
  constructor(public settlement: Settlement) { super(0); }

  onReply(reply: StoreReply): void {
    const s = this.settlement;
    if (!reply.isError()) {
      // The script checks before it writes; a negative answer means it wrote nothing.
      const v = reply.value!;
      if (s.script && v.type == RespType.Integer && v.integer < 0) refused(s, scriptRefusal(v.integer));
      return;
    }
    // A value means Redis answered with an error: sending it again would get the same answer,
    // unless Redis said it is only busy for now (loading after a restart, failing over…).
    if (reply.value !== null && !isTransientError(reply.error)) refused(s, reply.error);
    else keepForRetry(s, reply.error);
  }
}

function scriptRefusal(code: i64): string {
  if (code == -2) return "the balance is not an integer Redis can add to";
  if (code == -6) return "a window counter is not an integer Redis can add to";
  return "the settlement script refused its arguments";
}

/** Redis refused the settlement for good: nothing was applied; say how to apply it by hand. */
function refused(s: Settlement, reason: string): void {
  count(metrics().redisRejected);
  logLost(s.charge, reason, s.manual);
}

function logLost(c: Charge, reason: string, manual: string = ""): void {
  count(metrics().settlementsFailed);
  let line = "ai-quota: charge of " + c.used.toString() + " tokens to " + c.key + " failed: " + reason;
  if (c.reserved != 0) line += " (the reservation of " + c.reserved.toString() + " stays charged)";
  if (manual.length > 0) line += "; not applied, to apply it by hand: " + manual;
  logError(line);
}

function keepForRetry(s: Settlement, reason: string): void {
  const c = s.charge;
  if (c.retrySeconds == 0) {
    logLost(c, reason);
    return;
  }
  if (s.attempts >= c.retrySeconds || pending.length >= MAX_PENDING) {
    logLost(c, reason + "; gave up after " + s.attempts.toString() + " retries", s.manual);
    return;
  }
  gauge(metrics().settlementsPending, pending.length + 1);
  if (s.attempts == 0) logWarn("ai-quota: charge of " + c.used.toString() + " tokens to " + c.key + " failed: " + reason + "; will retry");
  pending.push(s);
}

/** Sends again what Redis could not be reached for; called from the plugin's tick. */
export function retryPendingSettlements(): void {
  if (pending.length == 0) return;
  const due = pending;
  pending = new Array<Settlement>();
  for (let i = 0; i < due.length; i++) {
    const s = due[i];
    s.attempts++;
    count(metrics().settlementsRetried);
    if (!s.send()) keepForRetry(s, "cannot connect to redis cluster");
  }
  gauge(metrics().settlementsPending, pending.length);
}

/** Sends what `c` owes; nothing when it owes nothing. */
export function settle(c: Charge): void {
  // The admission reserved at most MAX_AMOUNT (admission.ts caps the same way).
  c.reserved = capAmount(c.reserved);
  if (c.used > MAX_AMOUNT) {
    logWarn("ai-quota: charge of " + c.used.toString() + " tokens to " + c.key + " capped at " + MAX_AMOUNT.toString());
    c.used = MAX_AMOUNT;
  }
  const back = subChecked(c.reserved, c.used);
  if (!back.ok) {
    logLost(c, "amount out of range");
    return;
  }
  const balanceAdd: i64 = c.checkBalance ? back.value : 0;
  const windowKeys = new Array<string>();
  const windowArgs = new Array<string>();
  for (let i = 0; i < c.windows.length; i++) {
    const w = c.windows[i];
    const add: i64 = w.limit.unit == LimitUnit.Tokens ? -back.value : c.undoRequestCounts ? -1 : 0;
    if (add == 0) continue;
    windowKeys.push(w.key);
    windowArgs.push(add.toString());
    windowArgs.push((w.end - c.now).toString());
  }
  const marker = c.retrySeconds == 0 ? "0" : c.admissionMarked ? "d" : (c.retrySeconds + 60).toString();
  // With an admission marker the settlement must run even when it moves nothing: it removes the marker.
  if (balanceAdd == 0 && windowKeys.length == 0 && marker != "d") return;
  countBy(metrics().tokensCharged, c.used);

  let manual = balanceAdd != 0 ? "INCRBY " + c.key + " " + balanceAdd.toString() : "";
  for (let i = 0; i < windowKeys.length; i++) {
    if (manual.length > 0) manual += "; ";
    manual += "INCRBY " + windowKeys[i] + " " + windowArgs[2 * i];
  }
  let s: Settlement;
  if (marker == "0" && windowKeys.length == 0) {
    // Higress's own commands, byte for byte.
    const args = c.reserved == 0 ? ["DECRBY", c.key, c.used.toString()] : ["INCRBY", c.key, back.value.toString()];
    s = new Settlement(c, args, false, args.join(" "));
  } else {
    const args = [(windowKeys.length + 2).toString(), c.key, marker == "0" ? c.key : c.markerKey];
    for (let i = 0; i < windowKeys.length; i++) args.push(windowKeys[i]);
    args.push(balanceAdd.toString());
    args.push(marker);
    for (let i = 0; i < windowArgs.length; i++) args.push(windowArgs[i]);
    s = new Settlement(c, args, true, manual);
  }
  if (!s.send()) keepForRetry(s, "cannot connect to redis cluster");
}
