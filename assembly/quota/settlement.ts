// Settling a request once its answer is known: the consumer pays what the model used. Without a
// reservation that is Higress's DECRBY of the usage; with one, a single INCRBY gives back the
// reservation minus the usage (negative when the answer cost more than was reserved).
import { logError } from "../abi/log";
import { StoreCallback, Store, StoreReply } from "../store/store";
import { subChecked } from "../util/int64";
import { count, countBy, metrics } from "./metrics";

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
