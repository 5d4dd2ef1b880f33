// One HTTP stream through ai-quota, top to bottom:
//   request headers  → identify the consumer, route the path;
//                      metered: ask for an uncompressed answer, then admit against the balance
//                      in Redis while the request waits (reservation max_tokens: read the body first);
//                      admin query: answer from Redis; admin refresh/delta: read the form body;
//   request body     → metered: read it as it streams (model, stream flags, limits) and add
//                      stream_options.include_usage where the client did not ask for usage;
//                      held bodies: the max_tokens estimate, or the admin form;
//   response         → read the model's answer for token usage (hiding the usage event we asked for);
//   end / log        → settle once: the usage, or an estimate when the answer reported none.
//
// Hosts differ in one way that shapes this file: stock proxy-wasm-cpp-host (Envoy, Istio) turns a
// request-header StopIteration into "stop everything", so no body arrives until the stream is
// resumed. Where the body must be read before deciding, the plain-Envoy build lets the headers go
// on and holds the body instead; Higress (ABI 0.2.100) may hold the headers too (headersMayWaitForBody).
import { Action, DataAction } from "../abi/types";
import { HttpContext, RootContext } from "../abi/context";
import { debugEnabled, logDebug, logInfo, logWarn } from "../abi/log";
import { blockBytes, removeRequestHeaderNamed, removeResponseHeaderNamed, requestHeaderBlock, responseHeaderBlock, resumeRequest, setResponseHeader, setStreamProperty, streamProperty } from "../abi/stream";
import { nameBytes } from "../abi/headers";
import { bufferLimitRaisable, defaultHeldBodyLimit, headersMayWaitForBody, injectHeldResponse } from "../abi/host_traits";
import { readRequestBody, readResponseBody, rewriteRequestBody, rewriteResponseBody } from "../abi/body_view";
import { Store } from "../store/store";
import { decodeUtf8 } from "../util/utf8";
import { ResponseReader, giveBackResponseReader, takeResponseReader } from "../usage/response_reader";
import { QuotaConfig, ReservationMode } from "./config";
import { ApiKind, Operation, answersBatch, bedrockAnswerFormat, isNativeApi, limitFamilyOf, routeOfAt } from "./routes";
import { operationName } from "./operation-name";
import { IdentityKind, RequestLine, anonymousKey, readRequestLineAt } from "./identity";
import { windowsAt } from "./windows";
import { TierVerdict, tierOf } from "./tiers";
import { keysFor } from "./keys";
import { nowSeconds } from "../abi/clock";
import { AdminCaller, deltaQuota, queryQuota, refreshQuota } from "./admin";
import { Admission, AdmissionKind, AdmissionListener, admit, admitWithWindows } from "./admission";
import { reservationFor } from "./estimate";
import { RequestBodyReader, giveBackRequestBodyReader, takeRequestBodyReader } from "../request/reader";
import { count, metrics } from "../metrics/metrics";
import * as answers from "./answers";
import { UNREADABLE_USAGE_OPTION, unreadableReason } from "../request/verdict";
import { RuleBook } from "./rule_book";
import { REDIS_UNREACHABLE } from "../redis/reply";
import { Account, outcome } from "./account";
import { bedrockHeaderUsage, readResponseHead } from "./response_head";
import { TokenUsage } from "../usage/token_usage";
import { FormCollector } from "./admin_form";
import { queryUsage } from "./admin_usage";
import { OtherPathAction, allowsPath } from "./other_paths";
import { countApiRequest } from "./api_metrics";

/** What a stream holds before its request picks a config: never used (an unmatched stream does nothing). */
const UNBOUND_CONFIG = new QuotaConfig();
const UNBOUND_STORE = new Store();
const UNBOUND_ACCOUNT = new Account(UNBOUND_CONFIG, UNBOUND_STORE);

