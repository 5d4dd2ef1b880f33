// One HTTP stream through ai-quota, top to bottom:
//   request headers  → identify the consumer, route the path;
//                      chat: admit against the balance in Redis while the request waits
//                      (reservation mode max_tokens: first read the body for the estimate);
//                      admin query: answer from Redis; admin refresh/delta: wait for the form body;
//   request body     → admin refresh/delta: parse the form and update Redis;
//   response         → scan the model's answer for token usage;
//   end / log        → settle once: charge the usage, or give the reservation back.
import { Action, DataAction } from "../abi/types";
import { HttpContext, RootContext } from "../abi/context";
import { debugEnabled, logDebug, logWarn } from "../abi/log";
import { requestBody, requestHeaders, responseHeader, resumeRequest, setResponseHeader, streamProperty } from "../abi/stream";
import { Store } from "../store/store";
import { decodeUtf8 } from "../util/utf8";
import { TokenUsage, UsageScanner, usageFromAiLog } from "../usage/index";
import { QuotaConfig, ReservationMode } from "./config";
import { ApiKind, Operation, routeOf } from "./routes";
import { IdentityKind, RequestLine, anonymousKey, readRequestLine } from "./identity";
import { WindowSpan, windowsAt } from "./windows";
import { nowNanos, nowSeconds } from "../abi/clock";
import { readResponseBody } from "../abi/body_view";
import { deltaQuota, queryQuota, refreshQuota } from "./admin";
import { Admission, AdmissionKind, AdmissionListener, admit, admitWithWindows } from "./admission";
import { reservationFor } from "./estimate";
import { Charge, settle } from "./settlement";
import { count, metrics } from "./metrics";
import * as answers from "./answers";

/** Admin form bodies are a few dozen bytes; anything this large is not one. */
const MAX_ADMIN_BODY: u32 = 64 * 1024;
/** A chat request read for its max_tokens estimate; larger ones are refused, not buffered. */
const MAX_CHAT_BODY: u32 = 8 * 1024 * 1024;

export class QuotaStream extends HttpContext {
  operation: Operation = Operation.None;
  /** Which API a metered path is (routes.ts). */
  api: ApiKind = ApiKind.Other;
  consumer: string = "";
  /** Chat in max_tokens mode: the body is being read before admission. */
  readingBody: bool = false;
  /** Admin refresh/delta: the form has been read (and answered or sent to Redis). */
  formRead: bool = false;
  /**
   * The request is held: waiting for its body, for Redis, or answered locally. Every later request
   * callback must hold too, or Envoy would let the held headers and body pass upstream.
   */
  holding: bool = false;
  /** Admission passed and the request went upstream: it must be settled, exactly once. */
  admitted: bool = false;
  settled: bool = false;
  reserved: i64 = 0;
  balance: i64 = 0;
  hasBalance: bool = false;
  responseStatus: i32 = 0;
  scanner: UsageScanner | null = null;
  /** This request's marker key in Redis, and whether its admission wrote it (see scripts.ts). */
  marker: string = "";
  admissionMarked: bool = false;
  /** Envoy's x-request-id (a UUID it makes per request), part of the marker's unique id. */
  requestId: string = "";
  /** Keyed by address; only the anonymous limits apply, never a balance. */
  anonymousClient: bool = false;
  /** The windows this request was counted in (empty when no limits apply). */
  windows: Array<WindowSpan> = new Array<WindowSpan>();

