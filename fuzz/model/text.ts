// Reference semantics for text at the plugin's edges, written from the specifications the plugin
// claims to follow (WHATWG UTF-8 decoding, Go's strconv.Atoi), independent of its code.

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** WHATWG UTF-8 decode: each maximal invalid subpart becomes U+FFFD; a BOM is kept. */
export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** UTF-8 bytes of a JS string; lone surrogates become U+FFFD (what the host sends for a string). */
export function utf8(s: string): Buffer {
  return Buffer.from(s, "utf8");
}

/** What a JS string looks like after a trip through UTF-8 (lone surrogates replaced). */
export function wellFormed(s: string): string {
  return utf8(s).toString("utf8");
}

export const I64_MIN = -(1n << 63n);
export const I64_MAX = (1n << 63n) - 1n;

/** Go strconv.Atoi on a 64-bit platform: `[+-]?[0-9]+` in range, else null. */
export function atoi(s: string): bigint | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const v = BigInt(s);
  return v < I64_MIN || v > I64_MAX ? null : v;
}

/** The same on bytes (ASCII digits only). */
export function atoiBytes(b: Uint8Array): bigint | null {
  for (const c of b) if (c >= 0x80) return null;
  return atoi(Buffer.from(b).toString("latin1"));
}

export function saturatingAdd(a: bigint, b: bigint): bigint {
  const r = a + b;
  return r > I64_MAX ? I64_MAX : r < I64_MIN ? I64_MIN : r;
}
