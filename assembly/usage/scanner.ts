// Reads token usage from an LLM response body as it streams by, chunk by chunk, split anywhere.
//
// SSE bodies (text/event-stream): lines end with LF, CRLF or CR; a blank line ends an event;
// `data:` lines (one leading space dropped) are the event's data, joined with "\n"; comments and
// other fields are ignored. Each event's data is pushed straight through the JSON tokenizer while
// it arrives — it is never buffered; values the extractor has no use for are validated without
// being reported — and what it holds counts once the event ends with valid JSON
// ("[DONE]", an empty or malformed event: skipped, never fatal). An event whose data passes
// maxEventBytes (when > 0) is dropped.
//
// Plain JSON bodies: the whole body goes through one tokenizer; usage counts as each usage object
// closes, so a body cut short still yields what came before the cut. Several concatenated values
// (NDJSON) are read one after another; after invalid JSON the rest of the body is ignored.
//
// The constructor's `sse` is a hint: a body whose first non-blank byte cannot start the other
// format is read as the format it is ('{' or '[' opens JSON; a byte no JSON value starts with opens SSE).
//
// State is bounded whatever the body: the tokenizer's bracket stack (MAX_DEPTH bytes), its token
// text (MAX_TOKEN_BYTES), and a few fields. Work is proportional to the bytes fed. Depth bounds
// memory, not what is read: values the extractor does not read are passed over however deep they
// nest (past MAX_DEPTH only their brackets are counted), so usage after them still counts.
//
// For the hiding of usage events (hider.ts), an SSE scan can report where each block of lines ends
// (a blank line) and what the event in it was: see SseBlockSink.
import { JsonTokenizer } from "../json/tokenizer";
import { DOC_TOP_OBJECT, DOC_USAGE_NULL, DOC_USAGE_OBJECT, UsageExtractor } from "./extractor";
import { AUDIO_KEYS } from "./paths";
import { USAGE_NULL, USAGE_OBJECT, quick, quickReadTaken, readQuickly, readQuicklyLine } from "./fast_path";
import { TokenUsage } from "./token_usage";

// Everything a response path needs, from one module.
export { TokenUsage } from "./token_usage";
export { usageFromAiLog } from "./ailog";

/** Nesting accepted in one event or body. */
const MAX_DEPTH: i32 = 1024;
/** Keys, model names and numbers longer than this are not kept (their values are ignored). */
const MAX_TOKEN_BYTES: i32 = 512;

// Line states (SSE).
const L_START: u8 = 0; // at the beginning of a line
const L_FIELD: u8 = 1; // in a field name
const L_DATA_FIRST: u8 = 2; // right after "data:" (one space may follow)
const L_DATA: u8 = 3; // in a data value
const L_IGNORE: u8 = 4; // in a comment or a field we do not read

const NEWLINE: usize = memory.data<u8>([0x0a]);

// What an SSE block (the lines up to a blank line) held, for SseBlockSink.
/** No event, or one that is kept as it is. */
export const BLOCK_KEEP: u8 = 0;
/** A valid top-level object with `choices: []` and a usage object: the usage-only event. */
export const BLOCK_USAGE_ONLY: u8 = 1;
/** A valid top-level object with `"usage": null`, its data on one line. */
export const BLOCK_USAGE_NULL: u8 = 2;

/** Told where each SSE block ends (a position in the bytes being fed) and what it held. */
export class SseBlockSink {
  /** at: right after the blank line's CR or LF; cr: that byte was a CR (an LF may follow, same line). */
  blockEnd(at: usize, kind: u8, cr: bool): void {}

  /**
   * A block of one event read whole by the quick path (fast_path.ts), ending at `at` with LF LF;
   * `quick` says where its root `usage` member is.
   */
  quickBlockEnd(at: usize, kind: u8): void {
    this.blockEnd(at, kind, false);
  }
}
const DATA_WORD: u32 = 0x61746164; // "data", little-endian
const DONE_MARKER = "[DONE]";

