// One admitted request's account: who pays (the consumer, its tier, its keys and windows), what the
// admission took (the reservation, the marker it left), and the one settlement that closes it. The
// stream (stream.ts) tells the story of the request; this is the ledger entry it keeps while it does.
//
// The settlement decides what an answer cost: what it reported when it ended normally; else what
// `missing_usage` says (an estimate by default, never below what was reported, never above what the
// request allowed). An upstream error that reported nothing and produced nothing costs nothing.
import { debugEnabled, logDebug, logInfo, logWarn } from "../abi/log";
import { blockBytes, propertyPath, streamPropertyBlock } from "../abi/stream";
import { nowSeconds } from "../abi/clock";
import { Store } from "../store/store";
import { TokenUsage, largerUsage, usageFromAiLog } from "../usage/index";
import { ResponseReader } from "../usage/response_reader";
import { estimateUsage } from "../usage/estimate";
import { API_CHAT, API_GEMINI, API_MESSAGES, API_RESPONSES } from "../usage/text_estimate";
import { MissingUsage, QuotaConfig } from "./config";
import { ApiKind } from "./routes";
import { WindowSpan, windowsAt } from "./windows";
import { Admission, AdmissionListener, admit, admitWithWindows } from "./admission";
import { Tier } from "./tiers";
import { ConsumerKeys, keysFor } from "./keys";
import { RequestBodyReader } from "../request/reader";
import { Charge, settle } from "./settlement";
import { count, metrics } from "../metrics/metrics";
import { boundEstimate, outputLimitOr } from "./estimate_bounds";
import { countApiUnits } from "./api_metrics";
import { spendRecord } from "./spend_history";

const AI_LOG = propertyPath(["ai_log"]);
/** Output assumed for a background Responses call with no output limit (responses_background: estimate). */
const BACKGROUND_OUTPUT: i64 = 4096;
/** An account's keys and windows before admission (never written to). */
const NO_KEYS = new ConsumerKeys("", "", "", "");
const NO_WINDOWS = new Array<WindowSpan>(0);

/** What the stream saw of the request and its answer, as the settlement needs it (one instance, refilled: use it at once). */
export class Outcome {
  api: ApiKind = ApiKind.None;
  /** A flat-cost request (`other_paths: {action: charge}`): its body and answer are not read. */
  flat: bool = false;
  body: RequestBodyReader | null = null;
  response: ResponseReader | null = null;
  responseStatus: i32 = 0;
  /** The client sent the whole request. */
  requestEnded: bool = false;
  /** The answer ended normally (end of stream or trailers), rather than being cut. */
  responseEnded: bool = false;
  /** The answer came with a content-encoding: its bytes cannot be read, only counted. */
  encodedResponse: bool = false;
  /** Counts the upstream put in the response headers (Bedrock InvokeModel), read whatever the body's encoding. */
  headerUsage: TokenUsage | null = null;
}

export const outcome = new Outcome();

export class Account {
  consumer: string = "";
  /** Keyed by address; only the anonymous limits apply, never a balance. */
  anonymousClient: bool = false;
  /** The consumer's tier (tiers.ts); null: the top-level limits and balance. */
  tier: Tier | null = null;
  /** Every Redis key of this request's consumer (or anonymous client), see keys.ts. */
  keys: ConsumerKeys = NO_KEYS;
  /** This request's marker key in Redis, and whether its admission wrote it (see scripts.ts). */
  marker: string = "";
  admissionMarked: bool = false;
  reserved: i64 = 0;
  /** The windows this request was counted in (empty when no limits apply). */
  windows: Array<WindowSpan> = NO_WINDOWS;
  /** Settled (or given back): nothing more is charged, whatever else happens to the stream. */
  settled: bool = false;

  constructor(public config: QuotaConfig, public store: Store) {}

  balanceKey(): string {
    return this.keys.balance;
  }

