// One direction (request or response) of an HTTP stream passing the wasm filter, following what
// Envoy does with the plugin's answers. Three sources, each rule below names its function:
// - proxy-wasm-cpp-host src/context.cc: ContextBase::convertVmCallResultTo*Status (numbers → status),
// - Envoy source/extensions/common/wasm/context.cc: Context::decodeData/encodeData/getBuffer
//   (what a body callback is told and can read), Buffer::copyFrom (what an edit may do),
// - Envoy source/common/http/filter_manager.cc: the filter manager around the one wasm filter
//   (ActiveStreamFilterBase::commonContinue, commonHandleAfter{Headers,Data,Trailers}Callback,
//   commonHandleBufferData, FilterManager::handleDataIfStopAll, decodeTrailers, and the
//   watermark callbacks requestDataTooLarge/responseDataTooLarge of the buffered data).
// Envoy's names are kept: `iteration` is the filter's IterationState, `buffered` the filter
// manager's buffered_{request,response}_data_, `bufferingBody` the wasm Context's
// buffering_{request,response}_body_, and the chunk view its {request,response}_body_buffer_.
import { DataAction, HeadersAction, TrailersAction } from "./abi-types";
import { HeaderMap, HeaderPairs } from "./header-map";

export interface DirectionHooks {
  /** Runs the plugin's callback; null when its answer no longer matters (trap, local reply, reset). */
  onHeaders(count: number, endOfStream: boolean): number | null;
  onBody(size: number, endOfStream: boolean): number | null;
  onTrailers(count: number): number | null;
  /** What passes the filter, towards upstream (request) or downstream (response). */
  passHeaders(pairs: HeaderPairs, endOfStream: boolean): void;
  passData(data: Buffer, endOfStream: boolean): void;
  passTrailers(pairs: HeaderPairs): void;
  trace(event: string): void;
  /** The stream's buffer limit now (FilterManager::buffer_limit_); 0 means none. */
  bufferLimit?(): number;
  /** Held data went over the limit while not streaming: requestDataTooLarge / responseDataTooLarge. */
  tooLarge?(): void;
  /** Something Envoy asserts against happened (see vm.violations). */
  violation?(message: string): void;
  /**
   * ActiveStream{Decoder,Encoder}Filter::canContinue: the request stops continuing once the
   * response's end reached the filter manager (local_complete_), the response once its end went
   * downstream (remote_encode_complete_). Default true.
   */
  canContinue?(): boolean;
  /** Runs `fn` once the current host turn is over (used to restart a source flow control stopped). */
  later?(fn: () => void): void;
}

/** Envoy-version facts a direction needs; see PluginVmOptions for where each comes from. */
export interface DirectionRules {
  /** proxy-wasm-cpp-host convertVmCallResultToFilterHeadersStatus: StopIteration becomes StopAllIterationAndWatermark. */
  translateHeaderStopIteration: boolean;
  /** Envoy >= 1.32 Context::decodeData/encodeData: after StopIterationAndBuffer the new chunk joins the held body before the callback. */
  heldBodyIncludesChunk: boolean;
}

/** Old rules, kept for direct users of FilterDirection (tests of the state machine). */
const DEFAULT_RULES: DirectionRules = { translateHeaderStopIteration: false, heldBodyIncludesChunk: true };

/** What the direction waits for: nothing, a resume after headers/body/trailers, or after StopAll. */
export type PauseState = "none" | "headers" | "all" | "body" | "trailers";

/** Envoy's ActiveStreamFilterBase::IterationState. */
type Iteration = "continue" | "single" | "allBuffer" | "allWatermark";

/** What Context::{request,response}_body_buffer_ points at (Context::decodeData, continueStream). */
type ChunkView = "none" | "chunk" | "orphan";

type Queued = { kind: "data"; data: Buffer; end: boolean } | { kind: "trailers"; pairs: HeaderPairs };

const EMPTY = Buffer.alloc(0);

/**
 * Envoy's Buffer::copyFrom (source/extensions/common/wasm/context.cc), the rule behind
 * proxy_set_buffer_bytes on a body: start 0 drains `length` bytes from the front and prepends the
 * data (so (0, 0) prepends and (0, >= size) replaces); start >= size appends; anything else is a
 * BadArgument (null here).
 */
export function editBuffer(current: Buffer, start: number, length: number, data: Buffer): Buffer | null {
  if (start === 0) return Buffer.concat([data, current.subarray(Math.min(length, current.length))]);
  if (start >= current.length) return Buffer.concat([current, data]);
  return null;
}

