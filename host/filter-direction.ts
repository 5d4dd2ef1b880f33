// One direction (request or response) of an HTTP stream passing the wasm filter, with Envoy's
// filter-manager rules for what the plugin's answers mean:
// - headers Continue: headers pass on. StopIteration: headers are held, body callbacks still
//   come, and a body (or trailers) Continue lets everything held pass. StopAllIteration*: the
//   plugin hears nothing more until proxy_continue_stream; data arriving meanwhile is kept and
//   shown to it in one body callback after the resume.
// - body StopIterationAndBuffer: data is held and the next body callback is told the size of
//   everything held, which is also what proxy_get_buffer_bytes shows; StopIterationAndWatermark
//   holds data but shows only the new chunk; StopIterationNoBuffer drops the chunk.
// - proxy_continue_stream resumes, after which the phase's headers and body are out of reach.
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
}

/** What the direction waits for: nothing, a resume after headers/body/trailers, or after StopAll. */
export type PauseState = "none" | "headers" | "all" | "body" | "trailers";

const EMPTY = Buffer.alloc(0);

/**
 * Envoy's Buffer::copyFrom rules for proxy_set_buffer_bytes: (0, 0) prepends, (0, >= size)
 * replaces, start >= size appends; anything else is a BadArgument (null here).
 */
export function editBuffer(current: Buffer, start: number, length: number, data: Buffer): Buffer | null {
  if (start === 0) {
    if (length === 0) return Buffer.concat([data, current]);
    if (length >= current.length) return Buffer.from(data);
    return null;
  }
  if (start >= current.length) return Buffer.concat([current, data]);
  return null;
}

export class FilterDirection {
  headers: HeaderMap | null = null;
  trailers: HeaderMap | null = null;
  /** Envoy keeps a phase's map reachable from its callback until the phase continues. */
  headersAvailable = false;
  trailersAvailable = false;
  /** Body bytes that arrived from the source. */
  bytesIn = 0;

  private pause: PauseState = "none";
  private headersPassed = false;
  private ended = false;
  private inputEnded = false;
  private closed = false;
  /** The plugin's last body answer was StopIterationAndBuffer: it sees all held data. */
  private buffering = false;
  /** Data the plugin has seen but that has not passed on. */
  private held: Buffer = EMPTY;
  /** Data that arrived during StopAllIteration, not yet shown to the plugin. */
  private unseen: Buffer | null = null;
  private trailersUnseen = false;
  /** The chunk of the running body callback, when not buffering. */
  private current: Buffer | null = null;
  private inBodyCallback = false;

  constructor(
    readonly name: "request" | "response",
    private readonly hooks: DirectionHooks,
  ) {}

  get pauseState(): PauseState {
    return this.pause;
  }

