// Higress's ai-statistics plugin, as far as ai-quota can see it: the `ai_log` property it leaves in
// the stream's filter state (Envoy keeps a wasm property under `wasm.<name>`, properties.ts).
//
// Sources (alibaba/higress plugins/wasm-go/extensions/ai-statistics/main.go; higress-group/wasm-go):
//   - every write is wasm-go's WriteUserAttributeToLogWithKey(ai_log) (pkg/wrapper/plugin_wrapper.go):
//     read the property, UnmarshalStr it (wrap in quotes, decode a JSON string) and json.Unmarshal it
//     into a map (numbers become float64) - on failure nothing is written; copy the stream's user
//     attributes over it; json.Marshal the map (keys sorted); write MarshalStr of that
//     (pkg/wrapper/utils.go: the JSON-string-escaped text without its quotes);
//   - onHttpRequestHeaders sets `api` ("-" unless route_name has three '@' parts) and the configured
//     request_header attributes; onHttpRequestBody sets `chat_round` (user messages) and writes;
//   - a buffered response: onHttpResponseBody sets llm_service_duration, response_type "normal",
//     chat_id, the usage (pkg/tokenusage GetTokenUsage: model, input_token, output_token,
//     input_token_details, output_token_details, total_token) and writes;
//   - a streamed one: onHttpStreamingBody sets response_type "stream", chat_id, on the first chunk
//     llm_first_token_duration, writes when a chunk carries usage (total above 0), and at the end
//     sets llm_service_duration and writes.
// The usage as pkg/tokenusage reads it (every path, in its order: OpenAI, Responses, Gemini,
// Anthropic), with its quirks: a chunk holding "usage" without counts writes 0/0; Anthropic cache
// tokens and Gemini thoughts/tool-use/cached counts only in *_details and total_token.
import { GoValue, goJsonMarshal, goJsonQuote } from "./go-json";

/** The filter-state key of the property wasm-go writes with SetProperty(["ai_log"]). */
export const AI_LOG_STATE_KEY = "wasm.ai_log";

/** MarshalStr: the JSON-string form of `raw` without its quotes (json.Marshal escapes HTML too). */
export function marshalStr(raw: string): string {
  const quoted = goJsonQuote(raw);
  return quoted.slice(1, -1);
}

/** UnmarshalStr: null where Go logs an error and returns "". */
export function unmarshalStr(escaped: string): string | null {
  try {
    const v = JSON.parse(`"${escaped}"`) as unknown;
    return typeof v === "string" ? v : null;
  } catch {
    return null;
  }
}

/** Go's json.Unmarshal into map[string]interface{}: numbers become float64. */
function goUnmarshalMap(text: string): Record<string, GoValue> | null {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, GoValue>) : null;
  } catch {
    return null;
  }
}

/** WriteUserAttributeToLogWithKey: false where wasm-go returns an error (and writes nothing). */
export function writeUserAttributesToLog(filterState: Map<string, Buffer>, attributes: Record<string, GoValue>, stateKey = AI_LOG_STATE_KEY): boolean {
  const previous = filterState.get(stateKey)?.toString("utf8") ?? "";
  let merged: Record<string, GoValue> = {};
  if (previous !== "") {
    const unquoted = unmarshalStr(previous) ?? "";
    const map = goUnmarshalMap(unquoted);
    if (map === null) return false;
    merged = map;
  }
  for (const [k, v] of Object.entries(attributes)) merged[k] = v;
  filterState.set(stateKey, Buffer.from(marshalStr(goJsonMarshal(merged)), "utf8"));
  return true;
}

export interface AiStatisticsAttribute {
  key: string;
  value_source: string;
  value: string;
  apply_to_log?: boolean;
}

