// Go's encoding/json output, for the emulations of Higress's Go code (higress-controller.ts,
// ai-statistics.ts): what `json.Marshal` writes for strings, numbers and maps.
//
// Follows Go's src/encoding/json/encode.go: `appendString` with escapeHTML (the default of
// json.Marshal): `"` and `\` escaped, \n \r \t \b \f in short form (Go 1.22 and later), other bytes
// below 0x20 as \u00xx (lower-case hex), `<` `>` `&` as \u003c \u003e \u0026, U+2028 and U+2029 as
// \u2028 \u2029, invalid UTF-8 (here: a lone surrogate) as \ufffd; `floatEncoder.encode` for
// float64: the shortest representation, in exponent form below 1e-6 or from 1e21 on, with the
// exponent's leading zero dropped (JavaScript's Number#toString writes the same digits and
// exponent, except for -0); map keys sorted byte-wise (`mapEncoder.encode`, sort by string).

const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: "\\\\", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0c: "\\f" };

function hex4(code: number): string {
  return "\\u" + code.toString(16).padStart(4, "0");
}

/** A Go string as json.Marshal writes it, quotes included. */
export function goJsonQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) out += short;
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) out += hex4(c);
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += "\\ufffd";
    } else if (c >= 0xdc00 && c <= 0xdfff) out += "\\ufffd";
    else out += s[i];
  }
  return out + '"';
}

/** A float64 as json.Marshal writes it; NaN and infinities are errors in Go (the caller decides). */
export function goJsonFloat(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`json: unsupported value: ${n}`);
  if (Object.is(n, -0)) return "-0";
  return String(n);
}

/** Byte-wise order of the UTF-8 encodings, as Go's sort.Strings orders map keys. */
export function goStringCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** A value as Go holds it: bigint for int64, number for float64, and maps as plain objects. */
export type GoValue = null | boolean | number | bigint | string | GoValue[] | { [key: string]: GoValue };

/** json.Marshal of a Go value: compact, map keys sorted. */
export function goJsonMarshal(v: GoValue): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return goJsonFloat(v);
  if (typeof v === "string") return goJsonQuote(v);
  if (Array.isArray(v)) return "[" + v.map(goJsonMarshal).join(",") + "]";
  const keys = Object.keys(v).sort(goStringCompare);
  return "{" + keys.map((k) => goJsonQuote(k) + ":" + goJsonMarshal(v[k])).join(",") + "}";
}
