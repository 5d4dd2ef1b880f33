// Admission: may this consumer's request go upstream? Higress's way is one GET and a check that
// the balance is above zero. With a reservation, one Lua script checks the balance and takes the
// reservation in the same step, so concurrent requests cannot all spend the same balance.
import { StoreCallback, Store, StoreReply } from "../store/store";
import { RespType, RespValue } from "../redis/resp";
import { parseInt64Strict } from "../util/int64";

export enum AdmissionKind {
  Admitted,
  /** Missing key, not an integer, or not enough balance. */
  Denied,
  /** Redis could not answer: the failure policy decides. */
  Failed,
}

export class Admission {
  constructor(
    public kind: AdmissionKind,
    /** The balance after the reservation was taken (valid when `hasBalance`). */
    public balance: i64,
    public hasBalance: bool,
    public reason: string,
  ) {}
}

/** The stream waiting for its admission. */
export class AdmissionListener {
  constructor(public contextId: u32) {}
  onAdmission(admission: Admission): void {}
}

// KEYS[1]: the balance key, in Higress's format (an integer string).
// ARGV[1]: the reservation; ARGV[2]: the least balance that admits.
// Reply: {1, balance after} admitted; {0, balance} too low; {-1, 0} no key; {-2, 0} not an integer.
export const ADMIT_SCRIPT = `-- ai-quota admission
local v = redis.call("GET", KEYS[1])
if not v then return {-1, 0} end
if not string.match(v, "^-?%d+$") then return {-2, 0} end
local balance = tonumber(v)
if balance < tonumber(ARGV[2]) then return {0, v} end
local r = tonumber(ARGV[1])
if r > 0 then return {1, redis.call("DECRBY", KEYS[1], ARGV[1])} end
return {1, v}
`;
/** SHA-1 of ADMIT_SCRIPT; a test checks it against the script the plugin sends with EVAL. */
export const ADMIT_SCRIPT_SHA = "8581ecee1dff259599e6f650a9568f12070879d3";

/** Starts an admission; false when the command could not be sent (treat as a Redis failure). */
export function admit(store: Store, key: string, reservation: i64, minimum: i64, listener: AdmissionListener): bool {
  if (reservation == 0 && minimum <= 1) {
    return store.command(["GET", key], new BalanceReply(listener));
  }
  const args = ["EVALSHA", ADMIT_SCRIPT_SHA, "1", key, reservation.toString(), minimum.toString()];
  return store.command(args, new ScriptReply(store, listener, key, reservation, minimum, false));
}

function failed(reason: string): Admission {
  return new Admission(AdmissionKind.Failed, 0, false, reason);
}

function denied(reason: string): Admission {
  return new Admission(AdmissionKind.Denied, 0, false, reason);
}

/** An integer from an Integer reply or an integer string; null for anything else. */
function integerOf(v: RespValue): ParsedBalance {
  if (v.type == RespType.Integer) return new ParsedBalance(true, v.integer);
  if (v.type == RespType.BulkString || v.type == RespType.SimpleString) {
    const n = parseInt64Strict(v.text);
    return new ParsedBalance(n.ok, n.value);
  }
  return new ParsedBalance(false, 0);
}

class ParsedBalance {
  constructor(public ok: bool, public value: i64) {}
}

/** Higress's check: the key must hold an integer above zero. */
class BalanceReply extends StoreCallback {
  constructor(public listener: AdmissionListener) { super(listener.contextId); }

  onReply(reply: StoreReply): void {
    this.listener.onAdmission(readBalance(reply));
  }
}

function readBalance(reply: StoreReply): Admission {
  if (reply.isError()) return failed(reply.error);
  const v = reply.value!;
  if (v.type == RespType.Null) return denied("no quota set");
  const n = integerOf(v);
  if (!n.ok) return denied("balance is not an integer");
  if (n.value <= 0) return new Admission(AdmissionKind.Denied, n.value, true, "no quota left");
  return new Admission(AdmissionKind.Admitted, n.value, true, "");
}

class ScriptReply extends StoreCallback {
  constructor(
    public store: Store,
    public listener: AdmissionListener,
    public key: string,
    public reservation: i64,
    public minimum: i64,
    public sentScript: bool,
  ) { super(listener.contextId); }

  onReply(reply: StoreReply): void {
    if (reply.isError() && !this.sentScript && reply.error.startsWith("NOSCRIPT")) {
      // Redis restarted or flushed its scripts: send the script itself once (it is cached again).
      const args = ["EVAL", ADMIT_SCRIPT, "1", this.key, this.reservation.toString(), this.minimum.toString()];
      const retry = new ScriptReply(this.store, this.listener, this.key, this.reservation, this.minimum, true);
      if (this.store.command(args, retry)) return;
      this.listener.onAdmission(failed("cannot connect to redis cluster"));
      return;
    }
    this.listener.onAdmission(readScriptReply(reply));
  }
}

function readScriptReply(reply: StoreReply): Admission {
  if (reply.isError()) return failed(reply.error);
  const v = reply.value!;
  if (v.type != RespType.Array || v.items.length != 2 || v.items[0].type != RespType.Integer) return failed("unexpected admission reply");
  const status = v.items[0].integer;
  const balance = integerOf(v.items[1]);
  if (status == 1 && balance.ok) return new Admission(AdmissionKind.Admitted, balance.value, true, "");
  if (status == 0 && balance.ok) return new Admission(AdmissionKind.Denied, balance.value, true, "balance below the reservation");
  if (status == -1) return denied("no quota set");
  if (status == -2) return denied("balance is not an integer");
  return failed("unexpected admission reply");
}
