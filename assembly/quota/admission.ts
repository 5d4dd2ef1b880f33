// Admission: may this consumer's request go upstream? Higress's way is one GET and a check that
// the balance is above zero. With a reservation, one Lua script checks the balance and takes the
// reservation in the same step, so concurrent requests cannot all spend the same balance.
import { StoreCallback, Store, StoreReply } from "../store/store";
import { RespType, RespValue } from "../redis/resp";
import { ADMIT_SCRIPT, ADMIT_SCRIPT_SHA, WINDOW_ADMIT_SCRIPT, WINDOW_ADMIT_SCRIPT_SHA } from "./scripts";
import { evalScript } from "../store/eval";
import { LimitUnit, WindowSpan } from "./windows";

export enum AdmissionKind {
  Admitted,
  /** Missing key, not an integer, or not enough balance. */
  Denied,
  /** Redis could not answer: the failure policy decides. */
  Failed,
}

export class Admission {
  /** When a window refused: which one (index into the limits), else -1. */
  window: i32 = -1;
  /** Failed without an answer from Redis: the admission may or may not have been applied. */
  unanswered: bool = false;

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
  /** The verdict came after the stream ended: whatever the admission took must be given back. */
  onAdmissionAfterEnd(admission: Admission): void {}
}

/**
 * Starts an admission; false when the command could not be sent (treat as a Redis failure).
 * `marker`/`markerSeconds`: the request's marker key and its lifetime ("0": none), see scripts.ts.
 */
export function admit(store: Store, key: string, marker: string, markerSeconds: string, reservation: i64, minimum: i64, listener: AdmissionListener): bool {
  if (reservation == 0 && minimum <= 1 && markerSeconds == "0") {
    return store.command(["GET", key], new BalanceReply(listener));
  }
  const args = ["2", key, marker, reservation.toString(), minimum.toString(), markerSeconds];
  return evalScript(store, ADMIT_SCRIPT_SHA, ADMIT_SCRIPT, args, new ScriptReply(listener));
}

/** Admission that also counts the consumer's windows; `checkBalance` false skips the balance key. */
export function admitWithWindows(store: Store, key: string, marker: string, markerSeconds: string, windows: Array<WindowSpan>, now: i64, checkBalance: bool, reservation: i64, minimum: i64, listener: AdmissionListener): bool {
  const args = [(windows.length + 2).toString(), key, marker];
  for (let i = 0; i < windows.length; i++) args.push(windows[i].key);
  args.push(checkBalance ? "1" : "0");
  args.push(reservation.toString());
  args.push(minimum.toString());
  args.push(markerSeconds);
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i];
    args.push(w.limit.unit == LimitUnit.Requests ? "r" : "t");
    args.push(w.limit.limit.toString());
    args.push(w.remaining(now).toString());
  }
  return evalScript(store, WINDOW_ADMIT_SCRIPT_SHA, WINDOW_ADMIT_SCRIPT, args, new ScriptReply(listener));
}

function failed(reason: string): Admission {
  return new Admission(AdmissionKind.Failed, 0, false, reason);
}

function denied(reason: string): Admission {
  return new Admission(AdmissionKind.Denied, 0, false, reason);
}

/** Higress's check: the key must hold an integer above zero. */
class BalanceReply extends StoreCallback {
  constructor(public listener: AdmissionListener) { super(listener.contextId); }

  onReply(reply: StoreReply): void {
    this.listener.onAdmission(readBalance(reply));
  }

  onStreamGone(reply: StoreReply): void {
    this.listener.onAdmissionAfterEnd(readBalance(reply));
  }
}

function readBalance(reply: StoreReply): Admission {
  if (reply.isError()) return failed(reply.error);
  const v = reply.value!;
  if (v.type == RespType.Null) return denied("no quota set");
  const n = v.toInteger();
  if (!n.ok) return denied("balance is not an integer");
  if (n.value <= 0) return new Admission(AdmissionKind.Denied, n.value, true, "no quota left");
  return new Admission(AdmissionKind.Admitted, n.value, true, "");
}

class ScriptReply extends StoreCallback {
  constructor(public listener: AdmissionListener) { super(listener.contextId); }

  onReply(reply: StoreReply): void {
    this.listener.onAdmission(readScriptReply(reply));
  }

  onStreamGone(reply: StoreReply): void {
    this.listener.onAdmissionAfterEnd(readScriptReply(reply));
  }
}

function readScriptReply(reply: StoreReply): Admission {
  if (reply.isError()) {
    const a = failed(reply.error);
    a.unanswered = reply.value === null;
    return a;
  }
  const v = reply.value!;
  if (v.type != RespType.Array || v.items.length < 2 || v.items[0].type != RespType.Integer) return failed("unexpected admission reply");
  const status = v.items[0].integer;
  const balance = v.items[1].toInteger();
  if (status == 1 && balance.ok) return new Admission(AdmissionKind.Admitted, balance.value, true, "");
  if (status == 0 && balance.ok) return new Admission(AdmissionKind.Denied, balance.value, true, "balance below the reservation");
  if (status == -1) return denied("no quota set");
  if (status == -2) return denied("balance is not an integer");
  if (status == -3 && v.items[1].type == RespType.Integer) {
    const a = denied("window full");
    a.window = <i32>v.items[1].integer - 1;
    return a;
  }
  return failed("unexpected admission reply");
}
