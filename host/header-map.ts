// Header maps as Envoy keeps them (ordered, names lower-cased, repeated names allowed) and their
// ABI serialization: u32 count, then a (u32 name size, u32 value size) per pair, then every name
// and value followed by a NUL byte; all integers little-endian. Text is UTF-8.

export type HeaderPairs = Array<[string, string]>;

export class HeaderMap {
  private entries: HeaderPairs;

  constructor(pairs: HeaderPairs = []) {
    this.entries = pairs.map(([k, v]) => [k.toLowerCase(), v]);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The first value only, as Envoy's get_header_map_value does. */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.entries.find(([k]) => k === key)?.[1];
  }

  add(name: string, value: string): void {
    this.entries.push([name.toLowerCase(), value]);
  }

  /** Sets the value: the first occurrence keeps its place, any others go; absent names are added. */
  replace(name: string, value: string): void {
    const key = name.toLowerCase();
    const i = this.entries.findIndex(([k]) => k === key);
    if (i < 0) {
      this.entries.push([key, value]);
      return;
    }
    this.entries[i] = [key, value];
    this.entries = this.entries.filter(([k], j) => j <= i || k !== key);
  }

  remove(name: string): void {
    const key = name.toLowerCase();
    this.entries = this.entries.filter(([k]) => k !== key);
  }

  setAll(pairs: HeaderPairs): void {
    this.entries = pairs.map(([k, v]) => [k.toLowerCase(), v]);
  }

  pairs(): HeaderPairs {
    return this.entries.map(([k, v]) => [k, v]);
  }
}

/** First value of `name` in a list of pairs (case-insensitive); a helper for tests. */
export function headerValue(pairs: HeaderPairs | null | undefined, name: string): string | undefined {
  const key = name.toLowerCase();
  return pairs?.find(([k]) => k.toLowerCase() === key)?.[1];
}

export function serializePairs(pairs: HeaderPairs): Buffer {
  const encoded = pairs.map(([k, v]) => [Buffer.from(k, "utf8"), Buffer.from(v, "utf8")] as const);
  let size = 4 + 8 * encoded.length;
  for (const [k, v] of encoded) size += k.length + v.length + 2;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(encoded.length, 0);
  let sizes = 4;
  let data = 4 + 8 * encoded.length;
  for (const [k, v] of encoded) {
    out.writeUInt32LE(k.length, sizes);
    out.writeUInt32LE(v.length, sizes + 4);
    sizes += 8;
    k.copy(out, data);
    data += k.length + 1; // the NUL is already there: Buffer.alloc zero-fills
    v.copy(out, data);
    data += v.length + 1;
  }
  return out;
}

/**
 * Parses a serialized map; null when it is malformed (sizes running past the end, or a missing
 * NUL). Envoy does not check the data part at all and would read past the buffer; refusing is
 * the only safe answer, and it makes the plugin's bug visible.
 */
export function parsePairs(buf: Uint8Array): HeaderPairs | null {
  if (buf.length === 0) return []; // what SDKs send for "no headers" (Envoy reads it as empty)
  if (buf.length < 4) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getUint32(0, true);
  if (4 + n * 8 > buf.length) return null;
  const pairs: HeaderPairs = [];
  let data = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const ks = view.getUint32(4 + i * 8, true);
    const vs = view.getUint32(8 + i * 8, true);
    if (data + ks + 1 + vs + 1 > buf.length) return null;
    if (buf[data + ks] !== 0 || buf[data + ks + 1 + vs] !== 0) return null;
    const k = Buffer.from(buf.subarray(data, data + ks)).toString("utf8");
    data += ks + 1;
    const v = Buffer.from(buf.subarray(data, data + vs)).toString("utf8");
    data += vs + 1;
    pairs.push([k, v]);
  }
  return pairs;
}