/** cpp-host ContextBase::convertVmCallResultToFilterDataStatus: unknown numbers stop without buffering. */
export function dataStatus(result: number): DataAction {
  return result > DataAction.StopIterationNoBuffer ? DataAction.StopIterationNoBuffer : result;
}

/** cpp-host ContextBase::convertVmCallResultToFilterTrailersStatus. */
export function trailersStatus(result: number): TrailersAction {
  return result > TrailersAction.StopIteration ? TrailersAction.StopIteration : result;
}

/**
 * cpp-host ContextBase::convertVmCallResultToFilterHeadersStatus, then Envoy's
 * convertFilterHeadersStatus (context.cc), which has no case for ContinueAndEndStream and so
 * turns it into Continue.
 */
export function headersStatus(result: number, translateStopIteration: boolean): HeadersAction {
  if (result > HeadersAction.StopAllIterationAndWatermark) return HeadersAction.StopAllIterationAndWatermark;
  if (result === HeadersAction.StopIteration && translateStopIteration) return HeadersAction.StopAllIterationAndWatermark;
  if (result === HeadersAction.ContinueAndEndStream) return HeadersAction.Continue;
  return result;
}

export class FilterDirection {
  headers: HeaderMap | null = null;
  trailers: HeaderMap | null = null;
  /** Context::getMap: the phase's map pointer, cleared when its callback answers Continue or on proxy_continue_stream. */
  headersAvailable = false;
  trailersAvailable = false;
  /** Body bytes that reached the filter from the source. */
  bytesIn = 0;

  private iteration: Iteration = "continue";
  private headersContinued = false;
  private ended = false;
  /** The filter manager has received the source's end (remoteDecodeComplete / local_complete_). */
  private inputEnded = false;
  /** The source has sent its end (some of it may still wait behind flow control). */
  private sourceDone = false;
  private closed = false;
  private trailersArrived = false;
  private trailersPassed = false;
  private trailersStopped = false;
  private buffered: Buffer | null = null;
  private bufferingBody = false;
  private chunkView: ChunkView = "none";
  private chunk: Buffer = EMPTY;
  /** The chunk being shown is the held buffer itself (resumed from StopAll). */
  private chunkIsHeld = false;
  /** {decoder,encoder}_filters_streaming_: true = over the limit means flow control, false = too large. */
  private streaming = true;
  /** WatermarkBuffer's above_high_watermark_called_. */
  private aboveHigh = false;
  private stalledSource = false;
  private readonly queue: Queued[] = [];
  private inCallback: "headers" | "body" | "trailers" | null = null;
  /** proxy_continue_stream ran during the body callback: the chunk pointer stays null after it. */
  private chunkForgotten = false;
  /** proxy_continue_stream ran inside this direction's own callback; `wasStopped` = the filter was stopped then. */
  private continuedInCallback: { wasStopped: boolean } | null = null;

  constructor(
    readonly name: "request" | "response",
    private readonly hooks: DirectionHooks,
    private readonly rules: DirectionRules = DEFAULT_RULES,
  ) {}

  get pauseState(): PauseState {
    if (this.iteration === "allBuffer" || this.iteration === "allWatermark") return "all";
    if (this.iteration === "continue") return "none";
    if (!this.headersContinued) return "headers";
    return this.trailersStopped ? "trailers" : "body";
  }

  /** The source stopped sending because held data went over the limit (flow control). */
  get stalled(): boolean {
    return this.stalledSource;
  }

  /** Bytes the filter manager holds for this direction. */
  get heldBytes(): number {
    return this.buffered?.length ?? 0;
  }

  /** The end of this direction has reached the filter manager. */
  get inputComplete(): boolean {
    return this.inputEnded;
  }

