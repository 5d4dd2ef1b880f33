// Which operation a request path asks for, and which API a metered path is. Paths are matched
// after normalising them every way an upstream might (util/path.ts), so no spelling of a metered
// endpoint passes unmetered. The admin API lives at `/v1/chat/completions` + `admin_path` whatever
// `enable_path_suffixes` says, and is tried first, as in Higress (PR 3748).
import { JsonType, JsonValue } from "../json/parser";
import { MATCH_ACROSS_DOTS, MATCH_CUT, NO_MATCH, NormalPath, canonicalSuffix, matchSuffix, normalizePath } from "../util/path";
import { splitPath } from "../util/urlencoded";
import { decodeUtf8, isValidUtf8, utf8Bytes } from "../util/utf8";
import { BEDROCK_CONVERSE, BEDROCK_CONVERSE_STREAM, BEDROCK_INVOKE_STREAM } from "../usage/bedrock_reader";
import { LIMITS_CHAT, LIMITS_COMPLETIONS, LIMITS_CONVERSE, LIMITS_GEMINI, LIMITS_GENERATE, LIMITS_LLAMA, LIMITS_MAX_TOKENS, LIMITS_OLLAMA, LIMITS_OPENAI, LIMITS_RESPONSES } from "../request/facts";

export enum Operation {
  /** Not ours: passes through untouched. */
  None,
  /** A metered model call. */
  Chat,
  AdminQuery,
  AdminRefresh,
  AdminDelta,
  /** GET …/quota/usage: a consumer's spend history (admin_usage.ts). */
  AdminUsage,
  /** A path that is neither metered nor admin, admitted under `other_paths: {action: charge}` at a flat cost (never routed to). */
  Flat,
}

/** Which API a metered path is; decides usage injection and the Responses background rule. */
export enum ApiKind {
  /** Not a metered path. */
  None,
  OpenAIChat,
  OpenAICompletions,
  OpenAIResponses,
  OpenAIEmbeddings,
  AnthropicMessages,
  GeminiGenerate,
  GeminiStream,
  /** A metered suffix that is none of the above (an operator's own, `/invocations`). */
  Other,
  // Self-hosted servers' native APIs (usage read by extractor.ts; see docs/metering.md).
  /** Ollama `/api/chat` (NDJSON stream unless `"stream": false`). */
  OllamaChat,
  /** Ollama `/api/generate`. */
  OllamaGenerate,
  /** Ollama `/api/embed` and the older `/api/embeddings`. */
  OllamaEmbed,
  /** `/generate`: TGI's or SGLang's native API (both read; a top-level array is a batch). */
  NativeGenerate,
  /** TGI `/generate_stream` (SSE). */
  TgiGenerateStream,
  /** llama.cpp server `/completion` (a top-level array is a batch). */
  LlamaCompletion,
  /** llama.cpp server `/infill`. */
  LlamaInfill,
  /** SGLang `/encode`. */
  SglangEncode,
  // Cohere v2 and AWS Bedrock runtime (docs/metering.md): metered; Cohere's own counts are not read
  // yet; Bedrock's are (usage/bedrock_reader.ts; invoke: the model's own JSON, Claude's read).
  /** Cohere `/v2/chat` (SSE when `stream` is true). */
  CohereChat,
  /** Cohere `/v2/embed`. */
  CohereEmbed,
  /** Bedrock `/model/{modelId}/invoke`: the model's own JSON (Anthropic messages for Claude). */
  BedrockInvoke,
  /** Bedrock `/model/{modelId}/invoke-with-response-stream` (AWS event-stream framing). */
  BedrockInvokeStream,
  /** Bedrock `/model/{modelId}/converse`. */
  BedrockConverse,
  /** Bedrock `/model/{modelId}/converse-stream` (AWS event-stream framing). */
  BedrockConverseStream,
}

