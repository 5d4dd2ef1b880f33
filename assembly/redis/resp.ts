// RESP2, the Redis wire format: commands out (an array of bulk strings), one reply in.
// The reply comes from the network: every length is checked against the bytes present before
// anything is allocated, nesting is bounded, and every failure is an error value.
import { ParsedInt, parseI64At, parseInt64At, parseInt64Strict, parsedI64 } from "../util/int64";
import { decodeUtf8 } from "../util/utf8";
import { argString, beginCommand, endCommand } from "./command";

export enum RespType {
  SimpleString,
  Error,
  Integer,
  BulkString,
  Array,
  Null,
}

/** The elements of every value that is not an array (never written to). */
const NO_ITEMS = new Array<RespValue>(0);

export class RespValue {
  /** SimpleString and BulkString decoded from bytes: the bytes were an Atoi-valid integer, in `integer`. */
  textIsInteger: bool = false;

  constructor(
    public type: RespType = RespType.Null,
    /** SimpleString, Error and BulkString: the UTF-8 decoded text (invalid bytes as U+FFFD). */
    public text: string = "",
    /** Integer: the value. */
    public integer: i64 = 0,
    /** Array: the elements. */
    public items: Array<RespValue> = NO_ITEMS,
  ) {}

  get isNull(): bool {
    return this.type == RespType.Null;
  }

  get isError(): bool {
    return this.type == RespType.Error;
  }

  /** An Integer reply, or a simple/bulk string holding an Atoi-valid integer (what GET returns). */
  toInteger(): ParsedInt {
    if (this.hasInteger()) return new ParsedInt(true, this.integer);
    if (this.type == RespType.BulkString || this.type == RespType.SimpleString) return parseInt64Strict(this.text);
    return new ParsedInt();
  }

  /** toInteger().ok without the result object: the value is then in `integer`. */
  hasInteger(): bool {
    if (this.type == RespType.Integer || this.textIsInteger) return true;
    if (this.type != RespType.BulkString && this.type != RespType.SimpleString) return false;
    const n = parseInt64Strict(this.text);
    if (!n.ok) return false;
    this.integer = n.value;
    this.textIsInteger = true;
    return true;
  }
}

export class RespResult {
  constructor(public value: RespValue | null = null, public error: string = "") {}
}

// ---- encoding ----

/** `*N\r\n` then `$len\r\n<utf8>\r\n` per argument (command.ts writes it). */
export function encodeCommand(args: Array<string>): ArrayBuffer {
  beginCommand();
  for (let i = 0, n = args.length; i < n; i++) argString(args[i]);
  return endCommand();
}

/**
 * An EVALSHA command (`EVALSHA <sha> <numkeys> …`) as the EVAL of `script` with the same keys and
 * arguments; null when `query` is not a RESP array whose first two elements are bulk strings.
 */
export function evalQueryFor(query: ArrayBuffer, script: string): ArrayBuffer | null {
  const base = changetype<usize>(query);
  const end = base + <usize>query.byteLength;
  // `*N\r\n`
  if (end - base < 4 || load<u8>(base) != 0x2a) return null;
  const countAt = base + 1;
  let p = lineEnd(countAt, end);
  if (p == 0) return null;
  const count = parseInt64At(countAt, <i32>(p - countAt));
  if (!count.ok || count.value < 2) return null;
  p += 2;
  // Skip the first two bulk strings (EVALSHA, the SHA).
  for (let k = 0; k < 2; k++) {
    if (p >= end || load<u8>(p) != 0x24) return null;
    const le = lineEnd(p + 1, end);
    if (le == 0) return null;
    const n = parseInt64At(p + 1, <i32>(le - p - 1));
    if (!n.ok || n.value < 0 || <u64>n.value + 2 > <u64>(end - le - 2)) return null;
    p = le + 2 + <usize>n.value + 2;
  }
  beginCommand();
  argString("EVAL");
  argString(script);
  const head = endCommand();
  // head is `*2\r\n…`: the same count as the query, then head's two arguments, then the rest.
  const headBase = changetype<usize>(head);
  const headArgs = headBase + 4;
  const headArgsLen = <usize>head.byteLength - 4;
  const countLen = lineEnd(countAt, end) - countAt;
  const restLen = end - p;
  const out = new ArrayBuffer(<i32>(<usize>3 + countLen + headArgsLen + restLen));
  const o = changetype<usize>(out);
  memory.copy(o, base, 1 + countLen + 2);
  memory.copy(o + 1 + countLen + 2, headArgs, headArgsLen);
  memory.copy(o + 1 + countLen + 2 + headArgsLen, p, restLen);
  return out;
}

