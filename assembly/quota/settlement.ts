// Settling a request once its answer is known: the consumer pays what the model used. Without a
// reservation that is Higress's DECRBY of the usage; with one, a single INCRBY gives back the
// reservation minus the usage (negative when the answer cost more than was reserved).
import { logError } from "../abi/log";
import { StoreCallback, Store, StoreReply } from "../store/store";
import { subChecked } from "../util/int64";
import { count, countBy, metrics } from "./metrics";
import { evalScript } from "../store/eval";
import { SETTLE_SCRIPT, SETTLE_SCRIPT_SHA } from "./scripts";
import { LimitUnit, WindowSpan } from "./windows";

/** Not tied to its stream: a settlement must land even when the client is gone. */
class SettlementReply extends StoreCallback {
  constructor(public key: string, public reserved: i64, public used: i64) { super(0); }

  onReply(reply: StoreReply): void {
    if (reply.isError()) logLost(this.key, this.reserved, this.used, reply.error);
  }
}

function logLost(key: string, reserved: i64, used: i64, reason: string): void {
  count(metrics().settlementsFailed);
  let line = "ai-quota: charge of " + used.toString() + " tokens to " + key + " failed: " + reason;
  if (reserved != 0) line += " (the reservation of " + reserved.toString() + " stays charged)";
  logError(line);
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
      logLost(key, reserved, used, "amount out of range");
      return;
    }
    if (back.value == 0) return;
    args = ["INCRBY", key, back.value.toString()];
  }
  countBy(metrics().tokensCharged, used);
  if (!store.command(args, new SettlementReply(key, reserved, used))) logLost(key, reserved, used, "cannot connect to redis cluster");
}

/**
 * Settlement when windows counted the request: the balance as in `settle`, and each token window
 * gets the usage in place of what the admission added (the reservation). Request windows were
 * counted at admission and stay. One script, so balance and windows move together.
 */
export function settleWithWindows(store: Store, key: string, checkBalance: bool, windows: Array<WindowSpan>, now: i64, reserved: i64, used: i64): void {
  const back = subChecked(reserved, used);
  if (!back.ok) {
    logLost(key, reserved, used, "amount out of range");
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
  countBy(metrics().tokensCharged, used);
  const all = [(keys.length + 1).toString(), key].concat(keys).concat(args);
  if (!evalScript(store, SETTLE_SCRIPT_SHA, SETTLE_SCRIPT, all, new SettlementReply(key, reserved, used))) {
    logLost(key, reserved, used, "cannot connect to redis cluster");
  }
}
