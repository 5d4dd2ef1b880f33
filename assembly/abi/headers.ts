// Header maps as the ABI serializes them: u32 count, then (u32 key size, u32 value size) per pair,
// then each key and value followed by a NUL byte. All sizes little-endian.

import { decodeUtf8 } from "../util/utf8";

export class HeaderPair {
  constructor(public name: string, public value: string) {}
}

export function serializeHeaders(pairs: Array<HeaderPair>): ArrayBuffer {
  const n = pairs.length;
  const names = new Array<ArrayBuffer>(n);
  const values = new Array<ArrayBuffer>(n);
  let size = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    names[i] = String.UTF8.encode(pairs[i].name);
    values[i] = String.UTF8.encode(pairs[i].value);
    size += names[i].byteLength + values[i].byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, n);
  let sizes = base + 4;
  let data = base + 4 + <usize>n * 8;
  for (let i = 0; i < n; i++) {
    const k = names[i];
    const v = values[i];
    store<u32>(sizes, k.byteLength);
    store<u32>(sizes + 4, v.byteLength);
    sizes += 8;
    memory.copy(data, changetype<usize>(k), k.byteLength);
    data += k.byteLength;
    store<u8>(data++, 0);
    memory.copy(data, changetype<usize>(v), v.byteLength);
    data += v.byteLength;
    store<u8>(data++, 0);
  }
  return out;
}

/** Parses a serialized map; a malformed one (sizes past the end) yields the pairs read so far. */
export function deserializeHeaders(buf: ArrayBuffer): Array<HeaderPair> {
  const pairs = new Array<HeaderPair>();
  const len = <usize>buf.byteLength;
  if (len < 4) return pairs;
  const base = changetype<usize>(buf);
  const n = <usize>load<u32>(base);
  if (n > (len - 4) / 8) return pairs;
  let sizes = base + 4;
  let data = base + 4 + n * 8;
  const end = base + len;
  for (let i: usize = 0; i < n; i++) {
    const ks = <usize>load<u32>(sizes);
    const vs = <usize>load<u32>(sizes + 4);
    sizes += 8;
    if (ks > end - data || vs > end - data - ks || end - data - ks - vs < 2) break;
    // Invalid UTF-8 becomes U+FFFD, so that code above can tell a name that is not text.
    const name = decodeUtf8(data, <i32>ks);
    data += ks + 1;
    const value = decodeUtf8(data, <i32>vs);
    data += vs + 1;
    pairs.push(new HeaderPair(name, value));
  }
  return pairs;
}

/**
 * Walks a serialized header map where it lies (a host block), without decoding anything: after
 * each next(), the pair's name and value as (pointer, length). A malformed map ends the walk where
 * deserializeHeaders stops. One reader is reused: read a map fully before walking another.
 */
export class HeaderMapReader {
  private data: usize = 0;
  private sizes: usize = 0;
  private end: usize = 0;
  private left: usize = 0;
  name: usize = 0;
  nameLen: usize = 0;
  value: usize = 0;
  valueLen: usize = 0;

  /** Starts a walk of the map serialized at [base, base + len); false when it has no pairs. */
  reset(base: usize, len: usize): bool {
    this.left = 0;
    if (base == 0 || len < 4) return false;
    const n = <usize>load<u32>(base);
    if (n > (len - 4) / 8) return false;
    this.sizes = base + 4;
    this.data = base + 4 + n * 8;
    this.end = base + len;
    this.left = n;
    return n > 0;
  }

  next(): bool {
    if (this.left == 0) return false;
    const ks = <usize>load<u32>(this.sizes);
    const vs = <usize>load<u32>(this.sizes + 4);
    const data = this.data;
    const end = this.end;
    if (ks > end - data || vs > end - data - ks || end - data - ks - vs < 2) {
      this.left = 0;
      return false;
    }
    this.left--;
    this.sizes += 8;
    this.name = data;
    this.nameLen = ks;
    this.value = data + ks + 1;
    this.valueLen = vs;
    this.data = data + ks + vs + 2;
    return true;
  }

  /** The current name is exactly these bytes. */
  @inline
  nameIs(bytes: ArrayBuffer): bool {
    const n = <usize>bytes.byteLength;
    return this.nameLen == n && memory.compare(this.name, changetype<usize>(bytes), n) == 0;
  }
}

/** The reader the request flow shares (callbacks never nest). */
export const headerMapReader = new HeaderMapReader();

/** The UTF-8 bytes of a name the plugin passes to the host on every request: made once, at start. */
export function nameBytes(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}