  /**
   * Sends the admission of this request (`reservation` taken from the balance, its windows counted);
   * false when it could not be sent. The marker it leaves is what its settlement consumes.
   */
  beginAdmission(reservation: i64, contextId: u32, requestId: string, listener: AdmissionListener): bool {
    const c = this.config;
    const policy = c.policy;
    const minimum: i64 = policy.requireFullReservation && reservation > 1 ? reservation : 1;
    this.reserved = reservation;
    this.keys = keysFor(c.redisKeyPrefix, this.consumer, this.anonymousClient);
    const key = this.keys.balance;
    const tier = this.tier;
    const limits = this.anonymousClient ? c.anonymousLimits! : tier !== null ? tier.limits : c.limits;
    // A scripted admission leaves a marker that its settlement consumes (see scripts.ts); Higress's
    // GET path has none, and its settlement claims a marker of its own instead.
    const scripted = reservation > 0 || minimum > 1 || limits.length > 0;
    this.admissionMarked = scripted && c.settlementRetrySeconds > 0;
    this.marker = this.keys.newMarker(contextId, requestId);
    const markerSeconds: i64 = this.admissionMarked ? 3600 + <i64>c.settlementRetrySeconds : 0;
    if (limits.length == 0) return admit(this.store, key, this.marker, markerSeconds, reservation, minimum, listener);
    const now = nowSeconds();
    this.windows = windowsAt(limits, this.keys, now);
    return admitWithWindows(this.store, key, this.marker, markerSeconds, this.windows, now, this.checksBalance(), reservation, minimum, listener);
  }

  /** The window that refused the admission, if one did. */
  refusingWindow(a: Admission): WindowSpan | null {
    return a.window >= 0 && a.window < this.windows.length ? this.windows[a.window] : null;
  }

  /**
   * Windows at or above their soft limit (`soft` in limits): the first such one, for the answer's
   * header ("" when none); the first admission in a window to be there (the script sets a flag once
   * per window) logs it.
   */
  noteSoftLimits(states: Array<i32>): string {
    let first = "";
    const windows = this.windows;
    for (let i = 0; i < states.length && i < windows.length; i++) {
      const state = states[i];
      if (state == 0) continue;
      const l = windows[i].limit;
      const what = l.soft.toString() + " of " + l.limit.toString() + " " + l.unitName() + " per " + l.windowName;
      count(metrics().softLimitOver);
      if (first.length == 0) first = what;
      if (state == 2) {
        count(metrics().softLimitReached);
        logWarn("ai-quota: soft limit: " + this.consumer + " reached " + what);
      }
    }
    return first;
  }

  /**
   * `shadow: true`: the balance or a window would refuse this request; it is counted, logged and
   * admitted. The refused admission wrote nothing (scripts.ts), so there is no reservation and no
   * marker: the settlement claims one of its own and charges the usage once, as Higress's does.
   */
  admitInShadow(a: Admission, contextId: u32, requestId: string): void {
    let reason = "no quota left";
    const w = this.refusingWindow(a);
    if (w !== null) {
      const l = w.limit;
      reason = "quota exceeded: " + l.limit.toString() + " " + l.unitName() + " per " + l.windowName;
      count(metrics().shadowWindow);
    } else {
      count(metrics().shadowNoQuota);
    }
    logInfo("ai-quota: shadow: " + this.consumer + " would be refused (" + reason + "), admitted");
    this.reserved = 0;
    this.admissionMarked = false;
    this.marker = this.keys.newMarker(contextId, requestId);
  }

  /**
   * Redis may have taken the reservation and counted the windows before its answer was lost: give
   * them back, once, if (and only if) the admission's marker shows it happened.
   */
  undoLostAdmission(a: Admission, api: ApiKind, contextId: u32, requestId: string): void {
    if (!a.unanswered || !this.admissionMarked) return;
    this.charge(api, 0, true);
    this.admissionMarked = false;
    this.marker = this.keys.newMarker(contextId, requestId);
  }

  /** Whether the Higress balance is checked and charged: never for anonymous clients; else by tier or `balance`. */
  checksBalance(): bool {
    if (this.anonymousClient) return false;
    const tier = this.tier;
    return tier !== null ? tier.useBalance : this.config.useBalance;
  }

  /** An admitted request that will never be answered by the model: everything it took goes back. */
  giveBack(api: ApiKind): void {
    if (this.settled) return;
    this.settled = true;
    this.charge(api, 0, true);
  }

  /**
   * Sends what the request owes (`used`); `undoAdmission` also gives back the request windows' count.
   * `model`, `input`, `output`: what the spend history records of a charge (spend_history.ts).
   */
  charge(api: ApiKind, used: i64, undoAdmission: bool, model: string = "", input: i64 = 0, output: i64 = 0): void {
    if (!undoAdmission) countApiUnits(api, used);
    this.send(used, undoAdmission, model, input, output);
  }

