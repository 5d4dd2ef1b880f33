// Request paths as an upstream might route them. A quota is only as good as its path match: a
// client that finds a spelling of `/v1/chat/completions` the plugin does not recognise but the
// upstream serves gets tokens for free. Upstreams and the proxies in front of them disagree on how
// they read a path (how often they percent-decode, whether `%2F` and `\` split segments, whether
// `..` is resolved before or after decoding, whether `;params` are cut, whether case matters), so
// one path is read here in every way at once and a suffix matches when any reading ends with it:
//   1. percent-escapes are decoded until none is left (`%2569` → `%69` → `i`, as a chain of
//      decoding proxies would), `\` is `/`, letters are folded to ASCII lower case (including the
//      non-ASCII ones that case-insensitive matchers equate with ASCII: ß ı İ ſ K and ligatures);
//   2. segments are split on `/`; empty segments are merged, `.` dropped, `..` removes the segment
//      before it, and there is no trailing `/` (the canonical form);
//   3. the same once more with every segment cut at its first `;` (`completions;x`, `..;`);
//   4. when a `..` appears, readings that resolve it at another stage (before decoding `%2F`,
//      before a second decode) can eat other segments; then the suffix also matches when its
//      segments appear in order among the path's non-dot segments. This over-approximates every
//      such reading; a path that needs it is never sent by an ordinary client.
// Everything works on bytes in linear time and allocates only buffers the size of the path.
import { hexDigit } from "./hex";

/**
 * Percent-decodes [src, src+len) into out (room for len bytes) until no escape is left, in one
 * pass: a decoded byte may complete an escape with the bytes before it or start one with the bytes
 * after it. Escapes never overlap, so the result is the same whatever order they are decoded in.
 * Bad escapes stay as they are. Returns the length.
 */
function decodeAll(src: usize, len: i32, out: usize): i32 {
  let n = 0;
  for (let i = 0; i < len; i++) {
    store<u8>(out + <usize>n, load<u8>(src + <usize>i));
    n++;
    while (n >= 3 && load<u8>(out + <usize>(n - 3)) == 0x25) {
      const h = hexDigit(<u32>load<u8>(out + <usize>(n - 2)));
      const l = hexDigit(<u32>load<u8>(out + <usize>(n - 1)));
      if (h < 0 || l < 0) break;
      store<u8>(out + <usize>(n - 3), <u8>(h << 4 | l));
      n -= 2;
    }
  }
  return n;
}

/**
 * In place: ASCII upper case → lower case, `\` → `/`, and the non-ASCII letters whose Unicode
 * upper- or lower-case mapping is ASCII, as case-insensitive matchers compare them (Python's
 * casefold, .NET's OrdinalIgnoreCase, Java's equalsIgnoreCase, JavaScript's toUpperCase):
 * ß → ss, ı İ → i, ſ → s, K (Kelvin) → k, and the ligatures ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ → ff fi fl ffi ffl st st.
 * No replacement is longer than what it replaces. Returns the new length.
 */
function fold(p: usize, n: i32): i32 {
  let w = 0;
  let i = 0;
  while (i < n) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c < 0x80) {
      store<u8>(p + <usize>w, <u8>(c >= 0x41 && c <= 0x5a ? c | 0x20 : c == 0x5c ? 0x2f : c));
      w++;
      i++;
      continue;
    }
    const c1 = i + 1 < n ? <u32>load<u8>(p + <usize>(i + 1)) : 0;
    const c2 = i + 2 < n ? <u32>load<u8>(p + <usize>(i + 2)) : 0;
    let ascii = "";
    let consumed = 1;
    if (c == 0xc3 && c1 == 0x9f) { ascii = "ss"; consumed = 2; }
    else if (c == 0xc4 && (c1 == 0xb0 || c1 == 0xb1)) { ascii = "i"; consumed = 2; }
    else if (c == 0xc5 && c1 == 0xbf) { ascii = "s"; consumed = 2; }
    else if (c == 0xe2 && c1 == 0x84 && c2 == 0xaa) { ascii = "k"; consumed = 3; }
    else if (c == 0xef && c1 == 0xac && c2 >= 0x80 && c2 <= 0x86) { ascii = LIGATURES[c2 - 0x80]; consumed = 3; }
    if (ascii.length == 0) {
      store<u8>(p + <usize>w, <u8>c);
      w++;
    } else {
      for (let k = 0; k < ascii.length; k++) {
        store<u8>(p + <usize>w, <u8>ascii.charCodeAt(k));
        w++;
      }
    }
    i += consumed;
  }
  return w;
}