/** Whether the kind is a self-hosted server's native API (Ollama, TGI, llama.cpp, SGLang). */
export function isNativeApi(kind: ApiKind): bool {
  switch (kind) {
    case ApiKind.OllamaChat: case ApiKind.OllamaGenerate: case ApiKind.OllamaEmbed: case ApiKind.NativeGenerate:
    case ApiKind.TgiGenerateStream: case ApiKind.LlamaCompletion: case ApiKind.LlamaInfill: case ApiKind.SglangEncode:
      return true;
    default: return false;
  }
}

/** Whether a top-level JSON array in the answer is a batch (one answer per prompt, each counted) rather than one answer's stream. */
export function answersBatch(kind: ApiKind): bool {
  return kind == ApiKind.NativeGenerate || kind == ApiKind.LlamaCompletion || kind == ApiKind.LlamaInfill || kind == ApiKind.SglangEncode;
}

/** The admin API's base, fixed as in Higress. */
export const CHAT_PATH = "/v1/chat/completions";

/**
 * What is metered when `enable_path_suffixes` is absent: every endpoint of the upstreams the plugin
 * is deployed in front of (OpenAI, Azure OpenAI, vLLM, SGLang, Anthropic, Gemini and its
 * OpenAI-compatible API) that generates or embeds tokens in one request/answer.
 */
export const DEFAULT_SUFFIXES: Array<string> = [
  "/chat/completions", "/completions", "/responses", "/embeddings", "/v1/messages",
  ":generateContent", ":streamGenerateContent", "/invocations", "/generate",
  // self-hosted servers (Ollama, TGI, llama.cpp server, SGLang native); "/api/generate" ends with "/generate"
  "/api/chat", "/api/embed", "/generate_stream", "/completion", "/infill", "/encode",
  // Cohere v2; Bedrock runtime (the model id before them is any segment: `%3A`, `:` and `.` included)
  "/v2/chat", "/v2/embed", "/invoke", "/invoke-with-response-stream", "/converse", "/converse-stream",
];

/** Higress's default, for reference in the docs and tests. */
export const HIGRESS_DEFAULT_SUFFIXES: Array<string> = [CHAT_PATH, "/v1/messages"];

// The kinds, most specific first: a path is the first whose canonical suffix it ends with.
const KIND_SUFFIXES: Array<string> = [
  "/api/embeddings", // (Ollama's, before OpenAI's "/embeddings")
  "/chat/completions", "/completions", "/responses", "/embeddings", "/v1/messages",
  ":streamgeneratecontent", ":generatecontent",
  "/api/chat", "/api/generate", "/api/embed", "/generate", "/generate_stream", "/completion", "/infill", "/encode",
  "/v2/chat", "/v2/embed", "/invoke", "/invoke-with-response-stream", "/converse", "/converse-stream",
];
const KINDS: Array<ApiKind> = [
  ApiKind.OllamaEmbed,
  ApiKind.OpenAIChat, ApiKind.OpenAICompletions, ApiKind.OpenAIResponses, ApiKind.OpenAIEmbeddings,
  ApiKind.AnthropicMessages, ApiKind.GeminiStream, ApiKind.GeminiGenerate,
  ApiKind.OllamaChat, ApiKind.OllamaGenerate, ApiKind.OllamaEmbed, ApiKind.NativeGenerate, ApiKind.TgiGenerateStream,
  ApiKind.LlamaCompletion, ApiKind.LlamaInfill, ApiKind.SglangEncode,
  ApiKind.CohereChat, ApiKind.CohereEmbed, ApiKind.BedrockInvoke, ApiKind.BedrockInvokeStream, ApiKind.BedrockConverse, ApiKind.BedrockConverseStream,
];
let kindSuffixes: Array<Uint8Array> | null = null;

function kindOf(canonical: Uint8Array): ApiKind {
  return kindAt(canonical.dataStart, <usize>canonical.length);
}

