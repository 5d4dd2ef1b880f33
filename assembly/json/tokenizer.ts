// A push tokenizer for strict JSON (RFC 8259) over UTF-8 bytes. Input may arrive in pieces split
// at any byte; state between pieces is a few fields, a bracket stack bounded by maxDepth, and the
// text of the current key, string or number, kept up to maxTokenBytes (the rest is validated and
// dropped, and `textTruncated` says so). Tokens go to a JsonHandler as they complete. Never traps:
// any violation moves to the error state, which ignores further input.
//
// A handler that has no use for a value says so from key() with skipValue(): the value (a whole
// subtree for a container) is then validated exactly as any other, but by a tight loop that keeps
// no text and calls no handler method, which is what makes reading a few fields out of large
// documents cheap. From beginObject/beginArray, skipContainer() does the same for the rest of the
// container just opened. With `skipPastMaxDepth`, a skipped value may nest deeper than maxDepth:
// past the bracket stack only a counter is kept (see skim()), so depth bounds memory, not what
// can be read after such a value.
//
// Two ways to measure a value without keeping it: countString() (the next value, when it is a
// string, is validated and its decoded UTF-8 length added to countedBytes as its bytes arrive, with
// no string() call) and measureValue() (the next value is skipped and its length as written is
// added to countedBytes). countAltString() and countAltUnder() count strings of another kind
// (audio's base64) apart, in altCountedBytes.
import { plainEnd } from "./plain";
import { hexDigit } from "../util/hex";

/** Receives tokens. Override what you need; read the text of keys, strings and numbers from the tokenizer. */
export class JsonHandler {
  beginObject(tok: JsonTokenizer): void {}
  endObject(tok: JsonTokenizer): void {}
  beginArray(tok: JsonTokenizer): void {}
  endArray(tok: JsonTokenizer): void {}
  key(tok: JsonTokenizer): void {}
  string(tok: JsonTokenizer): void {}
  number(tok: JsonTokenizer): void {}
  boolean(tok: JsonTokenizer, value: bool): void {}
  null(tok: JsonTokenizer): void {}
}

/**
 * A few keys (compared as UTF-8 bytes), for JsonTokenizer.filterKeys and for handlers. Meant to be
 * built once, as a module-level constant: the tokenizer holds a filter without keeping it alive.
 */
export class JsonKeySet {
  // Read by keySetHas through raw loads: the hot paths that match keys touch no managed value.
  private lengths: u64 = 0; // bit n: some key is n bytes long (bit 63: 63 or more)
  private count: i32 = 0;
  private bytesAt: usize = 0; // the keys' UTF-8 bytes, one after another
  private endsAt: usize = 0; // i32 each: where each key ends in those bytes
  private bytes: StaticArray<u8>; // (the memory behind bytesAt and endsAt)
  private ends: StaticArray<i32>;

  constructor(keys: Array<string>) {
    const n = keys.length;
    let total = 0;
    for (let i = 0; i < n; i++) total += String.UTF8.byteLength(keys[i]);
    this.bytes = new StaticArray<u8>(total);
    this.ends = new StaticArray<i32>(n);
    this.bytesAt = changetype<usize>(this.bytes);
    this.endsAt = changetype<usize>(this.ends);
    this.count = n;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const len = String.UTF8.encodeUnsafe(changetype<usize>(keys[i]), keys[i].length, this.bytesAt + <usize>at);
      at += <i32>len;
      this.ends[i] = at;
      this.lengths |= <u64>1 << (len < 63 ? <u64>len : 63);
    }
  }

  /** Whether the len bytes at p are one of the keys. */
  has(p: usize, len: usize): bool {
    return keySetHas(changetype<usize>(this), p, len);
  }
}

/** JsonKeySet#has for the set at `set`. */
function keySetHas(set: usize, p: usize, len: usize): bool {
  const lengths = load<u64>(set + offsetof<JsonKeySet>("lengths"));
  if (((lengths >> (len < 63 ? <u64>len : 63)) & 1) == 0) return false;
  const n = load<i32>(set + offsetof<JsonKeySet>("count"));
  const bytes = load<usize>(set + offsetof<JsonKeySet>("bytesAt"));
  const ends = load<usize>(set + offsetof<JsonKeySet>("endsAt"));
  let from: usize = 0;
  for (let i = 0; i < n; i++) {
    const to = <usize>load<i32>(ends + (<usize>i << 2));
    if (to - from == len) {
      let j: usize = 0;
      while (j < len && load<u8>(p + j) == load<u8>(bytes + from + j)) j++;
      if (j == len) return true;
    }
    from = to;
  }
  return false;
}

/** Keys longer than this are never counted keys (skipContainer's countKeys). */
const KEY_BUF: i32 = 32;

// Parser states.
const S_VALUE: u8 = 0; // a value is required (top level, after ':' or after ',' in an array)
const S_VALUE_OR_CLOSE: u8 = 1; // after '['
const S_KEY_OR_CLOSE: u8 = 2; // after '{'
const S_KEY: u8 = 3; // after ',' in an object
const S_COLON: u8 = 4;
const S_AFTER: u8 = 5; // after a value inside a container: ',' or the closing bracket
const S_STRING: u8 = 6;
const S_ESCAPE: u8 = 7; // after '\'
const S_UNICODE: u8 = 8; // inside \uXXXX
const S_UTF8: u8 = 9; // inside a multi-byte UTF-8 sequence
const S_NUMBER: u8 = 10;
const S_LITERAL: u8 = 11;
const S_DONE: u8 = 12; // the top-level value is complete: only whitespace may follow
const S_ERROR: u8 = 13;
const S_SKIP: u8 = 14; // inside a skipped value; skipState holds the state within it
const S_DEEP: u8 = 15; // (skipState only) in a skipped value, deeper than the bracket stack, outside strings

// Number sub-states.
const N_MINUS: u8 = 0; // "-"
const N_ZERO: u8 = 1; // "0" or "-0"          (complete)
const N_INT: u8 = 2; // "12"                   (complete)
const N_DOT: u8 = 3; // "1."
const N_FRAC: u8 = 4; // "1.5"                 (complete)
const N_EXP: u8 = 5; // "1e"
const N_EXP_SIGN: u8 = 6; // "1e+"
const N_EXP_DIGITS: u8 = 7; // "1e5"           (complete)

const OBJECT: u8 = 1;
const ARRAY: u8 = 2;

// Literals, their bytes packed little-endian.
const L_TRUE: u8 = 0;
const L_FALSE: u8 = 1;
const L_NULL: u8 = 2;
const WORD_TRUE: u64 = 0x65757274; // "true"
const WORD_FALSE: u64 = 0x65736c6166; // "false"
const WORD_NULL: u64 = 0x6c6c756e; // "null"

/** Copies shorter than this are a byte loop: memory.copy costs a call into the engine. */
const SMALL_COPY: usize = 32;

