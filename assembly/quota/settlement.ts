// Settling a request once its answer is known: the consumer pays what the model used. Without a
// reservation that is Higress's DECRBY of the usage; with one, the reservation minus the usage
// goes back (negative when the answer cost more than was reserved); token windows get the usage.
//
// Exactly once: a settlement Redis could not be reached for is kept and sent again from the
// plugin's tick, and each carries a marker key so that one whose reply was lost (applied, but the
// connection dropped) changes nothing the second time. With `settlement_retry_seconds: 0` the plugin
// sends Higress's plain commands instead and a failed one is only logged.
import { logError, logWarn } from "../abi/log";
import { StoreCallback, Store, StoreReply } from "../store/store";
import { subChecked } from "../util/int64";
import { count, countBy, gauge, metrics } from "./metrics";
import { evalScript } from "../store/eval";
import { SETTLE_SCRIPT, SETTLE_SCRIPT_SHA } from "./scripts";
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
  constructor(public charge: Charge, public args: Array<string>, public script: bool) {}

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
    if (!reply.isError()) return;
    // A value means Redis answered with an error: sending it again would get the same answer,
    // unless Redis said it is only busy for now (loading after a restart, failing over…).
    if (reply.value !== null && !isTransient(reply.error)) logLost(this.settlement.charge, reply.error);
    else keepForRetry(this.settlement, reply.error);
  }
}

const TRANSIENT: Array<string> = ["LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY"];

function isTransient(error: string): bool {
  for (let i = 0; i < TRANSIENT.length; i++) {
    if (error.startsWith(TRANSIENT[i])) return true;
  }
  return false;
}

function logLost(c: Charge, reason: string): void {
  count(metrics().settlementsFailed);
  let line = "ai-quota: charge of " + c.used.toString() + " tokens to " + c.key + " failed: " + reason;
  if (c.reserved != 0) line += " (the reservation of " + c.reserved.toString() + " stays charged)";
  logError(line);
}

function keepForRetry(s: Settlement, reason: string): void {
  const c = s.charge;
  if (c.retrySeconds == 0) {
    logLost(c, reason);
    return;
  }
  if (s.attempts >= c.retrySeconds || pending.length >= MAX_PENDING) {
    logLost(c, reason + "; gave up after " + s.attempts.toString() + " retries");
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

  let s: Settlement;
  if (marker == "0" && windowKeys.length == 0) {
    // Higress's own commands, byte for byte.
    const args = c.reserved == 0 ? ["DECRBY", c.key, c.used.toString()] : ["INCRBY", c.key, back.value.toString()];
    s = new Settlement(c, args, false);
  } else {
    const args = [(windowKeys.length + 2).toString(), c.key, marker == "0" ? c.key : c.markerKey];
    for (let i = 0; i < windowKeys.length; i++) args.push(windowKeys[i]);
    args.push(balanceAdd.toString());
    args.push(marker);
    for (let i = 0; i < windowArgs.length; i++) args.push(windowArgs[i]);
    s = new Settlement(c, args, true);
  }
  if (!s.send()) keepForRetry(s, "cannot connect to redis cluster");
}
