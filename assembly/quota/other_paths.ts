// What happens to a request on a metered route whose path the plugin cannot meter (`other_paths`).
// A route that carries ai-quota is an LLM route: an image, audio, batch or rerank endpoint behind it
// would be sold for nothing if it passed, so by default such a request is refused, except listings and
// health checks (GET/HEAD), which an operator may widen or narrow with `allow`. Higress passes every
// such request (`action: pass` keeps that); `action: charge` admits it while the balance is positive
// and charges a flat `request_cost` per request.
import { JsonType, JsonValue } from "../json/parser";
import { asciiLower } from "../util/text";

export enum OtherPathAction {
  Refuse,
  Pass,
  Charge,
}

/** One `allow` entry: the methods it admits and the path's last segments (`*`: any one segment). */
export class AllowedPath {
  constructor(public methods: Array<string>, public segments: Array<string>, public text: string) {}
}

export class OtherPaths {
  action: OtherPathAction = OtherPathAction.Refuse;
  /** Units charged per request with `action: charge` (as weighted tokens count). */
  requestCost: i64 = 1;
  allow: Array<AllowedPath> = defaultAllowList();
}

/**
 * Listings and health checks of the servers the plugin meters (OpenAI, Gemini, vLLM, SGLang, TGI,
 * Ollama, llama.cpp), and the token counters Anthropic and Google serve free of charge.
 */
export const DEFAULT_ALLOWED: Array<string> = [
  "/models", "/models/*", "/api/tags", "/api/version", "/api/ps",
  "/health", "/healthz", "/ready", "/readyz", "/livez", "/ping", "/version", "/info",
  "POST /v1/messages/count_tokens", "POST /models/*:countTokens",
];

/** The most `allow` entries and segments one entry may have: the check runs on every such request. */
const MAX_ALLOWED = 256;
const MAX_SEGMENTS = 16;
const MAX_REQUEST_COST: i64 = 1_000_000_000;

function defaultAllowList(): Array<AllowedPath> {
  const list = new Array<AllowedPath>();
  for (let i = 0; i < DEFAULT_ALLOWED.length; i++) list.push(parseAllowed(DEFAULT_ALLOWED[i])!);
  return list;
}

const READ_METHODS: Array<string> = ["GET", "HEAD"];

/**
 * `"/path"` (GET and HEAD), `"METHOD /path"` or `"GET,POST /path"` (those methods), `"* /path"` (any).
 * The path is matched against the request path's last segments, ASCII case ignored; null: malformed.
 */
function parseAllowed(entry: string): AllowedPath | null {
  const text = entry.trim();
  let methods = READ_METHODS;
  let path = text;
  const space = text.indexOf(" ");
  if (space >= 0) {
    const names = text.substring(0, space);
    path = text.substring(space + 1).trim();
    methods = new Array<string>();
    const parts = names.split(",");
    for (let i = 0; i < parts.length; i++) {
      const m = parts[i];
      if (m == "*" && parts.length == 1) { methods.push("*"); break; }
      if (!isMethodToken(m)) return null;
      methods.push(m);
    }
  }
  if (!path.startsWith("/") || path.length < 2) return null;
  const raw = path.substring(1).split("/");
  const segments = new Array<string>();
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i];
    // Empty, "." and ".." segments never survive normalisation: an entry holding one matches nothing.
    if (s.length == 0 || s == "." || s == ".." || !isPlainSegment(s)) return null;
    segments.push(asciiLower(s));
  }
  if (segments.length > MAX_SEGMENTS) return null;
  return new AllowedPath(methods, segments, text);
}

/** An HTTP method as clients send it: upper-case letters only (upstreams route methods case-sensitively). */
function isMethodToken(m: string): bool {
  if (m.length == 0 || m.length > 16) return false;
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c < 0x41 || c > 0x5a) return false;
  }
  return true;
}

/**
 * `*`, `*` + an end (`*:countTokens`), or printable ASCII without the bytes that make a path read
 * differently (`%`, `\`, `;`, `?`, `#`).
 */
function isPlainSegment(s: string): bool {
  if (s == "*") return true;
  for (let i = s.startsWith("*") ? 1 : 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c == 0x25 || c == 0x5c || c == 0x3b || c == 0x3f || c == 0x23 || c == 0x2a) return false;
  }
  return true;
}

export class OtherPathsResult {
  constructor(public value: OtherPaths | null, public error: string) {}
}

const KEYS: Array<string> = ["action", "request_cost", "allow"];