  constructor(id: u32, root: RootContext, public config: QuotaConfig, public store: Store) {
    super(id, root);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const line = readRequestLine(requestHeaders(), this.config.trustConsumerHeader);
    const route = routeOf(line.path, this.config.routes);
    this.operation = route.operation;
    this.api = route.api;
    this.requestId = line.requestId;
    const identity = line.identity;
    switch (identity.kind) {
      case IdentityKind.Missing:
        if (this.config.anonymousLimits !== null) return this.anonymous(line);
        answers.denyNoKey();
        return Action.StopIteration;
      case IdentityKind.Empty:
        answers.denyUnauthorizedConsumer();
        return Action.StopIteration;
      case IdentityKind.Invalid:
        answers.denyBadConsumer(identity.problem);
        return Action.StopIteration;
      default:
        break;
    }
    this.consumer = identity.consumer;
    if (debugEnabled()) logDebug("ai-quota: consumer " + this.consumer + " operation " + (<i32>this.operation).toString());

    if (this.operation == Operation.None) return Action.Continue;
    this.holding = true;
    if (this.operation == Operation.Chat) {
      if (this.config.policy.reservation == ReservationMode.MaxTokens && !endOfStream) {
        this.readingBody = true;
        return Action.StopIteration;
      }
      return this.admit(new Uint8Array(0));
    }
    if (this.consumer != this.config.adminConsumer) {
      answers.denyNotAdmin();
      return Action.StopIteration;
    }
    count(metrics().adminCalls);
    if (this.operation == Operation.AdminQuery) {
      queryQuota(this.store, this.config.redisKeyPrefix, this.config.limits, this.id, route.rawQuery);
      return Action.StopIteration;
    }
    // Refresh and delta carry a form body; a request that ends here has an empty one.
    if (endOfStream) {
      this.bodyRead();
      this.updateFromForm(new Uint8Array(0));
    }
    return Action.StopIteration;
  }

  /** No consumer, and the operator limits anonymous clients by address instead of refusing them. */
  private anonymous(line: RequestLine): Action {
    if (this.operation == Operation.None) return Action.Continue;
    const peer = streamProperty(["source", "address"]);
    const key = anonymousKey(peer === null ? "" : decodeUtf8(peer.dataStart, peer.length), line.forwardedFor, this.config.xffNumTrustedHops);
    if (this.operation != Operation.Chat || key.length == 0) {
      answers.denyNoKey();
      return Action.StopIteration;
    }
    this.consumer = key;
    this.anonymousClient = true;
    this.holding = true;
    return this.admit(new Uint8Array(0));
  }

  onRequestBody(size: u32, endOfStream: bool): DataAction {
    if (!this.holding) return DataAction.Continue;
    // A body we wait for is held whole, up to its cap; anything else we hold is only held.
    if (this.bodyPending()) {
      if (size > this.bodyCap()) {
        this.bodyRead();
        answers.denyBodyTooLarge();
      } else if (endOfStream) {
        this.bodyRead();
        this.onWholeBody(requestBody(size));
      }
    }
    return DataAction.StopIterationAndBuffer;
  }

  /** Trailers end the request too: a body we wait for is complete now. */
  onRequestTrailers(numTrailers: u32): Action {
    if (!this.holding) return Action.Continue;
    if (this.bodyPending()) {
      const cap = this.bodyCap();
      const body = requestBody(cap + 1);
      this.bodyRead();
      if (<u32>body.length > cap) answers.denyBodyTooLarge();
      else this.onWholeBody(body);
    }
    return Action.StopIteration;
  }

  /** Waiting for the body: a max_tokens estimate, or an admin form. */
  private bodyPending(): bool {
    if (this.readingBody) return true;
    return !this.formRead && (this.operation == Operation.AdminRefresh || this.operation == Operation.AdminDelta);
  }

  private bodyRead(): void {
    this.readingBody = false;
    this.formRead = true;
  }

  private bodyCap(): u32 {
    return this.operation == Operation.Chat ? MAX_CHAT_BODY : MAX_ADMIN_BODY;
  }

  private onWholeBody(body: Uint8Array): void {
    if (this.operation == Operation.Chat) this.admit(body);
    else this.updateFromForm(body);
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    if (!this.admitted) return Action.Continue;
    const status = responseHeader(":status");
    this.responseStatus = status === null ? 0 : I32.parseInt(status);
    const contentType = responseHeader("content-type");
    const sse = contentType !== null && contentType.toLowerCase().includes("text/event-stream");
    // 0: no cap on an event's size; the scanner never buffers an event, so memory stays bounded anyway.
    this.scanner = new UsageScanner(sse, 0);
    const header = this.config.policy.remainingHeader;
    if (header.length > 0 && this.hasBalance) setResponseHeader(header, this.balance.toString());
    if (endOfStream) this.settleOnce();
    return Action.Continue;
  }

