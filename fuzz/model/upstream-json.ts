// How upstreams read a chat request's `stream` and `stream_options.include_usage`, written again
// here from their sources (not from the plugin) for the request-verdict property:
//   - Python (vLLM, SGLang, FastAPI): json.loads on bytes — the encoding detected as CPython's
//     Lib/json/__init__.py detect_encoding does (UTF-32/16 BOMs, utf-8-sig, then null-byte patterns),
//     NaN/Infinity/-Infinity accepted, only whitespace after the document ("Extra data" otherwise),
//     the last of duplicate keys wins — then pydantic lax mode: a bool is true/false, 0/1, 0.0/1.0,
//     or one of pydantic-core's strings (str_as_bool, case-insensitive); None means "not given".
//   - Go (encoding/json into a struct): UTF-8 only (invalid bytes become U+FFFD), no NaN, keys
//     matched case-insensitively (ASCII, plus U+212A for k and U+017F for s), the last match wins,
//     a bool field takes only true/false/null, a json.Decoder ignores what follows the document.
// A reading is { ok: false } when that upstream refuses the request (no model runs, nothing costs).

export interface UpstreamReading {
  ok: boolean;
  stream: boolean;
  includeUsage: boolean;
}

type Value = { k: "obj"; entries: [string, Value][] } | { k: "arr"; items: Value[] } | { k: "str"; s: string } | { k: "num"; n: number; text: string } | { k: "lit"; v: boolean | null };

const REFUSED: UpstreamReading = { ok: false, stream: false, includeUsage: false };

class Refused extends Error {}

