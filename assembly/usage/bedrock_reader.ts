// Reads the answers of AWS Bedrock runtime's Converse and streaming endpoints as they stream by,
// split at any byte (response_reader.ts hands them here on those routes):
//
//   /converse                     one JSON answer (bedrock_usage.ts reads it)
//   /converse-stream              AWS event-stream messages (event_stream.ts), by `:event-type`:
//                                 contentBlockDelta (content), metadata (usage.*); messageStart,
//                                 contentBlockStart/Stop and messageStop hold nothing counted
//   /invoke-with-response-stream  event-stream messages `chunk` whose payload is
//                                 {"bytes":"<base64 of the model's own stream event>"}: the decoded
//                                 event goes to a UsageScanner as one JSON document in a sequence
//                                 (Anthropic's message_start/content_block_delta/message_delta for
//                                 Claude), and to bedrock_usage.ts for the
//                                 `amazon-bedrock-invocationMetrics` Bedrock adds to the last one
//
// An exception message (`:message-type` exception or error: modelStreamErrorException, throttling…
// sent mid-stream) ends the reading: what was read before it counts, the rest is estimated. A
// message whose CRCs fail, longer than MAX_MESSAGE_BYTES, lengths no encoder writes, or a chunk
// whose payload is not one JSON object with a base64 `bytes` string make the answer unreadable
// (`failed`): its counts cannot be trusted, and the plugin charges it as an answer it cannot read
// (stream.ts: the estimate from its size, as a compressed answer).
//
// Memory per stream, bounded whatever the answer: the event-stream reader holds one message (at
// most MAX_MESSAGE_BYTES; its buffer is dropped back to 256 bytes when a pooled reader is reused
// after a message over SPARE_BUFFER_BYTES), one JSON tokenizer for Bedrock's JSON (a bracket stack
// of at most MAX_DEPTH bytes, MAX_TOKEN_BYTES of token text), the decoding window (DECODED_WINDOW
// bytes) and, on invoke streams, a UsageScanner (scanner.ts: the same bounds).
import { JsonKeySet, JsonTokenizer } from "../json/tokenizer";
import { EventStreamReader, EventStreamSink } from "./event_stream";
import { BedrockCounts, CONVERSE_ROOT, DELTA_ROOT, INVOKE_CHUNK_ROOT, METADATA_ROOT } from "./bedrock_usage";
import { UsageScanner } from "./scanner";
import { TokenUsage } from "./token_usage";

/** Which Bedrock answer a reader reads. */
export const BEDROCK_CONVERSE: i32 = 1;
export const BEDROCK_CONVERSE_STREAM: i32 = 2;
export const BEDROCK_INVOKE_STREAM: i32 = 3;

/** The longest event-stream message read (one content delta or chunk is a few hundred bytes). */
export const MAX_MESSAGE_BYTES: u32 = 262144;
/** A pooled reader's message buffer above this is dropped when the reader is reused. */
const SPARE_BUFFER_BYTES: i32 = 16384;
/** Decoded bytes of a chunk handed on at a time. */
const DECODED_WINDOW: i32 = 1024;
const MAX_DEPTH: i32 = 1024;
const MAX_TOKEN_BYTES: i32 = 512;

export class BedrockReader extends EventStreamSink {
  /** What has been read (updated after every message, and at finish()). */
  usage: TokenUsage = new TokenUsage();
  format: i32 = 0;
  /** Exception messages seen (the first ends the reading). */
  exceptions: i32 = 0;
  /** A chunk payload that was not one JSON object with a base64 `bytes` string. */
  badChunk: bool = false;

  private frames: EventStreamReader;
  private counts: BedrockCounts;
  private tok: JsonTokenizer;
  private inner: UsageScanner | null = null;
  private decoded: Uint8Array = new Uint8Array(DECODED_WINDOW);
  private decodedLen: i32 = 0;
  private jsonFailed: bool = false;
  private finished: bool = false;
  /** The inner scanner's content bytes when invocationMetrics' output count was read. */
  private innerAtMetrics: i64 = 0;

  constructor(format: i32) {
    super();
    const counts = new BedrockCounts();
    this.counts = counts;
    const tok = new JsonTokenizer(counts, MAX_DEPTH, MAX_TOKEN_BYTES);
    tok.skipPastMaxDepth = true;
    this.tok = tok;
    const frames = new EventStreamReader(NO_SINK, MAX_MESSAGE_BYTES);
    this.frames = frames;
    frames.sink = this;
    this.start(format);
  }

  /** As new for this format, keeping the buffers (a pooled response reader's). */
  start(format: i32): void {
    this.format = format;
    this.usage.clear();
    this.exceptions = 0;
    this.badChunk = false;
    this.jsonFailed = false;
    this.finished = false;
    this.innerAtMetrics = 0;
    this.frames.recycle(SPARE_BUFFER_BYTES);
    this.counts.recycle();
    this.tok.recycle();
    this.decodedLen = 0;
    if (format == BEDROCK_CONVERSE) {
      this.counts.commitOnClose = true;
      this.counts.beginDocument(CONVERSE_ROOT);
    }
    if (format == BEDROCK_INVOKE_STREAM) {
      let inner = this.inner;
      if (inner === null) {
        inner = new UsageScanner(false, 0);
        this.inner = inner;
      } else {
        inner.recycle(false, false);
      }
    }
  }

