// One HTTP stream through the plugin: a test plays the client (request*) and the upstream
// (response*), and reads what went upstream, what came back downstream, and any local response.
// The plugin's asynchronous work (Redis, HTTP callouts) completes on its own; `settled()` waits,
// event-driven and bounded, until none of it is left for this stream.
import { parseUint32Like } from "./stoul";
import { BufferType, MapType, Status, StreamType } from "./abi-types";
import { Clock } from "./clock";
import { DirectionRules, FilterDirection } from "./filter-direction";
import type { HostFlavour } from "./module-link";
import { Exchange, LocalResponse, StreamPart } from "./exchange";
import { HeaderMap, HeaderPairs } from "./header-map";
import { StreamFacts, WASM_STATE_PREFIX } from "./properties";
import { Signal } from "./signal";
import { ExchangeResult, ExchangeSpec, runExchange } from "./stream-run";

export interface StreamOptions {
  /** `source.address`; default "127.0.0.1:50000". */
  sourceAddress?: string;
  /** `destination.address`; default "127.0.0.1:10000". */
  destinationAddress?: string;
  routeName?: string;
  clusterName?: string;
  /**
   * `request.protocol`; default "HTTP/1.1". "HTTP/3" changes the end of the stream: Envoy logs
   * after proxy_on_delete (see `finish`).
   */
  protocol?: string;
  /** Filter state present from the start, by full key (e.g. "wasm.ai_log"). */
  filterState?: Record<string, string | Uint8Array>;
  /** Run proxy_on_done/log/delete as soon as the response has ended (as Envoy does); default true. */
  autoFinish?: boolean;
  /** Bound for this stream's waits; default 10 s. */
  waitTimeoutMs?: number;
  /** Keep the bodies that pass in `upstream`/`downstream` (default true); a gateway streams instead. */
  record?: boolean;
  /** Called as each part passes the filter towards the upstream: a gateway forwards it from here. */
  onUpstream?: (part: StreamPart) => void;
  /** Called as each part passes the filter towards the client. */
  onDownstream?: (part: StreamPart) => void;
  /**
   * When the host forgets the stream's context after the stream ended (Envoy's deferred delete of
   * the ActiveStream): "next-turn" (default) at the end of this event-loop turn, as Envoy's
   * dispatcher does; "manual" only on `stream.releaseContext()`, so a test can hold the window
   * in which proxy_set_effective_context still accepts the ended stream.
   */
  releaseContext?: "next-turn" | "manual";
}

/** What the stream needs from the VM that runs it. */
export interface StreamHost {
  readonly failed: boolean;
  readonly failOpen: boolean;
  readonly closed: boolean;
  readonly signal: Signal;
  readonly clock: Clock;
  readonly flavour: HostFlavour;
  readonly directionRules: DirectionRules;
  /** The buffer limit every stream starts with (FilterManager::buffer_limit_). */
  readonly bufferLimitBytes: number;
  invoke(contextId: number, name: string, ...args: number[]): number | null;
  /** Runs `action` once the current host turn is over. */
  defer(action: () => void): void;
  /** Runs `action` right after the running plugin callback returns (cpp-host DeferAfterCallActions). */
  afterCall(action: () => void): void;
  drive<T>(fn: () => T): T;
  inflight(contextId: number): number;
  /** The stream ended: it takes no more part in VM-wide events. */
  streamEnded(stream: Stream): void;
  /** The stream's context is gone: proxy_set_effective_context no longer finds it. */
  contextReleased(stream: Stream): void;
  violation(message: string): void;
}

export type BodyInput = string | Uint8Array;

const DEFAULT_WAIT_MS = 10_000;

/** higress-group/envoy context.cc (HIGRESS only): properties that set the stream's buffer limit. */
const SET_DECODER_BUFFER_LIMIT = "set_decoder_buffer_limit";
const SET_ENCODER_BUFFER_LIMIT = "set_encoder_buffer_limit";

export { parseUint32Like as parseBufferLimit } from "./stoul";

function toBuffer(b: BodyInput): Buffer {
  return typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b);
}