/** U+FB00..U+FB06 (UTF-8 EF AC 80..86) in upper case, lowered. */
const LIGATURES: Array<string> = ["ff", "fi", "fl", "ffi", "ffl", "st", "st"];

const EMPTY: i32 = 0;
const DOT: i32 = 1;
const DOTDOT: i32 = 2;
const NAME: i32 = 3;

function segmentKind(p: usize, s: i32, e: i32): i32 {
  const n = e - s;
  if (n == 0) return EMPTY;
  if (load<u8>(p + <usize>s) != 0x2e) return NAME;
  if (n == 1) return DOT;
  if (n == 2 && load<u8>(p + <usize>(s + 1)) == 0x2e) return DOTDOT;
  return NAME;
}

/** A path read every way at once (see the header); build with normalizePath. */
export class NormalPath {
  constructor(
    /** The decoded, folded path (segments not yet resolved). */
    public folded: Uint8Array,
    /** Canonical form: "/seg/seg", merged, dot segments resolved, no trailing '/'; "" for the root. */
    public plain: Uint8Array,
    /** The canonical form of the path with every segment cut at its first ';'. */
    public cut: Uint8Array,
    /** A ".." segment appeared in either reading. */
    public hasDotDot: bool,
  ) {}
}

/**
 * Applies one segment [s, e) of src to the output [out, out+w) (RFC 3986 5.2.4's output buffer):
 * a name is appended as "/name", ".." removes the last "/name", anything else nothing. Returns w.
 */
function applySegment(kind: i32, src: usize, s: i32, e: i32, out: usize, w: i32): i32 {
  if (kind == NAME) {
    store<u8>(out + <usize>w, 0x2f);
    memory.copy(out + <usize>(w + 1), src + <usize>s, <usize>(e - s));
    return w + 1 + e - s;
  }
  if (kind == DOTDOT) {
    while (w > 0 && load<u8>(out + <usize>(w - 1)) != 0x2f) w--;
    if (w > 0) w--;
  }
  return w;
}

/**
 * True when the path reads the same every way: it starts with '/' (or is empty) and has no '%',
 * '\\', ';', non-ASCII byte, "//", or segment starting with '.'.
 */
export function isSimplePath(src: usize, len: i32): bool {
  if (len > 0 && load<u8>(src) != 0x2f) return false;
  let prev: u32 = 0;
  for (let i = 0; i < len; i++) {
    const c = <u32>load<u8>(src + <usize>i);
    if (c == 0x25 || c == 0x5c || c == 0x3b || c >= 0x80) return false;
    if (prev == 0x2f && (c == 0x2f || c == 0x2e)) return false;
    prev = c;
  }
  return true;
}

