// Settling a request once its answer is known: the consumer pays what the model used. Without a
// reservation that is Higress's DECRBY of the usage; with one, a single INCRBY gives back the
// reservation minus the usage (negative when the answer cost more than was reserved).
// A settlement Redis could not be reached for is kept and sent again from the plugin's tick, so a
// Redis restart or failover loses no charge; one Redis refused (an error reply) is logged and dropped.
import { logError, logWarn } from "../abi/log";
import { StoreCallback, Store, StoreReply } from "../store/store";
import { subChecked } from "../util/int64";
import { count, countBy, metrics } from "./metrics";
import { evalScript } from "../store/eval";
import { SETTLE_SCRIPT, SETTLE_SCRIPT_SHA } from "./scripts";
import { LimitUnit, WindowSpan } from "./windows";

/** Settlements waiting for Redis to come back, at most this many (the oldest stay, new ones are logged lost). */
const MAX_PENDING = 10000;
/** Retries happen once a tick (a second): this is ten minutes of Redis being away. */
const MAX_ATTEMPTS = 600;

class Settlement {
  attempts: i32 = 0;
  constructor(
    public store: Store,
    public key: string,
    public reserved: i64,
    public used: i64,
    /** The command, or the keys and arguments of SETTLE_SCRIPT when `script`. */
    public args: Array<string>,
    public script: bool,
  ) {}

  send(): bool {
    const reply = new SettlementReply(this);
    if (this.script) return evalScript(this.store, SETTLE_SCRIPT_SHA, SETTLE_SCRIPT, this.args, reply);
    return this.store.command(this.args, reply);
  }
}

let pending = new Array<Settlement>();

/** Not tied to its stream: a settlement must land even when the client is gone. */
class SettlementReply extends StoreCallback {
  constructor(public settlement: Settlement) { super(0); }

  onReply(reply: StoreReply): void {
    if (!reply.isError()) return;
    const s = this.settlement;
    // A value means Redis answered with an error: sending it again would get the same answer.
    if (reply.value !== null) logLost(s, reply.error);
    else keepForRetry(s, reply.error);
  }
}

function logLost(s: Settlement, reason: string): void {
  count(metrics().settlementsFailed);
  let line = "ai-quota: charge of " + s.used.toString() + " tokens to " + s.key + " failed: " + reason;
  if (s.reserved != 0) line += " (the reservation of " + s.reserved.toString() + " stays charged)";
  logError(line);
}

function keepForRetry(s: Settlement, reason: string): void {
  if (s.attempts >= MAX_ATTEMPTS || pending.length >= MAX_PENDING) {
    logLost(s, reason + "; gave up after " + s.attempts.toString() + " retries");
    return;
  }
  if (s.attempts == 0) logWarn("ai-quota: charge of " + s.used.toString() + " tokens to " + s.key + " failed: " + reason + "; will retry");
  pending.push(s);
}

function dispatch(s: Settlement): void {
  countBy(metrics().tokensCharged, s.used);
  if (!s.send()) keepForRetry(s, "cannot connect to redis cluster");
}

/** Sends again what Redis could not be reached for; called from the plugin's tick. */
export function retryPendingSettlements(): void {
  if (pending.length == 0) return;
  const due = pending;
  pending = new Array<Settlement>();
  for (let i = 0; i < due.length; i++) {
    const s = due[i];
    s.attempts++;
    if (!s.send()) keepForRetry(s, "cannot connect to redis cluster");
  }
}

export function pendingSettlements(): i32 {
  return pending.length;
}

/** Charges `used` against a request that reserved `reserved`; sends nothing when they are equal. */
export function settle(store: Store, key: string, reserved: i64, used: i64): void {
  let args: Array<string>;
  if (reserved == 0) {
    if (used <= 0) return;
    args = ["DECRBY", key, used.toString()];
  } else {
    const back = subChecked(reserved, used);
    if (!back.ok) {
      logLost(new Settlement(store, key, reserved, used, [], false), "amount out of range");
      return;
    }
    if (back.value == 0) return;
    args = ["INCRBY", key, back.value.toString()];
  }
  dispatch(new Settlement(store, key, reserved, used, args, false));
}

/**
 * Settlement when windows counted the request: the balance as in `settle`, and each token window
 * gets the usage in place of what the admission added (the reservation). Request windows were
 * counted at admission and stay. One script, so balance and windows move together.
 */
export function settleWithWindows(store: Store, key: string, checkBalance: bool, windows: Array<WindowSpan>, now: i64, reserved: i64, used: i64): void {
  const back = subChecked(reserved, used);
  if (!back.ok) {
    logLost(new Settlement(store, key, reserved, used, [], false), "amount out of range");
    return;
  }
  const balanceAdd: i64 = checkBalance ? (reserved == 0 ? -used : back.value) : 0;
  const keys = new Array<string>();
  const args = new Array<string>();
  args.push(balanceAdd.toString());
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i];
    if (w.limit.unit != LimitUnit.Tokens) continue;
    keys.push(w.key);
    args.push((-back.value).toString());
    args.push((w.end - now).toString());
  }
  if (keys.length == 0) {
    if (checkBalance) settle(store, key, reserved, used);
    return;
  }
  if (back.value == 0 && balanceAdd == 0) return;
  const all = [(keys.length + 1).toString(), key].concat(keys).concat(args);
  dispatch(new Settlement(store, key, reserved, used, all, true));
}