export class Stream {
  readonly upstream = new Exchange();
  readonly downstream = new Exchange();
  localResponse: LocalResponse | null = null;
  /** Why the stream ended early (client disconnect, wasm_close_stream, wasm_fail_stream…). */
  resetReason: string | null = null;
  finished = false;
  /** One line per decision, for reading a failing test. */
  readonly trace: string[] = [];
  /** proxy_on_context_create ran for this stream. */
  contextCreated = false;
  /** The host still knows the stream's context (until Envoy's deferred delete; see `releaseContext`). */
  contextAlive = true;

  private readonly filterStateMap = new Map<string, Buffer>();
  private request: FilterDirection;
  private response: FilterDirection;
  private pendingLocal: LocalResponse | null = null;
  /** The plugin asked for a local reply on this stream at least once (Higress: local_reply_hold_). */
  private localReplyAsked = false;
  private upstreamResponseIgnored = false;
  private logPhase = false;
  private failedByVm = false;
  /** HTTP/3: proxy_on_log still to come, when the context is released. */
  private logDeferred = false;
  private limit: number;
  private readonly options: Required<Omit<StreamOptions, "filterState" | "onUpstream" | "onDownstream">>;
  private readonly listeners: { upstream?: (part: StreamPart) => void; downstream?: (part: StreamPart) => void };
  private readonly startNanos: bigint;
  /** The stream as proxy_get_property sees it. */
  readonly facts: StreamFacts;

  constructor(
    private readonly host: StreamHost,
    readonly id: number,
    options: StreamOptions = {},
  ) {
    this.options = {
      sourceAddress: options.sourceAddress ?? "127.0.0.1:50000",
      destinationAddress: options.destinationAddress ?? "127.0.0.1:10000",
      routeName: options.routeName ?? "",
      clusterName: options.clusterName ?? "",
      protocol: options.protocol ?? "HTTP/1.1",
      autoFinish: options.autoFinish ?? true,
      waitTimeoutMs: options.waitTimeoutMs ?? DEFAULT_WAIT_MS,
      record: options.record ?? true,
      releaseContext: options.releaseContext ?? "next-turn",
    };
    this.limit = host.bufferLimitBytes;
    this.listeners = { upstream: options.onUpstream, downstream: options.onDownstream };
    for (const [k, v] of Object.entries(options.filterState ?? {})) this.filterStateMap.set(k, toBuffer(v));
    this.startNanos = host.clock.nowNanos();
    this.request = this.newDirection("request");
    this.response = this.newDirection("response");
    this.facts = this.makeFacts();
  }

  // ---- the client and the upstream ----

  requestHeaders(headers: HeaderPairs, endOfStream = false): void {
    this.host.drive(() => this.request.receiveHeaders(headers, endOfStream));
  }

  requestBody(chunk: BodyInput, endOfStream = false): void {
    this.host.drive(() => this.request.receiveData(toBuffer(chunk), endOfStream));
  }

  requestTrailers(trailers: HeaderPairs): void {
    this.host.drive(() => this.request.receiveTrailers(trailers));
  }

  responseHeaders(headers: HeaderPairs, endOfStream = false): void {
    if (this.upstreamResponseIgnored) return this.note("upstream response headers ignored");
    this.host.drive(() => this.response.receiveHeaders(headers, endOfStream));
  }

  responseBody(chunk: BodyInput, endOfStream = false): void {
    if (this.upstreamResponseIgnored) return this.note("upstream response body ignored");
    this.host.drive(() => this.response.receiveData(toBuffer(chunk), endOfStream));
  }

  responseTrailers(trailers: HeaderPairs): void {
    if (this.upstreamResponseIgnored) return this.note("upstream response trailers ignored");
    this.host.drive(() => this.response.receiveTrailers(trailers));
  }

  /**
   * Ends the stream. Mid-stream it models a client disconnect or an upstream reset; `reason` is
   * kept in `resetReason`. Idempotent. The plugin hears, as Envoy's
   * ConnectionManagerImpl::doDeferredStreamDestroy (conn_manager_impl.cc) does it:
   * - HTTP/1 and HTTP/2: proxy_on_log (filter_manager_.log()), then proxy_on_done and
   *   proxy_on_delete (destroyFilters() → the wasm Context::onDestroy: onDone, onDelete);
   * - HTTP/3 without a reset: proxy_on_done and proxy_on_delete now, proxy_on_log later, when the
   *   QUIC stream is acknowledged (deferHeadersAndTrailers; here: when the context is released).
   */
  finish(reason?: string): void {
    this.host.drive(() => this.end(reason));
  }

