// JSON for counterexamples: fuzz inputs hold bytes, bigints, undefined and odd numbers, which plain
// JSON cannot. Tagged objects carry them: {"$bytes": base64}, {"$bigint": "123"},
// {"$undefined": true}, {"$number": "NaN" | "Infinity" | "-0"}.

function encodeValue(v: unknown): unknown {
  if (v === undefined) return { $undefined: true };
  if (typeof v === "bigint") return { $bigint: v.toString() };
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (typeof v === "number" && !Number.isFinite(v)) return { $number: String(v) };
  if (Object.is(v, -0)) return { $number: "-0" };
  if (Array.isArray(v)) return v.map(encodeValue);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = encodeValue(x);
    return out;
  }
  return v;
}

function decodeValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeValue);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    if (typeof o.$bytes === "string") return new Uint8Array(Buffer.from(o.$bytes, "base64"));
    if (typeof o.$bigint === "string") return BigInt(o.$bigint);
    if (o.$undefined === true) return undefined;
    if (typeof o.$number === "string") return o.$number === "-0" ? -0 : Number(o.$number);
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = decodeValue(x);
  return out;
}

export function encodeCase(value: unknown): unknown {
  return encodeValue(value);
}

export function decodeCase(json: unknown): unknown {
  return decodeValue(json);
}

/** A short description of a value for a failure message (bytes as hex, strings cut). */
export function preview(value: unknown, max = 600): string {
  const s = JSON.stringify(encodeValue(value));
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}