function kindAt(p: usize, n: usize): ApiKind {
  let table = kindSuffixes;
  if (table === null) {
    table = new Array<Uint8Array>();
    for (let i = 0; i < KIND_SUFFIXES.length; i++) table.push(utf8Bytes(KIND_SUFFIXES[i]));
    kindSuffixes = table;
  }
  for (let i = 0; i < table.length; i++) {
    if (!endsWithAt(p, n, table[i])) continue;
    const kind = KINDS[i];
    // Bedrock's operations only under /model/{modelId}/ (an operator's own "/invoke" stays Other).
    if (isBedrock(kind) && !hasModelSegment(p, n - <usize>table[i].length)) return ApiKind.Other;
    return kind;
  }
  return ApiKind.Other;
}

/** How a Bedrock kind's answer is read (usage/bedrock_reader.ts BEDROCK_*); 0: as any answer (invoke: the model's own JSON). */
export function bedrockAnswerFormat(kind: ApiKind): i32 {
  if (kind == ApiKind.BedrockConverse) return BEDROCK_CONVERSE;
  if (kind == ApiKind.BedrockConverseStream) return BEDROCK_CONVERSE_STREAM;
  if (kind == ApiKind.BedrockInvokeStream) return BEDROCK_INVOKE_STREAM;
  return 0;
}

function isBedrock(kind: ApiKind): bool {
  return kind == ApiKind.BedrockInvoke || kind == ApiKind.BedrockInvokeStream || kind == ApiKind.BedrockConverse || kind == ApiKind.BedrockConverseStream;
}

const MODEL_SEGMENT = "/model/";

/** "/model/" occurs in the n bytes at p (the model id may hold '/': an inference-profile ARN). */
function hasModelSegment(p: usize, n: usize): bool {
  const m = <usize>MODEL_SEGMENT.length;
  for (let i: usize = 0; i + m <= n; i++) {
    let j: usize = 0;
    while (j < m && <u32>load<u8>(p + i + j) == <u32>MODEL_SEGMENT.charCodeAt(<i32>j)) j++;
    if (j == m) return true;
  }
  return false;
}

export function apiKindName(kind: ApiKind): string {
  switch (kind) {
    case ApiKind.OpenAIChat: return "openai-chat";
    case ApiKind.OpenAICompletions: return "openai-completions";
    case ApiKind.OpenAIResponses: return "openai-responses";
    case ApiKind.OpenAIEmbeddings: return "openai-embeddings";
    case ApiKind.AnthropicMessages: return "anthropic-messages";
    case ApiKind.GeminiGenerate: return "gemini-generate";
    case ApiKind.GeminiStream: return "gemini-stream";
    case ApiKind.OllamaChat: return "ollama-chat";
    case ApiKind.OllamaGenerate: return "ollama-generate";
    case ApiKind.OllamaEmbed: return "ollama-embed";
    case ApiKind.NativeGenerate: return "native-generate";
    case ApiKind.TgiGenerateStream: return "tgi-generate-stream";
    case ApiKind.LlamaCompletion: return "llamacpp-completion";
    case ApiKind.LlamaInfill: return "llamacpp-infill";
    case ApiKind.SglangEncode: return "sglang-encode";
    case ApiKind.CohereChat: return "cohere-chat";
    case ApiKind.CohereEmbed: return "cohere-embed";
    case ApiKind.BedrockInvoke: return "bedrock-invoke";
    case ApiKind.BedrockInvokeStream: return "bedrock-invoke-stream";
    case ApiKind.BedrockConverse: return "bedrock-converse";
    case ApiKind.BedrockConverseStream: return "bedrock-converse-stream";
    case ApiKind.None: return "none";
    default: return "other";
  }
}

/** The metered suffixes and admin paths of one config, canonical (util/path.ts canonicalSuffix). */
export class Routes {
  /** As configured, for logs. */
  names: Array<string> = new Array<string>();
  suffixes: Array<Uint8Array> = new Array<Uint8Array>();
  adminQuery: Uint8Array = new Uint8Array(0);
  adminRefresh: Uint8Array = new Uint8Array(0);
  adminDelta: Uint8Array = new Uint8Array(0);
  adminUsage: Uint8Array = new Uint8Array(0);
}