  /** The framing or a chunk could not be read: no count of this answer can be trusted. */
  get failed(): bool {
    return this.frames.failed || this.badChunk;
  }

  /** Bytes of generated content read (decoded text, tool input, reasoning). */
  get contentBytes(): i64 {
    const inner = this.inner;
    if (this.format == BEDROCK_INVOKE_STREAM && inner !== null) return inner.contentBytes;
    return this.tok.countedBytes;
  }

  /** Of contentBytes, those of 3- and 4-byte UTF-8 characters. */
  get contentWide(): i64 {
    const inner = this.inner;
    if (this.format == BEDROCK_INVOKE_STREAM && inner !== null) return inner.contentWide;
    return this.tok.countedWide;
  }

  /** Of those, the bytes read after the last output count (what no count covers). */
  get contentAfterOutput(): i64 {
    const inner = this.inner;
    if (this.format == BEDROCK_INVOKE_STREAM && inner !== null) {
      return this.counts.metricsOutput ? inner.contentBytes - this.innerAtMetrics : inner.contentAfterOutput;
    }
    return this.tok.countedBytes - this.counts.contentAtOutput;
  }

  /** The len bytes at p (read during the call only). */
  feed(p: usize, len: usize): void {
    if (this.finished || len == 0) return;
    if (this.format != BEDROCK_CONVERSE) {
      this.frames.feed(p, len);
      return;
    }
    if (this.jsonFailed) return;
    if (!this.tok.feedRaw(p, p + len)) {
      this.jsonFailed = true;
      this.counts.discard();
    }
    this.refresh();
  }

  /** The answer ended (normally or not): what was read is final. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.format == BEDROCK_CONVERSE && !this.jsonFailed && this.tok.finish()) this.counts.commit(this.tok.countedBytes);
    const inner = this.inner;
    if (this.format == BEDROCK_INVOKE_STREAM && inner !== null) inner.finish();
    this.refresh();
  }

  /** EventStreamSink: one message whose CRCs hold. */
  message(reader: EventStreamReader, payload: usize, payloadLen: usize): void {
    if (this.exceptions > 0 || this.badChunk) return;
    if (!reader.messageTypeIs("event")) {
      // exception / error (or a type no Bedrock answer has): the answer stops here.
      this.exceptions++;
      return;
    }
    if (this.format == BEDROCK_CONVERSE_STREAM) {
      if (reader.eventTypeIs("contentBlockDelta")) this.document(payload, payloadLen, DELTA_ROOT);
      else if (reader.eventTypeIs("metadata")) this.document(payload, payloadLen, METADATA_ROOT);
    } else if (reader.eventTypeIs("chunk")) {
      this.chunk(payload, payloadLen);
    }
    this.refresh();
  }

  /** One whole JSON document of Bedrock's: its counts count when it is valid. */
  private document(p: usize, n: usize, rootKeys: JsonKeySet): void {
    const tok = this.tok;
    this.counts.beginDocument(rootKeys);
    tok.reset();
    if (tok.feedRaw(p, p + n) && tok.finish()) this.counts.commit(tok.countedBytes);
    else this.counts.discard();
  }

  /** An invoke stream's chunk: {"bytes": base64, …}; the decoded event is read as it is decoded. */
  private chunk(p: usize, n: usize): void {
    const at = bytesMember(p, n);
    if (at == 0) { this.badChunk = true; return; }
    const tok = this.tok;
    this.counts.beginDocument(INVOKE_CHUNK_ROOT);
    tok.reset();
    // The decoded event is one document of a sequence for the inner scanner: a newline between.
    const inner = this.inner!;
    inner.feedBytes(NEWLINE, 1);
    let quad: u32 = 0;
    let have: i32 = 0;
    let pad: i32 = 0;
    let i = memberStart;
    const end = memberEnd;
    while (i < end) {
      let c = <u32>load<u8>(p + i);
      i++;
      if (c == 0x5c) {
        // JSON escapes a serializer may write in base64 text: "\/" only.
        if (i >= end || load<u8>(p + i) != 0x2f) { this.badChunk = true; return; }
        c = 0x2f;
        i++;
      }
      if (c == 0x3d) { pad++; continue; }
      const v = base64Value(c);
      if (v < 0 || pad > 0) { this.badChunk = true; return; }
      quad = (quad << 6) | <u32>v;
      have++;
      if (have == 4) {
        this.put(<u8>(quad >> 16));
        this.put(<u8>(quad >> 8));
        this.put(<u8>quad);
        quad = 0;
        have = 0;
      }
    }
    // The tail: 2 characters are one byte, 3 are two; one alone, or padding beyond, is no base64.
    if (have == 1 || pad > 2 || (pad > 0 && have + pad != 4)) { this.badChunk = true; return; }
    if (have == 2) this.put(<u8>(quad >> 4));
    else if (have == 3) { this.put(<u8>(quad >> 10)); this.put(<u8>(quad >> 2)); }
    this.flushDecoded();
    if (tok.finish()) {
      const before = this.counts.metricsOutput;
      this.counts.commit(inner.contentBytes);
      if (this.counts.metricsOutput && !before) this.innerAtMetrics = inner.contentBytes;
    } else {
      this.counts.discard();
    }
  }

