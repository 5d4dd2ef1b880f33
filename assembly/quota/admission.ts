// Admission: may this consumer's request go upstream? Higress's way is one GET and a check that
// the balance is above zero. With a reservation, one Lua script checks the balance and takes the
// reservation in the same step, so concurrent requests cannot all spend the same balance.
//
// An error Redis answers that retrying cannot fix (CROSSSLOT, WRONGTYPE, a script refusing its
// arguments…) is not "Redis is down": the request is denied even with `redis_failure: allow`, and
// the error is logged and counted (ai_quota.redis.rejected). Amounts are capped at MAX_AMOUNT.
import { Store } from "../store/store";
import { StoreCallback, StoreReply } from "../redis/reply";
import { RespType, RespValue } from "../redis/resp";
import { ADMIT_SCRIPT, ADMIT_SCRIPT_SHA, MAX_AMOUNT, WINDOW_ADMIT_SCRIPT, WINDOW_ADMIT_SCRIPT_SHA, capAmount } from "./scripts";
import { beginScript, sendScript } from "../store/eval";
import { argBuffer, argInt, argString, beginCommand, endCommand } from "../redis/command";
import { isPermanentError } from "../redis/errors";
import { logError, logWarn } from "../abi/log";
import { count, metrics } from "../metrics/metrics";
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
  /** Denied because Redis refused the command for good (not a matter of policy). */
  permanent: bool = false;
  /**
   * Admitted with windows: per window, 0 below its soft limit, 1 at or above it, 2 the first
   * admission in the window to be there (scripts.ts WINDOW_ADMIT_SCRIPT); null without windows.
   */
  soft: Array<i32> | null = null;

  constructor(
    public kind: AdmissionKind,
    /** The balance after the reservation was taken (valid when `hasBalance`). */
    public balance: i64,
    public hasBalance: bool,
    public reason: string,
  ) {}
}

/**
 * The stream waiting for its admission: also the store's callback, which reads the reply (the GET's
 * balance or the script's verdict) into an Admission.
 */
export class AdmissionListener extends StoreCallback {
  /** The balance key, for messages. */
  key: string = "";
  /** The windows the script counted (null: none). */
  windows: Array<WindowSpan> | null = null;
  /** The reply is a script's verdict (else a GET's balance). */
  script: bool = false;

  constructor(contextId: u32) { super(contextId); }
  onAdmission(admission: Admission): void {}
  /** The verdict came after the stream ended: whatever the admission took must be given back. */
  onAdmissionAfterEnd(admission: Admission): void {}

  onReply(reply: StoreReply): void {
    this.onAdmission(this.verdict(reply));
  }

  onStreamGone(reply: StoreReply): void {
    this.onAdmissionAfterEnd(this.verdict(reply));
  }

  private verdict(reply: StoreReply): Admission {
    return this.script ? readScriptReply(reply, this.key, this.windows) : readBalance(reply, this.key);
  }
}

const GET = String.UTF8.encode("GET");
const ADMIT_SHA = String.UTF8.encode(ADMIT_SCRIPT_SHA);
const WINDOW_ADMIT_SHA = String.UTF8.encode(WINDOW_ADMIT_SCRIPT_SHA);

/**
 * Starts an admission; false when the command could not be sent (treat as a Redis failure).
 * `marker`/`markerSeconds`: the request's marker key and its lifetime (0: none), see scripts.ts.
 */
export function admit(store: Store, key: string, marker: string, markerSeconds: i64, reservation: i64, minimum: i64, listener: AdmissionListener): bool {
  listener.key = key;
  listener.windows = null;
  if (reservation == 0 && minimum <= 1 && markerSeconds == 0) {
    listener.script = false;
    beginCommand();
    argBuffer(GET);
    argString(key);
    return store.send(endCommand(), listener);
  }
  const reserve = capReservation(reservation, key);
  listener.script = true;
  beginScript(ADMIT_SHA);
  argInt(2);
  argString(key);
  argString(marker);
  argInt(reserve);
  argInt(capAmount(minimum));
  argInt(markerSeconds);
  return sendScript(store, ADMIT_SCRIPT, listener);
}

/**
 * A reservation above MAX_AMOUNT reserves MAX_AMOUNT. The settlement caps the same stream's
 * reservation the same way, so what is given back matches what was taken.
 */
function capReservation(reservation: i64, key: string): i64 {
  if (reservation <= MAX_AMOUNT) return reservation;
  logWarn("ai-quota: reservation of " + reservation.toString() + " tokens for " + key + " capped at " + MAX_AMOUNT.toString());
  return MAX_AMOUNT;
}