export class Route {
  /**
   * A path that is not ours and reads the same every way (isSimplePath's rule: ASCII, no escapes,
   * no empty or dot segments), lower-cased without its trailing '/': where it lies and how long
   * (0: not such a path). Valid until the next routeOf; other_paths.ts matches `allow` against it.
   */
  plainPtr: usize = 0;
  plainLen: usize = 0;
  /** rawQuery: the query string of an admin query (Go's RawQuery); "" otherwise. */
  constructor(public operation: Operation, public api: ApiKind, public rawQuery: string) {}
}

/** The answer of routeOf / routeOfAt: one instance, refilled by each call (use it at once). */
const route = new Route(Operation.None, ApiKind.None, "");

function routed(operation: Operation, api: ApiKind, rawQuery: string): Route {
  route.operation = operation;
  route.api = api;
  route.rawQuery = rawQuery;
  route.plainPtr = 0;
  route.plainLen = 0;
  return route;
}

/** Where a simple path is lowered (grown to the longest seen; paths are bounded by the host's header limit). */
let scratch = new StaticArray<u8>(256);

/**
 * Routes a request target (`:path`): admin paths first, then the metered suffixes. The path is
 * everything before the first '?' or '#', read literally: a target in absolute form
 * ("http://h/v1/…") or starting with "//" keeps its leading segments, which can only add to what
 * ends with a suffix. The admin query's string is Go's RawQuery, as in Higress.
 */
export function routeOf(target: string, routes: Routes): Route {
  const bytes = utf8Bytes(target);
  return routeOfAt(bytes.dataStart, <usize>bytes.length, routes);
}

/**
 * routeOf on the target's UTF-8 bytes where they lie (the request's header map). Bytes that are not
 * UTF-8 are routed as the text they decode to (U+FFFD for each invalid part), as routeOf would.
 */
export function routeOfAt(base: usize, n: usize, routes: Routes): Route {
  // One pass over the path (up to '?' or '#'), as every ordinary request has it: ASCII, where it
  // ends, whether it reads the same every way (isSimplePath's rule, util/path.ts), and its lower-case
  // copy. A path with a byte beyond ASCII goes the general way.
  let buf = scratch;
  let p = changetype<usize>(buf);
  let simple = true;
  let prev: u32 = 0;
  let end: usize = 0;
  while (end < n) {
    const c = <u32>load<u8>(base + end);
    if (c >= 0x80) return routeOfAtAnyBytes(base, n, routes);
    if (c == 0x3f || c == 0x23) break;
    if (c == 0x25 || c == 0x5c || c == 0x3b || (end == 0 && c != 0x2f) || (prev == 0x2f && (c == 0x2f || c == 0x2e))) simple = false;
    prev = c;
    if (end == <usize>buf.length) {
      // Grown to the longest path seen (not its query), bounded by the host's header limit.
      const grown = new StaticArray<u8>(buf.length << 1);
      memory.copy(changetype<usize>(grown), p, end);
      buf = grown;
      scratch = grown;
      p = changetype<usize>(grown);
    }
    store<u8>(p + end, <u8>(c >= 0x41 && c <= 0x5a ? c | 0x20 : c));
    end++;
  }
  // The path is ASCII, so the query after it cannot change the route (an admin query's raw query
  // is decoded on its own).
  if (!simple) return routeNormalized(base, n, end, routes);
  return routeSimple(base, n, p, end, routes);
}