/** The position of the CR of the line starting at p (CR LF ended), or 0. */
function lineEnd(p: usize, end: usize): usize {
  while (p + 1 < end) {
    if (load<u8>(p) == 0x0d) return load<u8>(p + 1) == 0x0a ? p : 0;
    p++;
  }
  return 0;
}

/** The arguments of a RESP command (an array of bulk strings) as text; null when it is not one. */
export function commandArgs(query: ArrayBuffer): Array<string> | null {
  const base = changetype<usize>(query);
  const end = base + <usize>query.byteLength;
  if (end - base < 4 || load<u8>(base) != 0x2a) return null;
  let p = lineEnd(base + 1, end);
  if (p == 0) return null;
  const count = parseInt64At(base + 1, <i32>(p - base - 1));
  if (!count.ok || count.value < 0 || count.value > 1 << 20) return null;
  p += 2;
  const args = new Array<string>();
  for (let k: i64 = 0; k < count.value; k++) {
    if (p >= end || load<u8>(p) != 0x24) return null;
    const le = lineEnd(p + 1, end);
    if (le == 0) return null;
    const n = parseInt64At(p + 1, <i32>(le - p - 1));
    if (!n.ok || n.value < 0 || <u64>n.value + 2 > <u64>(end - le - 2)) return null;
    args.push(decodeUtf8(le + 2, <i32>n.value));
    p = le + 2 + <usize>n.value + 2;
  }
  return p == end ? args : null;
}

// ---- decoding ----

const MAX_DEPTH_CAP: i32 = 256;

/** A string value's bytes [p, end) as its integer, when Atoi-valid (what toInteger would find). */
function readInteger(v: RespValue, p: usize, end: usize): void {
  if (!parseI64At(p, <i32>(end - p))) return;
  v.integer = parsedI64;
  v.textIsInteger = true;
}

class Decoder {
  pos: usize = 0;
  error: string = "";
  elements: i32 = 0;
  start: usize = 0;
  end: usize = 0;
  maxDepth: i32 = 0;
  maxElements: i32 = 0;

  reset(start: usize, end: usize, maxDepth: i32, maxElements: i32): Decoder {
    this.start = start;
    this.end = end;
    this.maxDepth = maxDepth;
    this.maxElements = maxElements;
    this.pos = start;
    this.error = "";
    this.elements = 0;
    return this;
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
    if (!parseI64At(this.pos, <i32>(eol - this.pos))) { this.fail("bad " + what); return i64.MIN_VALUE; }
    this.pos = eol + 2;
    return parsedI64;
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
        const v = new RespValue(t == 0x2b ? RespType.SimpleString : RespType.Error, text);
        if (t == 0x2b) readInteger(v, this.pos, eol);
        this.pos = eol + 2;
        return v;
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
        const v = new RespValue(RespType.BulkString, decodeUtf8(this.pos, <i32>n));
        readInteger(v, this.pos, p);
        this.pos = p + 2;
        return v;
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
  const v = decodeReplyAt(data.dataStart, <usize>data.length, maxDepth, maxElements);
  return new RespResult(v, v === null ? decodeError : "");
}

const decoder = new Decoder();
/** Why the last decodeReplyAt answered null. */
export let decodeError: string = "";

/** decodeReply on `len` bytes at `start` (read during the call only); null with decodeError set. */
export function decodeReplyAt(start: usize, len: usize, maxDepth: i32 = 8, maxElements: i32 = 4096): RespValue | null {
  const depth = maxDepth < 0 ? 0 : (maxDepth > MAX_DEPTH_CAP ? MAX_DEPTH_CAP : maxDepth);
  const d = decoder.reset(start, start + len, depth, maxElements < 1 ? 1 : maxElements);
  const v = d.value(0);
  if (v === null) {
    decodeError = d.error;
    return null;
  }
  if (d.pos != d.end) {
    decodeError = "resp: trailing bytes at offset " + (d.pos - start).toString();
    return null;
  }
  decodeError = "";
  return v;
}