@inline
function isWhitespace(c: u32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}


@inline
function isDigit(c: u32): bool {
  return c - 0x30 <= 9;
}

/** The number sub-state after c, or 0xff when c does not continue a number in state ns. */
@inline
function numberNext(ns: u8, c: u32): u8 {
  const digit = isDigit(c);
  switch (ns) {
    case N_MINUS:
      if (!digit) return 0xff;
      return c == 0x30 ? N_ZERO : N_INT;
    case N_ZERO:
      if (c == 0x2e) return N_DOT;
      if ((c | 0x20) == 0x65) return N_EXP;
      return 0xff; // includes a digit after a leading zero: rejected when the number ends
    case N_INT:
      if (digit) return N_INT;
      if (c == 0x2e) return N_DOT;
      if ((c | 0x20) == 0x65) return N_EXP;
      return 0xff;
    case N_DOT:
      return digit ? N_FRAC : 0xff;
    case N_FRAC:
      if (digit) return N_FRAC;
      if ((c | 0x20) == 0x65) return N_EXP;
      return 0xff;
    case N_EXP:
      if (c == 0x2b || c == 0x2d) return N_EXP_SIGN;
      return digit ? N_EXP_DIGITS : 0xff;
    case N_EXP_SIGN:
      return digit ? N_EXP_DIGITS : 0xff;
    default: // N_EXP_DIGITS
      return digit ? N_EXP_DIGITS : 0xff;
  }
}

@inline
function numberComplete(ns: u8): bool {
  return ns == N_ZERO || ns == N_INT || ns == N_FRAC || ns == N_EXP_DIGITS;
}

@inline
function literalWord(kind: u8): u64 {
  return kind == L_TRUE ? WORD_TRUE : (kind == L_FALSE ? WORD_FALSE : WORD_NULL);
}

@inline
function literalLength(kind: u8): i32 {
  return kind == L_FALSE ? 5 : 4;
}

/**
 * For a UTF-8 lead byte (0x80 and up): the continuation bytes that follow and the range the first
 * must fall in (RFC 3629: no overlongs, no surrogates), as `need | lo << 8 | hi << 16`; 0 when the
 * byte cannot start a sequence.
 */
@inline
function utf8Lead(c: u32): u32 {
  if (c >= 0xc2 && c <= 0xdf) return 1 | 0x80 << 8 | 0xbf << 16;
  if (c == 0xe0) return 2 | 0xa0 << 8 | 0xbf << 16;
  if (c == 0xed) return 2 | 0x80 << 8 | 0x9f << 16;
  if (c >= 0xe1 && c <= 0xef) return 2 | 0x80 << 8 | 0xbf << 16;
  if (c == 0xf0) return 3 | 0x90 << 8 | 0xbf << 16;
  if (c == 0xf4) return 3 | 0x80 << 8 | 0x8f << 16;
  if (c >= 0xf1 && c <= 0xf3) return 3 | 0x80 << 8 | 0xbf << 16;
  return 0;
}


/**
 * A string body from p (after the opening quote) of printable ASCII without a backslash, closed
 * in [p, end): the position after the closing quote; else 0.
 */
@inline
function plainString(p: usize, end: usize): usize {
  let q = p;
  while (q < end) {
    const c = <u32>load<u8>(q);
    if (c == 0x22) return q + 1;
    if (c == 0x5c || c < 0x20 || c >= 0x80) return 0;
    q++;
  }
  return 0;
}

export class JsonTokenizer {
  /** "" while fine; otherwise what went wrong and where. */
  error: string = "";
  /** Bytes consumed so far (all pieces). */
  offset: i64 = 0;

  // Current key/string/number text (UTF-8, escapes resolved), capped at maxTokenBytes.
  text: Uint8Array;
  textLen: i32 = 0;
  textTruncated: bool = false;
  /** For a string token: true when it contained a backslash escape. */
  textHadEscape: bool = false;

  private state: u8 = S_VALUE;
  private stack: Uint8Array;
  private depthNow: i32 = 0;
  private isKey: bool = false;
  private numState: u8 = 0;
  private numIsInteger: bool = true;
  private literal: u8 = L_NULL;
  private literalPos: i32 = 0;
  private uValue: u32 = 0;
  private uDigits: i32 = 0;
  private pendingHigh: u32 = 0; // a \uD800-\uDBFF waiting for its low half
  private utfNeed: i32 = 0;
  private utfLo: u32 = 0x80;
  private utfHi: u32 = 0xbf;
  private pieceStart: usize = 0; // where the piece being fed starts (for error offsets)
  private textCap: i32 = 0; // text.length
  private stackCap: i32 = 0; // stack.length
  private skipArmed: bool = false; // skipValue() was called: the next value is skipped
  private skipBase: i32 = 0; // the depth the skipped value sits at
  private skipState: u8 = S_VALUE; // the state inside the skipped value
  private filter: usize = 0; // filterKeys(): the JsonKeySet wanted at filterDepth (not kept alive)
  private filterDepth: i32 = -1;
  private deep: i32 = 0; // in a skipped value: levels open past maxDepth (only with skipPastMaxDepth)
  private countArmed: bool = false; // countString() was called: the next value, if a string, is counted
  private counting: bool = false; // the current string is counted, not kept
  private measuring: bool = false; // the value being skipped is measured (measureValue())
  // skipContainer(countKeys): strings under those keys inside the skipped container are counted.
  private skipCount: usize = 0; // the JsonKeySet (not kept alive), 0: none
  private countNext: bool = false; // the key just read is one of them
  private countStr: bool = false; // in a counted string (skim)
  private afterHigh: bool = false; // a counted string's last escape was a high surrogate
  private keyBuf: StaticArray<u8> = new StaticArray<u8>(KEY_BUF); // a key read in pieces while counting
  private keyLen: i32 = 0; // its length; -1: it cannot be a counted key
  private emptyArray: bool = false; // the last value skipped with counting was `[]`
  private countedValue: bool = false; // a value was skipped with counting since reset()
  private filterCountIn: usize = 0; // filterKeys()' countIn and countKeys (JsonKeySet, not kept alive)
  private filterCountKeys: usize = 0;
  private pendingCount: usize = 0; // the value about to be skipped is counted with these keys
  /** Decoded bytes of the strings given to countString() plus the written bytes of measureValue() values. */
  countedBytes: i64 = 0;
  // countAltUnder(keys): counted strings under these keys, and countAltString()'s, are counted
  // apart (altCountedBytes): a string's bytes go to countedBytes as they arrive and move when it
  // closes (altPending: those of one still open).
  private altKeys: usize = 0; // the JsonKeySet (not kept alive), 0: none
  private altNext: bool = false; // the counted key just read is one of them (valid while countNext is)
  private altArmed: bool = false; // countAltString() was called
  private altStr: bool = false; // the counted string in progress is counted apart
  private altStart: i64 = 0; // countedBytes when it began
  /** Decoded bytes of the counted strings under countAltUnder()'s keys and of countAltString()'s (not in countedBytes). */
  altCountedBytes: i64 = 0;
  /**
   * Of countedBytes, those of 3- and 4-byte UTF-8 characters (CJK, kana, Hangul, Indic scripts,
   * emoji: denser in tokens than the bytes of other text), counted at each character's lead.
   */
  countedWide: i64 = 0;
  private altWideStart: i64 = 0; // countedWide when the open alt string began
  /**
   * Let a skipped value nest past maxDepth: the levels beyond the bracket stack are only counted
   * (strings in them are still validated; brackets are only balanced, not matched by kind, and
   * commas and colons there are not checked). Off: such a value is an error, as anywhere else.
   */
  skipPastMaxDepth: bool = false;