/** A path that reads the same every way (normalizePath's fast case), lowered at p: no trailing '/'. */
function routeSimple(base: usize, n: usize, p: usize, end: usize, routes: Routes): Route {
  let w = end;
  while (w > 0 && load<u8>(p + w - 1) == 0x2f) w--;
  const admin = adminOperationAt(p, w, routes);
  if (admin != Operation.None) return routed(admin, ApiKind.None, admin == Operation.AdminQuery || admin == Operation.AdminUsage ? splitPath(decodeUtf8(base, <i32>n)).rawQuery : "");
  const suffixes = routes.suffixes;
  for (let i = 0; i < suffixes.length; i++) {
    if (endsWithAt(p, w, suffixes[i])) return routed(Operation.Chat, kindAt(p, w), "");
  }
  const none = routed(Operation.None, ApiKind.None, "");
  none.plainPtr = p;
  none.plainLen = w;
  return none;
}

/** routeOfAt for a target with bytes beyond ASCII in its path. */
function routeOfAtAnyBytes(base: usize, n: usize, routes: Routes): Route {
  if (!isValidUtf8(base, <i32>n)) return routeOf(decodeUtf8(base, <i32>n), routes);
  let end: usize = 0;
  while (end < n) {
    const c = load<u8>(base + end);
    if (c == 0x3f || c == 0x23) break;
    end++;
  }
  // Not simple (a byte beyond ASCII): read every way.
  return routeNormalized(base, n, end, routes);
}

/** Any other path: read every way at once (util/path.ts). */
function routeNormalized(base: usize, n: usize, end: usize, routes: Routes): Route {
  const bytes = new Uint8Array(<i32>end);
  memory.copy(bytes.dataStart, base, end);
  const path = normalizePath(bytes, 0, <i32>end);
  const admin = adminOperation(path.plain, routes);
  if (admin != Operation.None) return routed(admin, ApiKind.None, admin == Operation.AdminQuery || admin == Operation.AdminUsage ? splitPath(decodeUtf8(base, <i32>n)).rawQuery : "");
  const suffixes = routes.suffixes;
  for (let i = 0; i < suffixes.length; i++) {
    const how = matchSuffix(path, suffixes[i]);
    if (how == NO_MATCH) continue;
    return routed(Operation.Chat, apiKind(path, how, suffixes[i]), "");
  }
  return routed(Operation.None, ApiKind.None, "");
}

function adminOperationAt(p: usize, n: usize, routes: Routes): Operation {
  if (endsWithAt(p, n, routes.adminRefresh)) return Operation.AdminRefresh;
  if (endsWithAt(p, n, routes.adminDelta)) return Operation.AdminDelta;
  if (endsWithAt(p, n, routes.adminUsage)) return Operation.AdminUsage;
  if (endsWithAt(p, n, routes.adminQuery)) return Operation.AdminQuery;
  return Operation.None;
}

@inline
function endsWithAt(p: usize, n: usize, b: Uint8Array): bool {
  const m = <usize>b.length;
  return m <= n && memory.compare(p + n - m, b.dataStart, m) == 0;
}

function apiKind(path: NormalPath, how: i32, suffix: Uint8Array): ApiKind {
  if (how == MATCH_ACROSS_DOTS) return kindOf(suffix);
  return kindOf(how == MATCH_CUT ? path.cut : path.plain);
}

function adminOperation(canonical: Uint8Array, routes: Routes): Operation {
  if (endsWith(canonical, routes.adminRefresh)) return Operation.AdminRefresh;
  if (endsWith(canonical, routes.adminDelta)) return Operation.AdminDelta;
  if (endsWith(canonical, routes.adminUsage)) return Operation.AdminUsage;
  if (endsWith(canonical, routes.adminQuery)) return Operation.AdminQuery;
  return Operation.None;
}

function endsWith(a: Uint8Array, b: Uint8Array): bool {
  const n = b.length;
  if (n > a.length) return false;
  return memory.compare(a.dataStart + <usize>(a.length - n), b.dataStart, <usize>n) == 0;
}

export class RoutesResult {
  constructor(public routes: Routes | null, public error: string) {}
}

