// Integers from untrusted text, with Go's strconv.Atoi rules on 64 bits, and checked i64 arithmetic
// for quota math. Nothing here traps: every failure is an `ok == false` result.

export class ParsedInt {
  constructor(public ok: bool = false, public value: i64 = 0) {}
}

export class CheckedI64 {
  constructor(public ok: bool = false, public value: i64 = 0) {}
}

const CUTOFF: i64 = i64.MIN_VALUE / 10; // -922337203685477580
const CUTOFF_DIGIT: i64 = -(i64.MIN_VALUE % 10); // 8

// Digits are accumulated as a negative number so that i64.MIN_VALUE is reachable.
@inline
function accumulate(acc: i64, digit: i64): i64 {
  return acc * 10 - digit;
}

/**
 * Go `strconv.Atoi` on a 64-bit platform: `[+-]?[0-9]+`, range-checked, nothing else. Works on the
 * UTF-8 bytes: a character outside ASCII can never be a digit, so the answer is the same.
 */
export function parseInt64Strict(s: string): ParsedInt {
  const bytes = String.UTF8.encode(s);
  return parseInt64At(changetype<usize>(bytes), bytes.byteLength);
}

/** The same as parseInt64Strict on the bytes data[start, end); bad bounds are a failed parse. */
export function parseInt64Bytes(data: Uint8Array, start: i32, end: i32): ParsedInt {
  if (start < 0 || end > data.length || start > end) return new ParsedInt();
  return parseInt64At(data.dataStart + <usize>start, end - start);
}

/** The same on `len` raw bytes at `ptr`; the caller guarantees they are readable. */
export function parseInt64At(ptr: usize, len: i32): ParsedInt {
  if (!parseI64At(ptr, len)) return new ParsedInt();
  return new ParsedInt(true, parsedI64);
}

/** parseI64At's value when it answered true. */
export let parsedI64: i64 = 0;

/** parseInt64At without a result object: true with the value in parsedI64. */
export function parseI64At(ptr: usize, len: i32): bool {
  let i = 0;
  let negative = false;
  if (len > 0) {
    const c = load<u8>(ptr);
    if (c == 0x2b || c == 0x2d) {
      negative = c == 0x2d;
      i = 1;
    }
  }
  if (i >= len) return false;
  let acc: i64 = 0;
  for (; i < len; i++) {
    const d = <i64>load<u8>(ptr + <usize>i) - 0x30;
    if (<u64>d > 9) return false;
    if (acc < CUTOFF || (acc == CUTOFF && d > CUTOFF_DIGIT)) return false;
    acc = accumulate(acc, d);
  }
  if (!negative) {
    if (acc == i64.MIN_VALUE) return false;
    acc = -acc;
  }
  parsedI64 = acc;
  return true;
}

export function addChecked(a: i64, b: i64): CheckedI64 {
  const r = a + b;
  // Overflow when both operands have the same sign and the result's sign differs.
  if (((a ^ r) & (b ^ r)) < 0) return new CheckedI64(false, 0);
  return new CheckedI64(true, r);
}

export function subChecked(a: i64, b: i64): CheckedI64 {
  const r = a - b;
  // Overflow when the operands' signs differ and the result's sign differs from a's.
  if (((a ^ b) & (a ^ r)) < 0) return new CheckedI64(false, 0);
  return new CheckedI64(true, r);
}

/** a + b clamped to [i64.MIN_VALUE, i64.MAX_VALUE]. */
export function addSaturating(a: i64, b: i64): i64 {
  const r = a + b;
  if (((a ^ r) & (b ^ r)) < 0) return a < 0 ? i64.MIN_VALUE : i64.MAX_VALUE;
  return r;
}
