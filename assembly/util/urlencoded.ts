// Query strings and form bodies with Go net/url semantics (url.ParseQuery, url.Parse(raw).Path),
// which is what Higress's ai-quota uses for the admin API. Work is on UTF-8 bytes; decoded values
// that are not valid UTF-8 come back with U+FFFD (Go would keep the raw bytes).
import { hexDigit } from "./hex";
import { decodeUtf8, utf8Bytes } from "./utf8";

/** The decoded pairs of a query string, in order. */
export class FormValues {
  keys: Array<string> = new Array<string>();
  values: Array<string> = new Array<string>();

  /** Number of pairs kept (a key given twice counts twice). */
  get count(): i32 {
    return this.keys.length;
  }

  /** The first value given for key, or null (Go: `values[key][0]`). */
  first(key: string): string | null {
    const keys = this.keys;
    for (let i = 0, n = keys.length; i < n; i++) {
      if (keys[i] == key) return this.values[i];
    }
    return null;
  }

  has(key: string): bool {
    return this.first(key) !== null;
  }

  /** Every value given for key, in order. */
  all(key: string): Array<string> {
    const out = new Array<string>();
    for (let i = 0, n = this.keys.length; i < n; i++) {
      if (this.keys[i] == key) out.push(this.values[i]);
    }
    return out;
  }

  /** The pair at index i (0 <= i < count); out of range gives "". */
  keyAt(i: i32): string {
    return i >= 0 && i < this.keys.length ? this.keys[i] : "";
  }

  valueAt(i: i32): string {
    return i >= 0 && i < this.values.length ? this.values[i] : "";
  }
}

const MODE_QUERY: i32 = 0; // QueryUnescape: '+' is a space
const MODE_PATH: i32 = 1; // PathUnescape: '+' stays

/** Unescapes bytes [p, end) into out (capacity >= end - p); returns the length, or -1 on a bad escape. */
function unescapeInto(p: usize, end: usize, out: usize, mode: i32): i32 {
  let n: usize = 0;
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c == 0x25) {
      if (end - p < 3) return -1;
      const h = hexDigit(<u32>load<u8>(p + 1));
      const l = hexDigit(<u32>load<u8>(p + 2));
      if (h < 0 || l < 0) return -1;
      store<u8>(out + n, <u8>(h << 4 | l));
      p += 3;
    } else if (c == 0x2b && mode == MODE_QUERY) {
      store<u8>(out + n, 0x20);
      p++;
    } else {
      store<u8>(out + n, <u8>c);
      p++;
    }
    n++;
  }
  return <i32>n;
}

/** Unescaped text of [p, end), or null on a bad escape. `scratch` has room for end - p bytes. */
function unescape(p: usize, end: usize, scratch: usize, mode: i32): string | null {
  const n = unescapeInto(p, end, scratch, mode);
  if (n < 0) return null;
  return decodeUtf8(scratch, n);
}

function indexOfByte(p: usize, end: usize, b: u8): usize {
  while (p < end && load<u8>(p) != b) p++;
  return p;
}

/**
 * Go `url.ParseQuery` (1.17+): pairs split on '&'; a pair containing ';' is skipped; empty pairs
 * are skipped; key and value are QueryUnescape'd and a pair with a bad escape is skipped; no '='
 * means the value "". At most maxPairs '&'-separated pieces are read; the rest is ignored.
 */
export function parseQuery(s: string, maxPairs: i32 = 1000): FormValues {
  const out = new FormValues();
  const bytes = utf8Bytes(s);
  const len = bytes.length;
  if (len == 0) return out;
  const scratch = new Uint8Array(len);
  const sp = scratch.dataStart;
  const base = bytes.dataStart;
  const end = base + <usize>len;
  let p = base;
  let pieces = 0;
  while (p < end && pieces < maxPairs) {
    const amp = indexOfByte(p, end, 0x26);
    pieces++;
    const segEnd = amp;
    if (segEnd > p && indexOfByte(p, segEnd, 0x3b) == segEnd) {
      const eq = indexOfByte(p, segEnd, 0x3d);
      const key = unescape(p, eq, sp, MODE_QUERY);
      if (key !== null) {
        const value = eq < segEnd ? unescape(eq + 1, segEnd, sp, MODE_QUERY) : "";
        if (value !== null) {
          out.keys.push(key);
          out.values.push(value);
        }
      }
    }
    p = amp + 1;
  }
  return out;
}

export class SplitPath {
  constructor(public path: string = "", public rawQuery: string = "") {}
}

@inline
function isAlpha(c: u32): bool {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

/**
 * For a request target such as "/v1/chat/completions/quota?consumer=x", what Go's
 * `url.Parse(raw)` gives as Path (percent-decoded with PathUnescape) and RawQuery.
 * The fragment ('#' onwards) is dropped. A "scheme://host" or "//host" prefix is dropped with the
 * host, as Go does. Where Go would fail (a bad escape), path is the raw, undecoded path part.
 */
export function splitPath(raw: string): SplitPath {
  const bytes = utf8Bytes(raw);
  const base = bytes.dataStart;
  let end = base + <usize>bytes.length;
  end = indexOfByte(base, end, 0x23); // '#'
  let p = base;

  // A scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
  let hasScheme = false;
  if (p < end && isAlpha(<u32>load<u8>(p))) {
    let q = p + 1;
    while (q < end) {
      const c = <u32>load<u8>(q);
      if (isAlpha(c) || (c >= 0x30 && c <= 0x39) || c == 0x2b || c == 0x2d || c == 0x2e) { q++; continue; }
      break;
    }
    if (q < end && load<u8>(q) == 0x3a) {
      hasScheme = true;
      p = q + 1;
    }
  }

  const qm = indexOfByte(p, end, 0x3f); // '?'
  const rawQuery = qm < end ? decodeUtf8(qm + 1, <i32>(end - qm - 1)) : "";
  let pathStart = p;
  const pathEnd = qm;

  if (hasScheme && (pathStart >= pathEnd || load<u8>(pathStart) != 0x2f)) {
    // "scheme:opaque": Go leaves Path empty.
    return new SplitPath("", rawQuery);
  }
  // "//authority/path" (but not "///path" without a scheme): the authority is not part of Path.
  if (pathEnd - pathStart >= 2 && load<u8>(pathStart) == 0x2f && load<u8>(pathStart + 1) == 0x2f &&
      (hasScheme || pathEnd - pathStart < 3 || load<u8>(pathStart + 2) != 0x2f)) {
    pathStart = indexOfByte(pathStart + 2, pathEnd, 0x2f);
  }
  const n = <i32>(pathEnd - pathStart);
  const scratch = new Uint8Array(n);
  const m = unescapeInto(pathStart, pathEnd, scratch.dataStart, MODE_PATH);
  const path = m < 0 ? decodeUtf8(pathStart, n) : decodeUtf8(scratch.dataStart, m);
  return new SplitPath(path, rawQuery);
}
