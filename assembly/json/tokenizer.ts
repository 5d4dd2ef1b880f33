// A push tokenizer for strict JSON (RFC 8259) over UTF-8 bytes. Input may arrive in pieces split
// at any byte; state between pieces is a few fields, a bracket stack bounded by maxDepth, and the
// text of the current key, string or number, kept up to maxTokenBytes (the rest is validated and
// dropped, and `textTruncated` says so). Tokens go to a JsonHandler as they complete. Never traps:
// any violation moves to the error state, which ignores further input.

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

const LITERAL_TRUE = "true";
const LITERAL_FALSE = "false";
const LITERAL_NULL = "null";

@inline
function isWhitespace(c: u32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

@inline
function hexDigit(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return <i32>(l - 0x61 + 10);
  return -1;
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
  private literal: string = "";
  private literalPos: i32 = 0;
  private uValue: u32 = 0;
  private uDigits: i32 = 0;
  private pendingHigh: u32 = 0; // a \uD800-\uDBFF waiting for its low half
  private utfNeed: i32 = 0;
  private utfLo: u32 = 0x80;
  private utfHi: u32 = 0xbf;
  private pieceStart: usize = 0; // where the piece being fed starts (for error offsets)

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
    this.text = new Uint8Array(cap < 64 ? cap : 64);
    this.stack = new Uint8Array(depth < 16 ? depth : 16);
    this.handler = handler;
    this.maxDepth = depth;
    this.maxTokenBytes = cap;
  }

  /** Starts over for a new document (buffers are kept). */
  reset(): void {
    this.error = "";
    this.offset = 0;
    this.state = S_VALUE;
    this.depthNow = 0;
    this.textLen = 0;
    this.textTruncated = false;
    this.textHadEscape = false;
    this.pendingHigh = 0;
    this.utfNeed = 0;
  }

  get depth(): i32 {
    return this.depthNow;
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

  /** The current token text as a string (the tokenizer has validated it as UTF-8). */
  textString(): string {
    return String.UTF8.decodeUnsafe(this.text.dataStart, <usize>this.textLen);
  }

  /** Whether the current token text is exactly s, an ASCII string (no allocation; non-ASCII s never matches). */
  textEquals(s: string): bool {
    const n = s.length;
    if (n != this.textLen || this.textTruncated) return false;
    const p = this.text.dataStart;
    for (let i = 0; i < n; i++) {
      const c = <u32>s.charCodeAt(i);
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
      const c = <u32>load<u8>(p);
      switch (st) {
        case S_VALUE:
        case S_VALUE_OR_CLOSE: {
          if (isWhitespace(c)) { p++; break; }
          if (c == 0x5d && st == S_VALUE_OR_CLOSE) { p++; this.close(ARRAY); break; }
          p++;
          this.beginValue(c, p);
          break;
        }
        case S_KEY_OR_CLOSE:
        case S_KEY: {
          if (isWhitespace(c)) { p++; break; }
          p++;
          if (c == 0x22) { this.beginString(true); break; }
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
          const top = this.stack[this.depthNow - 1];
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
          if (this.numberByte(c)) { p++; break; }
          // The byte ends the number; it is read again in the state that follows.
          this.endNumber(p);
          break;
        }
        case S_LITERAL: {
          p++;
          const lit = this.literal;
          if (c != <u32>lit.charCodeAt(this.literalPos)) { this.fail("invalid literal", p - 1); break; }
          if (++this.literalPos == lit.length) {
            if (lit == LITERAL_NULL) this.handler.null(this);
            else this.handler.boolean(this, lit == LITERAL_TRUE);
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
    if (this.state == S_NUMBER && this.depthNow == 0) {
      const ns = this.numState;
      if (ns == N_ZERO || ns == N_INT || ns == N_FRAC || ns == N_EXP_DIGITS) {
        this.handler.number(this);
        this.state = S_DONE;
      }
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

  private afterValue(): void {
    this.state = this.depthNow == 0 ? S_DONE : S_AFTER;
  }

  private beginValue(c: u32, p: usize): void {
    if (c == 0x22) { this.beginString(false); return; }
    if (c == 0x7b || c == 0x5b) {
      const kind = c == 0x7b ? OBJECT : ARRAY;
      if (this.depthNow >= this.maxDepth) { this.fail("nesting too deep", p - 1); return; }
      if (this.depthNow >= this.stack.length) {
        let size = this.stack.length * 2;
        if (size > this.maxDepth) size = this.maxDepth;
        const grown = new Uint8Array(size);
        memory.copy(grown.dataStart, this.stack.dataStart, <usize>this.depthNow);
        this.stack = grown;
      }
      this.stack[this.depthNow++] = kind;
      if (kind == OBJECT) {
        this.state = S_KEY_OR_CLOSE;
        this.handler.beginObject(this);
      } else {
        this.state = S_VALUE_OR_CLOSE;
        this.handler.beginArray(this);
      }
      return;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
      this.textLen = 0;
      this.textTruncated = false;
      this.numIsInteger = true;
      this.put(<u8>c);
      this.numState = c == 0x2d ? N_MINUS : (c == 0x30 ? N_ZERO : N_INT);
      this.state = S_NUMBER;
      return;
    }
    if (c == 0x74) { this.literal = LITERAL_TRUE; }
    else if (c == 0x66) { this.literal = LITERAL_FALSE; }
    else if (c == 0x6e) { this.literal = LITERAL_NULL; }
    else { this.fail("unexpected byte", p - 1); return; }
    this.literalPos = 1;
    this.state = S_LITERAL;
  }

  private close(kind: u8): void {
    // Callers only close the kind on top of the stack.
    this.depthNow--;
    if (kind == OBJECT) this.handler.endObject(this);
    else this.handler.endArray(this);
    this.afterValue();
  }

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
    while (q < end) {
      const c = <u32>load<u8>(q);
      if (c == 0x22 || c == 0x5c || c < 0x20 || c >= 0x80) break;
      q++;
    }
    if (q > p) this.putRange(p, q);
    if (q >= end) return q;
    const c = <u32>load<u8>(q);
    q++;
    if (c == 0x22) {
      if (this.isKey) {
        this.handler.key(this);
        this.state = S_COLON;
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
    let need = 0;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c == 0xe0) { need = 2; lo = 0xa0; }
    else if (c == 0xed) { need = 2; hi = 0x9f; }
    else if (c >= 0xe1 && c <= 0xef) need = 2;
    else if (c == 0xf0) { need = 3; lo = 0x90; }
    else if (c == 0xf4) { need = 3; hi = 0x8f; }
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    else { this.fail("invalid UTF-8", q - 1); return q; }
    this.put(<u8>c);
    this.utfNeed = need;
    this.utfLo = lo;
    this.utfHi = hi;
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

  /** Consumes c if it continues the number; false when c ends it. Invalid continuations fail. */
  private numberByte(c: u32): bool {
    const digit = c >= 0x30 && c <= 0x39;
    switch (this.numState) {
      case N_MINUS:
        if (!digit) return false;
        this.numState = c == 0x30 ? N_ZERO : N_INT;
        break;
      case N_ZERO:
        if (c == 0x2e) { this.numState = N_DOT; this.numIsInteger = false; break; }
        if (c == 0x65 || c == 0x45) { this.numState = N_EXP; this.numIsInteger = false; break; }
        return false; // includes a digit after a leading zero: rejected when the number ends
      case N_INT:
        if (digit) break;
        if (c == 0x2e) { this.numState = N_DOT; this.numIsInteger = false; break; }
        if (c == 0x65 || c == 0x45) { this.numState = N_EXP; this.numIsInteger = false; break; }
        return false;
      case N_DOT:
        if (!digit) return false;
        this.numState = N_FRAC;
        break;
      case N_FRAC:
        if (digit) break;
        if (c == 0x65 || c == 0x45) { this.numState = N_EXP; break; }
        return false;
      case N_EXP:
        if (c == 0x2b || c == 0x2d) { this.numState = N_EXP_SIGN; break; }
        if (!digit) return false;
        this.numState = N_EXP_DIGITS;
        break;
      case N_EXP_SIGN:
        if (!digit) return false;
        this.numState = N_EXP_DIGITS;
        break;
      default: // N_EXP_DIGITS
        if (!digit) return false;
    }
    this.put(<u8>c);
    return true;
  }

  /** The byte at p ends the number: emit it if complete (state moves on), else fail. */
  private endNumber(p: usize): bool {
    const ns = this.numState;
    if (ns != N_ZERO && ns != N_INT && ns != N_FRAC && ns != N_EXP_DIGITS) {
      this.fail("malformed number", p);
      return false;
    }
    const c = <u32>load<u8>(p);
    if (c >= 0x30 && c <= 0x39) { // "01"
      this.fail("leading zero in number", p);
      return false;
    }
    this.handler.number(this);
    this.afterValue(); // a top-level number: S_DONE then accepts only whitespace
    return true;
  }

  @inline
  private put(b: u8): void {
    const n = this.textLen;
    if (n >= this.maxTokenBytes) { this.textTruncated = true; return; }
    if (n >= this.text.length) this.grow(n + 1);
    store<u8>(this.text.dataStart + <usize>n, b);
    this.textLen = n + 1;
  }

  private putRange(p: usize, q: usize): void {
    let len = <i32>(q - p);
    const n = this.textLen;
    const room = this.maxTokenBytes - n;
    if (len > room) { len = room; this.textTruncated = true; }
    if (len <= 0) return;
    if (n + len > this.text.length) this.grow(n + len);
    memory.copy(this.text.dataStart + <usize>n, p, <usize>len);
    this.textLen = n + len;
  }

  private grow(min: i32): void {
    let size = this.text.length * 2;
    if (size < min) size = min;
    if (size < 16) size = 16;
    if (size > this.maxTokenBytes) size = this.maxTokenBytes;
    const grown = new Uint8Array(size);
    memory.copy(grown.dataStart, this.text.dataStart, <usize>this.textLen);
    this.text = grown;
  }
}