  /** Everything, end of stream included, has passed the filter. */
  get isEnded(): boolean {
    return this.ended;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The body the plugin can reach now (proxy_get_buffer_bytes 0/1), or null when there is none. */
  body(): Buffer | null {
    if (this.closed) return null;
    if (this.buffering) return this.held;
    return this.inBodyCallback ? this.current : null;
  }

  setBody(data: Buffer): void {
    if (this.buffering) this.held = data;
    else if (this.inBodyCallback) this.current = data;
  }

  receiveHeaders(pairs: HeaderPairs, endOfStream: boolean): void {
    if (this.closed) return;
    if (this.headers !== null) throw new Error(`${this.name} headers arrived twice`);
    this.headers = new HeaderMap(pairs);
    this.headersAvailable = true;
    this.inputEnded = endOfStream;
    const action = this.hooks.onHeaders(this.headers.size, endOfStream);
    if (action === null || this.closed) return;
    this.hooks.trace(`${this.name} headers -> ${HeadersAction[action] ?? action}`);
    if (action === HeadersAction.StopIteration) this.pause = "headers";
    else if (action === HeadersAction.StopAllIterationAndBuffer || action === HeadersAction.StopAllIterationAndWatermark) this.pause = "all";
    else {
      // Continue, ContinueAndEndStream, and (as Envoy does) any unknown value.
      this.headersAvailable = false;
      this.passHeaders(endOfStream || action === HeadersAction.ContinueAndEndStream);
    }
  }

  receiveData(chunk: Buffer, endOfStream: boolean): void {
    if (this.closed || this.ended) return; // after ContinueAndEndStream the rest is dropped
    if (this.headers === null) throw new Error(`${this.name} body before headers`);
    if (this.inputEnded) throw new Error(`${this.name} body after end of stream`);
    this.inputEnded = endOfStream;
    this.bytesIn += chunk.length;
    if (this.pause === "all") {
      this.unseen = this.unseen === null ? chunk : Buffer.concat([this.unseen, chunk]);
      return;
    }
    this.showData(chunk, endOfStream);
  }

  receiveTrailers(pairs: HeaderPairs): void {
    if (this.closed || this.ended) return;
    if (this.headers === null) throw new Error(`${this.name} trailers before headers`);
    if (this.inputEnded) throw new Error(`${this.name} trailers after end of stream`);
    this.inputEnded = true;
    this.trailers = new HeaderMap(pairs);
    if (this.pause === "all") this.trailersUnseen = true;
    else this.showTrailers();
  }

  /** proxy_continue_stream. The maps are forgotten at once; the rest runs as Envoy defers it. */
  forget(): void {
    this.headersAvailable = false;
    this.trailersAvailable = false;
  }

  resume(): void {
    if (this.closed || this.pause === "none") return;
    const pause = this.pause;
    this.hooks.trace(`${this.name} resumed from ${pause}`);
    this.pause = "none";
    if (pause === "trailers") {
      this.passAll();
    } else if (pause === "all") {
      const end = this.inputEnded && !this.trailersUnseen;
      this.passHeaders(end && this.unseen === null);
      if (this.unseen !== null) {
        const data = this.unseen;
        this.unseen = null;
        this.showData(data, end);
      }
      // Trailers reach the plugin even when the body stopped again, unless it stopped all.
      if (this.trailersUnseen && !this.closed && (this.pause as PauseState) !== "all") {
        this.trailersUnseen = false;
        this.showTrailers();
      }
    } else {
      this.buffering = false;
      const data = this.held;
      this.held = EMPTY;
      const end = this.inputEnded;
      if (!this.headersPassed) this.passHeaders(end && data.length === 0);
      if (data.length > 0 || (end && !this.ended)) this.passData(data, end);
    }
  }

  /** Nothing more passes, in either state (local reply, reset, VM failure). */
  close(): void {
    this.closed = true;
    this.held = EMPTY;
    this.unseen = null;
    this.buffering = false;
    this.forget();
  }

  private showData(chunk: Buffer, endOfStream: boolean): void {
    if (this.buffering) this.held = Buffer.concat([this.held, chunk]);
    else this.current = chunk;
    const size = this.buffering ? this.held.length : chunk.length;
    this.inBodyCallback = true;
    let action: number | null;
    try {
      action = this.hooks.onBody(size, endOfStream);
    } finally {
      this.inBodyCallback = false;
    }
    const chunkNow = this.buffering ? null : this.current; // the plugin may have replaced it
    this.current = null;
    if (action === null || this.closed) return;
    this.hooks.trace(`${this.name} body(${size}${endOfStream ? ", end" : ""}) -> ${DataAction[action] ?? action}`);
    switch (action) {
      case DataAction.StopIterationAndBuffer:
        if (chunkNow !== null) this.held = Buffer.concat([this.held, chunkNow]);
        this.buffering = true;
        this.holdBody();
        return;
      case DataAction.StopIterationAndWatermark:
        if (chunkNow !== null) this.held = Buffer.concat([this.held, chunkNow]);
        this.buffering = false;
        this.holdBody();
        return;
      case DataAction.StopIterationNoBuffer:
        this.buffering = false;
        this.holdBody();
        return;
      default: {
        const out = chunkNow === null ? this.held : Buffer.concat([this.held, chunkNow]);
        this.held = EMPTY;
        this.buffering = false;
        this.pause = "none";
        if (!this.headersPassed) this.passHeaders(false);
        this.passData(out, endOfStream);
      }
    }
  }

  /** A stopped body keeps the pause it had if the headers are still held. */
  private holdBody(): void {
    if (this.headersPassed) this.pause = "body";
  }

  private showTrailers(): void {
    this.trailersAvailable = true;
    const action = this.hooks.onTrailers(this.trailers?.size ?? 0);
    if (action === null || this.closed) return;
    this.hooks.trace(`${this.name} trailers -> ${TrailersAction[action] ?? action}`);
    if (action === TrailersAction.StopIteration) {
      this.pause = "trailers";
      return;
    }
    this.trailersAvailable = false;
    this.passAll();
  }

  private passAll(): void {
    this.pause = "none";
    this.buffering = false;
    if (!this.headersPassed) this.passHeaders(false);
    if (this.held.length > 0) {
      this.hooks.passData(this.held, false);
      this.held = EMPTY;
    }
    this.ended = true;
    this.hooks.passTrailers(this.trailers?.pairs() ?? []);
  }

  private passHeaders(endOfStream: boolean): void {
    this.headersPassed = true;
    if (endOfStream) this.ended = true;
    this.hooks.passHeaders(this.headers?.pairs() ?? [], endOfStream);
  }

  private passData(data: Buffer, endOfStream: boolean): void {
    if (data.length === 0 && !endOfStream) return;
    if (endOfStream) this.ended = true;
    this.hooks.passData(data, endOfStream);
  }
}