  handler: JsonHandler;
  /** Deepest nesting of arrays and objects accepted (a top-level container is depth 1). */
  maxDepth: i32;
  /** Longest key, string or number text kept; longer ones are validated, cut and flagged. */
  maxTokenBytes: i32;
  /**
   * Accept a stream of top-level values one after another (`{..} {..}`, NDJSON). Off by default:
   * then anything but whitespace after the first value is an error.
   */
  allowConcatenated: bool = false;

  constructor(handler: JsonHandler, maxDepth: i32 = 64, maxTokenBytes: i32 = 1 << 30) {
    const depth = maxDepth < 0 ? 0 : maxDepth;
    const cap = maxTokenBytes < 0 ? 0 : maxTokenBytes;
    const initial = cap < 64 ? cap : 64;
    this.text = new Uint8Array(initial);
    this.textCap = initial;
    const stackSize = depth < 16 ? depth : 16;
    this.stack = new Uint8Array(stackSize);
    this.stackCap = stackSize;
    this.handler = handler;
    this.maxDepth = depth;
    this.maxTokenBytes = cap;
  }

  /** Starts over for a new document (buffers are kept). */
  reset(): void {
    if (this.error.length != 0) this.error = "";
    this.offset = 0;
    this.state = S_VALUE;
    this.depthNow = 0;
    this.textLen = 0;
    this.textTruncated = false;
    this.textHadEscape = false;
    this.pendingHigh = 0;
    this.utfNeed = 0;
    this.skipArmed = false;
    this.filter = 0;
    this.filterDepth = -1;
    this.deep = 0;
    this.closeAlt(); // a string cut with its document: what arrived of it was sent
    this.altNext = false;
    this.altArmed = false;
    this.countArmed = false;
    this.counting = false;
    this.measuring = false;
    this.skipCount = 0;
    this.countNext = false;
    this.countStr = false;
    this.afterHigh = false;
    this.pendingCount = 0;
    this.countedValue = false;
    this.emptyArray = false;
  }

  /**
   * As new (same handler, limits and skipPastMaxDepth; allowConcatenated off), keeping the buffers:
   * for a tokenizer reused by a pooled reader.
   */
  recycle(): void {
    this.reset();
    this.countedBytes = 0;
    this.altCountedBytes = 0;
    this.countedWide = 0;
    this.keyLen = 0;
    this.allowConcatenated = false;
    this.filterCountIn = 0;
    this.filterCountKeys = 0;
    this.pieceStart = 0;
  }

  get depth(): i32 {
    return this.depthNow;
  }

  /** Nothing has been fed since reset()/recycle(). */
  get fresh(): bool {
    return this.offset == 0 && this.state == S_VALUE && this.depthNow == 0;
  }

  /**
   * A whole top-level value of n bytes was read elsewhere (usage/fast_path.ts), and found valid: the
   * state is as after feeding it (the handler saw nothing of it).
   */
  readElsewhere(n: usize): void {
    this.offset += <i64>n;
    this.state = S_DONE;
  }

  get failed(): bool {
    return this.state == S_ERROR;
  }

  /** True once one complete top-level value has been read (and no error since). */
  get complete(): bool {
    return this.state == S_DONE;
  }

  /** For a number token: written without fraction or exponent. */
  get numberIsInteger(): bool {
    return this.numIsInteger;
  }

  /**
   * From key(): the key's value is not wanted. It is validated like any other, but nothing in it
   * reaches the handler (no token, no begin or end of a container inside it) and no text is kept.
   * (Generally: the next value to begin is skipped.)
   */
  skipValue(): void {
    this.skipArmed = true;
    this.pendingCount = 0;
  }

  /** From key(): skipValue(), counting the strings under countKeys in the value (as skipContainer does). */
  skipValueCounting(countKeys: JsonKeySet): void {
    this.skipArmed = true;
    this.pendingCount = changetype<usize>(countKeys);
  }

  /**
   * From beginObject/beginArray: the rest of the container just opened is passed over as skipValue()
   * passes over a value (validated, nothing reported: not even its end). The handler must not count
   * it as entered. countKeys: string values of these keys, at any depth inside the container, are
   * counted into countedBytes (decoded UTF-8 bytes, as countString() counts; not past maxDepth).
   * `countKeys` must outlive its use (a module-level constant).
   */
  skipContainer(countKeys: JsonKeySet | null = null): void {
    const st = this.state;
    if (st != S_KEY_OR_CLOSE && st != S_VALUE_OR_CLOSE) return; // not right after an opening bracket
    this.skipBase = this.depthNow - 1;
    this.skipState = st;
    this.state = S_SKIP;
    this.skipCount = changetype<usize>(countKeys);
    this.countNext = false;
    this.countStr = false;
    if (countKeys !== null) this.startCounted();
  }

  /**
   * Whether, since reset(), a value was skipped with counting (skipValueCounting, skipContainer
   * with countKeys, filterKeys' countIn), and whether the last such value was an empty array.
   */
  get countedValueSeen(): bool {
    return this.countedValue;
  }

  get countedValueEmptyArray(): bool {
    return this.emptyArray;
  }

  /** From key(): when the value is a string, it is counted (countedBytes), not kept nor reported. */
  countString(): void {
    this.countArmed = true;
  }

  /** From key(): as countString(), into altCountedBytes. */
  countAltString(): void {
    this.countArmed = true;
    this.altArmed = true;
  }

  /**
   * Of the strings counted inside skipped values (skipValueCounting, skipContainer, filterKeys'
   * countIn), those under these keys count into altCountedBytes, not countedBytes. Kept across
   * reset() and recycle(); `keys` must outlive its use (a module-level constant). null: none.
   */
  countAltUnder(keys: JsonKeySet | null): void {
    this.altKeys = changetype<usize>(keys);
  }

  /** Bytes of an alt string still open (in countedBytes until it closes). */
  get altPending(): i64 {
    return this.altStr ? this.countedBytes - this.altStart : 0;
  }