  @inline
  private put(b: u8): void {
    unchecked(this.decoded[this.decodedLen] = b);
    if (++this.decodedLen == DECODED_WINDOW) this.flushDecoded();
  }

  /** Hands the decoded window to both readers of the model's event. */
  private flushDecoded(): void {
    const n = this.decodedLen;
    if (n == 0) return;
    this.decodedLen = 0;
    const p = this.decoded.dataStart;
    this.inner!.feedBytes(p, <usize>n);
    this.tok.feedRaw(p, p + <usize>n);
  }

  /** usage from what the readers hold. */
  private refresh(): void {
    const u = this.usage;
    const inner = this.inner;
    if (this.format == BEDROCK_INVOKE_STREAM && inner !== null) {
      const own = inner.usage;
      u.found = own.found;
      u.input = own.input;
      u.output = own.output;
      u.hasInput = own.hasInput;
      u.hasOutput = own.hasOutput;
      u.provisionalOutput = own.provisionalOutput;
      u.model = own.model;
      this.counts.metricsUsage(u);
      return;
    }
    this.counts.converseUsage(u);
  }
}

const NEWLINE: usize = memory.data<u8>([0x0a]);
/** The frame reader's sink until the constructor can hand it `this`. */
const NO_SINK = new EventStreamSink();

// Where bytesMember found the value: [memberStart, memberEnd) of the payload, quotes excluded.
let memberStart: usize = 0;
let memberEnd: usize = 0;

/**
 * In the n bytes at p (a chunk's payload, `{"bytes":"…","p":"…"}` in any member order): 1 when it
 * is one JSON object of string members with a `bytes` one (its text in memberStart/memberEnd),
 * else 0. Keys are read as written (Bedrock's serializer escapes none); other members' strings may
 * hold any escape.
 */
function bytesMember(p: usize, n: usize): i32 {
  let i = skipBlanks(p, 0, n);
  if (i >= n || load<u8>(p + i) != 0x7b) return 0;
  i = skipBlanks(p, i + 1, n);
  let found = false;
  if (i < n && load<u8>(p + i) == 0x7d) return 0;
  while (i < n) {
    // key
    if (load<u8>(p + i) != 0x22) return 0;
    const keyStart = i + 1;
    const keyEnd = stringEnd(p, keyStart, n);
    if (keyEnd == 0) return 0;
    const isBytes = keyEnd - keyStart == 5 && load<u32>(p + keyStart) == 0x65747962 && load<u8>(p + keyStart + 4) == 0x73; // "bytes"
    i = skipBlanks(p, keyEnd + 1, n);
    if (i >= n || load<u8>(p + i) != 0x3a) return 0;
    i = skipBlanks(p, i + 1, n);
    if (i >= n || load<u8>(p + i) != 0x22) return 0;
    const valueStart = i + 1;
    const valueEnd = stringEnd(p, valueStart, n);
    if (valueEnd == 0) return 0;
    if (isBytes) {
      if (found) return 0; // twice: which one a reader takes is not ours to guess
      found = true;
      memberStart = valueStart;
      memberEnd = valueEnd;
    }
    i = skipBlanks(p, valueEnd + 1, n);
    if (i >= n) return 0;
    const c = load<u8>(p + i);
    if (c == 0x7d) return found && skipBlanks(p, i + 1, n) == n ? 1 : 0;
    if (c != 0x2c) return 0;
    i = skipBlanks(p, i + 1, n);
  }
  return 0;
}

/** The position of the closing quote of the string whose text starts at i (0: none before n). */
function stringEnd(p: usize, i: usize, n: usize): usize {
  while (i < n) {
    const c = load<u8>(p + i);
    if (c == 0x22) return i;
    if (c == 0x5c) i++;
    else if (c < 0x20) return 0;
    i++;
  }
  return 0;
}

function skipBlanks(p: usize, i: usize, n: usize): usize {
  while (i < n) {
    const c = load<u8>(p + i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
    i++;
  }
  return i;
}

/** The value of a standard base64 character, -1 for any other byte. */
@inline
function base64Value(c: u32): i32 {
  if (c >= 0x41 && c <= 0x5a) return <i32>(c - 0x41);
  if (c >= 0x61 && c <= 0x7a) return <i32>(c - 0x61 + 26);
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30 + 52);
  if (c == 0x2b) return 62;
  if (c == 0x2f) return 63;
  return -1;
}
