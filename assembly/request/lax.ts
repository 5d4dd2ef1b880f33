// The lax readings upstreams apply to a request's values, done exactly: a JSON number as an
// integer whatever its notation, a numeric string as pydantic-core's str_as_int reads it, a bool
// string as its str_as_bool does, and Go's encoding/json case folding of keys.
import { isDigit, NUMBER_CAP, NUMBER_MAX, UNREADABLE } from "./grammar";
import { ascii } from "./keys";

/**
 * Whether the UTF-8 key at p equals the lowercase ASCII target under Go's case folding
 * (bytes.EqualFold): ASCII letters in either case, U+212A KELVIN SIGN for 'k', U+017F LONG S for 's'.
 */
export function foldedEqual(p: usize, len: i32, target: StaticArray<u8>): bool {
  const n = target.length;
  let i = 0;
  let j = 0;
  while (i < len && j < n) {
    const want = <u32>unchecked(target[j]);
    let c = <u32>load<u8>(p + <usize>i);
    if (c < 0x80) {
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c != want) return false;
      i++;
    } else if (c == 0xe2 && i + 2 < len && load<u8>(p + <usize>i + 1) == 0x84 && load<u8>(p + <usize>i + 2) == 0xaa) {
      if (want != 0x6b) return false;
      i += 3;
    } else if (c == 0xc5 && i + 1 < len && load<u8>(p + <usize>i + 1) == 0xbf) {
      if (want != 0x73) return false;
      i += 2;
    } else {
      return false;
    }
    j++;
  }
  return i == len && j == n;
}

/**
 * A JSON number's text (valid by the grammar) read exactly: its value when it is a non-negative
 * integer, whatever the notation (100, 100.0, 1e2, 1000e-1), up to NUMBER_MAX; else UNREADABLE
 * (negative, fractional, too large, text longer than NUMBER_CAP). Zero in any notation ("-0",
 * "0e9") is 0.
 */
export function integralNumber(p: usize, len: i32): i64 {
  if (len <= 0 || len > NUMBER_CAP) return UNREADABLE;
  const negative = load<u8>(p) == 0x2d;
  const first = negative ? 1 : 0;
  // First pass: significant digits (leading zeros dropped), digits after the point, zeros at the end.
  let count = 0;
  let fraction = 0;
  let trailingZeros = 0;
  let inFraction = false;
  let j = first;
  for (; j < len; j++) {
    const c = <u32>load<u8>(p + <usize>j);
    if (c == 0x2e) { inFraction = true; continue; }
    if (!isDigit(c)) break;
    if (inFraction) fraction++;
    if (count == 0 && c == 0x30) continue;
    count++;
    trailingZeros = c == 0x30 ? trailingZeros + 1 : 0;
  }
  const mantissaEnd = j;
  let exponent: i64 = 0;
  if (j < len) { // 'e' or 'E', an optional sign, digits
    j++;
    let expNegative = false;
    const s = <u32>load<u8>(p + <usize>j);
    if (s == 0x2b || s == 0x2d) { expNegative = s == 0x2d; j++; }
    for (; j < len; j++) {
      if (exponent < 1_000_000) exponent = exponent * 10 + <i64>(<u32>load<u8>(p + <usize>j) - 0x30);
    }
    if (expNegative) exponent = -exponent;
  }
  if (count == 0) return 0;
  if (negative) return UNREADABLE;
  // value = significant digits × 10^scale
  const scale = exponent - <i64>fraction;
  let keep = count;
  if (scale < 0) {
    if (-scale > <i64>trailingZeros) return UNREADABLE; // fractional
    keep = count + <i32>scale; // drop those zeros
  }
  let value: i64 = 0;
  let seen = 0;
  for (let k = first; k < mantissaEnd && seen < keep; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    if (c == 0x2e || (seen == 0 && c == 0x30)) continue;
    seen++;
    const d = <i64>(c - 0x30);
    if (value > (NUMBER_MAX - d) / 10) return UNREADABLE;
    value = value * 10 + d;
  }
  for (let k: i64 = 0; k < scale; k++) {
    if (value > NUMBER_MAX / 10) return UNREADABLE;
    value *= 10;
  }
  return value;
}

/**
 * A string read as an integer the way pydantic-core's str_as_int does (src/input/shared.rs):
 * surrounding ASCII whitespace, an optional '+', digits with single underscores between them,
 * leading zeros, an optional '.' followed by zeros only. Returns the value (0 included), or
 * UNREADABLE for anything else (a sign '-', other text, beyond NUMBER_MAX; non-ASCII whitespace,
 * which Rust's trim also strips, is refused: the reservation then fails closed).
 */
export function integralString(p: usize, len: i32): i64 {
  let i = 0;
  let n = len;
  while (i < n && isAsciiSpace(<u32>load<u8>(p + <usize>i))) i++;
  while (n > i && isAsciiSpace(<u32>load<u8>(p + <usize>(n - 1)))) n--;
  if (i < n && load<u8>(p + <usize>i) == 0x2b) i++;
  let value: i64 = 0;
  let digits = 0;
  let lastUnderscore = true; // no underscore first
  for (; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c == 0x5f) {
      if (lastUnderscore) return UNREADABLE;
      lastUnderscore = true;
      continue;
    }
    if (!isDigit(c)) break;
    lastUnderscore = false;
    digits++;
    if (value > (NUMBER_MAX - <i64>(c - 0x30)) / 10) return UNREADABLE;
    value = value * 10 + <i64>(c - 0x30);
  }
  if (digits == 0 || lastUnderscore) return UNREADABLE;
  if (i < n) {
    if (load<u8>(p + <usize>i) != 0x2e) return UNREADABLE;
    i++;
    if (i >= n) return UNREADABLE;
    for (; i < n; i++) if (load<u8>(p + <usize>i) != 0x30) return UNREADABLE;
  }
  return value;
}

@inline
export function isAsciiSpace(c: u32): bool {
  return c == 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** pydantic's bool from a string (str_as_bool): 1 true, 0 false, -1 neither. */
export function boolString(p: usize, len: i32): i32 {
  if (len == 1) {
    const c = <u32>load<u8>(p);
    if (c == 0x31) return 1;
    if (c == 0x30) return 0;
  }
  const words = BOOL_WORDS;
  for (let k = 0; k < words.length; k++) {
    if (foldedAscii(p, len, unchecked(words[k]))) return k < 5 ? 1 : 0;
  }
  return -1;
}

export const BOOL_WORDS: StaticArray<StaticArray<u8>> = [ascii("t"), ascii("y"), ascii("on"), ascii("yes"), ascii("true"), ascii("f"), ascii("n"), ascii("no"), ascii("off"), ascii("false")];

/** ASCII-case-insensitive equality with a lowercase ASCII target (no Unicode folding). */
export function foldedAscii(p: usize, len: i32, target: StaticArray<u8>): bool {
  if (len != target.length) return false;
  for (let i = 0; i < len; i++) {
    let c = <u32>load<u8>(p + <usize>i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c != <u32>unchecked(target[i])) return false;
  }
  return true;
}