  /** Of those, wide ones (countedWide). */
  get altWidePending(): i64 {
    return this.altStr ? this.countedWide - this.altWideStart : 0;
  }

  private beginAlt(): void {
    this.altStr = true;
    this.altStart = this.countedBytes;
    this.altWideStart = this.countedWide;
  }

  /**
   * An alt string closed, or its document ended without it (reset(), or the caller's end of an
   * event): its bytes move to altCountedBytes.
   */
  closeAlt(): void {
    if (!this.altStr) return;
    this.altCountedBytes += this.countedBytes - this.altStart;
    this.countedBytes = this.altStart;
    this.countedWide = this.altWideStart;
    this.altStr = false;
  }

  /** From key(): the value is skipped (as skipValue()) and its bytes as written added to countedBytes. */
  measureValue(): void {
    this.skipArmed = true;
    this.measuring = true;
  }

  /**
   * The keys the handler wants in the object at the current depth (call it from beginObject, or
   * from endObject/endArray for the object the tokenizer is back in). A key of that object not in
   * `keys` is passed over with its value as if key() had called skipValue(), without a key() call:
   * the handler must treat every such key that way. Keys are matched as written; one with an
   * escape or a non-ASCII byte, or split between pieces, still goes to key(). null: no filter.
   * Stays until called again, that object ends, or reset(). `keys` must outlive its use (the
   * tokenizer does not keep it alive): a module-level constant. countIn/countKeys: the keys of
   * countIn (not in `keys`) are passed over too, as if key() had called skipValueCounting(countKeys).
   */
  filterKeys(keys: JsonKeySet | null, countIn: JsonKeySet | null = null, countKeys: JsonKeySet | null = null): void {
    this.filter = changetype<usize>(keys);
    this.filterDepth = keys === null ? -1 : this.depthNow;
    this.filterCountIn = countKeys === null ? 0 : changetype<usize>(countIn);
    this.filterCountKeys = changetype<usize>(countKeys);
  }

  /** The current token text as a string (the tokenizer has validated it as UTF-8). */
  textString(): string {
    return String.UTF8.decodeUnsafe(this.text.dataStart, <usize>this.textLen);
  }

  /** Whether the current token text is exactly s, an ASCII string (no allocation; non-ASCII s never matches). */
  textEquals(s: string): bool {
    const n = s.length;
    if (n != this.textLen || this.textTruncated) return false;
    const p = this.text.dataStart;
    const q = changetype<usize>(s);
    for (let i = 0; i < n; i++) {
      const c = <u32>load<u16>(q + (<usize>i << 1));
      if (c >= 0x80 || <u32>load<u8>(p + <usize>i) != c) return false;
    }
    return true;
  }

  /** Feeds bytes data[start, end). Returns false once the input is known to be invalid. */
  feed(data: Uint8Array, start: i32 = 0, end: i32 = -1): bool {
    if (end < 0 || end > data.length) end = data.length;
    if (start < 0) start = 0;
    if (start >= end) return this.state != S_ERROR;
    return this.feedRaw(data.dataStart + <usize>start, data.dataStart + <usize>end);
  }

