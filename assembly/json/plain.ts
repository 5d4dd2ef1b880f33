// The inner loop of every JSON string reader here (tokenizer, request body, quick path): the run of
// bytes that need no look — not '"', '\', a control character or a non-ASCII byte — found eight
// bytes at a time.

/** The high bit of each byte of w that is '"', '\\', a control character or not ASCII. */
@inline
export function stopBytes(w: u64): u64 {
  const q = w ^ 0x2222222222222222;
  const b = w ^ 0x5c5c5c5c5c5c5c5c;
  return (((q - 0x0101010101010101) & ~q) | ((b - 0x0101010101010101) & ~b) | ((w - 0x2020202020202020) & ~w) | w) & 0x8080808080808080;
}

/** From p: the first byte that is '"', '\\', a control character or not ASCII (end if none). */
@inline
export function plainEnd(p: usize, end: usize): usize {
  while (p + 8 <= end) {
    const m = stopBytes(load<u64>(p));
    // The lowest flagged byte is exact: a borrow only flags bytes above a true one.
    if (m != 0) return p + <usize>(ctz(m) >> 3);
    p += 8;
  }
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c == 0x22 || c == 0x5c || c < 0x20 || c >= 0x80) return p;
    p++;
  }
  return end;
}