/**
 * The routes of a config: `suffixes` is the value of `enable_path_suffixes` (or its deprecated alias,
 * named by `key`), null when absent. As in Higress, entries are trimmed and empty ones skipped, and
 * a list left empty is an error; beyond Higress, an entry must be a string, must not hold '?' or
 * '#' (the query is never part of the match), and must not be "/" or hold "." / ".." segments.
 */
export function parseRoutes(suffixes: JsonValue | null, key: string, adminPath: string): RoutesResult {
  const r = new Routes();
  const admin = canonicalSuffix(CHAT_PATH + adminPath);
  const chat = canonicalSuffix(CHAT_PATH)!;
  // Higress takes any admin_path; one that normalises to nothing would make every chat call an
  // admin call, and one with dot segments could never match a normalised path.
  if (admin === null || admin.length <= chat.length) {
    return new RoutesResult(null, "admin_path must name a path below " + CHAT_PATH + " such as /quota, got " + adminPath);
  }
  r.adminQuery = admin;
  r.adminRefresh = canonicalSuffix(CHAT_PATH + adminPath + "/refresh")!;
  r.adminDelta = canonicalSuffix(CHAT_PATH + adminPath + "/delta")!;
  r.adminUsage = canonicalSuffix(CHAT_PATH + adminPath + "/usage")!;
  if (suffixes === null || suffixes.type == JsonType.Null) {
    for (let i = 0; i < DEFAULT_SUFFIXES.length; i++) {
      r.names.push(DEFAULT_SUFFIXES[i]);
      r.suffixes.push(canonicalSuffix(DEFAULT_SUFFIXES[i])!);
    }
    return new RoutesResult(r, "");
  }
  if (suffixes.type != JsonType.Array) return new RoutesResult(null, key + " must be a list of path suffixes");
  for (let i = 0; i < suffixes.items.length; i++) {
    const item = suffixes.items[i];
    const field = key + "[" + i.toString() + "]";
    if (item.type != JsonType.String) return new RoutesResult(null, field + " must be a string");
    const text = item.stringValue.trim();
    if (text.length == 0) continue;
    if (text.includes("?") || text.includes("#")) return new RoutesResult(null, field + " must be a path suffix without '?' or '#', got " + text);
    const canonical = canonicalSuffix(text);
    if (canonical === null) return new RoutesResult(null, field + " must name a path end (not \"/\", no \".\" or \"..\" segments), got " + text);
    r.names.push(text);
    r.suffixes.push(canonical);
  }
  if (r.suffixes.length == 0) return new RoutesResult(null, key + " must not be empty");
  return new RoutesResult(r, "");
}

/** The limit fields a metered API's upstream reads (the request reader's LIMITS_*, request/facts.ts). */
export function limitFamilyOf(kind: ApiKind): u8 {
  switch (kind) {
    case ApiKind.NativeGenerate: case ApiKind.TgiGenerateStream: return LIMITS_GENERATE;
    case ApiKind.LlamaCompletion: case ApiKind.LlamaInfill: return LIMITS_LLAMA;
    case ApiKind.OllamaChat: case ApiKind.OllamaGenerate: return LIMITS_OLLAMA;
    case ApiKind.BedrockConverse: case ApiKind.BedrockConverseStream: return LIMITS_CONVERSE;
    case ApiKind.OpenAIChat: return LIMITS_CHAT;
    case ApiKind.OpenAICompletions: return LIMITS_COMPLETIONS;
    case ApiKind.OpenAIResponses: return LIMITS_RESPONSES;
    case ApiKind.AnthropicMessages: case ApiKind.CohereChat: case ApiKind.BedrockInvoke: case ApiKind.BedrockInvokeStream: return LIMITS_MAX_TOKENS;
    case ApiKind.GeminiGenerate: case ApiKind.GeminiStream: return LIMITS_GEMINI;
    default: return LIMITS_OPENAI;
  }
}