@inline
function isBlank(c: u32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

/** Bytes a JSON text may start with (after whitespace). */
@inline
function startsJson(c: u32): bool {
  return c == 0x7b || c == 0x5b || c == 0x22 || c == 0x2d || (c >= 0x30 && c <= 0x39) || c == 0x74 || c == 0x66 || c == 0x6e;
}

export class UsageScanner {
  /** What has been read so far (updated in place). */
  usage: TokenUsage;
  /** SSE events ended (with data). */
  events: i32 = 0;
  /** SSE events whose data was not valid JSON ("[DONE]" excluded). */
  malformedEvents: i32 = 0;
  /** SSE events dropped for passing maxEventBytes. */
  oversizedEvents: i32 = 0;
  /** An SSE `data: [DONE]` event was seen (OpenAI's end of stream). */
  sawDone: bool = false;
  /** A plain JSON body turned out invalid (the rest of it was ignored). */
  jsonFailed: bool = false;

  private sse: bool;
  private decided: bool = false;
  private finished: bool = false;
  private readonly maxEventBytes: i32;
  private extractor: UsageExtractor;
  private tok: JsonTokenizer;

  // SSE line and event state
  private line: u8 = L_START;
  private fieldMatch: i32 = 0; // bytes of "data" matched so far, or -1
  private skipLF: bool = false;
  private inEvent: bool = false;
  private eventBytes: i64 = 0;
  private eventDropped: bool = false;
  private prefix: u64 = 0; // the first 8 data bytes, to recognize "[DONE]"
  private dataLines: i32 = 0; // data lines of the current event
  private blockKind: u8 = BLOCK_KEEP; // what the last dispatched event was
  /** Set to be told where SSE blocks end (hiding usage events); null: no one asks. */
  sink: SseBlockSink | null = null;

  constructor(sse: bool, maxEventBytes: i32 = 262144) {
    this.sse = sse;
    this.maxEventBytes = maxEventBytes;
    const extractor = new UsageExtractor();
    this.extractor = extractor;
    this.usage = extractor.usage;
    this.tok = new JsonTokenizer(extractor, MAX_DEPTH, MAX_TOKEN_BYTES);
    this.tok.skipPastMaxDepth = true;
    this.tok.countAltUnder(AUDIO_KEYS);
  }

  /** Whether the model's name is decoded (only weights need it). */
  setWantModel(yes: bool): void {
    this.extractor.wantModel = yes;
  }

  /**
   * The route is a self-hosted server's native API (native: its content members count,
   * extractor.ts nativeContent), whose top-level array is a batch (batch: extractor.ts sumRoots).
   */
  setNativeApi(native: bool, batch: bool): void {
    this.extractor.nativeContent = native;
    this.extractor.sumRoots = batch;
  }

  /** The route is Cohere v2's (extractor.ts cohere): read the usual way only (its usage is not the quick path's). */
  setCohere(yes: bool): void {
    this.extractor.cohere = yes;
  }

  /** As new (constructed with `sse` and the same maxEventBytes), keeping the buffers: for a pooled reader. */
  recycle(sse: bool, wantModel: bool): void {
    this.events = 0;
    this.malformedEvents = 0;
    this.oversizedEvents = 0;
    this.sawDone = false;
    this.jsonFailed = false;
    this.sse = sse;
    this.decided = false;
    this.finished = false;
    this.extractor.recycle(wantModel);
    this.tok.recycle();
    this.line = L_START;
    this.fieldMatch = 0;
    this.skipLF = false;
    this.inEvent = false;
    this.eventBytes = 0;
    this.eventDropped = false;
    this.prefix = 0;
    this.dataLines = 0;
    this.blockKind = BLOCK_KEEP;
    this.sink = null;
  }

  /** Bytes of generated content read so far (see extractor.ts), audio apart. */
  get contentBytes(): i64 {
    return this.tok.countedBytes - this.tok.altPending;
  }

  /** Of those, the bytes read after the last output count was committed (content no count covers). */
  get contentAfterOutput(): i64 {
    return this.tok.countedBytes - this.tok.altPending - this.extractor.contentAtOutput;
  }

  /** Of contentBytes, those of 3- and 4-byte UTF-8 characters (the tokenizer's countedWide). */
  get contentWide(): i64 {
    return this.tok.countedWide - this.tok.altWidePending;
  }

  /** Base64 characters of generated audio read so far (extractor.ts AUDIO_KEYS, Responses audio deltas). */
  get audioBytes(): i64 {
    return this.tok.altCountedBytes + this.tok.altPending;
  }

  /** Whether the first non-blank byte has been seen (the format is decided). */
  get isDecided(): bool {
    return this.decided;
  }

  /** Whether the body is being read as SSE (after sniffing its first byte). */
  get isSse(): bool {
    return this.sse;
  }

  feed(chunk: Uint8Array): void {
    this.feedBytes(chunk.dataStart, <usize>chunk.length);
  }

  /** Feeds the len bytes at ptr: memory the caller owns, read only during the call. */
  feedBytes(ptr: usize, len: usize): void {
    if (this.finished || len == 0) return;
    let p = ptr;
    const end = p + len;
    if (!this.decided) {
      // Skip leading blanks and a UTF-8 byte-order mark, then look at the first real byte.
      while (p < end) {
        const c = <u32>load<u8>(p);
        if (isBlank(c) || c == 0xef || c == 0xbb || c == 0xbf) { p++; continue; }
        if (this.sse && (c == 0x7b || c == 0x5b)) this.sse = false;
        else if (!this.sse && !startsJson(c)) this.sse = true;
        this.decided = true;
        this.extractor.commitOnClose = !this.sse;
        this.tok.allowConcatenated = !this.sse;
        // The blanks before the first line are a block of their own (kept as they are).
        const sink = this.sink;
        if (sink !== null && this.sse && p > ptr) sink.blockEnd(p, BLOCK_KEEP, false);
        break;
      }
      if (p >= end) return;
    }
    if (this.sse) this.feedSse(p, end);
    else this.feedJson(p, end);
  }

  /** End of the body: completes a last line and a last event that had no blank line after it. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.decided) return;
    if (!this.sse) {
      if (!this.jsonFailed && this.tok.finish()) this.extractor.commit(this.tok.countedBytes);
      return;
    }
    this.line = L_START;
    this.blockKind = BLOCK_KEEP;
    if (this.inEvent) this.dispatch();
  }

  /** What the last event dispatched was (BLOCK_*), for finish() callers that hide events. */
  get lastBlockKind(): u8 {
    return this.blockKind;
  }

  // ---- plain JSON ----

  private feedJson(p: usize, end: usize): void {
    if (this.jsonFailed) return;
    // A whole body in this piece, of the usual shape: read in one quick pass (fast_path.ts).
    if (this.tok.fresh && !this.extractor.cohere && readQuickly(p, end, this.extractor.wantModel)) {
      this.tok.countedBytes += quick.counted;
      this.tok.countedWide += quick.wide;
      this.applyCounts(this.tok.countedBytes - quick.counted, true);
      // The root's close commits the model (and anything else pending).
      if (quick.modelAt != 0) this.extractor.pendingModelBytes(quick.modelAt, quick.modelLen);
      this.extractor.commit(this.tok.countedBytes);
      this.tok.readElsewhere(end - p);
      return;
    }
    if (!this.tok.feedRaw(p, end)) {
      this.jsonFailed = true;
      this.extractor.discard();
    }
  }

  /**
   * The counts fast_path.ts read, as the extractor would have taken them: committed as each usage
   * object closed (plain JSON: `base` is the content counted before the document), or left pending
   * for the event's commit (SSE).
   */
  private applyCounts(base: i64, commitOnClose: bool): void {
    const q = quick;
    const x = this.extractor;
    let from = 0;
    for (let u = 0; u < q.usages; u++) {
      const to = unchecked(q.usageCloses[u]);
      for (let i = from; i < to; i++) x.pendingCount(unchecked(q.countSlots[i]), unchecked(q.countValues[i]));
      from = to;
      if (commitOnClose) x.commit(base + unchecked(q.usageCloseAt[u]));
    }
  }

  /**
   * An event whose one data line starts at `js` (after "data:") and is followed by a blank line,
   * all in [js, end), of the usual shape: read in one quick pass and dispatched as dispatch() would.
   * Returns where reading goes on (after the blank line), or 0 when the event goes the usual way.
   */
  private quickEvent(js: usize, end: usize): usize {
    if (this.extractor.cohere) return 0;
    if (js < end && load<u8>(js) == 0x20) js++;
    // One document, then the line's end: an LF and the blank line's LF.
    const q = readQuicklyLine(js, end, this.extractor.wantModel);
    if (q == 0 || q + 2 > end || load<u8>(q) != 0x0a || load<u8>(q + 1) != 0x0a) return 0;
    if (this.maxEventBytes > 0 && q - js > <usize>this.maxEventBytes) return 0;
    quickReadTaken();
    // As dispatch(): a valid top-level object.
    this.events++;
    this.tok.countedBytes += quick.counted;
    this.tok.countedWide += quick.wide;
    let kind = BLOCK_KEEP;
    if (quick.usage == USAGE_OBJECT && quick.choicesSeen && quick.choicesEmpty) kind = BLOCK_USAGE_ONLY;
    else if (quick.usage == USAGE_NULL) kind = BLOCK_USAGE_NULL;
    this.blockKind = kind;
    this.extractor.beginDocument();
    this.applyCounts(0, false);
    if (quick.modelAt != 0) this.extractor.pendingModelBytes(quick.modelAt, quick.modelLen);
    this.extractor.commit(this.tok.countedBytes);
    this.line = L_START;
    const next = q + 2;
    const sink = this.sink;
    if (sink !== null) sink.quickBlockEnd(next, kind);
    return next;
  }

  // ---- SSE ----

  private feedSse(p: usize, end: usize): void {
    while (p < end) {
      let c = <u32>load<u8>(p);
      if (this.skipLF) {
        this.skipLF = false;
        if (c == 0x0a) { p++; continue; }
      }
      const st = this.line;
      if (st == L_DATA || st == L_IGNORE) {
        // Run to the end of the line in one step, eight bytes at a time while none is CR or LF.
        let q = p;
        while (q + 8 <= end) {
          const w = load<u64>(q);
          const lf = w ^ 0x0a0a0a0a0a0a0a0a;
          const cr = w ^ 0x0d0d0d0d0d0d0d0d;
          if (((((lf - 0x0101010101010101) & ~lf) | ((cr - 0x0101010101010101) & ~cr)) & 0x8080808080808080) != 0) break;
          q += 8;
        }
        while (q < end) {
          const b = load<u8>(q);
          if (b == 0x0a || b == 0x0d) break;
          q++;
        }
        if (st == L_DATA && q > p) this.data(p, q);
        if (q >= end) return;
        p = this.endOfLine(q);
        continue;
      }
      if (st == L_START) {
        if (c == 0x0a || c == 0x0d) { // a blank line ends the event
          this.blockKind = BLOCK_KEEP;
          if (this.inEvent) this.dispatch();
          p = this.endOfLine(p);
          const sink = this.sink;
          if (sink !== null) sink.blockEnd(p, this.blockKind, c == 0x0d);
          continue;
        }
        if (c == 0x3a) { this.line = L_IGNORE; p++; continue; } // ":" comment
        if (c == 0x64 && p + 5 <= end && load<u32>(p) == DATA_WORD && load<u8>(p + 4) == 0x3a) {
          if (!this.inEvent) {
            // A whole event here, of the usual shape: one quick pass.
            const next = this.quickEvent(p + 5, end);
            if (next != 0) {
              p = next;
              continue;
            }
          }
          // "data:" in one step, as the field states below would read it
          p += 5;
          this.startDataLine();
          this.line = L_DATA_FIRST;
          continue;
        }
        this.line = L_FIELD;
        this.fieldMatch = 0;
        continue; // read c again as part of the field name
      }
      if (st == L_FIELD) {
        if (c == 0x3a) {
          p++;
          if (this.fieldMatch == 4) { this.startDataLine(); this.line = L_DATA_FIRST; }
          else this.line = L_IGNORE;
          continue;
        }
        if (c == 0x0a || c == 0x0d) { // a field with no colon: "data" alone is an empty data line
          if (this.fieldMatch == 4) this.startDataLine();
          p = this.endOfLine(p);
          continue;
        }
        const m = this.fieldMatch;
        this.fieldMatch = m >= 0 && m < 4 && c == ((DATA_WORD >> (<u32>m << 3)) & 0xff) ? m + 1 : -1;
        p++;
        continue;
      }
      // L_DATA_FIRST
      if (c == 0x20) p++;
      this.line = L_DATA;
    }
  }

  /** Consumes the line end at p (CR, LF, or the CR of a CRLF); returns the next position. */
  private endOfLine(p: usize): usize {
    if (load<u8>(p) == 0x0d) this.skipLF = true;
    this.line = L_START;
    return p + 1;
  }

  private startDataLine(): void {
    if (!this.inEvent) {
      this.inEvent = true;
      this.eventBytes = 0;
      this.eventDropped = false;
      this.prefix = 0;
      this.dataLines = 1;
      this.tok.reset();
      this.extractor.beginDocument();
    } else {
      this.dataLines++;
      this.data(NEWLINE, NEWLINE + 1);
    }
  }

  private data(p: usize, q: usize): void {
    const n = <i64>(q - p);
    const before = this.eventBytes;
    this.eventBytes = before + n;
    if (this.eventDropped) return;
    if (this.maxEventBytes > 0 && this.eventBytes > <i64>this.maxEventBytes) {
      this.eventDropped = true;
      this.oversizedEvents++;
      this.extractor.discard();
      return;
    }
    for (let i = before; i < 8 && p + <usize>(i - before) < q; i++) {
      this.prefix |= <u64>load<u8>(p + <usize>(i - before)) << (<u64>i * 8);
    }
    this.tok.feedRaw(p, q);
  }

  private dispatch(): void {
    this.inEvent = false;
    this.tok.closeAlt(); // audio cut with its event stays audio (the quick path reads the next one without reset())
    if (this.eventBytes == 0) return; // "data:" with nothing: no event, as the SSE spec says
    this.events++;
    if (this.eventDropped) return;
    if (this.tok.finish()) {
      const flags = this.extractor.docFlags;
      if ((flags & DOC_TOP_OBJECT) != 0) {
        // root.choices is passed over (its content counted): the tokenizer says whether it was [].
        const tok = this.tok;
        if ((flags & DOC_USAGE_OBJECT) != 0 && tok.countedValueSeen && tok.countedValueEmptyArray) this.blockKind = BLOCK_USAGE_ONLY;
        else if ((flags & DOC_USAGE_NULL) != 0 && this.dataLines == 1) this.blockKind = BLOCK_USAGE_NULL;
      }
      this.extractor.commit(this.tok.countedBytes);
      return;
    }
    this.extractor.discard();
    if (this.eventBytes == DONE_MARKER.length && this.isDoneMarker()) this.sawDone = true;
    else this.malformedEvents++;
  }

  private isDoneMarker(): bool {
    for (let i = 0; i < DONE_MARKER.length; i++) {
      if (<u32>((this.prefix >> (<u64>i * 8)) & 0xff) != <u32>DONE_MARKER.charCodeAt(i)) return false;
    }
    return true;
  }
}