  onResponseBody(size: u32, endOfStream: bool): DataAction {
    const scanner = this.scanner;
    if (scanner === null || this.settled) return DataAction.Continue;
    readResponseBody<UsageScanner>(size, scanner);
    if (endOfStream) this.settleOnce();
    return DataAction.Continue;
  }

  onResponseTrailers(numTrailers: u32): Action {
    if (this.admitted) this.settleOnce();
    return Action.Continue;
  }

  /** Runs for every stream, cut or complete: a request admitted and not yet settled is settled now. */
  onLog(): void {
    if (this.admitted && !this.settled) this.settleOnce();
  }

  private admit(body: Uint8Array): Action {
    const c = this.config;
    const policy = c.policy;
    const checkBalance = c.useBalance && !this.anonymousClient;
    let reservation: i64 = 0;
    if (policy.reservation == ReservationMode.Fixed) reservation = policy.reservationTokens;
    else if (policy.reservation == ReservationMode.MaxTokens) reservation = reservationFor(body, policy.reservationTokens);
    const minimum: i64 = policy.requireFullReservation && reservation > 1 ? reservation : 1;
    this.reserved = reservation;
    const key = c.redisKeyPrefix + this.consumer;
    const limits = this.anonymousClient ? c.anonymousLimits! : c.limits;
    // A scripted admission leaves a marker that its settlement consumes (see scripts.ts); Higress's
    // GET path has none, and its settlement claims a marker of its own instead.
    const scripted = reservation > 0 || minimum > 1 || limits.length > 0;
    this.admissionMarked = scripted && c.settlementRetrySeconds > 0;
    this.marker = markerKey(key, this.id, this.requestId);
    const markerSeconds = this.admissionMarked ? (3600 + c.settlementRetrySeconds).toString() : "0";
    let sent: bool;
    if (limits.length == 0) {
      sent = admit(this.store, key, this.marker, markerSeconds, reservation, minimum, new WaitingStream(this));
    } else {
      const now = nowSeconds();
      this.windows = windowsAt(limits, key, c.redisKeyPrefix, now);
      sent = admitWithWindows(this.store, key, this.marker, markerSeconds, this.windows, now, checkBalance, reservation, minimum, new WaitingStream(this));
    }
    if (!sent) {
      this.onAdmission(new Admission(AdmissionKind.Failed, 0, false, "cannot connect to redis cluster"));
      return Action.StopIteration;
    }
    return Action.StopAllIterationAndWatermark;
  }

  onAdmission(a: Admission): void {
    if (a.kind == AdmissionKind.Admitted) {
      this.pass(a.balance, a.hasBalance);
      return;
    }
    if (a.kind == AdmissionKind.Failed) {
      count(metrics().redisErrors);
      // Redis may have taken the reservation and counted the windows before its answer was lost:
      // give them back, once, if (and only if) the admission's marker shows it happened.
      if (a.unanswered && this.admissionMarked) {
        this.charge(this.config.redisKeyPrefix + this.consumer, 0, true);
        this.admissionMarked = false;
        this.marker = markerKey(this.config.redisKeyPrefix + this.consumer, this.id, this.requestId);
      }
    }
    if (a.kind == AdmissionKind.Failed && this.config.policy.allowOnRedisFailure) {
      logWarn("ai-quota: redis failed (" + a.reason + "), admitting " + this.consumer + " by redis_failure: allow");
      // Nothing was reserved; the usage is charged at the end if Redis is back by then.
      this.reserved = 0;
      this.pass(0, false);
      return;
    }
    if (debugEnabled()) logDebug("ai-quota: " + this.consumer + " denied: " + a.reason);
    this.reserved = 0;
    if (a.window >= 0 && a.window < this.windows.length) {
      const w = this.windows[a.window];
      const l = w.limit;
      answers.denyWindow(l.status, "Quota exceeded: " + l.limit.toString() + " " + l.unitName() + " per " + l.windowName, w.remaining(nowSeconds()));
      return;
    }
    answers.denyNoQuota(this.config.noQuotaStatus, this.config.noQuotaJson);
  }

