// The JSON grammar the request reader (reader.ts) follows byte by byte (RFC 8259, RFC 3629): its
// states, the number and literal sub-states, its bounds, and the byte predicates.

export const S_LEAD: u8 = 0; // before the root: an optional BOM, whitespace
export const S_VALUE: u8 = 1;
export const S_VALUE_OR_CLOSE: u8 = 2; // after '['
export const S_KEY_OR_CLOSE: u8 = 3; // after '{'
export const S_KEY: u8 = 4; // after ',' in an object
export const S_COLON: u8 = 5;
export const S_AFTER: u8 = 6; // after a value in a container
export const S_STRING: u8 = 7;
export const S_ESCAPE: u8 = 8;
export const S_UNICODE: u8 = 9;
export const S_UTF8: u8 = 10;
export const S_NUMBER: u8 = 11;
export const S_LITERAL: u8 = 12;
export const S_TAIL: u8 = 13; // the root has closed: whitespace only
export const S_DEEP: u8 = 14; // inside a value nested past KIND_LEVELS: brackets and strings only
export const S_DEEP_STRING: u8 = 15;
export const S_DEEP_ESCAPE: u8 = 16;
export const S_STOP: u8 = 17; // not one valid JSON object: the rest is ignored

export const N_MINUS: u8 = 0;
export const N_ZERO: u8 = 1;
export const N_INT: u8 = 2;
export const N_DOT: u8 = 3;
export const N_FRAC: u8 = 4;
export const N_EXP: u8 = 5;
export const N_EXP_SIGN: u8 = 6;
export const N_EXP_DIGITS: u8 = 7;

export const L_TRUE: u8 = 0;
export const L_FALSE: u8 = 1;
export const L_NULL: u8 = 2;

/** Levels whose bracket kind is kept (1 bit each). */
export const KIND_LEVELS: i32 = 16384;
/** Deepest nesting passed over beyond them; past it the body is refused (no counter can wrap). */
export const DEEP_MAX: i32 = 1 << 30;
/** Bytes kept of a key being matched / of a value being read. */
export const KEY_CAP: i32 = 48;
export const VALUE_CAP: i32 = 256;
/** Number text longer than this is not read (a limit written so is unreadable). */
export const NUMBER_CAP: i32 = 64;
/** Bytes before the root '{' that the buffered edit can put back. */
export const FRONT_CAP: i32 = 64;
/** Numbers above this are out of range (JavaScript's safe integers; any cap is far below). */
export const NUMBER_MAX: i64 = (<i64>1 << 53) - 1;
export const UNREADABLE: i64 = -1;

@inline
export function isWhitespace(c: u32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

@inline
export function isDigit(c: u32): bool {
  return c - 0x30 <= 9;
}

/** The number sub-state after c, or 0xff when c does not continue the number (RFC 8259 grammar). */
@inline
export function numberNext(ns: u8, c: u32): u8 {
  const digit = isDigit(c);
  switch (ns) {
    case N_MINUS:
      if (!digit) return 0xff;
      return c == 0x30 ? N_ZERO : N_INT;
    case N_ZERO:
      if (c == 0x2e) return N_DOT;
      if ((c | 0x20) == 0x65) return N_EXP;
      return 0xff;
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
    default: // N_EXP_SIGN, N_EXP_DIGITS
      return digit ? N_EXP_DIGITS : 0xff;
  }
}

@inline
export function numberComplete(ns: u8): bool {
  return ns == N_ZERO || ns == N_INT || ns == N_FRAC || ns == N_EXP_DIGITS;
}

@inline
export function literalByte(kind: u8, i: i32): u32 {
  const word: u64 = kind == L_TRUE ? 0x65757274 : (kind == L_FALSE ? 0x65736c6166 : 0x6c6c756e);
  return <u32>((word >> (<u64>i << 3)) & 0xff);
}

@inline
export function literalLength(kind: u8): i32 {
  return kind == L_FALSE ? 5 : 4;
}

/** For a UTF-8 lead byte: continuation count and the first continuation's range, `need | lo << 8 | hi << 16`; 0 when invalid (RFC 3629). */
@inline
export function utf8Lead(c: u32): u32 {
  if (c >= 0xc2 && c <= 0xdf) return 1 | 0x80 << 8 | 0xbf << 16;
  if (c == 0xe0) return 2 | 0xa0 << 8 | 0xbf << 16;
  if (c == 0xed) return 2 | 0x80 << 8 | 0x9f << 16;
  if (c >= 0xe1 && c <= 0xef) return 2 | 0x80 << 8 | 0xbf << 16;
  if (c == 0xf0) return 3 | 0x90 << 8 | 0xbf << 16;
  if (c == 0xf4) return 3 | 0x80 << 8 | 0x8f << 16;
  if (c >= 0xf1 && c <= 0xf3) return 3 | 0x80 << 8 | 0xbf << 16;
  return 0;
}

/** Whether the container at `level` (0: the root) is an object, from the bit stack at `kinds`. */
@inline
export function kindAt(kinds: usize, level: i32): bool {
  return (load<u32>(kinds + (<usize>(level >> 5) << 2)) & (<u32>1 << <u32>(level & 31))) != 0;
}
