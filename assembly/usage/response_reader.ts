// The one object a response goes through: reads its usage and content as it streams by
// (scanner.ts), and, when the plugin asked for usage the client had not asked for, takes out of the
// stream what that added (hider.ts).
//
//   const r = new ResponseReader(sse, hide);
//   for each chunk: const out = r.feed(ptr, len, endOfStream); if (out !== null) send out instead
//   at the end without an end-of-stream chunk (reset, trailers): r.finish()
//   then r.usage, r.contentBytes, r.bodyBytes (and estimateUsage() in estimate.ts)
//
// Without hiding, feed() never returns anything but null and adds nothing to the scanner's work.
import { BLOCK_KEEP, UsageScanner } from "./scanner";
import { UsageEventHider } from "./hider";
import { TokenUsage } from "./token_usage";
import { BedrockReader } from "./bedrock_reader";

export class ResponseReader {
  /** What has been read so far (updated in place); hasInput/hasOutput say which counts were reported. */
  usage: TokenUsage;
  /** Bytes of the body as they came (on the wire). */
  bodyBytes: i64 = 0;

  private scanner: UsageScanner;
  private hider: UsageEventHider | null = null;
  private ended: bool = false;
  private tail: Uint8Array | null = null; // finish()'s held bytes, for takeHeld()
  private spareHider: UsageEventHider | null = null; // a pooled reader's hider, kept while not hiding
  private bedrock: BedrockReader | null = null; // reading a Bedrock answer (readAsBedrock)
  private spareBedrock: BedrockReader | null = null; // a pooled reader's, kept while not reading one
  /** The constructor's sse: what the content type said. */
  sseHint: bool;
  /** The constructor's hideUsageEvents. */
  hideUsageEvents: bool;

  /**
   * sse: the content type says text/event-stream (a hint: the first byte decides).
   * hideUsageEvents: the plugin added stream_options.include_usage; remove what it added.
   */
  constructor(sse: bool, hideUsageEvents: bool) {
    this.sseHint = sse;
    this.hideUsageEvents = hideUsageEvents;
    const scanner = new UsageScanner(sse, 0);
    this.scanner = scanner;
    this.usage = scanner.usage;
    if (hideUsageEvents) {
      const hider = new UsageEventHider();
      this.hider = hider;
      scanner.sink = hider;
    }
  }

  /** As new (constructed with sse and hideUsageEvents), keeping the buffers: what the pool does. */
  recycle(sse: bool, hideUsageEvents: bool, wantModel: bool): void {
    this.bodyBytes = 0;
    this.ended = false;
    this.tail = null;
    this.sseHint = sse;
    this.hideUsageEvents = hideUsageEvents;
    this.scanner.recycle(sse, wantModel);
    this.usage = this.scanner.usage;
    if (this.bedrock !== null) {
      this.spareBedrock = this.bedrock;
      this.bedrock = null;
    }
    const hider = this.hider;
    if (hider !== null) {
      this.spareHider = hider;
      this.hider = null;
    }
    if (hideUsageEvents) {
      let h = this.spareHider;
      if (h === null) h = new UsageEventHider();
      else h.recycle();
      this.spareHider = null;
      this.hider = h;
      this.scanner.sink = h;
    }
  }

  /**
   * The answer is a Bedrock Converse or streaming one (bedrock_reader.ts BEDROCK_*): read by a
   * BedrockReader instead of the scanner. Call before the first chunk, without hiding.
   */
  readAsBedrock(format: i32): void {
    let b = this.spareBedrock;
    if (b === null) b = new BedrockReader(format);
    else b.start(format);
    this.spareBedrock = null;
    this.bedrock = b;
    this.usage = b.usage;
  }

  /** A Bedrock answer whose framing failed its checks: none of its counts can be trusted. */
  get unreadable(): bool {
    const b = this.bedrock;
    return b !== null && b.failed;
  }

  /** Bytes of generated content seen (text, tool-call arguments, reasoning), decoded. */
  get contentBytes(): i64 {
    const b = this.bedrock;
    if (b !== null) return b.contentBytes;
    return this.scanner.contentBytes;
  }

  /**
   * Content bytes read after the last output count the answer reported (all of them when it
   * reported none): what that count cannot cover. 0 once OpenAI's final usage event, Responses'
   * response.completed or Anthropic's message_delta has been read; Anthropic's message_start
   * (output_tokens 1) covers nothing that follows it.
   */
  get contentAfterOutput(): i64 {
    const b = this.bedrock;
    if (b !== null) return b.contentAfterOutput;
    return this.scanner.contentAfterOutput;
  }