/** `other_paths`; absent: refuse, with the default allow list. */
export function parseOtherPaths(root: JsonValue, warnings: Array<string>): OtherPathsResult {
  const o = new OtherPaths();
  const v = root.get("other_paths");
  if (v === null || v.type == JsonType.Null) return new OtherPathsResult(o, "");
  if (v.type != JsonType.Object) return new OtherPathsResult(null, "other_paths must be an object");
  const action = v.get("action");
  if (action !== null && action.type != JsonType.Null) {
    const name = action.type == JsonType.String ? action.stringValue : "";
    if (name == "refuse") o.action = OtherPathAction.Refuse;
    else if (name == "pass") o.action = OtherPathAction.Pass;
    else if (name == "charge") o.action = OtherPathAction.Charge;
    else return new OtherPathsResult(null, "other_paths.action must be one of refuse, pass, charge");
  }
  const cost = v.get("request_cost");
  if (cost !== null && cost.type != JsonType.Null) {
    if (cost.type != JsonType.Number || !cost.isInteger()) return new OtherPathsResult(null, "other_paths.request_cost must be an integer");
    const n = cost.asI64();
    if (n < 1 || n > MAX_REQUEST_COST) return new OtherPathsResult(null, "other_paths.request_cost must be between 1 and " + MAX_REQUEST_COST.toString() + ", got " + n.toString());
    if (o.action != OtherPathAction.Charge) warnings.push("other_paths.request_cost is ignored unless other_paths.action is charge");
    o.requestCost = n;
  }
  const allow = v.get("allow");
  if (allow !== null && allow.type != JsonType.Null) {
    if (allow.type != JsonType.Array) return new OtherPathsResult(null, "other_paths.allow must be a list of paths such as \"/v1/models\" or \"GET /health\"");
    if (allow.items.length > MAX_ALLOWED) return new OtherPathsResult(null, "other_paths.allow must have at most " + MAX_ALLOWED.toString() + " entries");
    o.allow = new Array<AllowedPath>();
    for (let i = 0; i < allow.items.length; i++) {
      const item = allow.items[i];
      const field = "other_paths.allow[" + i.toString() + "]";
      if (item.type != JsonType.String) return new OtherPathsResult(null, field + " must be a string");
      const entry = parseAllowed(item.stringValue);
      if (entry === null) {
        return new OtherPathsResult(null, field + " must be \"/path\" or \"METHOD /path\" (upper-case methods, or *; plain path segments, * for any one segment; at most " +
          MAX_SEGMENTS.toString() + " segments), got " + item.stringValue);
      }
      o.allow.push(entry);
    }
  }
  const keys = v.keys;
  for (let i = 0; i < keys.length; i++) {
    if (!KEYS.includes(keys[i])) warnings.push("unknown config key other_paths." + keys[i] + " is ignored");
  }
  return new OtherPathsResult(o, "");
}

/**
 * Whether `allow` lets this request through: `path`, `pathLen` is the route's plain path
 * (routes.ts Route.plainPtr: lower-cased, no trailing '/'; 0 when the path is not plain). Only a
 * plain path counts: another spelling could be read by the upstream as a path the entry does not
 * name, so it is not guessed at and the action decides. Control bytes, spaces and DEL are not plain here.
 */
export function allowsPath(o: OtherPaths, methodPtr: usize, methodLen: usize, path: usize, pathLen: usize): bool {
  const list = o.allow;
  if (list.length == 0 || pathLen < 2) return false;
  for (let i: usize = 0; i < pathLen; i++) {
    const c = <u32>load<u8>(path + i);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    if (methodAllowed(entry.methods, methodPtr, methodLen) && segmentsEnd(entry.segments, path, pathLen)) return true;
  }
  return false;
}

function methodAllowed(methods: Array<string>, p: usize, n: usize): bool {
  for (let i = 0; i < methods.length; i++) {
    const m = methods[i];
    if (m == "*") return true;
    if (<usize>m.length != n) continue;
    let same = true;
    for (let k = 0; k < m.length; k++) {
      if (<u32>load<u8>(p + <usize>k) != <u32>m.charCodeAt(k)) { same = false; break; }
    }
    if (same) return true;
  }
  return false;
}

/** The lower-cased path's last segments are the entry's (`*` is any one segment, `*end` one that ends so). */
function segmentsEnd(segments: Array<string>, p: usize, end: usize): bool {
  let at = end;
  for (let s = segments.length - 1; s >= 0; s--) {
    // The segment before `at`: from the '/' before it.
    let start = at;
    while (start > 0 && load<u8>(p + start - 1) != 0x2f) start--;
    if (start == 0) return false;
    const want = segments[s];
    const n = at - start;
    if (n == 0) return false;
    // `*end`: any segment longer than `end` that ends with it; a plain segment: exactly it.
    const wild = want.startsWith("*");
    const m = <usize>want.length - (wild ? 1 : 0);
    if (wild ? n <= m : n != m) return false;
    const from = start + n - m;
    const offset: i32 = wild ? 1 : 0;
    for (let k: usize = 0; k < m; k++) {
      if (<u32>load<u8>(p + from + k) != <u32>want.charCodeAt(<i32>k + offset)) return false;
    }
    at = start - 1;
  }
  return true;
}