  private send(used: i64, undoAdmission: bool, model: string, input: i64, output: i64): void {
    const c = this.config;
    const history = c.spendHistory;
    // Spend history records charges only: never a give-back (nothing used), never an anonymous client.
    const record = history !== null && !undoAdmission && used > 0 && !this.anonymousClient;
    // The clock is read only where windows or the history need it.
    const now: i64 = this.windows.length > 0 || record ? nowSeconds() : 0;
    const charge = new Charge(this.store, this.balanceKey(), this.marker, this.checksBalance(), this.windows, now, this.reserved, used,
      c.settlementRetrySeconds, this.admissionMarked, undoAdmission);
    if (record) charge.history = spendRecord(history!, this.keys, now, model, input, output);
    settle(charge);
  }

  /** The one settlement of an admitted request (see the top of this file). */
  settleOnce(o: Outcome): void {
    if (this.settled) return;
    this.settled = true;
    if (o.flat) {
      this.settleFlat(o);
      return;
    }
    const reader = o.response;
    if (reader !== null && !o.encodedResponse) reader.finish();
    const reported = reportedUsage(o);
    const found = reported !== null && reported.found;
    // An answer the plugin cannot read (compressed; a Bedrock stream whose framing failed its checks).
    const unreadable = o.encodedResponse || (reader !== null && reader.unreadable);
    const produced = reader === null ? 0 : unreadable ? reader.bodyBytes : reader.contentBytes;
    // Partial usage (one side only, or Anthropic's provisional output) is estimated for the rest:
    // TGI's streams and Ollama without prompt_eval_count report no input count.
    if (found && o.responseEnded && reported!.complete(produced)) {
      this.chargeUsage(o, this.cost(o, reported!), reported!);
      return;
    }
    if (!found && produced == 0 && o.responseStatus >= 400) {
      this.releaseOrKeep(o, "upstream error without usage");
      return;
    }
    if (!found && reader === null && !o.requestEnded && !sentWholeDocument(o)) {
      // The client left before its request ended, and what it sent is not one whole JSON document:
      // no upstream can have parsed it. (A whole document without END_STREAM can be: an upstream
      // that has the bytes its content-length announced reads them, so that costs the estimate.)
      this.releaseOrKeep(o, "request never complete");
      return;
    }
    const policy = this.config.policy;
    if (policy.missingUsage == MissingUsage.None) {
      if (found) this.chargeUsage(o, this.cost(o, reported!), reported!);
      else this.releaseOrKeep(o, "no token usage found");
      return;
    }
    if (policy.missingUsage == MissingUsage.Reservation) {
      let used: i64 = found ? this.cost(o, reported!) : 0;
      if (this.reserved > used) used = this.reserved;
      if (used == 0 && !found) {
        if (debugEnabled()) logDebug("ai-quota: no token usage found for " + this.consumer + ", nothing charged");
        return;
      }
      if (found) this.charge(o.api, used, false, modelOf(o, reported!), reported!.input, reported!.output);
      else this.charge(o.api, used, false, modelOf(o, null));
      return;
    }
    const body = o.body;
    const estimate = estimateUsage(inputEstimate(o), reader, unreadable, !o.responseEnded, textFamily(o.api), body !== null && body.facts.text.tools);
    if (found) {
      // What was reported is a floor for each count.
      if (reported!.input > estimate.input) estimate.input = reported!.input;
      if (reported!.output > estimate.output) estimate.output = reported!.output;
    }
    addBackgroundOutput(o, estimate);
    boundEstimate(estimate, found ? reported : null, body === null ? null : body.facts, policy.statefulInputTokens);
    let used = this.cost(o, estimate);
    if (!policy.releaseIncomplete && this.reserved > used) used = this.reserved;
    count(metrics().estimated);
    if (debugEnabled()) logDebug("ai-quota: no complete usage for " + this.consumer + ", charging the estimate " + used.toString());
    this.charge(o.api, used, false, modelOf(o, found ? reported : estimate), estimate.input, estimate.output);
  }

  /**
   * A flat-cost request: `request_cost` once the upstream had it, whatever its answer says, unless
   * the upstream refused it (status >= 400) or the client left before sending it whole with no
   * answer: then the reservation goes back.
   */
  private settleFlat(o: Outcome): void {
    if (o.responseStatus >= 400) {
      this.releaseOrKeep(o, "upstream error");
      return;
    }
    if (o.responseStatus == 0 && !o.requestEnded) {
      this.releaseOrKeep(o, "request never complete");
      return;
    }
    this.chargeUsage(o, this.config.otherPaths.requestCost, null);
  }

