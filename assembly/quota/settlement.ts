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
import { Store } from "../store/store";
import { REDIS_UNREACHABLE, StoreCallback, StoreReply } from "../redis/reply";
import { count, countBy, gauge, metrics } from "../metrics/metrics";
import { beginScript } from "../store/eval";
import { argBuffer, argInt, argString, beginCommand, endCommand } from "../redis/command";
import { isTransientError } from "../redis/errors";
import { RespType } from "../redis/resp";
import { MAX_AMOUNT, SETTLE_SCRIPT, SETTLE_SCRIPT_SHA, capAmount } from "./scripts";
import { LimitUnit, WindowSpan } from "./windows";
import { SpendRecord } from "./spend_history";

/** Settlements waiting for Redis to come back, at most this many (then new ones are logged lost). */
const MAX_PENDING = 10000;

/** What one request owes, and where. */
export class Charge {
  /** Spend history on, and this is a charge (not a give-back): its line, added by the script. */
  history: SpendRecord | null = null;
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

/** One settlement: its command (kept to send again), and the store's callback for it. */
class Settlement extends StoreCallback {
  attempts: i32 = 0;
  constructor(
    public charge: Charge,
    public query: ArrayBuffer,
    public script: bool,
    /** What goes to the balance, and each window's key and increment (for the by-hand commands). */
    public balanceAdd: i64,
    public windowKeys: Array<string>,
    public windowAdds: Array<i64>,
  ) { super(0); }

  send(): bool {
    const store = this.charge.store;
    if (this.script) return store.evalsha(this.query, SETTLE_SCRIPT, this);
    return store.send(this.query, this);
  }

  /** The commands that apply this settlement by hand, for the log when Redis refuses it. */
  manual(): string {
    const c = this.charge;
    if (!this.script) {
      return c.reserved == 0 ? "DECRBY " + c.key + " " + c.used.toString() : "INCRBY " + c.key + " " + this.balanceAdd.toString();
    }
    let manual = this.balanceAdd != 0 ? "INCRBY " + c.key + " " + this.balanceAdd.toString() : "";
    for (let i = 0; i < this.windowKeys.length; i++) {
      if (manual.length > 0) manual += "; ";
      manual += "INCRBY " + this.windowKeys[i] + " " + this.windowAdds[i].toString();
    }
    return manual;
  }

  /** Not tied to its stream: a settlement must land even when the client is gone. */
  onReply(reply: StoreReply): void {
    if (!reply.isError()) {
      // The script checks before it writes; a negative answer means it wrote nothing.
      const v = reply.value!;
      if (this.script && v.type == RespType.Integer && v.integer < 0) refused(this, scriptRefusal(v.integer));
      else if (this.script && v.type == RespType.Integer && v.integer == 2) historySkipped(this.charge);
      return;
    }
    // A value means Redis answered with an error: sending it again would get the same answer,
    // unless Redis said it is only busy for now (loading after a restart, failing over…).
    if (reply.value !== null && !isTransientError(reply.error)) refused(this, reply.error);
    else keepForRetry(this, reply.error);
  }
}

let pending = new Array<Settlement>();

function scriptRefusal(code: i64): string {
  if (code == -2) return "the balance is not an integer Redis can add to";
  if (code == -6) return "a window counter is not an integer Redis can add to";
  return "the settlement script refused its arguments";
}

/** The charge applied, but a usage hash held something it cannot add to: that line of history is lost. */
function historySkipped(c: Charge): void {
  count(metrics().redisRejected);
  const h = c.history;
  logWarn("ai-quota: charge of " + c.used.toString() + " tokens to " + c.key + " applied, but not recorded in the spend history: " +
    (h !== null ? h.dayKey + " or " + h.monthKey : "its usage keys") + " is not a hash of integers");
}

/** Redis refused the settlement for good: nothing was applied; say how to apply it by hand. */
function refused(s: Settlement, reason: string): void {
  count(metrics().redisRejected);
  logLost(s.charge, reason, s.manual());
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
    logLost(c, reason + "; gave up after " + s.attempts.toString() + " retries", s.manual());
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
    if (!s.send()) keepForRetry(s, REDIS_UNREACHABLE);
  }
  gauge(metrics().settlementsPending, pending.length);
}

