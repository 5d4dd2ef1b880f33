// UTF-8 at the byte/string edge. AssemblyScript's own decoder assumes valid input; bytes from
// clients and Redis are not, so invalid sequences become U+FFFD here (one per maximal subpart,
// as the WHATWG decoder does).

/**
 * For a lead byte (0x80 and up): how many continuation bytes follow, and the range the first of
 * them must fall in (RFC 3629, which rules out overlongs and surrogates), packed as
 * `need | lo << 8 | hi << 16`; 0 when the byte cannot start a sequence.
 */
function leadSpec(b0: u32): u32 {
  if (b0 >= 0xc2 && b0 <= 0xdf) return 1 | 0x80 << 8 | 0xbf << 16;
  if (b0 == 0xe0) return 2 | 0xa0 << 8 | 0xbf << 16;
  if (b0 == 0xed) return 2 | 0x80 << 8 | 0x9f << 16;
  if (b0 >= 0xe1 && b0 <= 0xef) return 2 | 0x80 << 8 | 0xbf << 16;
  if (b0 == 0xf0) return 3 | 0x90 << 8 | 0xbf << 16;
  if (b0 == 0xf4) return 3 | 0x80 << 8 | 0x8f << 16;
  if (b0 >= 0xf1 && b0 <= 0xf3) return 3 | 0x80 << 8 | 0xbf << 16;
  return 0;
}

/**
 * Length of the valid UTF-8 sequence starting at p (1..4), or 0 when the bytes at p do not start
 * one. Reads only below `end`.
 */
export function utf8SequenceLength(p: usize, end: usize): i32 {
  const b0 = <u32>load<u8>(p);
  if (b0 < 0x80) return 1;
  const spec = leadSpec(b0);
  if (spec == 0) return 0;
  const need = <i32>(spec & 0xff);
  let lo = (spec >> 8) & 0xff;
  let hi = spec >> 16;
  let q = p + 1;
  for (let k = 0; k < need; k++, q++) {
    if (q >= end) return 0;
    const b = <u32>load<u8>(q);
    if (b < lo || b > hi) return 0;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

/** True when [ptr, ptr+len) is valid UTF-8. */
export function isValidUtf8(ptr: usize, len: i32): bool {
  let p = ptr;
  const end = ptr + <usize>len;
  while (p < end) {
    if (load<u8>(p) < 0x80) { p++; continue; }
    const n = utf8SequenceLength(p, end);
    if (n == 0) return false;
    p += <usize>n;
  }
  return true;
}

/** Decodes [ptr, ptr+len) as UTF-8; each maximal invalid subpart becomes U+FFFD. */
export function decodeUtf8(ptr: usize, len: i32): string {
  if (len <= 0) return "";
  if (isValidUtf8(ptr, len)) return String.UTF8.decodeUnsafe(ptr, <usize>len);
  // At most one UTF-16 unit per input byte (a 4-byte sequence gives two units).
  const units = new Uint16Array(len);
  let n = 0;
  let p = ptr;
  const end = ptr + <usize>len;
  while (p < end) {
    const b0 = <u32>load<u8>(p);
    if (b0 < 0x80) { units[n++] = <u16>b0; p++; continue; }
    const k = utf8SequenceLength(p, end);
    if (k == 0) {
      units[n++] = 0xfffd;
      p += <usize>maximalSubpart(p, end);
      continue;
    }
    let cp: u32;
    if (k == 2) cp = (b0 & 0x1f) << 6 | (<u32>load<u8>(p + 1) & 0x3f);
    else if (k == 3) cp = (b0 & 0x0f) << 12 | (<u32>load<u8>(p + 1) & 0x3f) << 6 | (<u32>load<u8>(p + 2) & 0x3f);
    else cp = (b0 & 0x07) << 18 | (<u32>load<u8>(p + 1) & 0x3f) << 12 | (<u32>load<u8>(p + 2) & 0x3f) << 6 | (<u32>load<u8>(p + 3) & 0x3f);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units[n++] = <u16>(0xd800 | (cp >> 10));
      units[n++] = <u16>(0xdc00 | (cp & 0x3ff));
    } else {
      units[n++] = <u16>cp;
    }
    p += <usize>k;
  }
  return String.UTF16.decodeUnsafe(units.dataStart, <usize>n << 1);
}

/** Bytes to skip for one U+FFFD at an invalid sequence: the lead byte plus valid continuations. */
function maximalSubpart(p: usize, end: usize): i32 {
  const spec = leadSpec(<u32>load<u8>(p));
  if (spec == 0) return 1;
  const need = <i32>(spec & 0xff);
  let lo = (spec >> 8) & 0xff;
  let hi = spec >> 16;
  let q = p + 1;
  let taken = 1;
  for (let k = 0; k < need; k++, q++) {
    if (q >= end) break;
    const b = <u32>load<u8>(q);
    if (b < lo || b > hi) break;
    lo = 0x80;
    hi = 0xbf;
    taken++;
  }
  return taken;
}

/** The UTF-8 bytes of s as a Uint8Array (lone surrogates encoded as U+FFFD). */
export function utf8Bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE));
}