/** gjson's leniency on an SSE event: the first JSON object in the text. */
function firstObject(text: string): Record<string, unknown> | null {
  const at = text.indexOf("{");
  if (at < 0) return null;
  try {
    const v = JSON.parse(text.slice(at)) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** gjson's Result.Int(): a number truncated, a numeric string parsed, true 1; anything else 0. */
function gjsonInt(v: unknown): bigint {
  if (typeof v === "number" && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === "string" && /^\s*-?\d+\s*$/.test(v)) return BigInt(v.trim());
  if (v === true) return 1n;
  return 0n;
}

/** gjson's path lookup ("a.b.c"): the value, or undefined where the path does not exist. */
function at(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const part of path.split(".")) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** wrapper.GetValueFromBody: the first path that exists (a JSON null exists). */
function firstOf(o: unknown, paths: string[]): unknown {
  for (const p of paths) {
    const v = at(o, p);
    if (v !== undefined) return v;
  }
  return undefined;
}

// pkg/tokenusage's paths, in its order.
const MODEL_PATHS = ["model", "response.model", "message.model", "modelVersion"];
const INPUT_PATHS = ["usage.prompt_tokens", "usage.input_tokens", "response.usage.input_tokens", "usageMetadata.promptTokenCount", "message.usage.input_tokens"];
const OUTPUT_PATHS = ["usage.completion_tokens", "usage.output_tokens", "response.usage.output_tokens", "usageMetadata.candidatesTokenCount", "message.usage.output_tokens"];
const INPUT_DETAILS_PATHS = ["usage.prompt_tokens_details", "response.usage.input_tokens_details", "usage.input_tokens_details", "usageMetadata.promptTokensDetails"];
const OUTPUT_DETAILS_PATHS = ["usage.completion_tokens_details", "response.usage.output_tokens_details", "usage.output_tokens_details", "usageMetadata.candidatesTokensDetails"];
const TOTAL_PATHS = ["usage.total_tokens", "response.usage.total_tokens", "usageMetadata.totalTokenCount"];

/** One stream's ai-statistics, writing into that stream's filter state. */
export class AiStatistics {
  private readonly attributes: Record<string, GoValue> = {};
  private firstChunkSeen = false;
  private readonly startMs: number;

  constructor(
    private readonly filterState: Map<string, Buffer>,
    private readonly config: { attributes?: AiStatisticsAttribute[] } = {},
    private readonly nowMs: () => number = Date.now,
  ) {
    this.startMs = nowMs();
  }

  private write(): void {
    writeUserAttributesToLog(this.filterState, this.attributes);
  }

  onRequestHeaders(headers: Array<[string, string]>, routeName: string): void {
    const parts = routeName.split("@");
    this.attributes.api = parts.length < 3 ? "-" : parts.slice(0, 3).join("@");
    for (const a of this.config.attributes ?? []) {
      if (a.value_source !== "request_header" || a.apply_to_log !== true) continue;
      const found = headers.find(([k]) => k === a.value.toLowerCase());
      this.attributes[a.key] = found === undefined ? "" : found[1];
    }
  }

  onRequestBody(body: string): void {
    let rounds = 0;
    const parsed = firstObject(body);
    const messages = parsed?.messages;
    if (Array.isArray(messages)) rounds = messages.filter((m) => typeof m === "object" && m !== null && (m as Record<string, unknown>).role === "user").length;
    this.attributes.chat_round = BigInt(rounds);
    this.write();
  }

  /**
   * The usage of one piece of body, as tokenusage.GetTokenUsage sets it (model, input_token,
   * output_token, input_token_details, output_token_details, total_token, every chunk that holds
   * "usage" or "usageMetadata"); true when its total is above 0.
   */
  private usageFrom(text: string): boolean {
    let total = 0n;
    let cacheCreation = 0n;
    let cacheRead = 0n;
    const a = this.attributes;
    for (const chunk of text.replace(/\r\n?/g, "\n").trim().split("\n\n")) {
      if (!chunk.includes('"usage"') && !chunk.includes('"usageMetadata"')) continue;
      const o = firstObject(chunk);
      const model = firstOf(o, MODEL_PATHS);
      if (model !== undefined) a.model = typeof model === "string" ? model : JSON.stringify(model);
      else if (typeof a.model !== "string" || a.model === "" || a.model === "unknown") a.model = "unknown";
      // A missing count keeps an earlier one above 0 (ExtractInputTokens/ExtractOutputTokens), else 0.
      const input = firstOf(o, INPUT_PATHS);
      const keptInput = typeof a.input_token === "bigint" && a.input_token > 0n ? a.input_token : 0n;
      a.input_token = input !== undefined ? gjsonInt(input) : keptInput;
      const output = firstOf(o, OUTPUT_PATHS);
      const keptOutput = typeof a.output_token === "bigint" && a.output_token > 0n ? a.output_token : 0n;
      a.output_token = output !== undefined ? gjsonInt(output) : keptOutput;
      const inDetails: Record<string, GoValue> = {};
      const d = firstOf(o, INPUT_DETAILS_PATHS);
      if (typeof d === "object" && d !== null && !Array.isArray(d)) for (const [k, v] of Object.entries(d)) inDetails[k] = gjsonInt(v);
      const cached = at(o, "usageMetadata.cachedContentTokenCount");
      if (cached !== undefined) inDetails.cached_content_token_count = gjsonInt(cached);
      const toolUse = at(o, "usageMetadata.toolUsePromptTokenCount");
      if (toolUse !== undefined) inDetails.tool_use_prompt_token_count = gjsonInt(toolUse);
      const cc = at(o, "usage.cache_creation_input_tokens");
      if (cc !== undefined) { cacheCreation = gjsonInt(cc); inDetails.cache_creation_input_tokens = cacheCreation; }
      const cr = at(o, "usage.cache_read_input_tokens");
      if (cr !== undefined) { cacheRead = gjsonInt(cr); inDetails.cache_read_input_tokens = cacheRead; }
      a.input_token_details = inDetails;
      const outDetails: Record<string, GoValue> = {};
      const od = firstOf(o, OUTPUT_DETAILS_PATHS);
      if (typeof od === "object" && od !== null && !Array.isArray(od)) for (const [k, v] of Object.entries(od)) outDetails[k] = gjsonInt(v);
      const thoughts = at(o, "usageMetadata.thoughtsTokenCount");
      if (thoughts !== undefined) outDetails.thoughts_token_count = gjsonInt(thoughts);
      a.output_token_details = outDetails;
      const t = firstOf(o, TOTAL_PATHS);
      total = t !== undefined ? gjsonInt(t) : (a.input_token as bigint) + (a.output_token as bigint) + cacheCreation + cacheRead;
      a.total_token = total;
    }
    return total > 0n;
  }

  private chatId(text: string): void {
    for (const chunk of text.split("\n\n")) {
      const o = firstObject(chunk);
      if (o !== null && typeof o.id === "string") {
        this.attributes.chat_id = o.id;
        return;
      }
    }
  }

  /** A buffered (non-SSE) response body, whole. */
  onResponseBody(body: string): void {
    this.attributes.llm_service_duration = BigInt(this.nowMs() - this.startMs);
    this.attributes.response_type = "normal";
    this.chatId(body);
    this.usageFrom(body);
    this.write();
  }

  /** One piece of a streamed response. */
  onStreamingBody(chunk: string, endOfStream: boolean): void {
    this.attributes.response_type = "stream";
    this.chatId(chunk);
    if (!this.firstChunkSeen) {
      this.firstChunkSeen = true;
      this.attributes.llm_first_token_duration = BigInt(this.nowMs() - this.startMs);
    }
    if (this.usageFrom(chunk)) this.write();
    if (endOfStream) {
      this.attributes.llm_service_duration = BigInt(this.nowMs() - this.startMs);
      this.write();
    }
  }
}
