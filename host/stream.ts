// One HTTP stream through the plugin: a test plays the client (request*) and the upstream
// (response*), and reads what went upstream, what came back downstream, and any local response.
// The plugin's asynchronous work (Redis, HTTP callouts) completes on its own; `settled()` waits,
// event-driven and bounded, until none of it is left for this stream.
import { BufferType, MapType, Status, StreamType } from "./abi-types";
import { Clock } from "./clock";
import { FilterDirection, editBuffer } from "./filter-direction";
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
  /** `request.protocol`; default "HTTP/1.1". */
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
}

/** What the stream needs from the VM that runs it. */
export interface StreamHost {
  readonly failed: boolean;
  readonly failOpen: boolean;
  readonly signal: Signal;
  readonly clock: Clock;
  invoke(contextId: number, name: string, ...args: number[]): number | null;
  defer(action: () => void): void;
  drive<T>(fn: () => T): T;
  inflight(contextId: number): number;
  release(stream: Stream): void;
}

export type BodyInput = string | Uint8Array;

const DEFAULT_WAIT_MS = 10_000;

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

  private readonly filterStateMap = new Map<string, Buffer>();
  private request: FilterDirection;
  private response: FilterDirection;
  private pendingLocal: LocalResponse | null = null;
  private upstreamResponseIgnored = false;
  private logPhase = false;
  private failedByVm = false;
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
    };
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
   * Ends the stream: proxy_on_done, proxy_on_log, proxy_on_delete. Mid-stream it models a client
   * disconnect or an upstream reset; `reason` is kept in `resetReason`. Idempotent.
   */
  finish(reason?: string): void {
    this.host.drive(() => this.end(reason));
  }

  /** Drives a whole exchange; see stream-run.ts. */
  run(spec: ExchangeSpec): Promise<ExchangeResult> {
    return runExchange(this, spec);
  }

  // ---- what a test reads ----

  get paused(): { request: string; response: string } {
    return { request: this.request.pauseState, response: this.response.pauseState };
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
      `request ${this.request.pauseState}`,
      `response ${this.response.pauseState}`,
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
    const current = dir.body();
    if (current === null) return Status.NotFound;
    const next = editBuffer(current, start, length, data);
    if (next === null) return Status.BadArgument;
    dir.setBody(next);
    return Status.Ok;
  }

  setProperty(path: Buffer, value: Buffer): Status {
    // Envoy keeps the raw path (NULs and all) under the "wasm." prefix.
    this.filterStateMap.set(WASM_STATE_PREFIX + path.toString("utf8"), Buffer.from(value));
    return Status.Ok;
  }

  sendLocalResponse(response: LocalResponse): Status {
    if (this.finished) return Status.Ok; // Envoy: no decoder callbacks any more, nothing happens
    if (this.pendingLocal !== null) {
      this.note("a second local response in the same callback was ignored");
      return Status.Ok;
    }
    this.pendingLocal = response;
    this.host.defer(() => this.deliverLocalResponse());
    return Status.Ok;
  }

  continueStream(type: StreamType): Status {
    const dir = type === StreamType.HttpRequest ? this.request : type === StreamType.HttpResponse ? this.response : null;
    if (dir === null) return type === StreamType.Upstream ? Status.Unimplemented : Status.Ok;
    dir.forget();
    this.host.defer(() => dir.resume());
    return Status.Ok;
  }

  closeStream(type: StreamType): Status {
    if (type === StreamType.HttpRequest || type === StreamType.HttpResponse) {
      this.host.defer(() => this.end("wasm_close_stream"));
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
      this.downstream.headers = [[":status", "503"]];
      this.downstream.ended = true;
      this.listeners.downstream?.({ kind: "headers", headers: this.downstream.headers, endOfStream: true });
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
    // After a local response Envoy overrides the answer: the reply takes over the stream.
    if (result === null || this.pendingLocal !== null || this.finished) return null;
    return result;
  }

  private deliverLocalResponse(): void {
    const response = this.pendingLocal;
    this.pendingLocal = null;
    if (response === null || this.finished) return;
    if (this.downstream.headers !== null || this.localResponse !== null) {
      // A response already started, or a local reply already under way: Envoy resets the stream.
      this.end(this.localResponse !== null ? "second_local_reply" : "local_reply_after_response_started");
      return;
    }
    this.note(`local response ${response.status} (${response.details})`);
    this.localResponse = response;
    this.request.close();
    this.response.close();
    this.upstreamResponseIgnored = true;
    // The reply runs through the plugin's response callbacks like any response (Envoy does so).
    this.response = this.newDirection("response");
    const headers = new HeaderMap([[":status", String(response.status)], ...response.headers]);
    if (response.body.length > 0) {
      headers.replace("content-length", String(response.body.length));
      if (headers.get("content-type") === undefined) headers.add("content-type", "text/plain");
    }
    this.response.receiveHeaders(headers.pairs(), response.body.length === 0);
    if (response.body.length > 0) this.response.receiveData(response.body, true);
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
    if (this.contextCreated && !this.host.failed) {
      this.host.invoke(this.id, "proxy_on_done", this.id);
      this.logPhase = true;
      this.host.invoke(this.id, "proxy_on_log", this.id);
      this.logPhase = false;
      this.host.invoke(this.id, "proxy_on_delete", this.id);
    }
    this.note(reason ? `finished (${reason})` : "finished");
    this.host.release(this);
  }
}