  /** Feeds the bytes [p, end) of memory the caller owns. */
  feedRaw(p: usize, end: usize): bool {
    const begin = p;
    this.pieceStart = p;
    while (p < end) {
      const st = this.state;
      if (st == S_STRING) {
        p = this.scanString(p, end);
        continue;
      }
      if (st == S_SKIP) {
        p = this.skim(p, end);
        continue;
      }
      const c = <u32>load<u8>(p);
      switch (st) {
        case S_VALUE:
        case S_VALUE_OR_CLOSE: {
          if (isWhitespace(c)) { p++; break; }
          if (c == 0x5d && st == S_VALUE_OR_CLOSE) { p++; this.close(ARRAY); break; }
          if (this.skipArmed) {
            // The value the handler does not want begins here: validate it without reporting it.
            this.skipArmed = false;
            this.countArmed = false;
            this.altArmed = false;
            const counting = this.pendingCount;
            this.skipCount = counting;
            if (counting != 0) {
              this.pendingCount = 0;
              this.countedValue = true;
              this.emptyArray = false;
              this.countNext = false;
              this.countStr = false;
            }
            this.skipBase = this.depthNow;
            this.skipState = S_VALUE;
            this.state = S_SKIP;
            break;
          }
          p++;
          this.beginValue(c, p);
          break;
        }
        case S_KEY_OR_CLOSE:
        case S_KEY: {
          if (isWhitespace(c)) { p++; break; }
          p++;
          if (c == 0x22) {
            this.beginString(true);
            if (this.filterDepth == this.depthNow) {
              // A key wholly in this piece, plain ASCII: judged in place.
              const q = plainString(p, end);
              if (q != 0) {
                this.state = S_COLON;
                if (keySetHas(this.filter, p, q - 1 - p)) {
                  this.putRange(p, q - 1); // as scanString would, in one step
                  this.handler.key(this);
                } else {
                  this.skipArmed = true; // passed over: its value is skipped
                  const countIn = this.filterCountIn;
                  if (countIn != 0 && keySetHas(countIn, p, q - 1 - p)) this.pendingCount = this.filterCountKeys;
                }
                p = q;
              }
            }
            break;
          }
          if (c == 0x7d && st == S_KEY_OR_CLOSE) { this.close(OBJECT); break; }
          this.fail("expected a key", p - 1);
          break;
        }
        case S_COLON: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x3a) { this.state = S_VALUE; break; }
          this.fail("expected ':'", p - 1);
          break;
        }
        case S_AFTER: {
          p++;
          if (isWhitespace(c)) break;
          const top = load<u8>(this.stack.dataStart + <usize>(this.depthNow - 1));
          if (c == 0x2c) { this.state = top == OBJECT ? S_KEY : S_VALUE; break; }
          if (c == 0x7d && top == OBJECT) { this.close(OBJECT); break; }
          if (c == 0x5d && top == ARRAY) { this.close(ARRAY); break; }
          this.fail("expected ',' or a closing bracket", p - 1);
          break;
        }
        case S_ESCAPE: {
          p++;
          this.escape(c, p);
          break;
        }
        case S_UNICODE: {
          p++;
          const h = hexDigit(c);
          if (h < 0) { this.fail("bad \\u escape", p - 1); break; }
          this.uValue = this.uValue << 4 | <u32>h;
          if (++this.uDigits == 4) {
            this.codeUnit(this.uValue);
            this.state = S_STRING;
          }
          break;
        }
        case S_UTF8: {
          p++;
          if (c < this.utfLo || c > this.utfHi) { this.fail("invalid UTF-8", p - 1); break; }
          this.put(<u8>c);
          this.utfLo = 0x80;
          this.utfHi = 0xbf;
          if (--this.utfNeed == 0) this.state = S_STRING;
          break;
        }
        case S_NUMBER: {
          p = this.scanNumber(p, end);
          break;
        }
        case S_LITERAL: {
          p++;
          const kind = this.literal;
          const pos = this.literalPos;
          if (c != <u32>((literalWord(kind) >> (<u64>pos << 3)) & 0xff)) { this.fail("invalid literal", p - 1); break; }
          this.literalPos = pos + 1;
          if (pos + 1 == literalLength(kind)) {
            if (kind == L_NULL) this.handler.null(this);
            else this.handler.boolean(this, kind == L_TRUE);
            this.afterValue();
          }
          break;
        }
        case S_DONE: {
          if (isWhitespace(c)) { p++; break; }
          if (this.allowConcatenated) { this.state = S_VALUE; break; } // read c again as a new value
          this.fail("unexpected data after the value", p);
          p++;
          break;
        }
        default: // S_ERROR
          this.offset += <i64>(end - begin);
          return false;
      }
    }
    this.offset += <i64>(end - begin);
    return this.state != S_ERROR;
  }

  /** End of input: completes a trailing top-level number. Returns whether the document is complete and valid. */
  finish(): bool {
    const skipping = this.state == S_SKIP;
    const inner = skipping ? this.skipState : this.state;
    if (inner == S_NUMBER && this.depthNow == 0 && numberComplete(this.numState)) {
      if (!skipping) this.handler.number(this);
      this.state = S_DONE;
    }
    if (this.state == S_DONE) return true;
    if (this.state != S_ERROR) {
      this.error = "json: unexpected end of input at offset " + this.offset.toString();
      this.state = S_ERROR;
    }
    return false;
  }

  // ---- internals ----

  private fail(message: string, at: usize): void {
    if (this.state == S_ERROR) return;
    this.state = S_ERROR;
    this.error = "json: " + message + " at offset " + (this.offset + <i64>(at - this.pieceStart)).toString();
  }

  @inline
  private afterValue(): void {
    this.state = this.depthNow == 0 ? S_DONE : S_AFTER;
  }

  /** Pushes a container, or fails when it would nest too deep; at is the bracket. Returns whether pushed. */
  private push(kind: u8, at: usize): bool {
    const d = this.depthNow;
    if (d >= this.maxDepth) { this.fail("nesting too deep", at); return false; }
    if (d >= this.stackCap) this.growStack();
    store<u8>(this.stack.dataStart + <usize>d, kind);
    this.depthNow = d + 1;
    return true;
  }

  private beginValue(c: u32, p: usize): void {
    if (c == 0x22) {
      this.beginString(false);
      if (this.countArmed) {
        this.countArmed = false;
        this.counting = true;
        if (this.altArmed) { this.altArmed = false; this.beginAlt(); }
      }
      return;
    }
    this.countArmed = false;
    this.altArmed = false;
    if (c == 0x7b || c == 0x5b) {
      const kind = c == 0x7b ? OBJECT : ARRAY;
      if (!this.push(kind, p - 1)) return;
      if (kind == OBJECT) {
        this.state = S_KEY_OR_CLOSE;
        this.handler.beginObject(this);
      } else {
        this.state = S_VALUE_OR_CLOSE;
        this.handler.beginArray(this);
      }
      return;
    }
    if (c == 0x2d || isDigit(c)) {
      this.textLen = 0;
      this.textTruncated = false;
      this.numIsInteger = true;
      this.put(<u8>c);
      this.numState = c == 0x2d ? N_MINUS : (c == 0x30 ? N_ZERO : N_INT);
      this.state = S_NUMBER;
      return;
    }
    if (c == 0x74) this.literal = L_TRUE;
    else if (c == 0x66) this.literal = L_FALSE;
    else if (c == 0x6e) this.literal = L_NULL;
    else { this.fail("unexpected byte", p - 1); return; }
    this.literalPos = 1;
    this.state = S_LITERAL;
  }

  @inline
  private close(kind: u8): void {
    // Callers only close the kind on top of the stack.
    const d = this.depthNow - 1;
    this.depthNow = d;
    if (d < this.filterDepth) { // the filtered object ends: its filter with it
      this.filter = 0;
      this.filterDepth = -1;
    }
    if (kind == OBJECT) this.handler.endObject(this);
    else this.handler.endArray(this);
    this.afterValue();
  }

  @inline
  private beginString(isKey: bool): void {
    this.isKey = isKey;
    this.textLen = 0;
    this.textTruncated = false;
    this.textHadEscape = false;
    this.pendingHigh = 0;
    this.state = S_STRING;
  }

  /** String body: copies plain bytes in a tight loop, then handles the byte that stopped it. */
  private scanString(p: usize, end: usize): usize {
    if (this.pendingHigh != 0 && load<u8>(p) != 0x5c) this.flushHigh();
    // Fast path: printable ASCII other than '"' and '\'.
    let q = p;
    if (this.counting) {
      q = plainEnd(p, end);
      this.countedBytes += <i64>(q - p);
    } else {
      while (q < end) {
        const c = <u32>load<u8>(q);
        if (c == 0x22 || c == 0x5c || c < 0x20 || c >= 0x80) break;
        q++;
      }
      if (q > p) this.putRange(p, q);
    }
    if (q >= end) return q;
    const c = <u32>load<u8>(q);
    q++;
    if (c == 0x22) {
      if (this.isKey) {
        this.state = S_COLON;
        this.handler.key(this);
      } else if (this.counting) {
        this.counting = false;
        this.closeAlt();
        this.afterValue();
      } else {
        this.handler.string(this);
        this.afterValue();
      }
      return q;
    }
    if (c == 0x5c) {
      this.textHadEscape = true;
      this.state = S_ESCAPE;
      return q;
    }
    if (c < 0x20) {
      this.fail("control character in string", q - 1);
      return q;
    }
    // A UTF-8 lead byte: set the range its first continuation byte must fall in.
    const lead = utf8Lead(c);
    if (lead == 0) { this.fail("invalid UTF-8", q - 1); return q; }
    this.put(<u8>c);
    this.utfNeed = <i32>(lead & 0xff);
    this.utfLo = (lead >> 8) & 0xff;
    this.utfHi = lead >> 16;
    this.state = S_UTF8;
    return q;
  }

  private escape(c: u32, p: usize): void {
    if (c == 0x75) { // 'u'
      this.uValue = 0;
      this.uDigits = 0;
      this.state = S_UNICODE;
      return;
    }
    if (this.pendingHigh != 0) this.flushHigh();
    let b: u32 = 0;
    if (c == 0x22 || c == 0x5c || c == 0x2f) b = c;
    else if (c == 0x62) b = 0x08;
    else if (c == 0x66) b = 0x0c;
    else if (c == 0x6e) b = 0x0a;
    else if (c == 0x72) b = 0x0d;
    else if (c == 0x74) b = 0x09;
    else { this.fail("bad escape", p - 1); return; }
    this.put(<u8>b);
    this.state = S_STRING;
  }

  /** A \uXXXX value: pairs surrogates; a lone surrogate becomes U+FFFD (as Go's encoding/json does). */
  private codeUnit(u: u32): void {
    if (u >= 0xd800 && u <= 0xdbff) {
      if (this.pendingHigh != 0) this.putCodePoint(0xfffd);
      this.pendingHigh = u;
      return;
    }
    if (u >= 0xdc00 && u <= 0xdfff) {
      if (this.pendingHigh != 0) {
        const cp = 0x10000 + ((this.pendingHigh - 0xd800) << 10) + (u - 0xdc00);
        this.pendingHigh = 0;
        this.putCodePoint(cp);
      } else {
        this.putCodePoint(0xfffd);
      }
      return;
    }
    if (this.pendingHigh != 0) this.flushHigh();
    this.putCodePoint(u);
  }

  private flushHigh(): void {
    this.pendingHigh = 0;
    this.putCodePoint(0xfffd);
  }

  private putCodePoint(cp: u32): void {
    if (cp < 0x80) {
      this.put(<u8>cp);
    } else if (cp < 0x800) {
      this.put(<u8>(0xc0 | cp >> 6));
      this.put(<u8>(0x80 | cp & 0x3f));
    } else if (cp < 0x10000) {
      this.put(<u8>(0xe0 | cp >> 12));
      this.put(<u8>(0x80 | (cp >> 6) & 0x3f));
      this.put(<u8>(0x80 | cp & 0x3f));
    } else {
      this.put(<u8>(0xf0 | cp >> 18));
      this.put(<u8>(0x80 | (cp >> 12) & 0x3f));
      this.put(<u8>(0x80 | (cp >> 6) & 0x3f));
      this.put(<u8>(0x80 | cp & 0x3f));
    }
  }

  /** Number bytes from p: keeps those that continue the number; at the first that does not, ends it. */
  private scanNumber(p: usize, end: usize): usize {
    let ns = this.numState;
    let q = p;
    while (q < end) {
      const c = <u32>load<u8>(q);
      const next = numberNext(ns, c);
      if (next == 0xff) break;
      if (next == N_DOT || next == N_EXP) this.numIsInteger = false;
      ns = next;
      q++;
    }
    this.numState = ns;
    if (q > p) this.putRange(p, q);
    if (q < end) this.endNumber(q); // the byte at q is read again in the state that follows
    return q;
  }

  /** The byte at p ends the number: emit it if complete (state moves on), else fail. */
  private endNumber(p: usize): void {
    if (!numberComplete(this.numState)) {
      this.fail("malformed number", p);
      return;
    }
    if (isDigit(<u32>load<u8>(p))) { // "01"
      this.fail("leading zero in number", p);
      return;
    }
    this.handler.number(this);
    this.afterValue(); // a top-level number: S_DONE then accepts only whitespace
  }

  @inline
  private put(b: u8): void {
    if (this.counting) {
      this.countedBytes++;
      if (b >= 0xe0) this.countedWide += b >= 0xf0 ? 4 : 3; // a wide character's lead
      return;
    }
    const n = this.textLen;
    if (n >= this.maxTokenBytes) { this.textTruncated = true; return; }
    if (n >= this.textCap) this.grow(n + 1);
    store<u8>(this.text.dataStart + <usize>n, b);
    this.textLen = n + 1;
  }

  @inline
  private putRange(p: usize, q: usize): void {
    let len = <i32>(q - p);
    const n = this.textLen;
    const room = this.maxTokenBytes - n;
    if (len > room) { len = room; this.textTruncated = true; }
    if (len <= 0) return;
    if (n + len > this.textCap) this.grow(n + len);
    const dst = this.text.dataStart + <usize>n;
    if (<usize>len < SMALL_COPY) {
      for (let i: usize = 0; i < <usize>len; i++) store<u8>(dst + i, load<u8>(p + i));
    } else {
      memory.copy(dst, p, <usize>len);
    }
    this.textLen = n + len;
  }

  private grow(min: i32): void {
    let size = this.textCap * 2;
    if (size < min) size = min;
    if (size < 16) size = 16;
    if (size > this.maxTokenBytes) size = this.maxTokenBytes;
    const grown = new Uint8Array(size);
    memory.copy(grown.dataStart, this.text.dataStart, <usize>this.textLen);
    this.text = grown;
    this.textCap = size;
  }

  // ---- skipped values ----

  /**
   * Validates a skipped value from p, exactly as the states above would (same errors at the same
   * offsets), without text or handler calls. Returns where it stopped: at the end of the input, at
   * an error, or right after the skipped value (the state is then as after any value). When the
   * skipped value sits in the filtered object, the unwanted keys after it are passed over too
   * (not after a measured value: its length is what was asked for).
   * With skipPastMaxDepth, an opening bracket at maxDepth switches to S_DEEP: from there only
   * strings (validated as anywhere) and the count of open brackets are followed, until that count
   * is back to zero; the value then goes on at maxDepth as before.
   * The loop keeps its state in locals: fields are read once and written back on the way out.
   */
  private skim(p: usize, end: usize): usize {
    const start = p;
    const base = this.skipBase;
    let st = this.skipState;
    let depth = this.depthNow;
    let isKey = this.isKey;
    let ns = this.numState;
    let lit = this.literal;
    let litPos = this.literalPos;
    let uDigits = this.uDigits;
    let utfNeed = this.utfNeed;
    let utfLo = this.utfLo;
    let utfHi = this.utfHi;
    let stack = this.stack.dataStart;
    let capacity = this.stackCap;
    const maxDepth = this.maxDepth;
    let deep = this.deep;
    // Counting strings under some keys (skipContainer(countKeys)): 0 in every other skip.
    let countSet = this.skipCount;
    // The filter applies after a value that sits right in the filtered object.
    const filter = !this.measuring && base > 0 && base == this.filterDepth && load<u8>(stack + <usize>(base - 1)) == OBJECT ? this.filter : 0;
    const countIn = filter != 0 ? this.filterCountIn : 0;
    let failure = F_NONE;
    let at: usize = 0;
    let complete = false;
    while (p < end) {
      if (st == S_STRING) {
        if (countSet != 0) {
          // (apart, so that the usual loop below keeps its registers)
          p = this.countedRun(p, end, isKey);
        } else {
          // Plain bytes in a tight loop: eight at a time while no byte can stop it.
          p = plainEnd(p, end);
        }
        if (p >= end) break;
        const c = <u32>load<u8>(p);
        if (p >= end) break;
        p++;
        if (c == 0x22) {
          if (this.countStr) { this.countStr = false; this.afterHigh = false; this.closeAlt(); }
          if (deep > 0) { st = S_DEEP; continue; }
          if (isKey) {
            if (countSet != 0) {
              const counted = this.keyLen >= 0 && keySetHas(countSet, changetype<usize>(this.keyBuf), <usize>this.keyLen);
              this.countNext = counted;
              this.altNext = counted && this.altKeys != 0 && keySetHas(this.altKeys, changetype<usize>(this.keyBuf), <usize>this.keyLen);
            }
            st = S_COLON;
            continue;
          }
          if (depth == base) {
            const next = nextUnwanted(p, end, filter);
            if (next == 0) { complete = true; break; }
            p = next; // the next key's value: skip it too
            st = S_VALUE;
            countSet = countIn != 0 && keySetHas(countIn, chainKey, chainKeyLen) ? this.filterCountKeys : 0;
            if (countSet != 0) this.startCounted();
            this.countNext = false;
            this.countStr = false;
            continue;
          }
          st = S_AFTER;
          continue;
        }
        if (c == 0x5c) { st = S_ESCAPE; continue; }
        if (c < 0x20) { failure = F_CONTROL; at = p - 1; break; }
        const lead = utf8Lead(c);
        if (lead == 0) { failure = F_UTF8; at = p - 1; break; }
        if (this.countStr) {
          // UTF-8 decodes to itself, byte for byte
          this.countedBytes++;
          if (c >= 0xe0) this.countedWide += c >= 0xf0 ? 4 : 3;
          this.afterHigh = false;
        }
        else if (isKey) this.keyLen = -1; // a counted key is ASCII
        utfNeed = <i32>(lead & 0xff);
        utfLo = (lead >> 8) & 0xff;
        utfHi = lead >> 16;
        st = S_UTF8;
        continue;
      }
      const c = <u32>load<u8>(p);
      let ended = false; // a value just ended at depth (p is right after it)
      switch (st) {
        case S_VALUE:
        case S_VALUE_OR_CLOSE: {
          p++;
          if (isWhitespace(c)) break;
          let counts = false;
          let alt = false;
          if (countSet != 0) { counts = this.countNext; this.countNext = false; alt = this.altNext; this.altNext = false; }
          if (c == 0x22) {
            isKey = false;
            st = S_STRING;
            if (counts) { this.countStr = true; if (alt) this.beginAlt(); }
            break;
          }
          if (c == 0x7b || c == 0x5b) {
            if (depth >= maxDepth) {
              if (!this.skipPastMaxDepth) { failure = F_DEPTH; at = p - 1; break; }
              deep = 1;
              st = S_DEEP;
              break;
            }
            if (depth >= capacity) { // rare: grow the bracket stack
              this.depthNow = depth;
              this.growStack();
              stack = this.stack.dataStart;
              capacity = this.stackCap;
            }
            store<u8>(stack + <usize>depth, c == 0x7b ? OBJECT : ARRAY);
            depth++;
            st = c == 0x7b ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
            break;
          }
          if (c == 0x5d && st == S_VALUE_OR_CLOSE) {
            if (depth == base + 1 && countSet != 0) this.emptyArray = true;
            depth--;
            ended = true;
            break;
          }
          if (c == 0x2d || isDigit(c)) {
            ns = c == 0x2d ? N_MINUS : (c == 0x30 ? N_ZERO : N_INT);
            st = S_NUMBER;
            break;
          }
          if (c == 0x74) lit = L_TRUE;
          else if (c == 0x66) lit = L_FALSE;
          else if (c == 0x6e) lit = L_NULL;
          else { failure = F_UNEXPECTED; at = p - 1; break; }
          litPos = 1;
          st = S_LITERAL;
          break;
        }
        case S_KEY_OR_CLOSE:
        case S_KEY: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x22) {
            // The usual key: plain, with the colon right after it.
            const q = plainString(p, end);
            if (q != 0 && q < end && load<u8>(q) == 0x3a) {
              if (countSet != 0) {
                const counted = keySetHas(countSet, p, q - 1 - p);
                this.countNext = counted;
                this.altNext = counted && this.altKeys != 0 && keySetHas(this.altKeys, p, q - 1 - p);
              }
              p = q + 1;
              st = S_VALUE;
              break;
            }
            isKey = true;
            this.keyLen = 0;
            st = S_STRING;
            break;
          }
          if (c == 0x7d && st == S_KEY_OR_CLOSE) {
            depth--;
            ended = true;
            break;
          }
          failure = F_KEY;
          at = p - 1;
          break;
        }
        case S_COLON: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x3a) { st = S_VALUE; break; }
          failure = F_COLON;
          at = p - 1;
          break;
        }
        case S_AFTER: {
          p++;
          if (isWhitespace(c)) break;
          const top = load<u8>(stack + <usize>(depth - 1));
          if (c == 0x2c) { st = top == OBJECT ? S_KEY : S_VALUE; break; }
          if ((c == 0x7d && top == OBJECT) || (c == 0x5d && top == ARRAY)) { depth--; ended = true; break; }
          failure = F_AFTER;
          at = p - 1;
          break;
        }
        case S_ESCAPE: {
          p++;
          if (isKey) this.keyLen = -1; // a counted key has no escape
          if (c == 0x75) { uDigits = 0; this.uValue = 0; st = S_UNICODE; break; }
          if (c == 0x22 || c == 0x5c || c == 0x2f || c == 0x62 || c == 0x66 || c == 0x6e || c == 0x72 || c == 0x74) {
            if (this.countStr) { this.countedBytes++; this.afterHigh = false; }
            st = S_STRING;
            break;
          }
          failure = F_ESCAPE;
          at = p - 1;
          break;
        }
        case S_UNICODE: {
          p++;
          const h = hexDigit(c);
          if (h < 0) { failure = F_UNICODE; at = p - 1; break; }
          this.uValue = this.uValue << 4 | <u32>h;
          if (++uDigits == 4) {
            st = S_STRING;
            if (this.countStr) {
              // As the reporting path decodes: a pair is 4 bytes, a lone surrogate U+FFFD (3).
              // (wide: as the lead bytes of what it decodes to, 3 for a lone surrogate's U+FFFD, 4 for a pair)
              if (this.uValue >= 0xd800 && this.uValue <= 0xdbff) { this.countedBytes += 3; this.countedWide += 3; this.afterHigh = true; }
              else if (this.uValue >= 0xdc00 && this.uValue <= 0xdfff) { const n: i64 = this.afterHigh ? 1 : 3; this.countedBytes += n; this.countedWide += n; this.afterHigh = false; }
              else { this.countedBytes += this.uValue < 0x80 ? 1 : (this.uValue < 0x800 ? 2 : 3); if (this.uValue >= 0x800) this.countedWide += 3; this.afterHigh = false; }
            }
          }
          break;
        }
        case S_UTF8: {
          p++;
          if (c < utfLo || c > utfHi) { failure = F_UTF8; at = p - 1; break; }
          if (this.countStr) this.countedBytes++;
          utfLo = 0x80;
          utfHi = 0xbf;
          if (--utfNeed == 0) st = S_STRING;
          break;
        }
        case S_NUMBER: {
          let q = p;
          while (q < end) {
            const next = numberNext(ns, <u32>load<u8>(q));
            if (next == 0xff) break;
            ns = next;
            q++;
          }
          p = q;
          if (q >= end) break;
          // The byte at q ends the number and is read again in the state that follows.
          if (!numberComplete(ns)) { failure = F_NUMBER; at = q; break; }
          if (isDigit(<u32>load<u8>(q))) { failure = F_LEADING_ZERO; at = q; break; }
          ended = true;
          break;
        }
        case S_LITERAL: {
          p++;
          if (c != <u32>((literalWord(lit) >> (<u64>litPos << 3)) & 0xff)) { failure = F_LITERAL; at = p - 1; break; }
          if (++litPos == literalLength(lit)) ended = true;
          break;
        }
        case S_DEEP: {
          // Past the bracket stack: only strings and brackets matter.
          let q = p;
          while (q < end) {
            const b = <u32>load<u8>(q);
            if (b == 0x22 || b == 0x5b || b == 0x5d || b == 0x7b || b == 0x7d) break;
            q++;
          }
          p = q;
          if (q >= end) break;
          const b = <u32>load<u8>(q);
          p = q + 1;
          if (b == 0x22) { isKey = false; st = S_STRING; break; }
          if (b == 0x5b || b == 0x7b) {
            if (deep == i32.MAX_VALUE) { failure = F_DEPTH; at = q; break; }
            deep++;
            break;
          }
          if (--deep == 0) ended = true; // the outermost container past the stack closed: back at maxDepth
          break;
        }
        default: // not reached: no other state occurs inside a value
          failure = F_UNEXPECTED;
          at = p;
          break;
      }
      if (failure != F_NONE) break;
      if (ended) {
        if (depth != base) { st = S_AFTER; continue; }
        const next = nextUnwanted(p, end, filter);
        if (next == 0) { complete = true; break; }
        p = next; // the next key's value: skip it too
        st = S_VALUE;
        countSet = countIn != 0 && keySetHas(countIn, chainKey, chainKeyLen) ? this.filterCountKeys : 0;
        if (countSet != 0) this.startCounted();
        this.countNext = false;
        this.countStr = false;
      }
    }
    this.depthNow = depth;
    this.deep = deep;
    this.skipCount = complete ? 0 : countSet;
    this.isKey = isKey;
    this.numState = ns;
    this.literal = lit;
    this.literalPos = litPos;
    this.uDigits = uDigits;
    this.utfNeed = utfNeed;
    this.utfLo = utfLo;
    this.utfHi = utfHi;
    if (this.measuring) {
      this.countedBytes += <i64>(p - start);
      if (complete || failure != F_NONE) this.measuring = false;
    }
    if (complete) {
      this.state = depth == 0 ? S_DONE : S_AFTER;
      return p;
    }
    this.skipState = st;
    if (failure != F_NONE) {
      this.fail(failureMessage(failure), at);
      return at + 1;
    }
    return p;
  }

  /** skim()'s string run while counting: counts a counted string's bytes, keeps a key's. */
  private countedRun(p: usize, end: usize, isKey: bool): usize {
    const q = plainEnd(p, end);
    if (q > p) {
      if (this.countStr) { this.countedBytes += <i64>(q - p); this.afterHigh = false; }
      else if (isKey) this.keyPiece(p, q);
    }
    return q;
  }

  /** A value skipped with counting begins (chained from the filtered object's keys). */
  private startCounted(): void {
    this.countedValue = true;
    this.emptyArray = false;
  }

  /** Bytes [p, q) of a key read in pieces, kept while it can still be a counted key. */
  private keyPiece(p: usize, q: usize): void {
    const n = this.keyLen;
    if (n < 0) return;
    const len = <i32>(q - p);
    if (n + len > KEY_BUF) { this.keyLen = -1; return; }
    memory.copy(changetype<usize>(this.keyBuf) + <usize>n, p, <usize>len);
    this.keyLen = n + len;
  }

  /** Doubles the bracket stack (up to maxDepth); the caller has checked depth < maxDepth. */
  private growStack(): void {
    let size = this.stackCap * 2;
    if (size > this.maxDepth) size = this.maxDepth;
    const grown = new Uint8Array(size);
    memory.copy(grown.dataStart, this.stack.dataStart, <usize>this.depthNow);
    this.stack = grown;
    this.stackCap = size;
  }
}