/** Admission that also counts the consumer's windows; `checkBalance` false skips the balance key. */
export function admitWithWindows(store: Store, key: string, marker: string, markerSeconds: i64, windows: Array<WindowSpan>, now: i64, checkBalance: bool, reservation: i64, minimum: i64, listener: AdmissionListener): bool {
  const reserve = capReservation(reservation, key);
  listener.key = key;
  listener.windows = windows;
  listener.script = true;
  beginScript(WINDOW_ADMIT_SHA);
  argInt(2 * windows.length + 2);
  argString(key);
  argString(marker);
  for (let i = 0; i < windows.length; i++) argString(windows[i].key);
  for (let i = 0; i < windows.length; i++) argString(windows[i].softKey());
  argInt(checkBalance ? 1 : 0);
  argInt(reserve);
  argInt(capAmount(minimum));
  argInt(markerSeconds);
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i];
    argString(w.limit.unit == LimitUnit.Requests ? "r" : "t");
    argInt(w.limit.limit);
    argInt(w.remaining(now));
    argInt(w.limit.soft);
  }
  return sendScript(store, WINDOW_ADMIT_SCRIPT, listener);
}

function failed(reason: string): Admission {
  return new Admission(AdmissionKind.Failed, 0, false, reason);
}

function denied(reason: string): Admission {
  return new Admission(AdmissionKind.Denied, 0, false, reason);
}

/**
 * Redis refused the admission for good: denied whatever the failure policy, and said at error,
 * since only the operator can fix it (a key of the wrong type, keys in different slots…).
 */
function refused(key: string, why: string): Admission {
  count(metrics().redisRejected);
  logError("ai-quota: redis refused the admission of " + key + ": " + why + "; request denied (retrying cannot fix this)");
  const a = denied("redis refused: " + why);
  a.permanent = true;
  return a;
}

/** Higress's check: the key must hold an integer above zero. */
function readBalance(reply: StoreReply, key: string): Admission {
  if (isPermanentError(reply)) return refused(key, reply.error);
  if (reply.isError()) return failed(reply.error);
  const v = reply.value!;
  if (v.type == RespType.Null) return denied("no quota set");
  if (!v.hasInteger()) return denied("balance is not an integer");
  const n = v.integer;
  if (n <= 0) return new Admission(AdmissionKind.Denied, n, true, "no quota left");
  return new Admission(AdmissionKind.Admitted, n, true, "");
}

/** The soft-limit states after the verdict and balance; null when the reply has not one per window. */
function softStates(items: Array<RespValue>, n: i32): Array<i32> | null {
  if (items.length != n + 2) return null;
  const states = new Array<i32>(n);
  for (let i = 0; i < n; i++) {
    const s = items[i + 2];
    if (s.type != RespType.Integer || s.integer < 0 || s.integer > 2) return null;
    states[i] = <i32>s.integer;
  }
  return states;
}

function readScriptReply(reply: StoreReply, key: string, windows: Array<WindowSpan> | null): Admission {
  if (isPermanentError(reply)) return refused(key, reply.error);
  if (reply.isError()) {
    const a = failed(reply.error);
    a.unanswered = reply.value === null;
    return a;
  }
  const v = reply.value!;
  if (v.type != RespType.Array || v.items.length < 2 || v.items[0].type != RespType.Integer) return failed("unexpected admission reply");
  const status = v.items[0].integer;
  const hasBalance = v.items[1].hasInteger();
  const balance = v.items[1].integer;
  if (status == 1 && hasBalance) {
    const a = new Admission(AdmissionKind.Admitted, balance, true, "");
    if (windows !== null && windows.length > 0) a.soft = softStates(v.items, windows.length);
    return a;
  }
  if (status == 0 && hasBalance) return new Admission(AdmissionKind.Denied, balance, true, "balance below the reservation");
  if (status == -1) return denied("no quota set");
  if (status == -2) return denied("balance is not an integer");
  if (status == -4) return refused(key, "the admission script refused its arguments");
  if (status == -6 && v.items[1].type == RespType.Integer) {
    const i = <i32>v.items[1].integer - 1;
    const name = windows !== null && i >= 0 && i < windows.length ? windows[i].key : "a window counter";
    return refused(key, name + " is not an integer Redis can add to");
  }
  if (status == -3 && v.items[1].type == RespType.Integer) {
    const a = denied("window full");
    a.window = <i32>v.items[1].integer - 1;
    return a;
  }
  return failed("unexpected admission reply");
}