/** Reads the raw (undecoded) path bytes [start, end) of `bytes` every way at once. */
export function normalizePath(bytes: Uint8Array, start: i32, end: i32): NormalPath {
  if (start < 0) start = 0;
  if (end > bytes.length) end = bytes.length;
  const len = end > start ? end - start : 0;
  const buf = new Uint8Array(len);
  const p = buf.dataStart;
  const src = bytes.dataStart + <usize>start;
  if (isSimplePath(src, len)) {
    // Nothing to decode, fold beyond ASCII case, merge, resolve or cut: lower case, no trailing '/'.
    let w = len;
    for (let i = 0; i < len; i++) {
      const c = load<u8>(src + <usize>i);
      store<u8>(p + <usize>i, c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
    }
    while (w > 0 && load<u8>(p + <usize>(w - 1)) == 0x2f) w--;
    const plain = buf.subarray(0, w);
    return new NormalPath(buf, plain, plain, false);
  }
  const n = fold(p, decodeAll(src, len, p));
  // Every output is at most one '/' longer than the folded path.
  const plain = new Uint8Array(n + 1);
  const cut = new Uint8Array(n + 1);
  let pw = 0;
  let cw = 0;
  let dotdot = false;
  let s = 0;
  while (s <= n) {
    let e = s;
    while (e < n && load<u8>(p + <usize>e) != 0x2f) e++;
    let c = s;
    while (c < e && load<u8>(p + <usize>c) != 0x3b) c++;
    const full = segmentKind(p, s, e);
    const head = segmentKind(p, s, c);
    pw = applySegment(full, p, s, e, plain.dataStart, pw);
    cw = applySegment(head, p, s, c, cut.dataStart, cw);
    if (full == DOTDOT || head == DOTDOT) dotdot = true;
    s = e + 1;
  }
  return new NormalPath(buf.subarray(0, n), plain.subarray(0, pw), cut.subarray(0, cw), dotdot);
}

function endsWith(a: Uint8Array, b: Uint8Array): bool {
  const n = b.length;
  if (n > a.length) return false;
  return memory.compare(a.dataStart + <usize>(a.length - n), b.dataStart, <usize>n) == 0;
}

/** [s, e) of `src` equals [bs, be) of b (whole), or ends with it (tail). */
function spanMatches(src: Uint8Array, s: i32, e: i32, b: Uint8Array, bs: i32, be: i32, tail: bool): bool {
  const n = be - bs;
  if (tail ? e - s < n : e - s != n) return false;
  return memory.compare(src.dataStart + <usize>(e - n), b.dataStart + <usize>bs, <usize>n) == 0;
}

export const NO_MATCH: i32 = 0;
/** The canonical form ends with the suffix. */
export const MATCH_PLAIN: i32 = 1;
/** The ';'-cut canonical form ends with it. */
export const MATCH_CUT: i32 = 2;
/** Only across a "..": the suffix's segments appear in order among the path's. */
export const MATCH_ACROSS_DOTS: i32 = 3;

/** How a canonical suffix (see canonicalSuffix) matches the path, or NO_MATCH. */
export function matchSuffix(path: NormalPath, suffix: Uint8Array): i32 {
  if (endsWith(path.plain, suffix)) return MATCH_PLAIN;
  if (endsWith(path.cut, suffix)) return MATCH_CUT;
  if (path.hasDotDot && segmentsInOrder(path, suffix)) return MATCH_ACROSS_DOTS;
  return NO_MATCH;
}

/**
 * The suffix's segments, in order, among the path's segments that are names in the full reading
 * and not dot segments in the cut one (each compared whole, in either reading; a suffix that does
 * not start with '/' may end its first segment anywhere in one).
 */
function segmentsInOrder(path: NormalPath, suffix: Uint8Array): bool {
  const src = path.folded;
  const p = src.dataStart;
  const n = src.length;
  const m = suffix.length;
  let k = m > 0 && suffix[0] == 0x2f ? 1 : 0;
  let first = k == 0;
  let s = 0;
  while (k <= m) {
    let ke = k;
    while (ke < m && suffix[ke] != 0x2f) ke++;
    let found = false;
    while (s <= n) {
      let e = s;
      while (e < n && load<u8>(p + <usize>e) != 0x2f) e++;
      let c = s;
      while (c < e && load<u8>(p + <usize>c) != 0x3b) c++;
      const from = s;
      s = e + 1;
      const head = segmentKind(p, from, c);
      if (segmentKind(p, from, e) != NAME || head == DOT || head == DOTDOT) continue;
      if (spanMatches(src, from, e, suffix, k, ke, first) || spanMatches(src, from, c, suffix, k, ke, first)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
    first = false;
    k = ke + 1;
  }
  return true;
}

/**
 * A configured suffix in the form paths are matched in: decoded, folded, runs of '/' merged, no
 * trailing '/'; a leading '/' is kept (or not). null when it is empty then, or has a "." or ".."
 * segment (it could never be the end of a resolved path).
 */
export function canonicalSuffix(text: string): Uint8Array | null {
  const raw = Uint8Array.wrap(String.UTF8.encode(text));
  const buf = new Uint8Array(raw.length);
  const p = buf.dataStart;
  const n = fold(p, decodeAll(raw.dataStart, raw.length, p));
  let w = 0;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x2f && w > 0 && buf[w - 1] == 0x2f) continue;
    buf[w++] = c;
  }
  while (w > 0 && buf[w - 1] == 0x2f) w--;
  if (w == 0) return null;
  let s = 0;
  while (s <= w) {
    let e = s;
    while (e < w && buf[e] != 0x2f) e++;
    const kind = segmentKind(p, s, e);
    if (kind == DOT || kind == DOTDOT) return null;
    s = e + 1;
  }
  return buf.slice(0, w);
}