function parse(text: string, nan: boolean, trailing: "error" | "ignore"): Value {
  let i = 0;
  const wsp = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const fail = (): never => { throw new Refused(); };
  const value = (): Value => {
    wsp();
    const c = text[i];
    if (c === "{") {
      i++;
      const entries: [string, Value][] = [];
      wsp();
      if (text[i] === "}") { i++; return { k: "obj", entries }; }
      for (;;) {
        wsp();
        if (text[i] !== '"') fail();
        const key = str();
        wsp();
        if (text[i++] !== ":") fail();
        entries.push([key, value()]);
        wsp();
        const d = text[i++];
        if (d === "}") return { k: "obj", entries };
        if (d !== ",") fail();
      }
    }
    if (c === "[") {
      i++;
      const items: Value[] = [];
      wsp();
      if (text[i] === "]") { i++; return { k: "arr", items }; }
      for (;;) {
        items.push(value());
        wsp();
        const d = text[i++];
        if (d === "]") return { k: "arr", items };
        if (d !== ",") fail();
      }
    }
    if (c === '"') return { k: "str", s: str() };
    for (const [w, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(w, i)) { i += w.length; return { k: "lit", v }; }
    }
    if (nan) {
      for (const [w, n] of [["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]] as const) {
        if (text.startsWith(w, i)) { i += w.length; return { k: "num", n, text: w }; }
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i));
    if (m === null) fail();
    i += m![0].length;
    return { k: "num", n: Number(m![0]), text: m![0] };
  };
  const str = (): string => {
    const start = i;
    i++;
    for (;;) {
      if (i >= text.length) fail();
      const c = text[i];
      if (c === '"') { i++; break; }
      if (c < " ") fail();
      i += c === "\\" ? 2 : 1;
    }
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail();
    }
  };
  const v = value();
  wsp();
  if (i < text.length && trailing === "error") fail();
  return v;
}

/** CPython's json.detect_encoding, then the decode (surrogatepass is not modelled: the cases hold none). */
function pythonDecode(b: Buffer): string {
  const starts = (...bytes: number[]) => bytes.every((x, k) => b[k] === x);
  let enc: string;
  if (starts(0x00, 0x00, 0xfe, 0xff) || starts(0xff, 0xfe, 0x00, 0x00)) enc = "utf-32";
  else if (starts(0xfe, 0xff) || starts(0xff, 0xfe)) enc = "utf-16";
  else if (starts(0xef, 0xbb, 0xbf)) enc = "utf-8-sig";
  else if (b.length >= 4) {
    if (!b[0]) enc = b[1] ? "utf-16-be" : "utf-32-be";
    else if (!b[1]) enc = b[2] || b[3] ? "utf-16-le" : "utf-32-le";
    else enc = "utf-8";
  } else if (b.length === 2 && !b[0]) enc = "utf-16-be";
  else if (b.length === 2 && !b[1]) enc = "utf-16-le";
  else enc = "utf-8";
  if (enc === "utf-32" || enc === "utf-32-be" || enc === "utf-32-le") {
    let le = enc === "utf-32-le";
    let from = 0;
    if (enc === "utf-32") { le = b[0] === 0xff; from = 4; }
    let out = "";
    for (let k = from; k + 3 < b.length; k += 4) out += String.fromCodePoint(le ? b.readUInt32LE(k) : b.readUInt32BE(k));
    return out;
  }
  const fatal = { fatal: true };
  try {
    if (enc === "utf-16") return new TextDecoder(b[0] === 0xff ? "utf-16le" : "utf-16be", fatal).decode(b.subarray(2));
    if (enc === "utf-16-be") return new TextDecoder("utf-16be", fatal).decode(b);
    if (enc === "utf-16-le") return new TextDecoder("utf-16le", fatal).decode(b);
    return new TextDecoder("utf-8", fatal).decode(enc === "utf-8-sig" ? b.subarray(3) : b);
  } catch {
    throw new Refused();
  }
}

const PYDANTIC_TRUE = ["1", "on", "t", "true", "y", "yes"];
const PYDANTIC_FALSE = ["0", "off", "f", "false", "n", "no"];

/** pydantic lax bool; null: None. */
function pydanticBool(v: Value): boolean | null {
  if (v.k === "lit") return v.v;
  if (v.k === "num") {
    if (v.n === 1) return true;
    if (v.n === 0) return false;
    throw new Refused();
  }
  if (v.k === "str") {
    const s = v.s.toLowerCase();
    if (PYDANTIC_TRUE.includes(s)) return true;
    if (PYDANTIC_FALSE.includes(s)) return false;
  }
  throw new Refused();
}

function lastExact(o: Value & { k: "obj" }, key: string): Value | undefined {
  let found: Value | undefined;
  for (const [k, v] of o.entries) if (k === key) found = v;
  return found;
}

export function pythonReads(body: Buffer): UpstreamReading {
  try {
    const root = parse(pythonDecode(body), true, "error");
    if (root.k !== "obj") return REFUSED;
    const s = lastExact(root, "stream");
    const stream = s === undefined ? false : pydanticBool(s) === true;
    const so = lastExact(root, "stream_options");
    let includeUsage = false;
    if (so !== undefined && !(so.k === "lit" && so.v === null)) {
      if (so.k !== "obj") return REFUSED;
      const iu = lastExact(so, "include_usage");
      includeUsage = iu === undefined ? false : pydanticBool(iu) === true; // OpenAI's default (vLLM's is true: false is the stricter model)
    }
    return { ok: true, stream, includeUsage };
  } catch (e) {
    if (e instanceof Refused) return REFUSED;
    throw e;
  }
}

/** Go's field-name match (encoding/json foldName): ASCII case, K and ſ folded. */
function goFold(s: string): string {
  return s.replace(/\u212a/g, "k").replace(/\u017f/g, "s").replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function goBool(v: Value | undefined, was: boolean): boolean {
  if (v === undefined) return was;
  if (v.k !== "lit") throw new Refused();
  return v.v === null ? was : v.v;
}

export function goReads(body: Buffer): UpstreamReading {
  try {
    if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return REFUSED; // a BOM is not JSON to Go
    const root = parse(new TextDecoder("utf-8").decode(body), false, "ignore");
    if (root.k !== "obj") return REFUSED;
    let stream = false;
    let includeUsage = false;
    // Each matching member is decoded in turn into the same field: the last decides.
    for (const [k, v] of root.entries) {
      const f = goFold(k);
      if (f === "stream") stream = goBool(v, stream);
      else if (f === "stream_options") {
        if (v.k === "lit" && v.v === null) { includeUsage = false; continue; }
        if (v.k !== "obj") return REFUSED;
        // A second object is decoded into the same struct: what it does not set stays.
        for (const [ik, iv] of v.entries) if (goFold(ik) === "include_usage") includeUsage = goBool(iv, includeUsage);
      }
    }
    return { ok: true, stream, includeUsage };
  } catch (e) {
    if (e instanceof Refused) return REFUSED;
    throw e;
  }
}
