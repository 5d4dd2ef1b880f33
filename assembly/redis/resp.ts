// RESP2, the Redis wire format: commands out (an array of bulk strings), one reply in.
// The reply comes from the network: every length is checked against the bytes present before
// anything is allocated, nesting is bounded, and every failure is an error value.
import { ParsedInt, parseInt64At, parseInt64Strict } from "../util/int64";
import { decodeUtf8 } from "../util/utf8";

export enum RespType {
  SimpleString,
  Error,
  Integer,
  BulkString,
  Array,
  Null,
}

export class RespValue {
  constructor(
    public type: RespType = RespType.Null,
    /** SimpleString, Error and BulkString: the UTF-8 decoded text (invalid bytes as U+FFFD). */
    public text: string = "",
    /** Integer: the value. */
    public integer: i64 = 0,
    /** Array: the elements. */
    public items: Array<RespValue> = new Array<RespValue>(),
  ) {}

  get isNull(): bool {
    return this.type == RespType.Null;
  }

  get isError(): bool {
    return this.type == RespType.Error;
  }

  /** An Integer reply, or a simple/bulk string holding an Atoi-valid integer (what GET returns). */
  toInteger(): ParsedInt {
    if (this.type == RespType.Integer) return new ParsedInt(true, this.integer);
    if (this.type == RespType.BulkString || this.type == RespType.SimpleString) return parseInt64Strict(this.text);
    return new ParsedInt();
  }
}

export class RespResult {
  constructor(public value: RespValue | null = null, public error: string = "") {}
}

// ---- encoding ----

function writeAscii(p: usize, s: string): usize {
  for (let i = 0, n = s.length; i < n; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(i));
  return p + <usize>s.length;
}

