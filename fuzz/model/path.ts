// Reference model of how the plugin routes a request path (assembly/util/path.ts and
// assembly/quota/routes.ts), written from the documented rules and independently of that code:
// percent-decoding in whole rounds until nothing changes, paths as latin1 strings, segments as
// arrays, dot segments resolved with RFC 3986's output stack.

/** What the plugin meters when `enable_path_suffixes` is absent. */
export const DEFAULT_SUFFIXES = [
  "/chat/completions", "/completions", "/responses", "/embeddings", "/v1/messages",
  ":generateContent", ":streamGenerateContent", "/invocations", "/generate",
  "/api/chat", "/api/embed", "/generate_stream", "/completion", "/infill", "/encode",
];

export type ApiName = "openai-chat" | "openai-completions" | "openai-responses" | "openai-embeddings" |
  "anthropic-messages" | "gemini-generate" | "gemini-stream" | "other" |
  "ollama-chat" | "ollama-generate" | "ollama-embed" | "native-generate" | "tgi-generate-stream" |
  "llamacpp-completion" | "llamacpp-infill" | "sglang-encode";

const KINDS: Array<[string, ApiName]> = [
  ["/api/embeddings", "ollama-embed"],
  ["/chat/completions", "openai-chat"], ["/completions", "openai-completions"], ["/responses", "openai-responses"],
  ["/embeddings", "openai-embeddings"], ["/v1/messages", "anthropic-messages"],
  [":streamgeneratecontent", "gemini-stream"], [":generatecontent", "gemini-generate"],
  ["/api/chat", "ollama-chat"], ["/api/generate", "ollama-generate"], ["/api/embed", "ollama-embed"],
  ["/generate", "native-generate"], ["/generate_stream", "tgi-generate-stream"],
  ["/completion", "llamacpp-completion"], ["/infill", "llamacpp-infill"], ["/encode", "sglang-encode"],
];

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** One round: every valid %XX, left to right, decoded; everything else kept. */
export function decodeOnce(b: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x25 && i + 2 < b.length && hexDigit(b[i + 1]) >= 0 && hexDigit(b[i + 2]) >= 0) {
      out.push(hexDigit(b[i + 1]) * 16 + hexDigit(b[i + 2]));
      i += 2;
    } else {
      out.push(b[i]);
    }
  }
  return Uint8Array.from(out);
}

/** Rounds of decodeOnce until one changes nothing. */
export function decodeFully(b: Uint8Array): Uint8Array {
  for (;;) {
    const d = decodeOnce(b);
    if (d.length === b.length) return d;
    b = d;
  }
}

const FOLDS: Record<string, string> = { "\xc3\x9f": "ss", "\xc4\xb0": "i", "\xc4\xb1": "i", "\xc5\xbf": "s", "\xe2\x84\xaa": "k" };
const LIGATURES = ["ff", "fi", "fl", "ffi", "ffl", "st", "st"];

/**
 * Decoded, then as a latin1 string: ASCII lower case, `\` as `/`, and (UTF-8) ß ı İ ſ K and the
 * ligatures U+FB00..FB06 as ss i i s k ff fi fl ffi ffl st st.
 */
export function folded(raw: Uint8Array): string {
  return Buffer.from(decodeFully(raw)).toString("latin1")
    .replace(/\xc3\x9f|\xc4[\xb0\xb1]|\xc5\xbf|\xe2\x84\xaa|\xef\xac[\x80-\x86]/g, (m) => FOLDS[m] ?? LIGATURES[m.charCodeAt(2) - 0x80])
    .replace(/[A-Z]/g, (c) => c.toLowerCase())
    .replace(/\\/g, "/");
}

function resolve(segments: string[]): string {
  const out: string[] = [];
  for (const s of segments) {
    if (s === "" || s === ".") continue;
    if (s === "..") out.pop();
    else out.push(s);
  }
  return out.map((s) => "/" + s).join("");
}

export interface PathViews {
  /** Canonical: merged, dots resolved, no trailing '/' ("" for the root). */
  plain: string;
  /** The same with each segment cut at its first ';'. */
  cut: string;
  dotdot: boolean;
  /** Segments that are a name in the full reading and not a dot segment in the cut one: [full, cut]. */
  names: Array<[string, string]>;
}

export function pathViews(raw: Uint8Array): PathViews {
  const segments = folded(raw).split("/");
  const cuts = segments.map((s) => s.split(";")[0]);
  const isDot = (s: string) => s === "." || s === "..";
  return {
    plain: resolve(segments),
    cut: resolve(cuts),
    dotdot: segments.includes("..") || cuts.includes(".."),
    names: segments.map((s, i): [string, string] => [s, cuts[i]]).filter(([s, c]) => s !== "" && !isDot(s) && !isDot(c)),
  };
}

/** A configured suffix as the plugin compares it, or null when the plugin refuses it. */
export function canonicalSuffix(text: string): string | null {
  const s = folded(Buffer.from(text, "utf8")).replace(/\/+/g, "/").replace(/\/+$/, "");
  if (s === "" || s.split("/").some((seg) => seg === "." || seg === "..")) return null;
  return s;
}

export type Match = "none" | "plain" | "cut" | "across-dots";

/** How a canonical suffix matches the path (the first reading that does). */
export function match(views: PathViews, suffix: string): Match {
  if (views.plain.endsWith(suffix)) return "plain";
  if (views.cut.endsWith(suffix)) return "cut";
  if (!views.dotdot) return "none";
  const partial = !suffix.startsWith("/");
  const wanted = (partial ? suffix : suffix.slice(1)).split("/");
  let k = 0;
  for (const [full, cut] of views.names) {
    if (k === wanted.length) break;
    const w = wanted[k];
    const hit = k === 0 && partial ? full.endsWith(w) || cut.endsWith(w) : full === w || cut === w;
    if (hit) k++;
  }
  return k === wanted.length ? "across-dots" : "none";
}

function kindOf(canonical: string): ApiName {
  return KINDS.find(([s]) => canonical.endsWith(s))?.[1] ?? "other";
}

export interface RouteModel {
  operation: "none" | "metered" | "query" | "refresh" | "delta";
  api: ApiName | "";
}

/** The plugin's route for a raw (undecoded) path: admin paths first, then the suffixes in order. */
export function routePath(rawPath: Uint8Array, suffixes: string[] = DEFAULT_SUFFIXES, adminPath = "/quota"): RouteModel {
  const views = pathViews(rawPath);
  const admin = canonicalSuffix("/v1/chat/completions" + adminPath)!;
  if (views.plain.endsWith(admin + "/refresh")) return { operation: "refresh", api: "" };
  if (views.plain.endsWith(admin + "/delta")) return { operation: "delta", api: "" };
  if (views.plain.endsWith(admin)) return { operation: "query", api: "" };
  for (const text of suffixes) {
    const suffix = canonicalSuffix(text);
    if (suffix === null) continue;
    const how = match(views, suffix);
    if (how === "none") continue;
    return { operation: "metered", api: kindOf(how === "across-dots" ? suffix : how === "cut" ? views.cut : views.plain) };
  }
  return { operation: "none", api: "" };
}

/** The plugin's route for a request target: the path is the bytes before the first '?' or '#'. */
export function routeTarget(target: string, suffixes: string[] = DEFAULT_SUFFIXES, adminPath = "/quota"): RouteModel {
  const b = Buffer.from(target, "utf8");
  let end = b.findIndex((c) => c === 0x3f || c === 0x23);
  if (end < 0) end = b.length;
  return routePath(b.subarray(0, end), suffixes, adminPath);
}