  /**
   * The ActiveStream's deferred delete: the context leaves the host's table (cpp-host
   * ~ContextBase erases it from WasmBase::contexts_), so proxy_set_effective_context answers
   * BadArgument for it from now on. For HTTP/3 the deferred proxy_on_log runs first.
   */
  releaseContext(): void {
    if (!this.finished || !this.contextAlive) return;
    if (this.logDeferred) {
      this.logDeferred = false;
      if (!this.host.closed) this.host.drive(() => this.runLog("HTTP/3: after the stream was acknowledged"));
    }
    this.contextAlive = false;
    this.note("context released");
    this.host.contextReleased(this);
  }

  /** Drives a whole exchange; see stream-run.ts. */
  run(spec: ExchangeSpec): Promise<ExchangeResult> {
    return runExchange(this, spec);
  }

  // ---- what a test reads ----

  get paused(): { request: string; response: string } {
    return { request: this.request.pauseState, response: this.response.pauseState };
  }

  /** The source of each direction stopped sending because held data went over the buffer limit. */
  get stalled(): { request: boolean; response: boolean } {
    return { request: this.request.stalled, response: this.response.stalled };
  }

  /** Bytes Envoy's filter manager holds for each direction. */
  get held(): { request: number; response: number } {
    return { request: this.request.heldBytes, response: this.response.heldBytes };
  }

  /** The stream's buffer limit (FilterManager::buffer_limit_), 0 for none. */
  get bufferLimit(): number {
    return this.limit;
  }

  /** Resolves once no callout made for this stream is in flight (each one is bounded by its timeout). */
  settled(timeoutMs = this.options.waitTimeoutMs): Promise<void> {
    return this.waitFor(() => this.host.inflight(this.id) === 0, "its callouts to complete", timeoutMs);
  }

  waitFor(condition: () => boolean, what: string, timeoutMs = this.options.waitTimeoutMs): Promise<void> {
    return this.host.signal.waitUntil(condition, timeoutMs, () => `stream ${this.id}: ${what} (${this.describe()})`);
  }

  describe(): string {
    return [
      `request ${this.request.pauseState}${this.request.stalled ? " (source stopped by flow control)" : ""}`,
      `response ${this.response.pauseState}${this.response.stalled ? " (source stopped by flow control)" : ""}`,
      `callouts in flight ${this.host.inflight(this.id)}`,
      this.localResponse ? `local ${this.localResponse.status}` : "",
      this.finished ? `finished${this.resetReason ? ` (${this.resetReason})` : ""}` : "",
      `trace: ${this.trace.slice(-6).join("; ")}`,
    ].filter((s) => s !== "").join(", ");
  }

  setFilterState(key: string, value: BodyInput): void {
    this.filterStateMap.set(key, toBuffer(value));
  }

  filterState(key: string): Buffer | undefined {
    return this.filterStateMap.get(key);
  }

  // ---- the ABI's view (used by the VM's host calls) ----

  /** The map for a header-map host call, or the status Envoy answers when it is out of reach. */
  headerMap(type: MapType, write: boolean): HeaderMap | Status {
    if (this.logPhase) {
      // The access-log phase reads the final maps; nothing can change them any more.
      if (write) return Status.BadArgument;
      const map = type === MapType.HttpRequestHeaders ? this.request.headers
        : type === MapType.HttpResponseHeaders ? this.response.headers
        : type === MapType.HttpResponseTrailers ? this.response.trailers : null;
      return map ?? Status.NotFound;
    }
    const pick = (dir: FilterDirection, trailers: boolean) =>
      trailers ? (dir.trailersAvailable ? dir.trailers : null) : (dir.headersAvailable ? dir.headers : null);
    const map = type === MapType.HttpRequestHeaders ? pick(this.request, false)
      : type === MapType.HttpRequestTrailers ? pick(this.request, true)
      : type === MapType.HttpResponseHeaders ? pick(this.response, false)
      : type === MapType.HttpResponseTrailers ? pick(this.response, true) : null;
    return map ?? Status.BadArgument;
  }