  /** Nothing was used: the reservation goes back, or stays as the charge with `on_incomplete: charge_reserved`. */
  private releaseOrKeep(o: Outcome, why: string): void {
    const release = this.reserved > 0 && (o.responseStatus >= 400 || this.config.policy.releaseIncomplete);
    if (debugEnabled()) {
      const what = this.reserved == 0 ? "nothing charged" : release ? "reservation released" : "reservation kept as the charge";
      logDebug("ai-quota: " + why + " for " + this.consumer + ", " + what);
    }
    if (release) this.charge(o.api, 0, false);
    // A reservation kept as the charge was taken at admission: with spend history on, a settlement
    // of nothing (it consumes the admission's marker) records it.
    else if (this.reserved > 0 && this.config.spendHistory !== null) this.send(this.reserved, false, o.flat ? "" : modelOf(o, null), 0, 0);
  }

  /** Units for a usage: weighted by the model the answer names, else the one the request asked for. */
  private cost(o: Outcome, usage: TokenUsage): i64 {
    const weights = this.config.weights;
    if (weights.isIdentity()) return usage.total();
    return weights.cost(modelOf(o, usage), usage.input, usage.output);
  }

  /** Charges `used`; `usage` (null for a flat-cost request) is what the spend history records. */
  private chargeUsage(o: Outcome, used: i64, usage: TokenUsage | null): void {
    if (debugEnabled()) logDebug("ai-quota: charging " + this.consumer + " " + used.toString() + " tokens (reserved " + this.reserved.toString() + ")");
    if (usage === null) this.charge(o.api, used, false);
    else this.charge(o.api, used, false, modelOf(o, usage), usage.input, usage.output);
  }
}

/** The model a charge is for: the one the answer names, else the one the request asked for ("" for a flat-cost request). */
function modelOf(o: Outcome, usage: TokenUsage | null): string {
  if (o.flat) return "";
  if (usage !== null && usage.model.length > 0) return usage.model;
  const body = o.body;
  return body !== null ? body.facts.model : "";
}

/** A background Responses call (when the operator lets it through) is charged its output limit. */
function addBackgroundOutput(o: Outcome, estimate: TokenUsage): void {
  const body = o.body;
  if (body === null || !body.facts.background || o.api != ApiKind.OpenAIResponses) return;
  const facts = body.facts;
  let output: i64 = outputLimitOr(facts, BACKGROUND_OUTPUT);
  if (facts.choices > 1 && output <= i64.MAX_VALUE / facts.choices) output *= facts.choices;
  if (output > estimate.output) estimate.output = output;
}

/** The body sent so far is one whole JSON document (a request that ended at its headers has none). */
function sentWholeDocument(o: Outcome): bool {
  const body = o.body;
  return body !== null && body.rootClosed;
}

/** The request's input tokens estimated from the text its body carried (counted as it streamed). */
function inputEstimate(o: Outcome): i64 {
  const body = o.body;
  if (body === null) return 0;
  return body.facts.text.tokens(textFamily(o.api));
}

/** The route's API family as the estimates know them (usage/text_estimate.ts API_*). */
function textFamily(api: ApiKind): i32 {
  return api == ApiKind.AnthropicMessages ? API_MESSAGES : api == ApiKind.OpenAIResponses ? API_RESPONSES
    : api == ApiKind.GeminiGenerate || api == ApiKind.GeminiStream ? API_GEMINI : API_CHAT;
}

/** What the body scan found, and ai-statistics' `ai_log` where it says more (usage/ailog.ts largerUsage). */
function reportedUsage(o: Outcome): TokenUsage | null {
  const reader = o.response;
  let own: TokenUsage | null = reader === null || o.encodedResponse || reader.unreadable ? null : reader.usage;
  // The header counts and the body's own, per side the larger (a Claude body reports its usage too).
  const fromHeaders = o.headerUsage;
  if (fromHeaders !== null) own = largerUsage(fromHeaders, own);
  const block = streamPropertyBlock(AI_LOG);
  if (block != 0) {
    const aiLog = new Uint8Array(<i32>blockBytes());
    memory.copy(aiLog.dataStart, block, <usize>aiLog.length);
    heap.free(block);
    const fromLog = usageFromAiLog(aiLog);
    if (fromLog !== null) return largerUsage(fromLog, own);
  }
  return own;
}