  private pass(balance: i64, hasBalance: bool): void {
    count(metrics().admitted);
    this.admitted = true;
    this.balance = balance;
    this.hasBalance = hasBalance;
    this.holding = false;
    resumeRequest();
  }

  private updateFromForm(body: Uint8Array): void {
    const form = decodeUtf8(body.dataStart, body.length);
    const prefix = this.config.redisKeyPrefix;
    if (this.operation == Operation.AdminRefresh) refreshQuota(this.store, prefix, this.id, form);
    else deltaQuota(this.store, prefix, this.id, form);
  }

  /**
   * The one settlement of an admitted request: the usage when the answer carried it; else
   * (upstream error, cut stream, no usage reported) the reservation is given back, or kept as
   * the charge when the operator chose `on_incomplete: charge_reserved` (errors always give back).
   */
  private settleOnce(): void {
    if (this.settled) return;
    this.settled = true;
    const key = this.config.redisKeyPrefix + this.consumer;
    const usage = this.usage();
    if (usage !== null && usage.found) {
      const weights = this.config.weights;
      const used = weights.isIdentity() ? usage.total() : weights.cost(usage.model, usage.input, usage.output);
      if (debugEnabled()) logDebug("ai-quota: charging " + this.consumer + " " + used.toString() + " tokens (reserved " + this.reserved.toString() + ")");
      this.settle(key, used);
      return;
    }
    const release = this.reserved > 0 && (this.responseStatus >= 400 || this.config.policy.releaseIncomplete);
    if (debugEnabled()) {
      const what = this.reserved == 0 ? "nothing charged" : release ? "reservation released" : "reservation kept as the charge";
      logDebug("ai-quota: no token usage found for " + this.consumer + ", " + what);
    }
    if (release) this.settle(key, 0);
  }

  private settle(key: string, used: i64): void {
    this.charge(key, used, false);
  }

  private charge(key: string, used: i64, undoAdmission: bool): void {
    const c = this.config;
    const checkBalance = c.useBalance && !this.anonymousClient;
    settle(new Charge(this.store, key, this.marker, checkBalance, this.windows, nowSeconds(), this.reserved, used,
      c.settlementRetrySeconds, this.admissionMarked, undoAdmission));
  }

  /** ai-statistics' `ai_log` when it has counted the tokens; else what the body scan found. */
  private usage(): TokenUsage | null {
    const aiLog = streamProperty(["ai_log"]);
    if (aiLog !== null) {
      const fromLog = usageFromAiLog(aiLog);
      if (fromLog !== null && fromLog.found) return fromLog;
    }
    const scanner = this.scanner;
    if (scanner === null) return null;
    scanner.finish();
    return scanner.usage;
  }
}

/** The admission's continuation: resumes this stream with the verdict. */
class WaitingStream extends AdmissionListener {
  constructor(public stream: QuotaStream) { super(stream.id); }
  onAdmission(a: Admission): void {
    this.stream.onAdmission(a);
  }
}

let settlements: u64 = 0;
let vmStamp: string = "";

/**
 * A request's marker key: not under redis_key_prefix, so tools that list `chat_quota:*` see only
 * balances; the hash tag keeps it in the balance's Redis Cluster slot.
 */
function markerKey(balanceKey: string, contextId: u32, requestId: string): string {
  return "ai_quota_settled:{" + balanceKey + "}:" + settlementId(contextId, requestId);
}

/**
 * Unique among every VM writing to this Redis: when this VM first settled, its stream, a counter,
 * and Envoy's x-request-id. Two VMs can start in the same clock tick, so the stamp alone is not
 * enough; a client-sent x-request-id alone is not either (it could repeat one to settle for free).
 */
function settlementId(contextId: u32, requestId: string): string {
  if (vmStamp.length == 0) vmStamp = nowNanos().toString(36);
  settlements++;
  return vmStamp + "-" + contextId.toString(36) + "-" + settlements.toString(36) + "-" + requestId;
}