  /** Everything, end of stream included, has passed the filter. */
  get isEnded(): boolean {
    return this.ended;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * What proxy_get_buffer_bytes reads (Context::getBuffer): the held body while the last answer
   * was StopIterationAndBuffer, else the current chunk inside a body callback, else an empty buffer
   * that is still writable (the chunk Envoy already moved on), else nothing (null).
   */
  body(): Buffer | null {
    if (this.closed) return null;
    if (this.bufferingBody) return this.buffered ?? EMPTY;
    if (this.chunkView === "chunk") return this.chunkIsHeld ? this.buffered ?? EMPTY : this.chunk;
    return this.chunkView === "orphan" ? EMPTY : null;
  }

  /** proxy_set_buffer_bytes on this body: Buffer::copyFrom on what body() reads; null for BadArgument. */
  editBody(start: number, length: number, data: Buffer): boolean {
    const target = this.body();
    // Context::getBuffer wraps a null chunk pointer: proxy_wasm::BufferBase::copyFrom answers BadArgument.
    if (target === null) return false;
    const next = editBuffer(target, start, length, data);
    if (next === null) return false;
    if (this.bufferingBody || (this.chunkView === "chunk" && this.chunkIsHeld)) {
      this.buffered = next;
      this.checkHighWatermark();
      this.checkLowWatermark();
    } else if (this.chunkView === "chunk") {
      this.chunk = next;
    }
    // An "orphan" chunk was already moved into Envoy's buffer: the edit is accepted and lost.
    return true;
  }

  receiveHeaders(pairs: HeaderPairs, endOfStream: boolean): void {
    if (this.closed) return;
    if (this.headers !== null) throw new Error(`${this.name} headers arrived twice`);
    this.headers = new HeaderMap(pairs);
    this.headersAvailable = true;
    this.inputEnded = endOfStream;
    this.sourceDone = endOfStream;
    const result = this.callback("headers", () => this.hooks.onHeaders(this.headers?.size ?? 0, endOfStream));
    if (result === null || this.closed) return;
    const status = headersStatus(result, this.rules.translateHeaderStopIteration);
    this.hooks.trace(`${this.name} headers -> ${HeadersAction[status]}${status !== result ? ` (plugin answered ${result})` : ""}`);
    const continued = this.takeContinuedInCallback();
    // filter_manager.cc commonHandleAfterHeadersCallback.
    switch (status) {
      case HeadersAction.StopIteration:
        this.iteration = "single";
        break;
      case HeadersAction.StopAllIterationAndBuffer:
        this.iteration = "allBuffer";
        break;
      case HeadersAction.StopAllIterationAndWatermark:
        this.iteration = "allWatermark";
        break;
      default:
        // Context::decodeHeaders forgets the map once the answer is Continue.
        this.headersAvailable = false;
        if (!this.headersContinued) {
          this.headersContinued = true;
          this.passHeaders(endOfStream);
        }
    }
    if (continued !== null) {
      // The deferred continueDecoding()/continueEncoding() ran inside decodeHeaders/encodeHeaders,
      // while the filter's IterationState was still Continue: commonContinue's
      // ASSERT(!canIterate()) and commonHandleAfterHeadersCallback's ASSERT(!headers_continued_).
      const stuck = status === HeadersAction.Continue ? "" : `, then answered ${HeadersAction[status]}: the headers went on but the filter is stopped again and nothing will resume it`;
      this.violate(`proxy_continue_stream inside proxy_on_${this.name}_headers ran before Envoy saw the answer${stuck} (filter_manager.cc commonContinue)`);
    }
  }

  receiveData(chunk: Buffer, endOfStream: boolean): void {
    if (this.closed || this.ended) return;
    if (this.headers === null) throw new Error(`${this.name} body before headers`);
    if (this.sourceDone) throw new Error(`${this.name} body after end of stream`);
    this.sourceDone = endOfStream;
    // Until the queue drains, the source's data stays in order behind it.
    if (this.stalledSource || this.queue.length > 0) {
      this.queue.push({ kind: "data", data: chunk, end: endOfStream });
      return;
    }
    this.deliverData(chunk, endOfStream);
  }

  receiveTrailers(pairs: HeaderPairs): void {
    if (this.closed || this.ended) return;
    if (this.headers === null) throw new Error(`${this.name} trailers before headers`);
    if (this.sourceDone) throw new Error(`${this.name} trailers after end of stream`);
    this.sourceDone = true;
    if (this.stalledSource || this.queue.length > 0) {
      this.queue.push({ kind: "trailers", pairs });
      return;
    }
    this.deliverTrailers(pairs);
  }

  /** proxy_continue_stream: Context::continueStream clears the request's pointers at once. */
  forget(): void {
    this.headersAvailable = false;
    this.trailersAvailable = false;
    this.chunkView = "none";
    if (this.inCallback === "body") this.chunkForgotten = true;
  }

  /** continueDecoding()/continueEncoding(), as the cpp-host runs it after the callback returns. */
  resume(): void {
    // ActiveStream{Decoder,Encoder}Filter::canContinue: nothing after a local reply or reset.
    if (this.closed || !(this.hooks.canContinue?.() ?? true)) return;
    if (this.inCallback !== null) {
      this.continuedInCallback = { wasStopped: this.iteration !== "continue" };
      this.hooks.trace(`${this.name} continued inside its own ${this.inCallback} callback`);
      if (this.iteration === "continue") {
        // Release builds go on past the ASSERT: only the not-yet-continued headers move.
        if (!this.headersContinued) {
          this.headersContinued = true;
          this.passHeaders(this.inputEnded && this.buffered === null && !this.trailersArrived);
        }
        return;
      }
      this.commonContinue();
      return;
    }
    if (this.iteration === "continue") {
      // commonContinue's ASSERT(!canIterate()); on the response side before its headers, Envoy
      // would even dereference the missing header map.
      this.violate(`proxy_continue_stream(${this.name === "request" ? "HttpRequest" : "HttpResponse"}) while the ${this.name} was not stopped (filter_manager.cc commonContinue ASSERT)`);
      return;
    }
    this.commonContinue();
  }

  /** Nothing more passes, in either state (local reply, reset, VM failure). */
  close(): void {
    this.closed = true;
    this.buffered = null;
    this.queue.length = 0;
    this.stalledSource = false;
    this.bufferingBody = false;
    this.chunkView = "none";
    this.headersAvailable = false;
    this.trailersAvailable = false;
  }

  /** FilterManager::setBufferLimit: the watermarks of held data move with the limit. */
  limitChanged(): void {
    this.checkHighWatermark();
    this.checkLowWatermark();
  }

  // ---- internals ----

  private callback(kind: "headers" | "body" | "trailers", run: () => number | null): number | null {
    this.inCallback = kind;
    try {
      return run();
    } finally {
      this.inCallback = null;
    }
  }

  private takeContinuedInCallback(): { wasStopped: boolean } | null {
    const c = this.continuedInCallback;
    this.continuedInCallback = null;
    return c;
  }

  private violate(message: string): void {
    this.hooks.trace(`violation: ${message}`);
    this.hooks.violation?.(`${this.name}: ${message}`);
  }

  private stoppedAll(): boolean {
    return this.iteration === "allBuffer" || this.iteration === "allWatermark";
  }

  /** One chunk from the source reaching the filter (FilterManager::decodeData / encodeData). */
  private deliverData(data: Buffer, endOfStream: boolean): void {
    this.inputEnded = endOfStream;
    this.bytesIn += data.length;
    // FilterManager::handleDataIfStopAll: held unseen; StopAllIterationAndWatermark streams.
    if (this.stoppedAll()) {
      this.streaming = this.iteration === "allWatermark";
      this.addBuffered(data);
      return;
    }
    let chunk = data;
    if (this.bufferingBody && this.rules.heldBodyIncludesChunk) {
      // Envoy >= 1.32 Context::decodeData/encodeData: addDecodedData(data, false) moves the chunk
      // into the held body first (not streaming: over the limit is too large); if that sent the
      // 413/500, the VM is not called.
      this.streaming = false;
      this.addBuffered(chunk);
      chunk = EMPTY;
      if (this.closed) return;
    }
    this.showData(chunk, endOfStream, false);
  }

  /**
   * The plugin's body callback on `data` (Context::decodeData/encodeData), then
   * commonHandleAfterDataCallback. `isHeld`: `data` is the held buffer itself (the resume from
   * StopAll hands the filter manager's buffered data to the filter).
   */
  private showData(data: Buffer, endOfStream: boolean, isHeld: boolean): void {
    this.chunk = isHeld ? EMPTY : data;
    this.chunkIsHeld = isHeld;
    this.chunkView = "chunk";
    // Context::getBuffer: the held body while the previous answer was StopIterationAndBuffer, else the chunk.
    const size = this.bufferingBody ? this.heldBytes : isHeld ? this.heldBytes : data.length;
    this.chunkForgotten = false;
    const result = this.callback("body", () => this.hooks.onBody(size, endOfStream));
    const edited = this.chunk;
    this.chunk = EMPTY;
    this.chunkIsHeld = false;
    if (result === null || this.closed) return;
    const status = dataStatus(result);
    this.hooks.trace(`${this.name} body(${size}${endOfStream ? ", end" : ""}) -> ${DataAction[status]}${status !== result ? ` (plugin answered ${result})` : ""}`);
    const continued = this.takeContinuedInCallback();
    this.bufferingBody = status === DataAction.StopIterationAndBuffer;
    // Context::decodeData: the chunk pointer is cleared on Continue, kept (pointing at a chunk
    // Envoy moves on) otherwise, unless proxy_continue_stream already cleared it.
    this.chunkView = status === DataAction.Continue || this.chunkForgotten ? "none" : "orphan";
    // filter_manager.cc commonHandleAfterDataCallback.
    if (status === DataAction.Continue) {
      if (this.iteration === "single") {
        if (!isHeld) this.addBuffered(edited);
        this.commonContinue();
      } else if (isHeld) {
        this.passHeld(endOfStream);
      } else {
        this.passData(edited, endOfStream);
      }
    } else {
      this.iteration = "single";
      if (status === DataAction.StopIterationAndBuffer || status === DataAction.StopIterationAndWatermark) {
        this.streaming = status === DataAction.StopIterationAndWatermark;
        if (!isHeld) this.addBuffered(edited);
      } else if (!isHeld && this.inputEnded && !this.trailersArrived && this.buffered === null) {
        // StopIterationNoBuffer on a last chunk: an empty held buffer, so a resume ends the stream.
        this.buffered = EMPTY;
      }
      if (continued !== null) {
        this.violate(`proxy_continue_stream inside proxy_on_${this.name}_body ran before Envoy saw the answer ${DataAction[status]}: what came before went on, this chunk is held and nothing will resume it (filter_manager.cc commonContinue)`);
      }
    }
    if (continued !== null && !continued.wasStopped && status === DataAction.Continue) {
      this.violate(`proxy_continue_stream inside proxy_on_${this.name}_body while the ${this.name} was not stopped (filter_manager.cc commonContinue ASSERT)`);
    }
  }

  private deliverTrailers(pairs: HeaderPairs): void {
    this.inputEnded = true;
    this.trailers = new HeaderMap(pairs);
    this.trailersArrived = true;
    // FilterManager::decodeTrailers: a filter stopped for all frame types sees them on the resume.
    if (this.stoppedAll()) return;
    this.showTrailers();
  }

  private showTrailers(): void {
    this.trailersAvailable = true;
    const result = this.callback("trailers", () => this.hooks.onTrailers(this.trailers?.size ?? 0));
    if (result === null || this.closed) return;
    const status = trailersStatus(result);
    this.hooks.trace(`${this.name} trailers -> ${TrailersAction[status]}`);
    const continued = this.takeContinuedInCallback();
    // filter_manager.cc commonHandleAfterTrailersCallback.
    if (status === TrailersAction.StopIteration) {
      if (this.iteration === "continue") this.iteration = "single";
      this.trailersStopped = true;
      if (continued !== null) {
        this.violate(`proxy_continue_stream inside proxy_on_${this.name}_trailers ran before Envoy saw the answer StopIteration (filter_manager.cc commonContinue)`);
      }
      return;
    }
    this.trailersAvailable = false;
    if (this.iteration === "single") this.commonContinue();
    else this.passTrailers();
    if (continued !== null && !continued.wasStopped) {
      this.violate(`proxy_continue_stream inside proxy_on_${this.name}_trailers while the ${this.name} was not stopped (filter_manager.cc commonContinue ASSERT)`);
    }
  }

  /**
   * filter_manager.cc ActiveStreamEncoderFilter::injectEncodedDataToFilterChain: held headers go
   * on first (doHeaders), then the data goes to the filters after this one at once (encodeData
   * from the current filter, CanStartFromCurrent; from the next one unless a StopAll left
   * iterate_from_current_filter_) — inside a trailers callback, ahead of the trailers, which pass
   * once the callback answers: the later filters have not yet been marked end_stream_ (encodeTrailers
   * marks each after its callback), as in the path Envoy documents for adding body in trailers
   * (FilterManager::addEncodedData in EncodeTrailers inlines encodeData from the next filter). Nothing before headers arrived (Envoy has no
   * encoder headers to continue then; not modelled further) or once the direction ended.
   */
  inject(data: Buffer, endOfStream: boolean): void {
    if (this.closed || this.headers === null || this.ended) {
      this.hooks.trace(`${this.name} injected data dropped (${this.headers === null ? "no headers yet" : "direction over"})`);
      return;
    }
    if (!this.headersContinued) {
      this.headersContinued = true;
      this.passHeaders(false);
    }
    this.hooks.trace(`${this.name} injected ${data.length} bytes${endOfStream ? " (end of stream)" : ""}`);
    this.passData(data, endOfStream);
  }

  /** filter_manager.cc ActiveStreamFilterBase::commonContinue for the wasm filter. */
  private commonContinue(): void {
    if (this.closed || !(this.hooks.canContinue?.() ?? true)) return;
    const fromCurrent = this.stoppedAll(); // iterate_from_current_filter_
    this.iteration = "continue";
    this.trailersStopped = false;
    this.hooks.trace(`${this.name} continues${fromCurrent ? " (from StopAll)" : ""}`);
    if (!this.headersContinued) {
      this.headersContinued = true;
      this.passHeaders(this.inputEnded && this.buffered === null && !this.trailersArrived);
    }
    const hadTrailers = this.trailersArrived && !this.trailersPassed;
    if (this.buffered !== null && !this.ended) {
      const end = this.inputEnded && !hadTrailers;
      // After a StopAll the filter itself gets the held data as one chunk; otherwise it goes on.
      if (fromCurrent) this.showData(this.buffered, end, true);
      else this.passHeld(end);
    }
    if (hadTrailers && !this.closed && !this.trailersPassed) {
      if (fromCurrent) {
        if (!this.stoppedAll()) this.showTrailers();
      } else {
        this.passTrailers();
      }
    }
  }

  /** The held data goes on; the (now empty) buffer stays, as Envoy's buffered data object does. */
  private passHeld(endOfStream: boolean): void {
    const data = this.buffered ?? EMPTY;
    this.buffered = EMPTY;
    this.passData(data, endOfStream);
    this.checkLowWatermark();
  }

  /** commonHandleBufferData, then the watermark buffer's high-watermark check. */
  private addBuffered(data: Buffer): void {
    this.buffered = this.buffered === null ? Buffer.from(data) : data.length === 0 ? this.buffered : Buffer.concat([this.buffered, data]);
    this.checkHighWatermark();
  }

  /**
   * WatermarkBuffer::checkHighAndOverflowWatermarks (high = the limit, strictly above it), then
   * requestDataTooLarge / responseDataTooLarge: while streaming, the source is told to stop
   * (onDecoderFilterAboveWriteBufferHighWatermark: it stops reading); otherwise 413 / 500.
   */
  private checkHighWatermark(): void {
    const limit = this.hooks.bufferLimit?.() ?? 0;
    if (limit === 0 || this.aboveHigh || this.heldBytes <= limit) return;
    this.aboveHigh = true;
    if (this.streaming) {
      this.stalledSource = true;
      this.hooks.trace(`${this.name} source stopped: ${this.heldBytes} bytes held over the buffer limit ${limit} (flow control)`);
    } else {
      this.hooks.trace(`${this.name} too large: ${this.heldBytes} bytes held over the buffer limit ${limit}`);
      this.hooks.tooLarge?.();
    }
  }

  /** WatermarkBuffer::checkLowWatermark (low = half the limit): the source reads again. */
  private checkLowWatermark(): void {
    if (!this.aboveHigh) return;
    const limit = this.hooks.bufferLimit?.() ?? 0;
    if (limit !== 0 && this.heldBytes > Math.floor(limit / 2)) return;
    this.aboveHigh = false;
    if (!this.stalledSource) return;
    this.stalledSource = false;
    this.hooks.trace(`${this.name} source reads again`);
    const drain = () => this.drainQueue();
    if (this.hooks.later) this.hooks.later(drain);
    else drain();
  }

  private drainQueue(): void {
    while (this.queue.length > 0 && !this.stalledSource && !this.closed) {
      const next = this.queue.shift()!;
      if (next.kind === "data") this.deliverData(next.data, next.end);
      else this.deliverTrailers(next.pairs);
    }
  }

  private passTrailers(): void {
    this.trailersPassed = true;
    this.ended = true;
    this.hooks.passTrailers(this.trailers?.pairs() ?? []);
  }

  private passHeaders(endOfStream: boolean): void {
    if (endOfStream) this.ended = true;
    this.hooks.passHeaders(this.headers?.pairs() ?? [], endOfStream);
  }

  private passData(data: Buffer, endOfStream: boolean): void {
    if (this.ended) return;
    if (data.length === 0 && !endOfStream) return;
    if (endOfStream) this.ended = true;
    this.hooks.passData(data, endOfStream);
  }
}