// Header names and property paths the request flow passes to the host, encoded once.
const ACCEPT_ENCODING = nameBytes("accept-encoding");
const CONTENT_LENGTH = nameBytes("content-length");
/** Set on an answer whose request was admitted at or above a window's soft limit. */
const SOFT_LIMIT_HEADER = "x-ai-quota-soft-limit";

/** Admin form bodies are a few dozen bytes; anything this large is not one. */
const MAX_ADMIN_BODY: u32 = 64 * 1024;
/** Room above a held body's cap in the buffer limit we ask Higress for. */
const BUFFER_SLACK: u64 = 16 * 1024;

/** Where the request side of a stream is. */
enum Phase {
  /** Not ours, or admitted: the request flows (a metered body is read as it passes). */
  Passing,
  /** The body is held until it is complete: the max_tokens estimate, or an admin form. */
  ReadingBody,
  /** Waiting for the store: an admission, or an admin call's answer. */
  Waiting,
  /** Answered or refused locally: nothing more goes upstream. */
  Answered,
}

export class QuotaStream extends HttpContext {
  operation: Operation = Operation.None;
  api: ApiKind = ApiKind.None;
  phase: Phase = Phase.Passing;
  /** Inside one of this stream's request callbacks: a decision taken now is returned, not resumed. */
  private inRequestCallback: bool = false;
  /** The request was admitted during its own callback: that callback answers Continue. */
  private passedInCallback: bool = false;
  /** Admission passed and the request went upstream: it must be settled, exactly once. */
  admitted: bool = false;
  balance: i64 = 0;
  hasBalance: bool = false;
  /** The metered request's body as it streams (null: no body, or not metered). */
  body: RequestBodyReader | null = null;
  /** Bytes of a held body read so far. */
  private bodySeen: u32 = 0;
  /** An admin form as it arrives (held bodies show each chunk once). */
  private form: FormCollector | null = null;
  response: ResponseReader | null = null;
  responseStatus: i32 = 0;
  /** The client sent the whole request (so an admitted one reached the upstream whole). */
  requestEnded: bool = false;
  /** The answer ended normally (end of stream or trailers), rather than being cut. */
  responseEnded: bool = false;
  /** The answer came with a content-encoding: its bytes cannot be read, only counted. */
  encodedResponse: bool = false;
  /** Bedrock InvokeModel's token counts from the response headers (null: none). */
  headerUsage: TokenUsage | null = null;
  /** The upstream answered before the request was admitted (it never got the whole request). */
  upstreamAnsweredEarly: bool = false;
  /** Envoy's x-request-id (a UUID it makes per request), part of the marker's unique id. */
  requestId: string = "";
  /** The first window at or above its soft limit at admission ("80 of 100 requests per day"), for the answer's header. */
  softLimit: string = "";

  /** Given when the request headers arrive (rule_book.ts picks the rule); inert until then. */
  config: QuotaConfig = UNBOUND_CONFIG;
  store: Store = UNBOUND_STORE;
  /** Who pays, what the admission took, and the settlement (account.ts); given with the config. */
  account: Account = UNBOUND_ACCOUNT;

  constructor(id: u32, root: RootContext, public rules: RuleBook) {
    super(id, root);
  }