// Failures found while skimming, named as the states above name them.
const F_NONE: u8 = 0;
const F_CONTROL: u8 = 1;
const F_UTF8: u8 = 2;
const F_DEPTH: u8 = 3;
const F_UNEXPECTED: u8 = 4;
const F_KEY: u8 = 5;
const F_COLON: u8 = 6;
const F_AFTER: u8 = 7;
const F_ESCAPE: u8 = 8;
const F_UNICODE: u8 = 9;
const F_NUMBER: u8 = 10;
const F_LEADING_ZERO: u8 = 11;
const F_LITERAL: u8 = 12;

function failureMessage(f: u8): string {
  switch (f) {
    case F_CONTROL: return "control character in string";
    case F_UTF8: return "invalid UTF-8";
    case F_DEPTH: return "nesting too deep";
    case F_KEY: return "expected a key";
    case F_COLON: return "expected ':'";
    case F_AFTER: return "expected ',' or a closing bracket";
    case F_ESCAPE: return "bad escape";
    case F_UNICODE: return "bad \\u escape";
    case F_NUMBER: return "malformed number";
    case F_LEADING_ZERO: return "leading zero in number";
    case F_LITERAL: return "invalid literal";
    default: return "unexpected byte";
  }
}

/**
 * Right after a value skipped in the filtered object (filter: its JsonKeySet, 0 when the value was
 * not in it): when `, "key" :` follows in this piece with a key the filter does not want, returns
 * where that key's value starts (to skip it too); else 0, and the tokenizer goes on from p.
 */
// Where nextUnwanted() found its key (valid when it returned a position).
let chainKey: usize = 0;
let chainKeyLen: usize = 0;

function nextUnwanted(p: usize, end: usize, filter: usize): usize {
  if (filter == 0) return 0;
  let q = p;
  while (q < end && isWhitespace(<u32>load<u8>(q))) q++;
  if (q >= end || load<u8>(q) != 0x2c) return 0;
  q++;
  while (q < end && isWhitespace(<u32>load<u8>(q))) q++;
  if (q >= end || load<u8>(q) != 0x22) return 0;
  const key = q + 1;
  q = plainString(key, end);
  if (q == 0 || keySetHas(filter, key, q - 1 - key)) return 0;
  chainKey = key;
  chainKeyLen = q - 1 - key;
  while (q < end && isWhitespace(<u32>load<u8>(q))) q++;
  if (q >= end || load<u8>(q) != 0x3a) return 0;
  return q + 1;
}