  readBody(type: BufferType): Buffer {
    // Envoy answers Ok with nothing to read when the body is not at hand, not NotFound.
    const dir = type === BufferType.HttpRequestBody ? this.request : this.response;
    return dir.body() ?? Buffer.alloc(0);
  }

  writeBody(type: BufferType, start: number, length: number, data: Buffer): Status {
    const dir = type === BufferType.HttpRequestBody ? this.request : this.response;
    return dir.editBody(start, length, data) ? Status.Ok : Status.BadArgument;
  }

  setProperty(path: Buffer, value: Buffer): Status {
    const name = path.toString("utf8");
    if (this.host.flavour === "higress" && (name === SET_DECODER_BUFFER_LIMIT || name === SET_ENCODER_BUFFER_LIMIT)) {
      // higress-group/envoy context.cc Context::setProperty (HIGRESS only): both call
      // FilterManager::setBufferLimit, the one limit of the stream. Plain Envoy only stores them.
      const limit = parseUint32Like(value.toString("utf8"));
      if (limit !== null) this.setBufferLimit(limit);
    }
    // Envoy keeps the raw path (NULs and all) under the "wasm." prefix.
    this.filterStateMap.set(WASM_STATE_PREFIX + name, Buffer.from(value));
    return Status.Ok;
  }

  /** FilterManager::setBufferLimit: both directions' held data get the new watermarks. */
  setBufferLimit(limit: number): void {
    this.note(`buffer limit ${this.limit} -> ${limit}`);
    this.limit = limit;
    this.request.limitChanged();
    this.response.limitChanged();
  }

  sendLocalResponse(response: LocalResponse): Status {
    if (this.finished) return Status.Ok; // Envoy: no decoder callbacks any more, nothing happens
    if (this.host.flavour === "higress" && this.localReplyAsked) {
      // higress-group/envoy context.cc Context::sendLocalResponse: local_reply_hold_ refuses every
      // later one (BadArgument, which cpp-host's send_local_response export turns into Ok).
      this.note("a second local response was dropped (Higress local_reply_hold_)");
      return Status.Ok;
    }
    this.localReplyAsked = true;
    if (this.pendingLocal !== null) {
      this.note("a second local response in the same callback was ignored");
      return Status.Ok;
    }
    this.pendingLocal = response;
    this.host.afterCall(() => {
      const pending = this.pendingLocal;
      this.pendingLocal = null;
      if (pending !== null) this.localReply(pending);
    });
    return Status.Ok;
  }

  continueStream(type: StreamType): Status {
    const dir = type === StreamType.HttpRequest ? this.request : type === StreamType.HttpResponse ? this.response : null;
    if (dir === null) return type === StreamType.Upstream ? Status.Unimplemented : Status.Ok;
    // Envoy context.cc Context::continueStream clears the request's map and body pointers for
    // either direction (request_headers_, request_body_buffer_, request_trailers_), and defers
    // continueDecoding()/continueEncoding() to after the callback.
    this.request.forget();
    this.host.afterCall(() => dir.resume());
    return Status.Ok;
  }

  /** Higress's inject_encoded_data_to_filter_chain (higress-profile.ts): the response's next filters get the bytes now. */
  injectEncodedData(body: Buffer, endOfStream: boolean): void {
    this.response.inject(body, endOfStream);
  }

  closeStream(type: StreamType): Status {
    if (type === StreamType.HttpRequest || type === StreamType.HttpResponse) {
      this.host.afterCall(() => this.end("wasm_close_stream"));
    }
    return Status.Ok;
  }

  /** The VM failed: answer 503 like Envoy's failStream, without the plugin. */
  failStream(): void {
    if (this.finished || this.failedByVm) return;
    this.failedByVm = true;
    this.request.close();
    this.response.close();
    this.upstreamResponseIgnored = true;
    if (this.downstream.headers === null) {
      this.localResponse = { status: 503, body: Buffer.alloc(0), headers: [], details: "wasm_fail_stream", grpcStatus: 14 };
      this.emitDownstream([[":status", "503"]], Buffer.alloc(0), false);
    } else {
      this.resetReason = "wasm_fail_stream";
    }
    this.end();
  }