  // ---- request ----

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    if (endOfStream) this.requestEnded = true;
    this.inRequestCallback = true;
    const action = this.requestHeaders(endOfStream);
    this.inRequestCallback = false;
    return this.takePassed() ? Action.Continue : action;
  }

  onRequestBody(size: u32, endOfStream: bool): DataAction {
    if (endOfStream) this.requestEnded = true;
    this.inRequestCallback = true;
    const action = this.requestBody(size, endOfStream);
    this.inRequestCallback = false;
    return this.takePassed() ? DataAction.Continue : action;
  }

  /** Trailers end the request too: a body we wait for is complete now. */
  onRequestTrailers(numTrailers: u32): Action {
    this.requestEnded = true;
    this.inRequestCallback = true;
    const action = this.requestTrailers();
    this.inRequestCallback = false;
    return this.takePassed() ? Action.Continue : action;
  }

  private takePassed(): bool {
    const passed = this.passedInCallback;
    this.passedInCallback = false;
    return passed;
  }

  private requestHeaders(endOfStream: bool): Action {
    // The route's rule (or the global config); none: the request is not ours, nothing else runs.
    const binding = this.rules.bindingForRequest();
    if (binding === null) return Action.Continue;
    this.config = binding.config;
    this.store = binding.store;
    this.account = new Account(binding.config, binding.store);
    const c = this.config;
    // The header map is read where the host wrote it; only what is used is decoded.
    const block = requestHeaderBlock();
    const line = readRequestLineAt(block, block == 0 ? 0 : blockBytes(), c.trustConsumerHeader, c.anonymousLimits !== null && c.xffNumTrustedHops > 0, c.tiers.headerBytes);
    const route = routeOfAt(line.pathPtr, line.pathLen, c.routes);
    // Read while the header map and the route's lowered path are: `other_paths.allow` looks at both.
    const allowed = route.operation == Operation.None && allowsPath(c.otherPaths, line.methodPtr, line.methodLen, route.plainPtr, route.plainLen);
    if (block != 0) heap.free(block);
    this.operation = route.operation;
    this.api = route.api;
    const rawQuery = route.rawQuery;
    this.requestId = line.requestId;
    const identity = line.identity;
    switch (identity.kind) {
      case IdentityKind.Missing:
        if (c.anonymousLimits !== null) return this.anonymous(line, endOfStream, allowed);
        return this.refuse(Phase.Answered, answers.denyNoKey);
      case IdentityKind.Empty:
        return this.refuse(Phase.Answered, answers.denyUnauthorizedConsumer);
      case IdentityKind.Invalid:
        answers.denyBadConsumer(identity.problem);
        this.phase = Phase.Answered;
        return Action.StopIteration;
      default:
        break;
    }
    this.account.consumer = identity.consumer;
    if (debugEnabled()) logDebug("ai-quota: consumer " + this.account.consumer + " operation " + operationName(this.operation));

    if (this.operation == Operation.None) {
      if (!this.chargesOtherPath(allowed)) return this.otherPath(allowed);
      this.operation = Operation.Flat;
    }
    if (this.operation == Operation.Chat || this.operation == Operation.Flat) {
      const choice = tierOf(c.tiers, this.account.consumer, line.tierCount, line.tierValue);
      if (choice.verdict != TierVerdict.Chosen) {
        answers.denyBadTier(choice.verdict == TierVerdict.Repeated ? c.tiers.header + " sent more than once" : c.tiers.header + " names no configured tier");
        this.phase = Phase.Answered;
        return Action.StopIteration;
      }
      this.account.tier = choice.tier;
      return this.operation == Operation.Flat ? this.flatHeaders() : this.meteredHeaders(endOfStream);
    }
    if (this.account.consumer != c.adminConsumer) return this.refuse(Phase.Answered, answers.denyNotAdmin);
    count(metrics().adminCalls);
    if (this.operation == Operation.AdminQuery || this.operation == Operation.AdminUsage) {
      // No body is needed: stopping everything (what cpp-host makes of StopIteration) is right.
      this.phase = (this.operation == Operation.AdminUsage ? queryUsage(this.store, c, new AdminStream(this), rawQuery)
        : queryQuota(this.store, c.redisKeyPrefix, c.limits, c.tiers, new AdminStream(this), rawQuery)) ? Phase.Waiting : Phase.Answered;
      return Action.StopIteration;
    }
    // Refresh and delta carry a form body; a request that ends here has an empty one.
    if (endOfStream) {
      this.updateFromForm(new Uint8Array(0));
      return Action.StopIteration;
    }
    this.phase = Phase.ReadingBody;
    this.raiseBufferLimit(MAX_ADMIN_BODY);
    return this.waitForBody();
  }

  /** Sends a refusal and stops the request (the reply takes over the stream). */
  private refuse(phase: Phase, deny: () => void): Action {
    deny();
    this.phase = phase;
    return Action.StopIteration;
  }

  /**
   * The headers of a request whose body must be read before deciding. Higress holds the headers too;
   * elsewhere they go on alone (a header StopIteration would stop the body as well), the body is held
   * at this filter, and an upstream answer that comes before ours is held (onResponseHeaders).
   */
  private waitForBody(): Action {
    return headersMayWaitForBody() ? Action.StopIteration : Action.Continue;
  }

  /**
   * A path neither metered nor admin, as `other_paths` says (other_paths.ts): listings and health
   * checks in `allow` pass; the rest passes (Higress), or is refused. Charging is decided before.
   */
  private otherPath(allowed: bool): Action {
    const other = this.config.otherPaths;
    if (allowed) {
      count(metrics().otherAllowed);
      return Action.Continue;
    }
    if (other.action == OtherPathAction.Pass) {
      count(metrics().otherPassed);
      return Action.Continue;
    }
    return this.refuse(Phase.Answered, answers.denyOtherPath);
  }

  /** Whether this request to a path neither metered nor admin is admitted at a flat cost (not in `allow`). */
  private chargesOtherPath(allowed: bool): bool {
    return !allowed && this.config.otherPaths.action == OtherPathAction.Charge;
  }

  /**
   * A request charged `other_paths.request_cost` (no body or answer of it is read): admitted while
   * the balance is positive, with the cost reserved so that concurrent ones cannot overspend.
   */
  private flatHeaders(): Action {
    return this.admit() ? Action.StopAllIterationAndWatermark : Action.StopIteration;
  }

  /** No consumer, and the operator limits anonymous clients by address instead of refusing them. */
  private anonymous(line: RequestLine, endOfStream: bool, allowed: bool): Action {
    if (this.operation == Operation.None) {
      if (!this.chargesOtherPath(allowed)) return this.otherPath(allowed);
      this.operation = Operation.Flat;
    }
    const peer = streamProperty(["source", "address"]);
    const key = anonymousKey(peer === null ? "" : decodeUtf8(peer.dataStart, peer.length), line.forwardedFor, this.config.xffNumTrustedHops);
    if ((this.operation != Operation.Chat && this.operation != Operation.Flat) || key.length == 0) return this.refuse(Phase.Answered, answers.denyNoKey);
    this.account.consumer = key;
    this.account.anonymousClient = true;
    return this.operation == Operation.Flat ? this.flatHeaders() : this.meteredHeaders(endOfStream);
  }

  /** A metered call: ask for an answer we can read, then admit now or after the body. */
  private meteredHeaders(endOfStream: bool): Action {
    const policy = this.config.policy;
    // Usage cannot be read from compressed bytes (Higress's AI plugins drop it too).
    removeRequestHeaderNamed(ACCEPT_ENCODING);
    if (!endOfStream) {
      const inject = policy.injectStreamUsage && (this.api == ApiKind.OpenAIChat || this.api == ApiKind.OpenAICompletions);
      this.body = takeRequestBodyReader(inject, this.config.wantsModel(), limitFamilyOf(this.api));
      // The body may grow by the option we add: its length is no longer known (chunked upstream).
      if (inject) removeRequestHeaderNamed(CONTENT_LENGTH);
    }
    if (policy.reservation == ReservationMode.MaxTokens && !endOfStream) {
      this.phase = Phase.ReadingBody;
      this.raiseBufferLimit(this.maxHeldBody());
      return this.waitForBody();
    }
    return this.admit() ? Action.StopAllIterationAndWatermark : Action.StopIteration;
  }

  private requestBody(size: u32, endOfStream: bool): DataAction {
    switch (this.phase) {
      case Phase.Passing:
        if (this.admitted && this.body !== null) return this.passBody(size, endOfStream);
        return DataAction.Continue;
      case Phase.ReadingBody:
        return this.readHeldBody(size, endOfStream);
      default:
        // Waiting or answered: whatever arrives stays here.
        return DataAction.StopIterationAndBuffer;
    }
  }

  private requestTrailers(): Action {
    if (this.phase == Phase.Passing) return Action.Continue;
    if (this.phase != Phase.ReadingBody) return Action.StopIteration;
    if (this.operation == Operation.Chat) {
      this.bodyComplete();
      return Action.StopIteration;
    }
    const form = this.form;
    this.updateFromForm(form === null ? new Uint8Array(0) : form.bytes());
    return Action.StopIteration;
  }

  /** An admitted request's body on its way upstream: read it, and add the usage option if it is due. */
  private passBody(size: u32, endOfStream: bool): DataAction {
    // A root closed in an earlier chunk went upstream whole: what follows it cannot be refused.
    const rootSentBefore = this.body!.rootEndedOnce;
    this.passChunk(size, endOfStream);
    if (!rootSentBefore && this.unreadableBody()) {
      // As for background: this chunk never leaves, so no upstream has the document it shows.
      answers.denyUnreadableBody();
      this.phase = Phase.Answered;
      this.giveBack();
      return DataAction.StopIterationNoBuffer;
    }
    if (this.refusesBackground()) {
      // The chunk that says so never leaves; the upstream's half request is reset with the reply.
      answers.denyBackground();
      this.phase = Phase.Answered;
      this.giveBack();
      return DataAction.StopIterationNoBuffer;
    }
    return DataAction.Continue;
  }

  /** Reads a request chunk, editing it where the usage option goes. */
  private passChunk(size: u32, endOfStream: bool): void {
    rewriteRequestBody<RequestBodyReader>(size, endOfStream, this.body!);
  }

  /** The body cannot be read as every upstream will read it (request/verdict.ts). */
  private unreadableBody(): bool {
    const body = this.body;
    if (body === null) return false;
    const reason = body.cannotAskUsage ? UNREADABLE_USAGE_OPTION : body.facts.unreadable;
    if (reason == 0) return false;
    if (debugEnabled()) logDebug("ai-quota: request body refused: " + unreadableReason(reason));
    return true;
  }

  private refusesBackground(): bool {
    const body = this.body;
    return body !== null && body.facts.background && this.api == ApiKind.OpenAIResponses && !this.config.policy.allowBackground;
  }

  /**
   * A body held until it is complete. Each chunk is held with StopIterationAndWatermark, which
   * shows every callback its own chunk once on every Envoy (after StopIterationAndBuffer, Envoy
   * 1.27 — Higress's fork — shows only what was held before the chunk, so a body's last chunk is
   * never seen; Envoy >= 1.32 shows it). The chunk can still be edited before it is held. A hold
   * past Envoy's buffer limit stops the client instead of failing it, so the plugin refuses past
   * its own cap first (413), and on Higress raises the limit above that cap.
   */
  private readHeldBody(size: u32, endOfStream: bool): DataAction {
    const isChat = this.operation == Operation.Chat;
    const cap = isChat ? this.maxHeldBody() : MAX_ADMIN_BODY;
    if (<u64>this.bodySeen + <u64>size > <u64>cap) {
      this.refuse(Phase.Answered, answers.denyBodyTooLarge);
      return DataAction.StopIterationNoBuffer;
    }
    this.bodySeen += size;
    if (isChat) {
      this.passChunk(size, endOfStream);
      if (endOfStream) this.bodyComplete();
    } else {
      let form = this.form;
      if (form === null) {
        form = new FormCollector(MAX_ADMIN_BODY);
        this.form = form;
      }
      readRequestBody<FormCollector>(0, size, form);
      if (endOfStream) this.updateFromForm(form.bytes());
    }
    return DataAction.StopIterationAndWatermark;
  }

  /** The held chat body is complete: admit (or refuse a background call the operator does not meter). */
  private bodyComplete(): void {
    const reader = this.body!;
    reader.finish();
    if (this.unreadableBody()) {
      this.refuse(Phase.Answered, answers.denyUnreadableBody);
      return;
    }
    if (this.refusesBackground()) {
      this.refuse(Phase.Answered, answers.denyBackground);
      return;
    }
    if (this.upstreamAnsweredEarly) {
      // The upstream already answered without the body: nothing to admit or charge.
      this.phase = Phase.Passing;
      this.passedInCallback = this.inRequestCallback;
      if (!this.inRequestCallback) resumeRequest();
      return;
    }
    this.admit();
  }

  /** The most a chat body may be held: the operator's cap, else what the host's buffers allow. */
  private maxHeldBody(): u32 {
    const configured = this.config.policy.maxRequestBodyBytes;
    return configured > 0 ? configured : defaultHeldBodyLimit();
  }

  /** Higress answers 413 past its buffer limit (32 KiB by default) unless a filter raises it. */
  private raiseBufferLimit(bytes: u32): void {
    if (bufferLimitRaisable()) setStreamProperty("set_decoder_buffer_limit", (<u64>bytes + BUFFER_SLACK).toString());
  }

  /**
   * Starts the admission; true while it waits for the store. False: decided at once (the store could
   * not be reached), and either admitted (the callback answers Continue) or refused.
   */
  private admit(): bool {
    const c = this.config;
    const policy = c.policy;
    let reservation: i64 = 0;
    if (this.operation == Operation.Flat) reservation = c.otherPaths.requestCost;
    else if (policy.reservation == ReservationMode.Fixed) reservation = policy.reservationTokens;
    else if (policy.reservation == ReservationMode.MaxTokens) reservation = reservationFor(this.body, policy.reservationTokens, policy.reservationCap, this.config.weights);
    this.phase = Phase.Waiting;
    if (this.account.beginAdmission(reservation, this.id, this.requestId, new WaitingStream(this))) return true;
    this.onAdmission(new Admission(AdmissionKind.Failed, 0, false, REDIS_UNREACHABLE));
    return false;
  }

  onAdmission(a: Admission): void {
    const account = this.account;
    if (a.kind == AdmissionKind.Admitted) {
      if (a.soft !== null) this.softLimit = account.noteSoftLimits(a.soft!);
      this.pass(a.balance, a.hasBalance);
      return;
    }
    if (a.kind == AdmissionKind.Failed) {
      count(metrics().redisErrors);
      account.undoLostAdmission(a, this.api, this.id, this.requestId);
    }
    if (a.kind == AdmissionKind.Denied && !a.permanent && this.config.policy.shadow) {
      account.admitInShadow(a, this.id, this.requestId);
      this.pass(a.balance, a.hasBalance);
      return;
    }
    if (a.kind == AdmissionKind.Failed && this.config.policy.allowOnRedisFailure) {
      logWarn("ai-quota: redis failed (" + a.reason + "), admitting " + account.consumer + " by redis_failure: allow");
      // Nothing was reserved; the usage is charged at the end if Redis is back by then.
      account.reserved = 0;
      this.pass(0, false);
      return;
    }
    if (debugEnabled()) logDebug("ai-quota: " + account.consumer + " denied: " + a.reason);
    account.reserved = 0;
    this.phase = Phase.Answered;
    const w = account.refusingWindow(a);
    if (w !== null) {
      const l = w.limit;
      answers.denyWindow(l.status, "Quota exceeded: " + l.limit.toString() + " " + l.unitName() + " per " + l.windowName, w.remaining(nowSeconds()));
      return;
    }
    answers.denyNoQuota(this.config.noQuotaStatus, this.config.noQuotaJson);
  }

  /**
   * The admission's answer came after the client left: what it took is given back, once. A request
   * that never reached the upstream must not cost its reservation.
   */
  onAdmissionAfterEnd(a: Admission): void {
    if (a.kind == AdmissionKind.Admitted) {
      if (debugEnabled()) logDebug("ai-quota: " + this.account.consumer + " left before admission; giving back what it took");
      this.account.giveBack(this.api);
      return;
    }
    if (a.kind == AdmissionKind.Failed) this.account.undoLostAdmission(a, this.api, this.id, this.requestId);
  }

  private pass(balance: i64, hasBalance: bool): void {
    count(metrics().admitted);
    if (this.operation == Operation.Flat) count(metrics().otherCharged);
    else countApiRequest(this.api);
    this.admitted = true;
    this.balance = balance;
    this.hasBalance = hasBalance;
    this.phase = Phase.Passing;
    if (this.upstreamAnsweredEarly) {
      // The upstream answered without the whole request: what the admission took goes back.
      this.giveBack();
    }
    // Resuming from inside the stream's own callback would be lost (Envoy runs the deferred
    // continue before the callback's answer): the callback answers Continue instead.
    if (this.inRequestCallback) this.passedInCallback = true;
    else resumeRequest();
  }

  /** An admitted request that will never be answered by the model: everything it took goes back. */
  private giveBack(): void {
    this.account.giveBack(this.api);
  }

  private updateFromForm(body: Uint8Array): void {
    const form = decodeUtf8(body.dataStart, body.length);
    const prefix = this.config.redisKeyPrefix;
    const caller = new AdminStream(this);
    const waiting = this.operation == Operation.AdminRefresh ? refreshQuota(this.store, prefix, caller, form) : deltaQuota(this.store, prefix, caller, form);
    this.phase = waiting ? Phase.Waiting : Phase.Answered;
  }

  // ---- response ----

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    if (!this.admitted) return this.earlyAnswer();
    // One host call for the three headers read (the map is walked in place).
    const block = responseHeaderBlock();
    const head = readResponseHead(block, block == 0 ? 0 : blockBytes(), this.api == ApiKind.BedrockInvoke);
    if (block != 0) heap.free(block);
    if (head.input >= 0 || head.output >= 0) this.headerUsage = bedrockHeaderUsage(head);
    this.responseStatus = head.status;
    this.encodedResponse = head.encoded;
    const sse = head.sse;
    if (this.operation == Operation.Flat) return this.flatResponseHeaders(endOfStream);
    const body = this.body;
    const hide = body !== null && body.injected && !this.encodedResponse;
    this.response = takeResponseReader(sse, hide, this.config.wantsModel());
    this.response!.scan.setNativeApi(isNativeApi(this.api), answersBatch(this.api));
    // Bedrock's Converse JSON and event streams (an error's JSON body is read as any other).
    const bedrock = bedrockAnswerFormat(this.api);
    if (bedrock != 0 && this.responseStatus < 400 && !this.encodedResponse) this.response!.readAsBedrock(bedrock);
    this.response!.scan.setCohere(this.api == ApiKind.CohereChat || this.api == ApiKind.CohereEmbed);
    // Hiding the usage event we asked for changes the body's length.
    if (hide) removeResponseHeaderNamed(CONTENT_LENGTH);
    this.setQuotaHeaders();
    if (endOfStream) this.endResponse();
    return Action.Continue;
  }

  /** A flat-cost request's answer is not read: its status decides the charge (settleFlat). */
  private flatResponseHeaders(endOfStream: bool): Action {
    this.setQuotaHeaders();
    if (endOfStream) this.endResponse();
    return Action.Continue;
  }

  /** The balance after admission (`remaining_header`) and a soft limit reached, on the answer. */
  private setQuotaHeaders(): void {
    const header = this.config.policy.remainingHeader;
    if (header.length > 0 && this.hasBalance) setResponseHeader(header, this.balance.toString());
    if (this.softLimit.length > 0) setResponseHeader(SOFT_LIMIT_HEADER, this.softLimit);
  }

  /**
   * An upstream answer before the request was admitted. An admin call's own answer must win, so the
   * upstream's is held (our local reply then replaces it); a metered call the upstream answered
   * without its whole request passes, and its admission, if any comes, is given back.
   */
  private earlyAnswer(): Action {
    const waiting = this.phase == Phase.ReadingBody || this.phase == Phase.Waiting;
    if (!waiting || this.operation == Operation.None) return Action.Continue;
    if (this.operation != Operation.Chat && this.operation != Operation.Flat) return Action.StopIteration;
    this.upstreamAnsweredEarly = true;
    return Action.Continue;
  }

  onResponseBody(size: u32, endOfStream: bool): DataAction {
    const reader = this.response;
    if (reader === null || this.account.settled) {
      if (endOfStream && this.admitted && this.operation == Operation.Flat) this.endResponse();
      return DataAction.Continue;
    }
    if (this.encodedResponse) {
      reader.bodyBytes += <i64>size;
    } else if (reader.hideUsageEvents) {
      rewriteResponseBody<ResponseReader>(size, endOfStream, reader);
    } else {
      readResponseBody<ResponseReader>(size, reader);
    }
    if (endOfStream) this.endResponse();
    return DataAction.Continue;
  }

  onResponseTrailers(numTrailers: u32): Action {
    if (!this.admitted) return Action.Continue;
    this.endResponse();
    // The hider may still hold the start of an unterminated last SSE block: it goes out before the trailers.
    const reader = this.response;
    if (reader === null) return Action.Continue;
    const held = reader.takeHeld();
    if (held === null) return Action.Continue;
    const n = held.length;
    if (n > 0 && !injectHeldResponse(held.dataStart, n)) {
      logWarn("ai-quota: " + n.toString() + " held response bytes lost: this host cannot send body data at trailers");
    }
    return Action.Continue;
  }

  private endResponse(): void {
    this.responseEnded = true;
    this.settleOnce();
  }

  /**
   * Runs for every stream, cut or complete: a request admitted and not yet settled is settled now.
   * HTTP/3 calls on_log after on_delete (Envoy's conn_manager_impl.cc), so whichever comes first.
   */
  onLog(): void {
    if (this.admitted && !this.account.settled) this.settleOnce();
  }

  onDelete(): void {
    if (this.admitted && !this.account.settled) this.settleOnce();
    // The readers go back to their pools: nothing reads them after the settlement.
    const body = this.body;
    if (body !== null) {
      this.body = null;
      giveBackRequestBodyReader(body);
    }
    const response = this.response;
    if (response !== null) {
      this.response = null;
      giveBackResponseReader(response);
    }
  }

  // ---- settlement ----

  /** The one settlement (account.ts), with what this stream saw of the request and its answer. */
  private settleOnce(): void {
    const o = outcome;
    o.api = this.api;
    o.flat = this.operation == Operation.Flat;
    o.body = this.body;
    o.response = this.response;
    o.responseStatus = this.responseStatus;
    o.requestEnded = this.requestEnded;
    o.responseEnded = this.responseEnded;
    o.encodedResponse = this.encodedResponse;
    o.headerUsage = this.headerUsage;
    this.account.settleOnce(o);
    o.body = null;
    o.response = null;
    o.headerUsage = null;
  }
}

/** The admission's continuation: resumes this stream with the verdict, or gives back what it took. */
class WaitingStream extends AdmissionListener {
  constructor(public stream: QuotaStream) { super(stream.id); }
  onAdmission(a: Admission): void {
    this.stream.onAdmission(a);
  }
  onAdmissionAfterEnd(a: Admission): void {
    this.stream.onAdmissionAfterEnd(a);
  }
}

/** An admin call's stream: once its answer goes out, an upstream answer is no longer held for it. */
class AdminStream extends AdminCaller {
  constructor(public stream: QuotaStream) { super(stream.id); }
  answering(): void {
    this.stream.phase = Phase.Answered;
  }
}