  /** Of contentBytes, those of 3- and 4-byte UTF-8 characters (CJK, emoji, ...). */
  get contentWide(): i64 {
    const b = this.bedrock;
    return b !== null ? b.contentWide : this.scanner.contentWide;
  }

  /** Base64 characters of generated audio seen (OpenAI chat's audio data, Responses' audio deltas); not in contentBytes. */
  get audioBytes(): i64 {
    return this.bedrock !== null ? 0 : this.scanner.audioBytes;
  }

  /** Whether the body is being read as SSE (after sniffing its first byte). */
  get isSse(): bool {
    return this.scanner.isSse;
  }

  /** The scanner, for its bookkeeping (events, malformed events, [DONE]). */
  get scan(): UsageScanner {
    return this.scanner;
  }

  /** Usage-only events and `"usage":null` members taken out of the stream (0 without hiding). */
  get hiddenEvents(): i32 {
    const h = this.hider;
    return h === null ? 0 : h.removedEvents;
  }

  get hiddenNulls(): i32 {
    const h = this.hider;
    return h === null ? 0 : h.removedNulls;
  }

  /**
   * The len bytes at ptr (memory the caller owns, read during the call only); end: the last chunk.
   * Returns the bytes to send downstream instead of this chunk (valid until the next call; may be
   * empty), or null when the chunk goes out unchanged.
   */
  feed(ptr: usize, len: usize, end: bool): Uint8Array | null {
    if (this.ended) return null;
    this.bodyBytes += <i64>len;
    const scanner = this.scanner;
    const hider = this.hider;
    const bedrock = this.bedrock;
    if (bedrock !== null) {
      bedrock.feed(ptr, len);
      if (end) this.finish();
      return null;
    }
    if (hider === null) {
      scanner.feedBytes(ptr, len);
      if (end) this.finish();
      return null;
    }
    hider.begin(ptr, len);
    scanner.feedBytes(ptr, len);
    if (end) {
      this.ended = true;
      scanner.finish();
      return hider.end(true, scanner.isSse ? scanner.lastBlockKind : BLOCK_KEEP, false);
    }
    return hider.end(false, BLOCK_KEEP, scanner.isDecided && scanner.isSse);
  }

  /** body_view.ts's reader: a chunk that goes out unchanged (no hiding). */
  feedBytes(ptr: usize, len: usize): void {
    this.feed(ptr, len, false);
  }

  /** body_view.ts's rewriter: a chunk, and what to send instead of it (null: itself). */
  rewrite(ptr: usize, len: usize, last: bool): Uint8Array | null {
    return this.feed(ptr, len, last);
  }

  /**
   * The body ended without an end-of-stream chunk (a reset, trailers): what was read so far is
   * final. When hiding, what was held back is judged as the last block and kept for takeHeld().
   */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    const bedrock = this.bedrock;
    if (bedrock !== null) {
      bedrock.finish();
      return;
    }
    const hider = this.hider;
    if (hider === null) {
      this.scanner.finish();
      return;
    }
    hider.begin(0, 0);
    this.scanner.finish();
    const out = hider.end(true, this.scanner.isSse ? this.scanner.lastBlockKind : BLOCK_KEEP, false);
    // The hider's output buffer is shared by every stream: keep a copy (taken at trailers, maybe later).
    this.tail = out === null || out.length == 0 ? null : out.slice(0);
  }

  /**
   * After finish(): the bytes still held back when the body ended without end of stream (null:
   * none), for a host that can still send them (trailers); a reset stream has nowhere to send them.
   */
  takeHeld(): Uint8Array | null {
    const t = this.tail;
    this.tail = null;
    return t;
  }
}

// ---- a pool of readers: a reader per metered answer, its buffers reused ----

/** Readers waiting to be reused, at most POOL_SIZE (more answers at once allocate their own). */
const POOL_SIZE = 64;
const pool = new Array<ResponseReader>();

/** A reader as new (see the constructor), from the pool when one is free. */
export function takeResponseReader(sse: bool, hideUsageEvents: bool, wantModel: bool): ResponseReader {
  if (pool.length > 0) {
    const r = pool.pop();
    r.recycle(sse, hideUsageEvents, wantModel);
    return r;
  }
  const r = new ResponseReader(sse, hideUsageEvents);
  r.scan.setWantModel(wantModel);
  return r;
}

/** Gives a reader back; nothing may use it (or its usage) afterwards. */
export function giveBackResponseReader(r: ResponseReader): void {
  if (pool.length < POOL_SIZE) pool.push(r);
}
