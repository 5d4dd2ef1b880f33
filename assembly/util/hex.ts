// Hex digits, as JSON's \u escapes, percent-encoding and Go's escapes in ai_log write them.

/** The value of a hex digit (either case), or -1. */
@inline
export function hexDigit(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return <i32>(l - 0x61 + 10);
  return -1;
}