const NO_KEYS = new Array<string>(0);
const NO_ADDS = new Array<i64>(0);
const DECRBY = String.UTF8.encode("DECRBY");
const INCRBY = String.UTF8.encode("INCRBY");
const SETTLE_SHA = String.UTF8.encode(SETTLE_SCRIPT_SHA);

/** Sends what `c` owes; nothing when it owes nothing. */
export function settle(c: Charge): void {
  // The admission reserved at most MAX_AMOUNT (admission.ts caps the same way).
  c.reserved = capAmount(c.reserved);
  if (c.used > MAX_AMOUNT) {
    logWarn("ai-quota: charge of " + c.used.toString() + " tokens to " + c.key + " capped at " + MAX_AMOUNT.toString());
    c.used = MAX_AMOUNT;
  }
  const back = c.reserved - c.used;
  // Overflow when the operands' signs differ and the result's sign differs from reserved's.
  if (((c.reserved ^ c.used) & (c.reserved ^ back)) < 0) {
    logLost(c, "amount out of range");
    return;
  }
  const balanceAdd: i64 = c.checkBalance ? back : 0;
  let windowKeys = NO_KEYS;
  let windowAdds = NO_ADDS;
  let windowTtls = NO_ADDS;
  for (let i = 0; i < c.windows.length; i++) {
    const w = c.windows[i];
    const add: i64 = w.limit.unit == LimitUnit.Tokens ? -back : c.undoRequestCounts ? -1 : 0;
    if (add == 0) continue;
    if (windowKeys.length == 0) {
      windowKeys = new Array<string>();
      windowAdds = new Array<i64>();
      windowTtls = new Array<i64>();
    }
    windowKeys.push(w.key);
    windowAdds.push(add);
    windowTtls.push(w.end - c.now);
  }
  // The marker argument: "0" none (Higress's commands), "d" consume the admission's, else a lifetime.
  const noMarker = c.retrySeconds == 0;
  const consumeMarker = !noMarker && c.admissionMarked;
  // With an admission marker the settlement must run even when it moves nothing: it removes the
  // marker. A charge with spend history runs too: the script records it.
  const history = c.history;
  if (balanceAdd == 0 && windowKeys.length == 0 && !consumeMarker && history === null) return;
  countBy(metrics().tokensCharged, c.used);

  let s: Settlement;
  if (noMarker && windowKeys.length == 0 && history === null) {
    // Higress's own commands, byte for byte.
    beginCommand();
    if (c.reserved == 0) {
      argBuffer(DECRBY);
      argString(c.key);
      argInt(c.used);
    } else {
      argBuffer(INCRBY);
      argString(c.key);
      argInt(back);
    }
    s = new Settlement(c, endCommand(), false, balanceAdd, windowKeys, windowAdds);
  } else {
    beginScript(SETTLE_SHA);
    argInt(windowKeys.length + (history !== null ? 4 : 2));
    argString(c.key);
    argString(noMarker ? c.key : c.markerKey);
    for (let i = 0; i < windowKeys.length; i++) argString(windowKeys[i]);
    if (history !== null) {
      argString(history.dayKey);
      argString(history.monthKey);
    }
    argInt(balanceAdd);
    if (noMarker) argString("0");
    else if (consumeMarker) argString("d");
    else argInt(c.retrySeconds + 60);
    for (let i = 0; i < windowKeys.length; i++) {
      argInt(windowAdds[i]);
      argInt(windowTtls[i]);
    }
    if (history !== null) {
      argString(history.model);
      argInt(history.input);
      argInt(history.output);
      argInt(c.used);
      argInt(history.dayTtl);
      argInt(history.monthTtl);
    }
    s = new Settlement(c, endCommand(), true, balanceAdd, windowKeys, windowAdds);
  }
  if (!s.send()) keepForRetry(s, REDIS_UNREACHABLE);
}