  // ---- internals ----

  private makeFacts(): StreamFacts {
    // Header-derived attributes follow the maps' reach, as Envoy's request/response wrappers do.
    const s = this;
    return {
      requestHeaders: () => (s.logPhase || s.request.headersAvailable ? s.request.headers : null),
      responseHeaders: () => (s.logPhase || s.response.headersAvailable ? s.response.headers : null),
      responseTrailers: () => (s.logPhase || s.response.trailersAvailable ? s.response.trailers : null),
      get sourceAddress() { return s.options.sourceAddress; },
      get destinationAddress() { return s.options.destinationAddress; },
      get routeName() { return s.options.routeName; },
      get clusterName() { return s.options.clusterName; },
      get protocol() { return s.options.protocol; },
      get connectionId() { return s.id; },
      get startTimeNanos() { return s.startNanos; },
      get requestBodyBytes() { return s.request.bytesIn; },
      get responseBodyBytes() { return s.response.bytesIn; },
      get responseCode() {
        const status = s.downstream.headers?.find(([k]) => k === ":status")?.[1];
        return status === undefined ? null : Number(status);
      },
      get responseCodeDetails() {
        return s.localResponse?.details ?? (s.downstream.headers ? "via_upstream" : null);
      },
      get filterState() { return s.filterStateMap; },
    };
  }

  private note(event: string): void {
    this.trace.push(event);
  }

  private newDirection(name: "request" | "response"): FilterDirection {
    const isRequest = name === "request";
    const out = isRequest ? this.upstream : this.downstream;
    const prefix = isRequest ? "proxy_on_request_" : "proxy_on_response_";
    const listener = isRequest ? this.listeners.upstream : this.listeners.downstream;
    return new FilterDirection(name, {
      onHeaders: (n, eos) => this.call(`${prefix}headers`, n, eos ? 1 : 0),
      onBody: (size, eos) => this.call(`${prefix}body`, size, eos ? 1 : 0),
      onTrailers: (n) => this.call(`${prefix}trailers`, n),
      passHeaders: (pairs, eos) => {
        out.headers = pairs;
        listener?.({ kind: "headers", headers: pairs, endOfStream: eos });
        this.passed(out, eos);
      },
      passData: (data, eos) => {
        if (this.options.record) out.append(data);
        listener?.({ kind: "data", data, endOfStream: eos });
        this.passed(out, eos);
      },
      passTrailers: (pairs) => {
        out.trailers = pairs;
        listener?.({ kind: "trailers", trailers: pairs });
        this.passed(out, true);
      },
      trace: (event) => this.note(event),
      bufferLimit: () => this.limit,
      tooLarge: () => this.tooLarge(name),
      violation: (message) => this.host.violation(`stream ${this.id}: ${message}`),
      later: (fn) => this.host.defer(fn),
      canContinue: isRequest ? () => !this.response.inputComplete : () => !this.downstream.ended,
    }, this.host.directionRules);
  }

  /**
   * filter_manager.cc ActiveStreamDecoderFilter::requestDataTooLarge: 413 "Payload Too Large"
   * (request_payload_too_large); ActiveStreamEncoderFilter::responseDataTooLarge: 500
   * "Internal Server Error" (response_payload_too_large). Both are Envoy's own local replies.
   */
  private tooLarge(direction: "request" | "response"): void {
    const request = direction === "request";
    this.localReply({
      status: request ? 413 : 500,
      body: Buffer.from(request ? "Payload Too Large" : "Internal Server Error"),
      headers: [],
      details: request ? "request_payload_too_large" : "response_payload_too_large",
      grpcStatus: -1,
    });
  }

  private passed(out: Exchange, endOfStream: boolean): void {
    if (!endOfStream) return;
    out.ended = true;
    // Envoy completes the stream once the response has gone downstream.
    if (out === this.downstream && this.options.autoFinish) this.host.defer(() => this.end());
  }