/** `*N\r\n` then `$len\r\n<utf8>\r\n` per argument. */
export function encodeCommand(args: Array<string>): ArrayBuffer {
  const n = args.length;
  const encoded = new Array<ArrayBuffer>(n);
  const header = "*" + n.toString() + "\r\n";
  let size = header.length;
  for (let i = 0; i < n; i++) {
    const b = String.UTF8.encode(args[i], false, String.UTF8.ErrorMode.REPLACE);
    encoded[i] = b;
    size += 1 + b.byteLength.toString().length + 2 + b.byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  let p = writeAscii(changetype<usize>(out), header);
  for (let i = 0; i < n; i++) {
    const b = encoded[i];
    p = writeAscii(p, "$" + b.byteLength.toString() + "\r\n");
    memory.copy(p, changetype<usize>(b), <usize>b.byteLength);
    p += <usize>b.byteLength;
    store<u8>(p, 0x0d);
    store<u8>(p + 1, 0x0a);
    p += 2;
  }
  return out;
}

// ---- decoding ----

const MAX_DEPTH_CAP: i32 = 256;

class Decoder {
  pos: usize;
  error: string = "";
  elements: i32 = 0;

  constructor(public start: usize, public end: usize, public maxDepth: i32, public maxElements: i32) {
    this.pos = start;
  }

  fail(message: string): RespValue | null {
    if (this.error.length == 0) {
      this.error = "resp: " + message + " at offset " + (this.pos - this.start).toString();
    }
    return null;
  }

  /** End of the line starting at pos (the index of its '\r'), or 0 with error set. */
  lineEnd(): usize {
    let p = this.pos;
    const end = this.end;
    while (p < end) {
      const c = load<u8>(p);
      if (c == 0x0d) {
        if (p + 1 >= end) { this.fail("truncated"); return 0; }
        if (load<u8>(p + 1) != 0x0a) { this.fail("CR not followed by LF"); return 0; }
        return p;
      }
      if (c == 0x0a) { this.fail("bare LF"); return 0; }
      p++;
    }
    this.fail("truncated");
    return 0;
  }

  /** The integer on the rest of the current line; moves past the line. ok == false on error. */
  lineInteger(what: string): i64 {
    const eol = this.lineEnd();
    if (eol == 0) return i64.MIN_VALUE;
    const parsed = parseInt64At(this.pos, <i32>(eol - this.pos));
    if (!parsed.ok) { this.fail("bad " + what); return i64.MIN_VALUE; }
    this.pos = eol + 2;
    return parsed.value;
  }

  value(depth: i32): RespValue | null {
    if (this.pos >= this.end) return this.fail("truncated");
    if (this.elements >= this.maxElements) return this.fail("too many elements");
    this.elements++;
    const t = load<u8>(this.pos);
    this.pos++;
    switch (t) {
      case 0x2b: // '+'
      case 0x2d: { // '-'
        const eol = this.lineEnd();
        if (eol == 0) return null;
        const text = decodeUtf8(this.pos, <i32>(eol - this.pos));
        this.pos = eol + 2;
        return new RespValue(t == 0x2b ? RespType.SimpleString : RespType.Error, text);
      }
      case 0x3a: { // ':'
        const v = this.lineInteger("integer");
        if (this.error.length > 0) return null;
        return new RespValue(RespType.Integer, "", v);
      }
      case 0x24: { // '$'
        const n = this.lineInteger("bulk length");
        if (this.error.length > 0) return null;
        if (n == -1) return new RespValue(RespType.Null);
        if (n < 0) return this.fail("negative bulk length");
        const avail = <u64>(this.end - this.pos);
        if (<u64>n > avail || avail - <u64>n < 2) return this.fail("truncated bulk string");
        const p = this.pos + <usize>n;
        if (load<u8>(p) != 0x0d || load<u8>(p + 1) != 0x0a) return this.fail("bulk length mismatch");
        const text = decodeUtf8(this.pos, <i32>n);
        this.pos = p + 2;
        return new RespValue(RespType.BulkString, text);
      }
      case 0x2a: { // '*'
        const n = this.lineInteger("array length");
        if (this.error.length > 0) return null;
        if (n == -1) return new RespValue(RespType.Null);
        if (n < 0) return this.fail("negative array length");
        if (depth >= this.maxDepth) return this.fail("nesting too deep");
        // Each element takes at least 3 bytes ("+\r\n"); check before looping.
        if (<u64>n > <u64>(this.end - this.pos) / 3) return this.fail("truncated array");
        if (<u64>n > <u64>(this.maxElements - this.elements)) return this.fail("too many elements");
        const items = new Array<RespValue>();
        for (let i: i64 = 0; i < n; i++) {
          const item = this.value(depth + 1);
          if (item === null) return null;
          items.push(item);
        }
        return new RespValue(RespType.Array, "", 0, items);
      }
      case 0x5f: // '_' null
      case 0x2c: // ',' double
      case 0x23: // '#' boolean
      case 0x21: // '!' blob error
      case 0x3d: // '=' verbatim string
      case 0x28: // '(' big number
      case 0x25: // '%' map
      case 0x7e: // '~' set
      case 0x3e: // '>' push
      case 0x7c: // '|' attribute
        this.pos--;
        return this.fail("RESP3 type '" + String.fromCharCode(t) + "' not supported");
      default:
        this.pos--;
        return this.fail("unknown type byte 0x" + (<u32>t).toString(16));
    }
  }
}

/**
 * Exactly one complete RESP2 reply. Anything else — truncated, malformed, lengths that do not match,
 * negative lengths other than -1, trailing bytes, arrays nested deeper than maxDepth (a top-level
 * array is depth 1), more than maxElements values in all, RESP3 types — is an error value.
 */
export function decodeReply(data: Uint8Array, maxDepth: i32 = 8, maxElements: i32 = 4096): RespResult {
  const depth = maxDepth < 0 ? 0 : (maxDepth > MAX_DEPTH_CAP ? MAX_DEPTH_CAP : maxDepth);
  const start = data.dataStart;
  const d = new Decoder(start, start + <usize>data.length, depth, maxElements < 1 ? 1 : maxElements);
  const v = d.value(0);
  if (v === null) return new RespResult(null, d.error);
  if (d.pos != d.end) {
    return new RespResult(null, "resp: trailing bytes at offset " + (d.pos - start).toString());
  }
  return new RespResult(v, "");
}