  /** A plugin callback for this stream; null when its answer must not be acted on. */
  private call(name: string, ...args: number[]): number | null {
    if (this.finished) return null;
    if (this.host.failed) {
      if (this.host.failOpen) return 0;
      this.failStream();
      return null;
    }
    const result = this.host.invoke(this.id, name, this.id, ...args);
    // After a local response Envoy overrides the answer (cpp-host stopNextIteration, and the
    // filter manager's *_filter_chain_aborted_): the reply takes over the stream.
    if (result === null || this.pendingLocal !== null || this.finished) return null;
    return result;
  }

  /**
   * DownstreamFilterManager::sendLocalReply (filter_manager.cc): before any response headers the
   * reply runs through the filter chain (the plugin's own response callbacks see it); once
   * response headers reached the filter chain but not the client, it goes straight to the codec
   * (sendDirectLocalReply, the plugin sees nothing); once headers went downstream, the stream is
   * reset.
   */
  private localReply(response: LocalResponse): void {
    if (this.finished) return;
    if (this.downstream.headers !== null) {
      this.end("local_reply_after_response_started");
      return;
    }
    this.localResponse = response;
    this.request.close();
    this.response.close();
    this.upstreamResponseIgnored = true;
    const headers = new HeaderMap([[":status", String(response.status)], ...response.headers]);
    if (response.body.length > 0) {
      headers.replace("content-length", String(response.body.length));
      if (headers.get("content-type") === undefined) headers.add("content-type", "text/plain");
    }
    if (this.response.headers !== null) {
      this.note(`local response ${response.status} (${response.details}) sent directly: response headers were already in the filter chain`);
      this.emitDownstream(headers.pairs(), response.body, true);
      return;
    }
    this.note(`local response ${response.status} (${response.details})`);
    this.response = this.newDirection("response");
    this.response.receiveHeaders(headers.pairs(), response.body.length === 0);
    if (response.body.length > 0) this.response.receiveData(response.body, true);
  }

  /** Headers (and a body) straight to the client, past the plugin. */
  private emitDownstream(headers: HeaderPairs, body: Buffer, finishAfter: boolean): void {
    this.downstream.headers = headers;
    this.listeners.downstream?.({ kind: "headers", headers, endOfStream: body.length === 0 });
    if (body.length > 0) {
      if (this.options.record) this.downstream.append(body);
      this.listeners.downstream?.({ kind: "data", data: body, endOfStream: true });
    }
    if (finishAfter) this.passed(this.downstream, true);
    else this.downstream.ended = true;
  }

  private runLog(why?: string): void {
    if (!this.contextCreated || this.host.failed) return;
    this.note(why === undefined ? "proxy_on_log" : `proxy_on_log (${why})`);
    this.logPhase = true;
    try {
      this.host.invoke(this.id, "proxy_on_log", this.id);
    } finally {
      this.logPhase = false;
    }
  }

  private end(reason?: string): void {
    if (this.finished) return;
    if (reason !== undefined && this.resetReason === null) this.resetReason = reason;
    this.finished = true;
    this.request.close();
    this.response.close();
    const why = this.resetReason ?? "stream ended";
    if (!this.upstream.ended && this.upstream.headers !== null) this.listeners.upstream?.({ kind: "reset", reason: why });
    if (!this.downstream.ended) this.listeners.downstream?.({ kind: "reset", reason: why });
    this.host.streamEnded(this);
    if (this.contextCreated && !this.host.failed) {
      // conn_manager_impl.cc doDeferredStreamDestroy: for HTTP/3, unless the downstream reset the
      // stream, access logging waits for the QUIC acknowledgement (deferHeadersAndTrailers).
      const deferLog = this.options.protocol === "HTTP/3" && this.resetReason === null;
      if (!deferLog) this.runLog();
      this.note("proxy_on_done");
      this.host.invoke(this.id, "proxy_on_done", this.id);
      this.note("proxy_on_delete");
      this.host.invoke(this.id, "proxy_on_delete", this.id);
      this.logDeferred = deferLog;
    }
    this.note(reason ? `finished (${reason})` : "finished");
    // The ActiveStream goes to the dispatcher's deferred-delete list: its context is found until
    // the end of this event-loop turn.
    if (this.options.releaseContext === "next-turn") setImmediate(() => this.releaseContext());
  }
}
