// Reads a metered request's JSON body as it streams, and adds `stream_options.include_usage: true`
// where the rules below say so. Chunks may be cut at any byte; nothing of the body is kept but a
// few fields, a 2 KiB bracket-kind stack, a 256-byte capture of the value being read and at most
// 64 bytes before the root `{`. Work is one pass over the bytes. Never traps: a body that is not
// one valid JSON object stops the reading (facts read so far stay; `complete` stays false).
//
// What is read, as pydantic-style upstreams (vLLM, SGLang: FastAPI, Python's json, pydantic lax
// mode) read it:
//   stream, background     true/false/null, 0/1, and pydantic's bool strings ("true", "yes", "on",
//                          "1", "f", …: pydantic-core src/input/shared.rs str_as_bool); else false
//   stream_options         an object: its include_usage (true asks for usage)
//   model                  a string (decoded, up to 256 bytes; longer or not a string: "")
//   output limits          max_completion_tokens, max_tokens, max_output_tokens, and in
//                          generationConfig / generation_config: maxOutputTokens / max_output_tokens
//   multipliers            n, best_of, generationConfig.candidateCount / candidate_count, and the
//                          prompts of a `prompt` list (legacy completions: each gets its own answer)
// Those are the OpenAI-style APIs'. Each defines some of them (chat: max_tokens and
// max_completion_tokens; completions, Anthropic, Cohere, Bedrock invoke: max_tokens; Responses:
// max_output_tokens; Gemini: generationConfig): another one, llama.cpp's n_predict (its OpenAI API
// reads n_predict before max_tokens: -1 there is no limit) or a spelling only Go reads may be ignored
// upstream, so it raises the limit but never sets it alone. The native APIs read their own fields,
// and only those (a field the upstream ignores must never cap anything; see limitFamilyOf):
//   /generate              TGI: parameters.max_new_tokens × parameters.best_of (router/src/lib.rs
//                          GenerateParameters, serde: exact keys); SGLang: sampling_params.
//                          max_new_tokens × sampling_params.n × the prompts of text / input_ids /
//                          input_embeds (srt/managers/io_struct.py GenerateReqInput). Which server
//                          reads the body is told by its input (TGI requires `inputs`, SGLang one of
//                          the others): a body either could read takes the larger reading, and none
//                          when one of them names no limit.
//   /completion, /infill   llama.cpp: n_predict, else max_tokens, × n_cmpl, else n, × the prompts of a
//                          `prompt` list (tools/server params_from_json_cmpl, tokenize_input_prompts;
//                          nlohmann: exact keys). -1 is no limit (server_slot::has_budget); a value
//                          of another type is the server's default (json_value): no limit.
//   /api/chat, /api/generate  Ollama: options.num_predict (api/types.go: `options` is a struct field,
//                          so its key folds as Go's do; the option names are exact map keys,
//                          Options.FromMap). Negative (-1 infinite, -2 fill the context) and 0 are no
//                          limit (llm/llama_server.go boundedNumPredict, x/mlxrunner).
//   Bedrock converse       inferenceConfig.maxTokens.
// Numbers are read exactly: integers, fractions with an integral value (100000.0), exponents (1e5);
// numeric strings as pydantic-core's str_as_int reads them (" +1_000.00 "). A value that is null is
// "not given". Any other value (negative, zero, fractional, beyond 2^53, a bool, an object, a string
// pydantic would refuse) makes the limit unreadable: the reservation fails closed. When several
// limits (or the same one twice) are given, the largest counts: vLLM prefers max_completion_tokens
// (vllm/entrypoints/openai/chat_completion/protocol.py build_tok_params), other upstreams differ,
// and the largest covers whichever applies. Where some reading sets no limit at all, the request
// has none (facts.outputUnbounded): an estimate is not capped, and a reservation takes the larger of
// the limits read and its fallback. Duplicate keys otherwise: the last one wins, as in
// Python's json, Go's encoding/json and JSON.parse. OpenAI-style limit and multiplier keys also match
// ASCII-case-insensitively, with Go's folding of U+212A and U+017F (encoding/json matches field
// names that way); a limit spelled only so ("MAX_TOKENS") is Go's alone, and Python upstreams set
// none: it is unbounded unless an exact spelling is given too. stream, stream_options, background and
// include_usage match exactly, and another spelling Go folds onto them ("Stream") makes the body
// unreadable (facts.unreadable, request_verdict.ts): Go reads it, Python ignores it. So does a stop
// (not one JSON object as both read it). previous_response_id / conversation (any case, non-null)
// mark the request stateful.
//
// Nesting: bracket kinds are kept for 16384 levels (more than any upstream parser accepts: Go's
// encoding/json stops at 10000, Python's at its recursion limit); a value nested deeper is passed
// over by counting brackets outside strings, so the keys after it are still read, but the body is
// not verified and counts as not complete (it would be refused upstream anyway).
//
// Usage injection (constructed with injectUsage; the streaming path, rewriteChunk):
//   - no stream_options at the root and "stream" true when the root closes: the chunk holding the
//     root's `}` gets `,"stream_options":{"include_usage":true}` before it;
//   - the client's stream_options object: an include_usage of `false` or `null` is overwritten in
//     place by `true ` / `true` (byte for byte, across chunks); without include_usage, the member is
//     added before the object's `}` when the object has other members or "stream" is already known
//     true. An empty `{}` while "stream" is not yet known is left alone: vLLM accepts an empty
//     stream_options without stream (`if data.get("stream_options") and not data.get("stream")`,
//     vllm/entrypoints/openai/chat_completion/protocol.py validate_stream_options) and would refuse
//     it with the member added. A non-empty one without stream vLLM refuses already, and OpenAI
//     refuses any ("The 'stream_options' parameter is only allowed when 'stream' is enabled.", as
//     reported in BerriAI/litellm#5803), so editing it changes nothing there;
//   - "stream_options": null while "stream" is already known true becomes the object;
//   - at most 16 edits per body (duplicated stream_options objects); past that, none.
// `injected` is true when the request streams and the stream_options the upstream will use (the
// last one) asks for usage because of an edit: the usage-only event is then ours to hide. A
// client that asked (the last stream_options has include_usage true, or a value pydantic reads as
// true) is `usageAsked`, and nothing of its request changes but earlier duplicates.
//
// The buffered path (read, finish, frontEdit) changes nothing in place: Envoy's body buffer can
// only be drained from the front and prepended to (Buffer::copyFrom in
// source/extensions/common/wasm/context.cc). When the body is complete, streams, asks nothing and
// has no stream_options, the edit drops everything up to the root `{` and puts it back followed by
// `"stream_options":{"include_usage":true},`; otherwise there is no edit.
import { plainEnd } from "../json/plain";
import { UNREADABLE_FOLDED_KEY, UNREADABLE_SYNTAX } from "./verdict";
import { hexDigit } from "../util/hex";
import { TextCounts } from "../usage/text_estimate";
import { ApiKind } from "../quota/routes";

/** What the reader learnt about the request. */
export class RequestFacts {
  /** Top-level "stream": -1 absent, 0 false, 1 true. */
  stream: i8 = -1;
  /** The client's own stream_options.include_usage was true (the last stream_options). */
  usageAsked: bool = false;
  /** The client sent a top-level stream_options (any value). */
  hasStreamOptions: bool = false;
  /** Top-level "model" when a string. */
  model: string = "";
  /** The output limit the upstream will apply; -1 none given. */
  outputLimit: i64 = -1;
  /** A limit (or n, best_of, candidateCount) was given but cannot be read as the upstream would: fail closed. */
  outputLimitUnreadable: bool = false;
  /** Some upstream's reading of the request sets no output limit (-1 "infinite", a spelling only some read): outputLimit caps nothing. */
  outputUnbounded: bool = false;
  /** n × best_of × candidateCount (each >= 1 when given), saturating. */
  choices: i64 = 1;
  /** Responses API background mode. */
  background: bool = false;
  /** The body was one complete, valid JSON object (nesting deeper than 16384 levels is not verified: false). */
  complete: bool = false;
  /** Body bytes read. */
  bytes: i64 = 0;
  /** Why the body cannot be read as every upstream reads it (UNREADABLE_*, see request_verdict.ts); 0: it can. */
  unreadable: u8 = 0;
  /** A Responses request that names server-side context (previous_response_id, conversation). */
  stateful: bool = false;
  /** The body's text by class, for the input estimate (usage/text_estimate.ts). */
  text: TextCounts = new TextCounts();

  /** As new (a pooled reader's facts). */
  clear(): void {
    this.stream = -1;
    this.usageAsked = false;
    this.hasStreamOptions = false;
    this.model = "";
    this.outputLimit = -1;
    this.outputLimitUnreadable = false;
    this.outputUnbounded = false;
    this.choices = 1;
    this.background = false;
    this.complete = false;
    this.bytes = 0;
    this.unreadable = 0;
    this.stateful = false;
    this.text.clear();
  }
}

/** The buffered path's edit: drop `drain` bytes from the front of the body, then prepend `prepend`. */
export class FrontEdit {
  constructor(public drain: i32, public prepend: Uint8Array) {}
}

// ---- constants ----

const S_LEAD: u8 = 0; // before the root: an optional BOM, whitespace
const S_VALUE: u8 = 1;
const S_VALUE_OR_CLOSE: u8 = 2; // after '['
const S_KEY_OR_CLOSE: u8 = 3; // after '{'
const S_KEY: u8 = 4; // after ',' in an object
const S_COLON: u8 = 5;
const S_AFTER: u8 = 6; // after a value in a container
const S_STRING: u8 = 7;
const S_ESCAPE: u8 = 8;
const S_UNICODE: u8 = 9;
const S_UTF8: u8 = 10;
const S_NUMBER: u8 = 11;
const S_LITERAL: u8 = 12;
const S_TAIL: u8 = 13; // the root has closed: whitespace only
const S_DEEP: u8 = 14; // inside a value nested past KIND_LEVELS: brackets and strings only
const S_DEEP_STRING: u8 = 15;
const S_DEEP_ESCAPE: u8 = 16;
const S_STOP: u8 = 17; // not one valid JSON object: the rest is ignored

const N_MINUS: u8 = 0;
const N_ZERO: u8 = 1;
const N_INT: u8 = 2;
const N_DOT: u8 = 3;
const N_FRAC: u8 = 4;
const N_EXP: u8 = 5;
const N_EXP_SIGN: u8 = 6;
const N_EXP_DIGITS: u8 = 7;

const L_TRUE: u8 = 0;
const L_FALSE: u8 = 1;
const L_NULL: u8 = 2;

/** Levels whose bracket kind is kept (1 bit each). */
const KIND_LEVELS: i32 = 16384;
/** Deepest nesting passed over beyond them; past it the body is refused (no counter can wrap). */
const DEEP_MAX: i32 = 1 << 30;
/** Bytes kept of a key being matched / of a value being read. */
const KEY_CAP: i32 = 48;
const VALUE_CAP: i32 = 256;
/** Number text longer than this is not read (a limit written so is unreadable). */
const NUMBER_CAP: i32 = 64;
/** Bytes before the root '{' that the buffered edit can put back. */
const FRONT_CAP: i32 = 64;
/** Edits per body (each stream_options object takes at most one). */
const MAX_EDITS: i32 = 16;
/** Edit records per chunk: every edit begun in it, plus a literal continued from the previous one. */
const CHUNK_EDITS: i32 = MAX_EDITS + 2;
/** Numbers above this are out of range (JavaScript's safe integers; any cap is far below). */
const NUMBER_MAX: i64 = (<i64>1 << 53) - 1;
const UNREADABLE: i64 = -1;

// Keys, and the value each one's value feeds.
const K_OTHER: u8 = 0;
const K_STREAM: u8 = 1;
const K_STREAM_OPTIONS: u8 = 2;
const K_MODEL: u8 = 3;
const K_BACKGROUND: u8 = 4;
const K_LIMIT: u8 = 5;
const K_N: u8 = 6;
const K_BEST_OF: u8 = 7;
const K_GEN: u8 = 8;
const K_INCLUDE_USAGE: u8 = 9;
const K_CANDIDATES: u8 = 10;
const K_STATEFUL: u8 = 11;
const K_LIMIT_SOME: u8 = 12; // a limit only some upstreams of the API read (another API's field, a spelling only Go reads)
const K_BATCH: u8 = 13; // a prompt list: each prompt is answered
const K_TGI_INPUT: u8 = 14; // TGI's `inputs`
const K_SGL_INPUT: u8 = 15; // SGLang's text / input_ids / input_embeds (a list: a batch)
const K_TGI_PARAMS: u8 = 16;
const K_SGL_PARAMS: u8 = 17;
const K_OLLAMA_OPTIONS: u8 = 18;
const K_CONVERSE_CONFIG: u8 = 19;
const K_LLAMA_LIMIT: u8 = 20; // n_predict / max_tokens as llama.cpp reads them
const K_TGI_LIMIT: u8 = 21;
const K_TGI_BEST_OF: u8 = 22;
const K_SGL_LIMIT: u8 = 23;
const K_SGL_N: u8 = 24;
const K_OLLAMA_LIMIT: u8 = 25;

// What the object at depth 2 is.
const C_OTHER: u8 = 0;
const C_STREAM_OPTIONS: u8 = 1;
const C_GEN: u8 = 2;
const C_TGI: u8 = 3;
const C_SGL: u8 = 4;
const C_OLLAMA: u8 = 5;
const C_CONVERSE: u8 = 6;

// Which API's limit fields a reader reads (limitFamilyOf).
/** OpenAI-style fields, every one counting (an operator's own paths, embeddings; the testing module). */
export const LIMITS_OPENAI: u8 = 0;
/** `/generate`: TGI or SGLang. */
export const LIMITS_GENERATE: u8 = 1;
/** llama.cpp server `/completion`, `/infill`. */
export const LIMITS_LLAMA: u8 = 2;
/** Ollama `/api/chat`, `/api/generate`. */
export const LIMITS_OLLAMA: u8 = 3;
/** Bedrock `/converse`, `/converse-stream`. */
export const LIMITS_CONVERSE: u8 = 4;
// The OpenAI-style APIs read the same fields, but each defines only some: another API's field (or
// llama.cpp's n_predict, which its OpenAI API reads first) may be ignored upstream, so it can raise
// the limit but never set it alone (K_LIMIT_SOME).
/** Chat completions: max_tokens, max_completion_tokens. */
export const LIMITS_CHAT: u8 = 5;
/** Legacy completions: max_tokens. */
export const LIMITS_COMPLETIONS: u8 = 6;
/** Responses: max_output_tokens. */
export const LIMITS_RESPONSES: u8 = 7;
/** Anthropic messages, Cohere v2 chat, Bedrock invoke (Claude's body): max_tokens. */
export const LIMITS_MAX_TOKENS: u8 = 8;
/** Gemini generateContent: generationConfig.maxOutputTokens. */
export const LIMITS_GEMINI: u8 = 9;

// The OpenAI-style limit fields, as bits of what each family defines.
const F_MAX_TOKENS: u8 = 1;
const F_MAX_COMPLETION_TOKENS: u8 = 2;
const F_MAX_OUTPUT_TOKENS: u8 = 4;
const F_GENERATION_CONFIG: u8 = 8;

/** The OpenAI-style limit fields family `limits` defines (all for LIMITS_OPENAI). */
function definedFields(limits: u8): u8 {
  switch (limits) {
    case LIMITS_CHAT: return F_MAX_TOKENS | F_MAX_COMPLETION_TOKENS;
    case LIMITS_COMPLETIONS: case LIMITS_MAX_TOKENS: return F_MAX_TOKENS;
    case LIMITS_RESPONSES: return F_MAX_OUTPUT_TOKENS;
    case LIMITS_GEMINI: return F_GENERATION_CONFIG;
    default: return F_MAX_TOKENS | F_MAX_COMPLETION_TOKENS | F_MAX_OUTPUT_TOKENS | F_GENERATION_CONFIG;
  }
}

/** The limit fields a metered API's upstream reads. */
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

// include_usage in one stream_options object (the last member wins).
const U_ABSENT: u8 = 0;
const U_ASKED: u8 = 1;
const U_FIXED: u8 = 2;
const U_UNFIXED: u8 = 3;

// The last stream_options at the root.
const O_NONE: u8 = 0;
const O_ASKED: u8 = 1;
const O_FIXED: u8 = 2;
const O_UNFIXED: u8 = 3;

function ascii(s: string): StaticArray<u8> {
  const out = new StaticArray<u8>(s.length);
  for (let i = 0; i < s.length; i++) out[i] = <u8>s.charCodeAt(i);
  return out;
}

// Edit texts, by id.
const E_ROOT: u8 = 0;
const E_ROOT_EMPTY: u8 = 1;
const E_MEMBER: u8 = 2;
const E_MEMBER_EMPTY: u8 = 3;
const E_FALSE: u8 = 4;
const E_NULL: u8 = 5;
const E_NULL_OBJECT: u8 = 6;
const EDIT_TEXTS: StaticArray<StaticArray<u8>> = [
  ascii(',"stream_options":{"include_usage":true}'),
  ascii('"stream_options":{"include_usage":true}'),
  ascii(',"include_usage":true'),
  ascii('"include_usage":true'),
  ascii("true "), // over `false`
  ascii("true"), // over `null`
  ascii('{"include_usage":true}'), // over `null` as stream_options
];
const FRONT_MEMBER = ascii('"stream_options":{"include_usage":true}');

// Keys matched exactly (bytes), and case-folded (lowercase ASCII targets).
const KEY_STREAM = ascii("stream");
const KEY_STREAM_OPTIONS = ascii("stream_options");
const KEY_MODEL = ascii("model");
const KEY_BACKGROUND = ascii("background");
const KEY_INCLUDE_USAGE = ascii("include_usage");
const FOLD_MAX_TOKENS = ascii("max_tokens");
const FOLD_MAX_COMPLETION_TOKENS = ascii("max_completion_tokens");
const FOLD_MAX_OUTPUT_TOKENS = ascii("max_output_tokens");
const FOLD_N = ascii("n");
const FOLD_BEST_OF = ascii("best_of");
const FOLD_GENERATION_CONFIG = ascii("generationconfig");
const FOLD_GENERATION_CONFIG_SNAKE = ascii("generation_config");
const FOLD_MAX_OUTPUT_TOKENS_CAMEL = ascii("maxoutputtokens");
const FOLD_CANDIDATE_COUNT = ascii("candidatecount");
const FOLD_CANDIDATE_COUNT_SNAKE = ascii("candidate_count");
const FOLD_PREVIOUS_RESPONSE_ID = ascii("previous_response_id");
const FOLD_CONVERSATION = ascii("conversation");
const KEY_MAX_TOKENS = ascii("max_tokens");
const KEY_MAX_COMPLETION_TOKENS = ascii("max_completion_tokens");
const KEY_MAX_OUTPUT_TOKENS = ascii("max_output_tokens");
const KEY_MAX_OUTPUT_TOKENS_CAMEL = ascii("maxOutputTokens");
const KEY_GENERATION_CONFIG = ascii("generationConfig");
const KEY_GENERATION_CONFIG_SNAKE = ascii("generation_config");
const KEY_PROMPT = ascii("prompt");
const KEY_N = ascii("n");
const KEY_N_CMPL = ascii("n_cmpl");
const KEY_N_PREDICT = ascii("n_predict");
const KEY_INPUTS = ascii("inputs");
const KEY_PARAMETERS = ascii("parameters");
const KEY_MAX_NEW_TOKENS = ascii("max_new_tokens");
const KEY_BEST_OF = ascii("best_of");
const KEY_TEXT = ascii("text");
const KEY_INPUT_IDS = ascii("input_ids");
const KEY_INPUT_EMBEDS = ascii("input_embeds");
const KEY_SAMPLING_PARAMS = ascii("sampling_params");
const FOLD_OPTIONS = ascii("options");
const KEY_NUM_PREDICT = ascii("num_predict");
const KEY_INFERENCE_CONFIG = ascii("inferenceConfig");
const KEY_MAX_TOKENS_CAMEL = ascii("maxTokens");

// ---- small helpers ----

@inline
function isWhitespace(c: u32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

@inline
function isDigit(c: u32): bool {
  return c - 0x30 <= 9;
}


/** The number sub-state after c, or 0xff when c does not continue the number (RFC 8259 grammar). */
@inline
function numberNext(ns: u8, c: u32): u8 {
  const digit = isDigit(c);
  switch (ns) {
    case N_MINUS:
      if (!digit) return 0xff;
      return c == 0x30 ? N_ZERO : N_INT;
    case N_ZERO:
      if (c == 0x2e) return N_DOT;
      if ((c | 0x20) == 0x65) return N_EXP;
      return 0xff;
    case N_INT:
      if (digit) return N_INT;
      if (c == 0x2e) return N_DOT;
      if ((c | 0x20) == 0x65) return N_EXP;
      return 0xff;
    case N_DOT:
      return digit ? N_FRAC : 0xff;
    case N_FRAC:
      if (digit) return N_FRAC;
      if ((c | 0x20) == 0x65) return N_EXP;
      return 0xff;
    case N_EXP:
      if (c == 0x2b || c == 0x2d) return N_EXP_SIGN;
      return digit ? N_EXP_DIGITS : 0xff;
    default: // N_EXP_SIGN, N_EXP_DIGITS
      return digit ? N_EXP_DIGITS : 0xff;
  }
}

@inline
function numberComplete(ns: u8): bool {
  return ns == N_ZERO || ns == N_INT || ns == N_FRAC || ns == N_EXP_DIGITS;
}

@inline
function literalByte(kind: u8, i: i32): u32 {
  const word: u64 = kind == L_TRUE ? 0x65757274 : (kind == L_FALSE ? 0x65736c6166 : 0x6c6c756e);
  return <u32>((word >> (<u64>i << 3)) & 0xff);
}

@inline
function literalLength(kind: u8): i32 {
  return kind == L_FALSE ? 5 : 4;
}

/** For a UTF-8 lead byte: continuation count and the first continuation's range, `need | lo << 8 | hi << 16`; 0 when invalid (RFC 3629). */
@inline
function utf8Lead(c: u32): u32 {
  if (c >= 0xc2 && c <= 0xdf) return 1 | 0x80 << 8 | 0xbf << 16;
  if (c == 0xe0) return 2 | 0xa0 << 8 | 0xbf << 16;
  if (c == 0xed) return 2 | 0x80 << 8 | 0x9f << 16;
  if (c >= 0xe1 && c <= 0xef) return 2 | 0x80 << 8 | 0xbf << 16;
  if (c == 0xf0) return 3 | 0x90 << 8 | 0xbf << 16;
  if (c == 0xf4) return 3 | 0x80 << 8 | 0x8f << 16;
  if (c >= 0xf1 && c <= 0xf3) return 3 | 0x80 << 8 | 0xbf << 16;
  return 0;
}

/** Whether the container at `level` (0: the root) is an object, from the bit stack at `kinds`. */
@inline
function kindAt(kinds: usize, level: i32): bool {
  return (load<u32>(kinds + (<usize>(level >> 5) << 2)) & (<u32>1 << <u32>(level & 31))) != 0;
}

function mulSaturating(a: i64, b: i64): i64 {
  if (a <= 0 || b <= 0) return 0;
  return a > i64.MAX_VALUE / b ? i64.MAX_VALUE : a * b;
}

/** The object kind a root target opens (generationConfig, TGI parameters, SGLang sampling_params, Ollama options, Converse inferenceConfig). */
function containerOf(t: u8): u8 {
  if (t == K_GEN) return C_GEN;
  if (t == K_TGI_PARAMS) return C_TGI;
  if (t == K_SGL_PARAMS) return C_SGL;
  if (t == K_OLLAMA_OPTIONS) return C_OLLAMA;
  return C_CONVERSE;
}

function bytesEqual(p: usize, len: i32, target: StaticArray<u8>): bool {
  if (len != target.length) return false;
  for (let i = 0; i < len; i++) {
    if (load<u8>(p + <usize>i) != unchecked(target[i])) return false;
  }
  return true;
}

/**
 * Whether the UTF-8 key at p equals the lowercase ASCII target under Go's case folding
 * (bytes.EqualFold): ASCII letters in either case, U+212A KELVIN SIGN for 'k', U+017F LONG S for 's'.
 */
function foldedEqual(p: usize, len: i32, target: StaticArray<u8>): bool {
  const n = target.length;
  let i = 0;
  let j = 0;
  while (i < len && j < n) {
    const want = <u32>unchecked(target[j]);
    let c = <u32>load<u8>(p + <usize>i);
    if (c < 0x80) {
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c != want) return false;
      i++;
    } else if (c == 0xe2 && i + 2 < len && load<u8>(p + <usize>i + 1) == 0x84 && load<u8>(p + <usize>i + 2) == 0xaa) {
      if (want != 0x6b) return false;
      i += 3;
    } else if (c == 0xc5 && i + 1 < len && load<u8>(p + <usize>i + 1) == 0xbf) {
      if (want != 0x73) return false;
      i += 2;
    } else {
      return false;
    }
    j++;
  }
  return i == len && j == n;
}

/**
 * A JSON number's text (valid by the grammar) read exactly: its value when it is a non-negative
 * integer, whatever the notation (100, 100.0, 1e2, 1000e-1), up to NUMBER_MAX; else UNREADABLE
 * (negative, fractional, too large, text longer than NUMBER_CAP). Zero in any notation ("-0",
 * "0e9") is 0.
 */
export function integralNumber(p: usize, len: i32): i64 {
  if (len <= 0 || len > NUMBER_CAP) return UNREADABLE;
  const negative = load<u8>(p) == 0x2d;
  const first = negative ? 1 : 0;
  // First pass: significant digits (leading zeros dropped), digits after the point, zeros at the end.
  let count = 0;
  let fraction = 0;
  let trailingZeros = 0;
  let inFraction = false;
  let j = first;
  for (; j < len; j++) {
    const c = <u32>load<u8>(p + <usize>j);
    if (c == 0x2e) { inFraction = true; continue; }
    if (!isDigit(c)) break;
    if (inFraction) fraction++;
    if (count == 0 && c == 0x30) continue;
    count++;
    trailingZeros = c == 0x30 ? trailingZeros + 1 : 0;
  }
  const mantissaEnd = j;
  let exponent: i64 = 0;
  if (j < len) { // 'e' or 'E', an optional sign, digits
    j++;
    let expNegative = false;
    const s = <u32>load<u8>(p + <usize>j);
    if (s == 0x2b || s == 0x2d) { expNegative = s == 0x2d; j++; }
    for (; j < len; j++) {
      if (exponent < 1_000_000) exponent = exponent * 10 + <i64>(<u32>load<u8>(p + <usize>j) - 0x30);
    }
    if (expNegative) exponent = -exponent;
  }
  if (count == 0) return 0;
  if (negative) return UNREADABLE;
  // value = significant digits × 10^scale
  const scale = exponent - <i64>fraction;
  let keep = count;
  if (scale < 0) {
    if (-scale > <i64>trailingZeros) return UNREADABLE; // fractional
    keep = count + <i32>scale; // drop those zeros
  }
  let value: i64 = 0;
  let seen = 0;
  for (let k = first; k < mantissaEnd && seen < keep; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    if (c == 0x2e || (seen == 0 && c == 0x30)) continue;
    seen++;
    const d = <i64>(c - 0x30);
    if (value > (NUMBER_MAX - d) / 10) return UNREADABLE;
    value = value * 10 + d;
  }
  for (let k: i64 = 0; k < scale; k++) {
    if (value > NUMBER_MAX / 10) return UNREADABLE;
    value *= 10;
  }
  return value;
}

/**
 * A string read as an integer the way pydantic-core's str_as_int does (src/input/shared.rs):
 * surrounding ASCII whitespace, an optional '+', digits with single underscores between them,
 * leading zeros, an optional '.' followed by zeros only. Returns the value (0 included), or
 * UNREADABLE for anything else (a sign '-', other text, beyond NUMBER_MAX; non-ASCII whitespace,
 * which Rust's trim also strips, is refused: the reservation then fails closed).
 */
export function integralString(p: usize, len: i32): i64 {
  let i = 0;
  let n = len;
  while (i < n && isAsciiSpace(<u32>load<u8>(p + <usize>i))) i++;
  while (n > i && isAsciiSpace(<u32>load<u8>(p + <usize>(n - 1)))) n--;
  if (i < n && load<u8>(p + <usize>i) == 0x2b) i++;
  let value: i64 = 0;
  let digits = 0;
  let lastUnderscore = true; // no underscore first
  for (; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c == 0x5f) {
      if (lastUnderscore) return UNREADABLE;
      lastUnderscore = true;
      continue;
    }
    if (!isDigit(c)) break;
    lastUnderscore = false;
    digits++;
    if (value > (NUMBER_MAX - <i64>(c - 0x30)) / 10) return UNREADABLE;
    value = value * 10 + <i64>(c - 0x30);
  }
  if (digits == 0 || lastUnderscore) return UNREADABLE;
  if (i < n) {
    if (load<u8>(p + <usize>i) != 0x2e) return UNREADABLE;
    i++;
    if (i >= n) return UNREADABLE;
    for (; i < n; i++) if (load<u8>(p + <usize>i) != 0x30) return UNREADABLE;
  }
  return value;
}

@inline
function isAsciiSpace(c: u32): bool {
  return c == 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** pydantic's bool from a string (str_as_bool): 1 true, 0 false, -1 neither. */
function boolString(p: usize, len: i32): i32 {
  if (len == 1) {
    const c = <u32>load<u8>(p);
    if (c == 0x31) return 1;
    if (c == 0x30) return 0;
  }
  const words = BOOL_WORDS;
  for (let k = 0; k < words.length; k++) {
    if (foldedAscii(p, len, unchecked(words[k]))) return k < 5 ? 1 : 0;
  }
  return -1;
}

const BOOL_WORDS: StaticArray<StaticArray<u8>> = [ascii("t"), ascii("y"), ascii("on"), ascii("yes"), ascii("true"), ascii("f"), ascii("n"), ascii("no"), ascii("off"), ascii("false")];

/** ASCII-case-insensitive equality with a lowercase ASCII target (no Unicode folding). */
function foldedAscii(p: usize, len: i32, target: StaticArray<u8>): bool {
  if (len != target.length) return false;
  for (let i = 0; i < len; i++) {
    let c = <u32>load<u8>(p + <usize>i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c != <u32>unchecked(target[i])) return false;
  }
  return true;
}

// ---- the reader ----

export class RequestBodyReader {
  facts: RequestFacts = new RequestFacts();
  /** We made the upstream's stream_options ask for usage; the client had not: the usage-only event is ours to hide. */
  injected: bool = false;

  private inject: bool;
  private streaming: bool = false; // rewriteChunk was called (edits are made in place)
  private ended: bool = false;
  private rootEnded: bool = false; // the root closed (whatever followed it)
  private rootSentWhole: bool = false; // it closed in a chunk before the one being read: that chunk went upstream
  /**
   * "stream" is true, the reader injects, and the last stream_options neither asks for usage nor
   * could be made to (UNREADABLE_USAGE_OPTION): kept apart from the facts, which do not depend on
   * whether the reader injects.
   */
  cannotAskUsage: bool = false;
  /** Bytes other than whitespace followed the root (Go's decoder ignores them, Python's json.loads refuses). */
  trailing: bool = false;

  // Syntax.
  private st: u8 = S_LEAD;
  private depth: i32 = 0;
  private kinds: StaticArray<u32> = new StaticArray<u32>(KIND_LEVELS >> 5); // bit set: an object
  private deep: i32 = 0;
  private unverified: bool = false; // a value nested past KIND_LEVELS was passed over
  private skimming: bool = false; // inside a container nothing is read from (see skim)
  private skimBase: i32 = 0; // the depth it sits at
  private isKey: bool = false;
  private numState: u8 = 0;
  private literal: u8 = 0;
  private literalPos: i32 = 0;
  private uDigits: i32 = 0;
  private uValue: u32 = 0;
  private utfNeed: i32 = 0;
  private utfLo: u32 = 0x80;
  private utfHi: u32 = 0xbf;
  private leadLen: i32 = 0;
  private bom: i32 = 0;
  private front: StaticArray<u8> = new StaticArray<u8>(FRONT_CAP);

  // The text of the key or value being read (capture on), decoded.
  private capturing: bool = false;
  private capLimit: i32 = 0;
  private capLen: i32 = 0;
  private capOver: bool = false;
  private capBuf: StaticArray<u8> = new StaticArray<u8>(VALUE_CAP);
  private pendingHigh: u32 = 0;

  // Where we are.
  private rootKey: u8 = K_OTHER;
  private innerKind: u8 = C_OTHER;
  private innerKey: u8 = K_OTHER;
  private target: u8 = K_OTHER; // what the scalar being read feeds
  private rootMembers: i32 = 0;
  private soMembers: i32 = 0;
  private soUsage: u8 = U_ABSENT;
  private soOutcome: u8 = O_NONE;
  private limitMax: i64 = -1;
  private nMax: i64 = 1;
  private bestOfMax: i64 = 1;
  private candidatesMax: i64 = 1;
  // Output limits as each family reads them (settleLimits turns them into the facts).
  private limits: u8 = LIMITS_OPENAI;
  private genFolded: bool = false; // the generationConfig key is spelled as only Go reads it
  private exactLimit: bool = false; // a limit read in its exact spelling
  private someLimit: bool = false; // a limit only some upstreams read (K_LIMIT_SOME)
  private unbounded: bool = false; // a reading that sets no limit (-1, a server default)
  private batchMax: i64 = 1; // prompts in a prompt list (the largest list)
  private countAt: i32 = 0; // the depth whose string and container values are counted (0: none)
  private counted: i64 = 0;
  private tgiInput: bool = false;
  private sglInput: bool = false;
  private tgiLimit: i64 = -1;
  private sglLimit: i64 = -1;
  private tgiBestOf: i64 = 1;
  private sglN: i64 = 1;

  // Edits of the chunk being read (streaming path).
  private base: usize = 0;
  private edits: i32 = 0; // made in the whole body
  private chunkEdits: i32 = 0;
  private editPos: StaticArray<i32> = new StaticArray<i32>(CHUNK_EDITS);
  private editDrop: StaticArray<i32> = new StaticArray<i32>(CHUNK_EDITS);
  private editText: StaticArray<u8> = new StaticArray<u8>(CHUNK_EDITS);
  private editFrom: StaticArray<i32> = new StaticArray<i32>(CHUNK_EDITS);
  private editTo: StaticArray<i32> = new StaticArray<i32>(CHUNK_EDITS);
  private replacing: bool = false; // the literal being read is being overwritten
  private replaceText: u8 = 0;
  private fragmentAt: usize = 0; // where this chunk's part of it starts (0: none yet)
  private fragmentFrom: i32 = 0; // its first literal byte's index

  private frontEditValue: FrontEdit | null = null;

  /** Decode the model (else facts.model stays ""): only weights look at it. */
  wantModel: bool = true;

  /** limits: which API's limit fields to read (LIMITS_*, limitFamilyOf). */
  constructor(injectUsage: bool, limits: u8 = LIMITS_OPENAI) {
    this.inject = injectUsage;
    this.limits = limits;
  }

  /**
   * As new (constructed with injectUsage), keeping the buffers: what the pool does. Every field is
   * set back to its initial value; the buffers need no clearing (each is written before it is read).
   */
  recycle(injectUsage: bool, wantModel: bool, limits: u8 = LIMITS_OPENAI): void {
    this.facts.clear();
    this.injected = false;
    this.inject = injectUsage;
    this.wantModel = wantModel;
    this.streaming = false;
    this.ended = false;
    this.rootEnded = false;
    this.rootSentWhole = false;
    this.cannotAskUsage = false;
    this.trailing = false;
    this.st = S_LEAD;
    this.depth = 0;
    this.deep = 0;
    this.unverified = false;
    this.skimming = false;
    this.skimBase = 0;
    this.isKey = false;
    this.numState = 0;
    this.literal = 0;
    this.literalPos = 0;
    this.uDigits = 0;
    this.uValue = 0;
    this.utfNeed = 0;
    this.utfLo = 0x80;
    this.utfHi = 0xbf;
    this.leadLen = 0;
    this.bom = 0;
    this.capturing = false;
    this.capLimit = 0;
    this.capLen = 0;
    this.capOver = false;
    this.pendingHigh = 0;
    this.rootKey = K_OTHER;
    this.innerKind = C_OTHER;
    this.innerKey = K_OTHER;
    this.target = K_OTHER;
    this.rootMembers = 0;
    this.soMembers = 0;
    this.soUsage = U_ABSENT;
    this.soOutcome = O_NONE;
    this.limitMax = -1;
    this.nMax = 1;
    this.bestOfMax = 1;
    this.candidatesMax = 1;
    this.limits = limits;
    this.genFolded = false;
    this.exactLimit = false;
    this.someLimit = false;
    this.unbounded = false;
    this.batchMax = 1;
    this.countAt = 0;
    this.counted = 0;
    this.tgiInput = false;
    this.sglInput = false;
    this.tgiLimit = -1;
    this.sglLimit = -1;
    this.tgiBestOf = 1;
    this.sglN = 1;
    this.base = 0;
    this.edits = 0;
    this.chunkEdits = 0;
    this.replacing = false;
    this.replaceText = 0;
    this.fragmentAt = 0;
    this.fragmentFrom = 0;
    this.frontEditValue = null;
  }

  /**
   * The streaming path: reads one chunk (`end`: the last one) and returns the bytes to send instead
   * of it, or null when it is unchanged. Only the chunk holding an edit point changes.
   */
  rewriteChunk(ptr: usize, len: usize, end: bool): Uint8Array | null {
    this.streaming = true;
    if (this.rootEnded) this.rootSentWhole = true;
    this.chunkEdits = 0;
    this.base = ptr;
    this.readBytes(ptr, len);
    if (end) this.finish();
    if (this.chunkEdits == 0) return null;
    return this.applyEdits(ptr, <i32>len);
  }

  /** rewriteChunk under the name body_view.ts's rewriters have. */
  rewrite(ptr: usize, len: usize, last: bool): Uint8Array | null {
    return this.rewriteChunk(ptr, len, last);
  }

  /** The buffered path: reads one piece, changes nothing. */
  read(ptr: usize, len: usize): void {
    this.base = ptr;
    this.readBytes(ptr, len);
  }

  /** The root value has closed and only whitespace followed so far: an upstream could parse what was sent. */
  get rootClosed(): bool {
    return this.st == S_TAIL;
  }

  /** The root value has closed, whatever followed it. */
  get rootEndedOnce(): bool {
    return this.rootEnded;
  }

  /** The end of the body: settles `complete`, `usageAsked`, `injected` and the buffered edit. */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    const f = this.facts;
    f.complete = this.st == S_TAIL && !this.unverified;
    if (!this.streaming && this.inject && f.complete && f.stream == 1 && !f.hasStreamOptions && this.leadLen < FRONT_CAP) {
      const n = this.leadLen;
      const member = FRONT_MEMBER.length;
      const comma = this.rootMembers > 0 ? 1 : 0;
      const prepend = new Uint8Array(n + 1 + member + comma);
      for (let i = 0; i < n; i++) prepend[i] = this.front[i];
      prepend[n] = 0x7b;
      for (let i = 0; i < member; i++) prepend[n + 1 + i] = FRONT_MEMBER[i];
      if (comma != 0) prepend[n + 1 + member] = 0x2c;
      this.frontEditValue = new FrontEdit(n + 1, prepend);
      this.soOutcome = O_FIXED;
    }
    this.settleUsage();
    // An edit that went out with a whole root stays asked for, whatever followed the root (Go's
    // decoder reads the document and ignores the rest): the usage event is ours to hide.
    if (!f.complete && !this.rootSentWhole) this.injected = false;
  }

  /** After finish() on the buffered path: the one edit to apply, or null. */
  frontEdit(): FrontEdit | null {
    return this.frontEditValue;
  }

  // ---- reading ----

  private readBytes(ptr: usize, len: usize): void {
    if (this.ended) return;
    this.facts.bytes += <i64>len;
    this.facts.text.add(ptr, len);
    let p = ptr;
    const end = ptr + len;
    while (p < end) {
      const st = this.st;
      if (st >= S_DEEP) {
        if (st == S_STOP) break;
        p = this.skipDeep(p, end);
        continue;
      }
      if (this.skimming) { p = this.skim(p, end); continue; }
      if (st == S_STRING) { p = this.scanString(p, end); continue; }
      if (st == S_NUMBER) { p = this.scanNumber(p, end); continue; }
      const c = <u32>load<u8>(p);
      p++;
      switch (st) {
        case S_LEAD: this.lead(c); break;
        case S_VALUE:
        case S_VALUE_OR_CLOSE: {
          if (isWhitespace(c)) break;
          if (c == 0x5d && st == S_VALUE_OR_CLOSE) { this.close(false, p - 1); break; }
          this.beginValue(c, p - 1);
          break;
        }
        case S_KEY_OR_CLOSE:
        case S_KEY: {
          if (isWhitespace(c)) break;
          if (c == 0x22) { this.beginKey(); break; }
          if (c == 0x7d && st == S_KEY_OR_CLOSE) { this.close(true, p - 1); break; }
          this.stop();
          break;
        }
        case S_COLON: {
          if (isWhitespace(c)) break;
          if (c == 0x3a) this.st = S_VALUE;
          else this.stop();
          break;
        }
        case S_AFTER: {
          if (isWhitespace(c)) break;
          const object = this.topIsObject();
          if (c == 0x2c) this.st = object ? S_KEY : S_VALUE;
          else if ((c == 0x7d && object) || (c == 0x5d && !object)) this.close(object, p - 1);
          else this.stop();
          break;
        }
        case S_ESCAPE: this.escape(c); break;
        case S_UNICODE: this.unicodeDigit(c); break;
        case S_UTF8: {
          if (c < this.utfLo || c > this.utfHi) { this.stop(); break; }
          if (this.capturing) this.capByte(c);
          this.utfLo = 0x80;
          this.utfHi = 0xbf;
          if (--this.utfNeed == 0) this.st = S_STRING;
          break;
        }
        case S_LITERAL: this.literalByte(c, p - 1); break;
        default: // S_TAIL
          if (!isWhitespace(c)) this.stop();
          break;
      }
    }
    if (this.replacing && this.fragmentAt != 0) this.flushFragment();
  }

  private stop(): void {
    if (this.st == S_TAIL) this.trailing = true;
    this.st = S_STOP;
    this.capturing = false;
    this.unreadableBecause(UNREADABLE_SYNTAX);
  }

  /** The first reason the body cannot be read as its upstream will read it (request_verdict.ts). */
  private unreadableBecause(reason: u8): void {
    if (this.facts.unreadable == 0) this.facts.unreadable = reason;
  }

  private lead(c: u32): void {
    const n = this.leadLen;
    // A UTF-8 BOM, only as the body's first bytes (Python decodes bytes as utf-8-sig).
    if (n == this.bom && n < 3 && c == (n == 0 ? 0xef : (n == 1 ? 0xbb : 0xbf))) {
      this.bom = n + 1;
      this.keepFront(c);
      return;
    }
    if (this.bom == 1 || this.bom == 2) { this.stop(); return; }
    if (isWhitespace(c)) { this.keepFront(c); return; }
    if (c != 0x7b) { this.stop(); return; } // not an object
    this.setKind(0, true);
    this.depth = 1;
    this.st = S_KEY_OR_CLOSE;
  }

  private keepFront(c: u32): void {
    const n = this.leadLen;
    if (n < FRONT_CAP) this.front[n] = <u8>c;
    if (n < i32.MAX_VALUE) this.leadLen = n + 1;
  }

  @inline
  private setKind(level: i32, object: bool): void {
    const w = level >> 5;
    const bit = <u32>1 << <u32>(level & 31);
    const k = unchecked(this.kinds[w]);
    unchecked(this.kinds[w] = object ? k | bit : k & ~bit);
  }

  @inline
  private topIsObject(): bool {
    const level = this.depth - 1;
    return (unchecked(this.kinds[level >> 5]) & (<u32>1 << <u32>(level & 31))) != 0;
  }

  private beginKey(): void {
    this.isKey = true;
    this.st = S_STRING;
    const d = this.depth;
    if (d == 1) {
      this.rootMembers++;
      this.startCapture(KEY_CAP);
    } else if (d == 2 && this.innerKind != C_OTHER) {
      if (this.innerKind == C_STREAM_OPTIONS) this.soMembers++;
      this.startCapture(KEY_CAP);
    }
  }

  /** What the value starting now at this depth feeds. */
  @inline
  private targetHere(): u8 {
    const d = this.depth;
    if (d == 1) return this.rootKey;
    if (d == 2) {
      const kind = this.innerKind;
      if (kind == C_STREAM_OPTIONS) return this.innerKey == K_INCLUDE_USAGE ? K_INCLUDE_USAGE : K_OTHER;
      if (kind != C_OTHER) return this.innerKey; // generationConfig, parameters, sampling_params, options, inferenceConfig
    }
    return K_OTHER;
  }

  private beginValue(c: u32, at: usize): void {
    const t = this.depth <= 2 ? this.targetHere() : K_OTHER;
    this.target = t;
    if (t == K_STREAM_OPTIONS) this.facts.hasStreamOptions = true;
    if (c == 0x22) {
      this.isKey = false;
      this.st = S_STRING;
      if (t != K_OTHER) this.startCapture(VALUE_CAP);
      return;
    }
    if (c == 0x7b || c == 0x5b) { this.open(c == 0x7b, t); return; }
    if (c == 0x2d || isDigit(c)) {
      this.numState = c == 0x2d ? N_MINUS : (c == 0x30 ? N_ZERO : N_INT);
      this.st = S_NUMBER;
      if (t != K_OTHER) {
        this.startCapture(NUMBER_CAP);
        this.capByte(c);
      }
      return;
    }
    let kind: u8;
    if (c == 0x74) kind = L_TRUE;
    else if (c == 0x66) kind = L_FALSE;
    else if (c == 0x6e) kind = L_NULL;
    else { this.stop(); return; }
    this.literal = kind;
    this.literalPos = 1;
    this.st = S_LITERAL;
    this.replacing = false;
    if (kind == L_TRUE || !this.canEdit()) return;
    // Overwrite it as it streams: include_usage false/null, or a null stream_options once "stream" is true.
    let text: u8 = 0xff;
    if (t == K_INCLUDE_USAGE) text = kind == L_FALSE ? E_FALSE : E_NULL;
    else if (t == K_STREAM_OPTIONS && kind == L_NULL && this.facts.stream == 1) text = E_NULL_OBJECT;
    if (text == 0xff) return;
    this.edits++;
    this.replacing = true;
    this.replaceText = text;
    this.fragmentAt = at;
    this.fragmentFrom = 0;
  }

  @inline
  private canEdit(): bool {
    return this.streaming && this.inject && this.edits < MAX_EDITS;
  }

  /** A container begins at the current depth (1 or 2 here: deeper ones are skimmed). */
  private open(object: bool, t: u8): void {
    const d = this.depth;
    this.setKind(d, object);
    this.depth = d + 1;
    this.st = object ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
    if (d == 1) {
      this.innerKind = C_OTHER;
      this.innerKey = K_OTHER;
      if (t == K_STREAM_OPTIONS) {
        if (object) {
          this.innerKind = C_STREAM_OPTIONS;
          this.soMembers = 0;
          this.soUsage = U_ABSENT;
          return;
        }
        this.soOutcome = O_UNFIXED;
      } else if (t == K_GEN || t == K_TGI_PARAMS || t == K_SGL_PARAMS || t == K_OLLAMA_OPTIONS || t == K_CONVERSE_CONFIG) {
        if (object) {
          this.innerKind = containerOf(t);
          return;
        }
        // (a list of SGLang sampling_params, one per prompt, is not read: no limit from it)
      } else if (t == K_BATCH || t == K_SGL_INPUT || t == K_TGI_INPUT) {
        if (t == K_SGL_INPUT) this.sglInput = true;
        else if (t == K_TGI_INPUT) this.tgiInput = true;
        // Each string, list or object in the list may be a prompt of its own (numbers are one prompt's tokens).
        if (!object && t != K_TGI_INPUT) {
          this.countAt = d + 1;
          this.counted = 0;
        }
      } else if (t != K_OTHER) {
        this.notScalar(t);
      }
    } else if (t != K_OTHER) {
      this.notScalar(t);
    }
    // Nothing in it is read: pass over it in the tight loop.
    this.skimming = true;
    this.skimBase = d;
  }

  /** Closes the container on top (the caller checked its kind); at: the bracket. */
  private close(object: bool, at: usize): void {
    const d = this.depth - 1;
    this.depth = d;
    if (d == 1) {
      if (this.innerKind == C_STREAM_OPTIONS) this.closeStreamOptions(at);
      this.innerKind = C_OTHER;
      this.st = S_AFTER;
      return;
    }
    if (d == 0) {
      this.closeRoot(at);
      this.st = S_TAIL;
      return;
    }
    this.st = S_AFTER;
  }

  private closeStreamOptions(at: usize): void {
    let outcome = O_UNFIXED;
    const u = this.soUsage;
    if (u == U_ASKED) outcome = O_ASKED;
    else if (u == U_FIXED) outcome = O_FIXED;
    else if (u == U_ABSENT && this.canEdit() && (this.soMembers > 0 || this.facts.stream == 1)) {
      this.addEdit(at, 0, this.soMembers > 0 ? E_MEMBER : E_MEMBER_EMPTY);
      outcome = O_FIXED;
    }
    this.soOutcome = outcome;
  }

  private closeRoot(at: usize): void {
    this.rootEnded = true;
    this.settleLimits();
    if (this.facts.stream == 1 && !this.facts.hasStreamOptions && this.canEdit()) {
      this.addEdit(at, 0, this.rootMembers > 0 ? E_ROOT : E_ROOT_EMPTY);
      this.soOutcome = O_FIXED;
    }
    // A stream whose last stream_options neither asks for usage nor could be made to (include_usage
    // spelled 0 or "off", stream_options null before "stream", edits used up): no upstream would
    // report usage, so the body is refused rather than charged a guess.
    if (this.inject && this.streaming && this.facts.stream == 1 && this.soOutcome != O_ASKED && this.soOutcome != O_FIXED) {
      this.cannotAskUsage = true;
    }
    this.settleUsage();
  }

  private settleUsage(): void {
    this.facts.usageAsked = this.soOutcome == O_ASKED;
    this.injected = this.facts.stream == 1 && this.soOutcome == O_FIXED;
  }

  @inline
  private afterValue(): void {
    this.st = this.depth == 0 ? S_TAIL : S_AFTER;
  }

  // ---- strings ----

  private startCapture(limit: i32): void {
    this.capturing = true;
    this.capLimit = limit;
    this.capLen = 0;
    this.capOver = false;
    this.pendingHigh = 0;
  }

  @inline
  private capByte(c: u32): void {
    if (this.pendingHigh != 0) this.flushHigh();
    const n = this.capLen;
    if (n >= this.capLimit) { this.capOver = true; return; }
    unchecked(this.capBuf[n] = <u8>c);
    this.capLen = n + 1;
  }

  private capRange(p: usize, q: usize): void {
    if (this.pendingHigh != 0) this.flushHigh();
    let len = <i32>(q - p);
    const room = this.capLimit - this.capLen;
    if (len > room) { len = room; this.capOver = true; }
    if (len <= 0) return;
    memory.copy(changetype<usize>(this.capBuf) + <usize>this.capLen, p, <usize>len);
    this.capLen += len;
  }

  private flushHigh(): void {
    this.pendingHigh = 0;
    this.capCodePoint(0xfffd);
  }

  private capCodePoint(cp: u32): void {
    if (cp < 0x80) {
      this.capByte(cp);
    } else if (cp < 0x800) {
      this.capByte(0xc0 | cp >> 6);
      this.capByte(0x80 | cp & 0x3f);
    } else if (cp < 0x10000) {
      this.capByte(0xe0 | cp >> 12);
      this.capByte(0x80 | (cp >> 6) & 0x3f);
      this.capByte(0x80 | cp & 0x3f);
    } else {
      this.capByte(0xf0 | cp >> 18);
      this.capByte(0x80 | (cp >> 12) & 0x3f);
      this.capByte(0x80 | (cp >> 6) & 0x3f);
      this.capByte(0x80 | cp & 0x3f);
    }
  }

  /** String bytes from p: plain ones in a tight loop, then the byte that stopped it. */
  private scanString(p: usize, end: usize): usize {
    let q = p;
    q = plainEnd(q, end);
    if (this.capturing && q > p) this.capRange(p, q);
    if (q >= end) return q;
    const c = <u32>load<u8>(q);
    q++;
    if (c == 0x22) { this.endString(); return q; }
    if (c == 0x5c) { this.st = S_ESCAPE; return q; }
    const lead = c < 0x20 ? 0 : utf8Lead(c);
    if (lead == 0) { this.stop(); return q; }
    if (this.capturing) this.capByte(c);
    this.utfNeed = <i32>(lead & 0xff);
    this.utfLo = (lead >> 8) & 0xff;
    this.utfHi = lead >> 16;
    this.st = S_UTF8;
    return q;
  }

  private escape(c: u32): void {
    if (c == 0x75) {
      this.uDigits = 0;
      this.uValue = 0;
      this.st = S_UNICODE;
      return;
    }
    let b: u32 = 0;
    if (c == 0x22 || c == 0x5c || c == 0x2f) b = c;
    else if (c == 0x62) b = 0x08;
    else if (c == 0x66) b = 0x0c;
    else if (c == 0x6e) b = 0x0a;
    else if (c == 0x72) b = 0x0d;
    else if (c == 0x74) b = 0x09;
    else { this.stop(); return; }
    if (this.capturing) this.capByte(b);
    this.st = S_STRING;
  }

  private unicodeDigit(c: u32): void {
    const h = hexDigit(c);
    if (h < 0) { this.stop(); return; }
    this.uValue = this.uValue << 4 | <u32>h;
    if (++this.uDigits < 4) return;
    this.st = S_STRING;
    if (!this.capturing) return;
    const u = this.uValue;
    if (u >= 0xd800 && u <= 0xdbff) {
      if (this.pendingHigh != 0) this.flushHigh();
      this.pendingHigh = u;
    } else if (u >= 0xdc00 && u <= 0xdfff && this.pendingHigh != 0) {
      const cp = 0x10000 + ((this.pendingHigh - 0xd800) << 10) + (u - 0xdc00);
      this.pendingHigh = 0;
      this.capCodePoint(cp);
    } else {
      this.capCodePoint(u >= 0xdc00 && u <= 0xdfff ? 0xfffd : u);
    }
  }

  private endString(): void {
    if (this.pendingHigh != 0) this.flushHigh();
    const captured = this.capturing;
    this.capturing = false;
    if (this.isKey) {
      this.isKey = false;
      this.st = S_COLON;
      if (captured) this.classifyKey();
      return;
    }
    this.afterValue();
    if (captured) this.stringValue(this.target);
  }

  private classifyKey(): void {
    const p = changetype<usize>(this.capBuf);
    const n = this.capOver ? -1 : this.capLen;
    if (this.depth == 1) {
      let k = K_OTHER;
      if (bytesEqual(p, n, KEY_STREAM)) k = K_STREAM;
      else if (bytesEqual(p, n, KEY_STREAM_OPTIONS)) k = K_STREAM_OPTIONS;
      else if (bytesEqual(p, n, KEY_MODEL)) k = K_MODEL;
      else if (bytesEqual(p, n, KEY_BACKGROUND)) k = K_BACKGROUND;
      else k = this.limitKey(p, n);
      if (k != K_OTHER) {
        // (read above)
      } else if (foldedEqual(p, n, FOLD_PREVIOUS_RESPONSE_ID) || foldedEqual(p, n, FOLD_CONVERSATION)) k = K_STATEFUL;
      else if (foldedEqual(p, n, KEY_STREAM) || foldedEqual(p, n, KEY_STREAM_OPTIONS) || foldedEqual(p, n, KEY_BACKGROUND)) this.unreadableBecause(UNREADABLE_FOLDED_KEY); // "Stream": Go reads it, Python does not
      this.rootKey = k;
      return;
    }
    let k = K_OTHER;
    switch (this.innerKind) {
      case C_STREAM_OPTIONS: {
        if (bytesEqual(p, n, KEY_INCLUDE_USAGE)) k = K_INCLUDE_USAGE;
        else if (foldedEqual(p, n, KEY_INCLUDE_USAGE)) this.unreadableBecause(UNREADABLE_FOLDED_KEY);
        break;
      }
      case C_GEN: {
        if (foldedEqual(p, n, FOLD_MAX_OUTPUT_TOKENS_CAMEL) || foldedEqual(p, n, FOLD_MAX_OUTPUT_TOKENS)) {
          const exact = !this.genFolded && (bytesEqual(p, n, KEY_MAX_OUTPUT_TOKENS_CAMEL) || bytesEqual(p, n, KEY_MAX_OUTPUT_TOKENS));
          k = exact && (definedFields(this.limits) & F_GENERATION_CONFIG) != 0 ? K_LIMIT : K_LIMIT_SOME;
        } else if (foldedEqual(p, n, FOLD_CANDIDATE_COUNT) || foldedEqual(p, n, FOLD_CANDIDATE_COUNT_SNAKE)) {
          k = K_CANDIDATES;
        }
        break;
      }
      case C_TGI: {
        if (bytesEqual(p, n, KEY_MAX_NEW_TOKENS)) k = K_TGI_LIMIT;
        else if (bytesEqual(p, n, KEY_BEST_OF)) k = K_TGI_BEST_OF;
        break;
      }
      case C_SGL: {
        if (bytesEqual(p, n, KEY_MAX_NEW_TOKENS)) k = K_SGL_LIMIT;
        else if (bytesEqual(p, n, KEY_N)) k = K_SGL_N;
        break;
      }
      case C_OLLAMA: {
        if (bytesEqual(p, n, KEY_NUM_PREDICT)) k = K_OLLAMA_LIMIT;
        break;
      }
      case C_CONVERSE: {
        if (bytesEqual(p, n, KEY_MAX_TOKENS_CAMEL)) k = K_LIMIT;
        break;
      }
      default: break;
    }
    this.innerKey = k;
  }

  /** A root key that names an output limit, a multiplier or a limit's container for this reader's API (K_OTHER: none). */
  private limitKey(p: usize, n: i32): u8 {
    switch (this.limits) {
      case LIMITS_GENERATE: {
        if (bytesEqual(p, n, KEY_INPUTS)) return K_TGI_INPUT;
        if (bytesEqual(p, n, KEY_PARAMETERS)) return K_TGI_PARAMS;
        if (bytesEqual(p, n, KEY_TEXT) || bytesEqual(p, n, KEY_INPUT_IDS) || bytesEqual(p, n, KEY_INPUT_EMBEDS)) return K_SGL_INPUT;
        if (bytesEqual(p, n, KEY_SAMPLING_PARAMS)) return K_SGL_PARAMS;
        return K_OTHER;
      }
      case LIMITS_LLAMA: {
        if (bytesEqual(p, n, KEY_N_PREDICT) || bytesEqual(p, n, KEY_MAX_TOKENS)) return K_LLAMA_LIMIT;
        if (bytesEqual(p, n, KEY_N_CMPL) || bytesEqual(p, n, KEY_N)) return K_N;
        if (bytesEqual(p, n, KEY_PROMPT)) return K_BATCH;
        return K_OTHER;
      }
      case LIMITS_OLLAMA:
        return foldedEqual(p, n, FOLD_OPTIONS) ? K_OLLAMA_OPTIONS : K_OTHER;
      case LIMITS_CONVERSE:
        return bytesEqual(p, n, KEY_INFERENCE_CONFIG) ? K_CONVERSE_CONFIG : K_OTHER;
      default: {
        // A field the API defines, spelled exactly, counts; any other spelling or field only raises.
        let field: u8 = 0;
        if (foldedEqual(p, n, FOLD_MAX_TOKENS)) field = bytesEqual(p, n, KEY_MAX_TOKENS) ? F_MAX_TOKENS : 0xff;
        else if (foldedEqual(p, n, FOLD_MAX_COMPLETION_TOKENS)) field = bytesEqual(p, n, KEY_MAX_COMPLETION_TOKENS) ? F_MAX_COMPLETION_TOKENS : 0xff;
        else if (foldedEqual(p, n, FOLD_MAX_OUTPUT_TOKENS)) field = bytesEqual(p, n, KEY_MAX_OUTPUT_TOKENS) ? F_MAX_OUTPUT_TOKENS : 0xff;
        if (field != 0) return field != 0xff && (definedFields(this.limits) & field) != 0 ? K_LIMIT : K_LIMIT_SOME;
        if (bytesEqual(p, n, KEY_N_PREDICT)) return K_LLAMA_LIMIT; // llama.cpp's OpenAI API reads it before max_tokens
        if (bytesEqual(p, n, KEY_N_CMPL)) return K_N;
        if (foldedEqual(p, n, FOLD_N)) return K_N;
        if (foldedEqual(p, n, FOLD_BEST_OF)) return K_BEST_OF;
        if (foldedEqual(p, n, FOLD_GENERATION_CONFIG) || foldedEqual(p, n, FOLD_GENERATION_CONFIG_SNAKE)) {
          this.genFolded = !(bytesEqual(p, n, KEY_GENERATION_CONFIG) || bytesEqual(p, n, KEY_GENERATION_CONFIG_SNAKE));
          return K_GEN;
        }
        if (bytesEqual(p, n, KEY_PROMPT)) return K_BATCH;
        return K_OTHER;
      }
    }
  }

  // ---- numbers and literals ----

  private scanNumber(p: usize, end: usize): usize {
    let ns = this.numState;
    let q = p;
    while (q < end) {
      const next = numberNext(ns, <u32>load<u8>(q));
      if (next == 0xff) break;
      ns = next;
      q++;
    }
    this.numState = ns;
    if (this.capturing && q > p) this.capRange(p, q);
    if (q >= end) return q;
    // The byte at q ends the number and is read again in the state that follows.
    if (!numberComplete(ns) || isDigit(<u32>load<u8>(q))) { this.stop(); return q; }
    this.afterValue();
    if (this.capturing) {
      this.capturing = false;
      this.numberValue(this.target);
    }
    return q;
  }

  private literalByte(c: u32, at: usize): void {
    const kind = this.literal;
    const pos = this.literalPos;
    if (c != literalByte(kind, pos)) { this.stop(); return; }
    if (this.replacing && this.fragmentAt == 0) {
      this.fragmentAt = at;
      this.fragmentFrom = pos;
    }
    this.literalPos = pos + 1;
    if (pos + 1 < literalLength(kind)) return;
    const replaced = this.replacing;
    if (replaced) {
      this.flushFragment();
      this.replacing = false;
    }
    this.afterValue();
    if (this.target != K_OTHER) this.literalValue(this.target, kind, replaced);
  }

  /** Records the part of the overwritten literal read in this chunk (up to literalPos). */
  private flushFragment(): void {
    const from = this.fragmentFrom;
    const upTo = this.literalPos;
    const text = this.replaceText;
    const to = upTo >= literalLength(this.literal) ? unchecked(EDIT_TEXTS[text]).length : upTo;
    this.record(<i32>(this.fragmentAt - this.base), upTo - from, text, from, to);
    this.fragmentAt = 0;
  }

  private addEdit(at: usize, drop: i32, text: u8): void {
    this.edits++;
    this.record(<i32>(at - this.base), drop, text, 0, unchecked(EDIT_TEXTS[text]).length);
  }

  private record(pos: i32, drop: i32, text: u8, from: i32, to: i32): void {
    const i = this.chunkEdits;
    if (i >= CHUNK_EDITS) return; // not reached: edits per body are bounded below this
    unchecked(this.editPos[i] = pos);
    unchecked(this.editDrop[i] = drop);
    unchecked(this.editText[i] = text);
    unchecked(this.editFrom[i] = from);
    unchecked(this.editTo[i] = to);
    this.chunkEdits = i + 1;
  }

  private applyEdits(ptr: usize, len: i32): Uint8Array {
    const n = this.chunkEdits;
    let size = len;
    for (let i = 0; i < n; i++) size += unchecked(this.editTo[i]) - unchecked(this.editFrom[i]) - unchecked(this.editDrop[i]);
    const out = new Uint8Array(size);
    const dst = out.dataStart;
    let src = 0;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const pos = unchecked(this.editPos[i]);
      memory.copy(dst + <usize>o, ptr + <usize>src, <usize>(pos - src));
      o += pos - src;
      const text = unchecked(EDIT_TEXTS[unchecked(this.editText[i])]);
      const from = unchecked(this.editFrom[i]);
      const count = unchecked(this.editTo[i]) - from;
      memory.copy(dst + <usize>o, changetype<usize>(text) + <usize>from, <usize>count);
      o += count;
      src = pos + unchecked(this.editDrop[i]);
    }
    memory.copy(dst + <usize>o, ptr + <usize>src, <usize>(len - src));
    return out;
  }

  // ---- values ----

  /** A container where t wanted a scalar. */
  private notScalar(t: u8): void {
    this.scalar(t, UNREADABLE, -1, false, UNREADABLE, true);
  }

  private stringValue(t: u8): void {
    const p = changetype<usize>(this.capBuf);
    const n = this.capLen;
    if (t == K_MODEL) {
      this.facts.model = this.capOver || !this.wantModel ? "" : String.UTF8.decodeUnsafe(p, <usize>n);
      return;
    }
    if (this.capOver) { this.scalar(t, UNREADABLE, -1, false, UNREADABLE, true); return; }
    this.scalar(t, integralString(p, n), boolString(p, n), false, UNREADABLE, true);
  }

  private numberValue(t: u8): void {
    const p = changetype<usize>(this.capBuf);
    const n = this.capLen;
    const v = this.capOver ? UNREADABLE : integralNumber(p, n);
    // A negative integer's magnitude (-1 and -2 mean "no limit" to llama.cpp and Ollama).
    const negative = !this.capOver && n > 1 && load<u8>(p) == 0x2d ? integralNumber(p + 1, n - 1) : UNREADABLE;
    this.scalar(t, v, v == 0 ? 0 : (v == 1 ? 1 : -1), false, negative, false);
  }

  private literalValue(t: u8, kind: u8, replaced: bool): void {
    if (kind == L_NULL) {
      // Not given (pydantic's None): a limit keeps what it had; a flag is false.
      if (t == K_STREAM) this.facts.stream = 0;
      else if (t == K_BACKGROUND) this.facts.background = false;
      else if (t == K_MODEL) this.facts.model = "";
      else if (t == K_INCLUDE_USAGE) this.soUsage = replaced ? U_FIXED : U_UNFIXED;
      else if (t == K_STREAM_OPTIONS) this.soOutcome = replaced ? O_FIXED : O_UNFIXED;
      else if (t == K_STATEFUL) this.facts.stateful = false;
      return;
    }
    if (t == K_INCLUDE_USAGE && kind == L_FALSE) { this.soUsage = replaced ? U_FIXED : U_UNFIXED; return; }
    this.scalar(t, UNREADABLE, kind == L_TRUE ? 1 : 0, true, UNREADABLE, false);
  }

  /**
   * A scalar value for t: `number` its integer reading (or UNREADABLE), `flag` its bool reading
   * (1, 0, -1 neither), `literal` whether it was true/false, `negative` the magnitude of a negative
   * integer (else UNREADABLE), `notNumber` whether it was a string or a container.
   */
  private scalar(t: u8, number: i64, flag: i32, literal: bool, negative: i64, notNumber: bool): void {
    const f = this.facts;
    switch (t) {
      case K_STREAM: f.stream = flag == 1 ? 1 : 0; break;
      case K_BACKGROUND: f.background = flag == 1; break;
      case K_MODEL: f.model = ""; break;
      case K_INCLUDE_USAGE: this.soUsage = flag == 1 ? U_ASKED : U_UNFIXED; break;
      case K_STREAM_OPTIONS: this.soOutcome = O_UNFIXED; break;
      case K_STATEFUL: f.stateful = true; break;
      case K_TGI_INPUT: this.tgiInput = true; break;
      case K_SGL_INPUT: this.sglInput = true; break;
      case K_LLAMA_LIMIT: {
        // A value of another type is json_value's default (the server's: no limit); -1 is no limit.
        if (notNumber || negative == 1) { this.unbounded = true; break; }
        // On an OpenAI-style path only llama.cpp reads n_predict: it raises the limit, never sets it.
        this.limit(this.limits == LIMITS_LLAMA ? t : K_LIMIT_SOME, number, literal);
        break;
      }
      case K_OLLAMA_LIMIT: {
        // Negative and 0: no limit (bounded by the context only).
        if (number == 0 || (negative != UNREADABLE && !literal)) { this.unbounded = true; break; }
        this.limit(t, number, literal);
        break;
      }
      case K_LIMIT:
      case K_LIMIT_SOME:
      case K_TGI_LIMIT:
      case K_SGL_LIMIT:
        this.limit(t, number, literal);
        break;
      case K_N:
      case K_BEST_OF:
      case K_CANDIDATES:
      case K_TGI_BEST_OF:
      case K_SGL_N: {
        if (literal || number <= 0) { f.outputLimitUnreadable = true; break; }
        if (t == K_N && number > this.nMax) this.nMax = number;
        else if (t == K_BEST_OF && number > this.bestOfMax) this.bestOfMax = number;
        else if (t == K_CANDIDATES && number > this.candidatesMax) this.candidatesMax = number;
        else if (t == K_TGI_BEST_OF && number > this.tgiBestOf) this.tgiBestOf = number;
        else if (t == K_SGL_N && number > this.sglN) this.sglN = number;
        break;
      }
      default: return; // K_GEN and the other containers as scalars: the upstream refuses them
    }
    this.settleLimits();
  }

  /** A limit value for t (the largest of each reading counts); zero, negative, fractional or a bool: unreadable. */
  private limit(t: u8, number: i64, literal: bool): void {
    if (literal || number <= 0) { this.facts.outputLimitUnreadable = true; return; }
    if (t == K_TGI_LIMIT) {
      if (number > this.tgiLimit) this.tgiLimit = number;
    } else if (t == K_SGL_LIMIT) {
      if (number > this.sglLimit) this.sglLimit = number;
    } else {
      if (t == K_LIMIT_SOME) this.someLimit = true;
      else this.exactLimit = true;
      if (number > this.limitMax) this.limitMax = number;
    }
  }

  /** The facts' outputLimit, outputUnbounded and choices from what was read so far. */
  private settleLimits(): void {
    const f = this.facts;
    const batch = this.batchMax;
    if (this.limits == LIMITS_GENERATE) {
      // TGI needs `inputs`, SGLang one of text / input_ids / input_embeds: a body with both (or
      // neither) may be either's, and is held only by a limit both readings set.
      const tgi = this.tgiInput || !this.sglInput;
      const sgl = this.sglInput || !this.tgiInput;
      const t = this.tgiLimit;
      const g = this.sglLimit;
      const sglChoices = mulSaturating(this.sglN, batch);
      if (tgi && sgl) {
        f.outputLimit = t > g ? t : g;
        f.outputUnbounded = (t > 0) != (g > 0);
        f.choices = this.tgiBestOf > sglChoices ? this.tgiBestOf : sglChoices;
      } else if (tgi) {
        f.outputLimit = t;
        f.outputUnbounded = false;
        f.choices = this.tgiBestOf;
      } else {
        f.outputLimit = g;
        f.outputUnbounded = false;
        f.choices = sglChoices;
      }
      return;
    }
    f.outputLimit = this.limitMax;
    // A limit only some upstreams read ("MAX_TOKENS": Go's; another API's field) is none to the others.
    f.outputUnbounded = this.unbounded || (this.someLimit && !this.exactLimit);
    f.choices = mulSaturating(mulSaturating(mulSaturating(this.nMax, this.bestOfMax), this.candidatesMax), batch);
  }

  // ---- containers nothing is read from ----

  /**
   * Validates the inside of a container that holds nothing to read (everything but the root and
   * the stream_options and generationConfig objects) exactly as the states above would, with its
   * state in locals and no call per token: this is where almost every byte of a chat body goes.
   * Returns where it stopped: the end of the input, a fault, the container's close (back in its
   * parent, after a value), or a container nested past KIND_LEVELS (S_DEEP).
   */
  private skim(p: usize, end: usize): usize {
    const base = this.skimBase;
    const kinds = changetype<usize>(this.kinds);
    let st = this.st;
    let depth = this.depth;
    let isKey = this.isKey;
    let ns = this.numState;
    let lit = this.literal;
    let litPos = this.literalPos;
    let uDigits = this.uDigits;
    let utfNeed = this.utfNeed;
    let utfLo = this.utfLo;
    let utfHi = this.utfHi;
    let inObject = kindAt(kinds, depth - 1); // the container the bytes are in
    const countAt = this.countAt; // values at this depth are counted (a prompt list's prompts)
    let counted = this.counted;
    let fault = false;
    let closed = false; // the skimmed container closed
    let tooDeep = false;
    while (p < end) {
      if (st == S_STRING) {
        p = plainEnd(p, end);
        if (p >= end) break;
        const c = <u32>load<u8>(p);
        p++;
        if (c == 0x22) {
          st = isKey ? S_COLON : S_AFTER;
          isKey = false;
          continue;
        }
        if (c == 0x5c) { st = S_ESCAPE; continue; }
        const lead = c < 0x20 ? 0 : utf8Lead(c);
        if (lead == 0) { fault = true; break; }
        utfNeed = <i32>(lead & 0xff);
        utfLo = (lead >> 8) & 0xff;
        utfHi = lead >> 16;
        st = S_UTF8;
        continue;
      }
      const c = <u32>load<u8>(p);
      switch (st) {
        case S_VALUE:
        case S_VALUE_OR_CLOSE: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x22) {
            if (depth == countAt) counted++;
            isKey = false;
            st = S_STRING;
            break;
          }
          if (c == 0x7b || c == 0x5b) {
            if (depth == countAt) counted++;
            if (depth >= KIND_LEVELS) { tooDeep = true; break; }
            const w = kinds + (<usize>(depth >> 5) << 2);
            const bit = <u32>1 << <u32>(depth & 31);
            store<u32>(w, c == 0x7b ? load<u32>(w) | bit : load<u32>(w) & ~bit);
            depth++;
            inObject = c == 0x7b;
            st = inObject ? S_KEY_OR_CLOSE : S_VALUE_OR_CLOSE;
            break;
          }
          if (c == 0x5d && st == S_VALUE_OR_CLOSE) {
            if (--depth == base) closed = true;
            else inObject = kindAt(kinds, depth - 1);
            st = S_AFTER;
            break;
          }
          if (c == 0x2d || isDigit(c)) {
            // The whole number here when the chunk holds it (token-id arrays are all numbers).
            ns = c == 0x2d ? N_MINUS : (c == 0x30 ? N_ZERO : N_INT);
            let q = p;
            while (q < end) {
              const next = numberNext(ns, <u32>load<u8>(q));
              if (next == 0xff) break;
              ns = next;
              q++;
            }
            p = q;
            if (q >= end) { st = S_NUMBER; break; }
            if (!numberComplete(ns) || isDigit(<u32>load<u8>(q))) { fault = true; break; }
            st = S_AFTER;
            break;
          }
          if (c == 0x74) lit = L_TRUE;
          else if (c == 0x66) lit = L_FALSE;
          else if (c == 0x6e) lit = L_NULL;
          else { fault = true; break; }
          litPos = 1;
          st = S_LITERAL;
          break;
        }
        case S_KEY_OR_CLOSE:
        case S_KEY: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x22) { isKey = true; st = S_STRING; break; }
          if (c == 0x7d && st == S_KEY_OR_CLOSE) {
            if (--depth == base) closed = true;
            else inObject = kindAt(kinds, depth - 1);
            st = S_AFTER;
            break;
          }
          fault = true;
          break;
        }
        case S_COLON: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x3a) { st = S_VALUE; break; }
          fault = true;
          break;
        }
        case S_AFTER: {
          p++;
          if (isWhitespace(c)) break;
          if (c == 0x2c) { st = inObject ? S_KEY : S_VALUE; break; }
          if ((c == 0x7d && inObject) || (c == 0x5d && !inObject)) {
            if (--depth == base) closed = true;
            else inObject = kindAt(kinds, depth - 1);
            break;
          }
          fault = true;
          break;
        }
        case S_ESCAPE: {
          p++;
          if (c == 0x75) { uDigits = 0; st = S_UNICODE; break; }
          if (c == 0x22 || c == 0x5c || c == 0x2f || c == 0x62 || c == 0x66 || c == 0x6e || c == 0x72 || c == 0x74) { st = S_STRING; break; }
          fault = true;
          break;
        }
        case S_UNICODE: {
          p++;
          if (hexDigit(c) < 0) { fault = true; break; }
          if (++uDigits == 4) st = S_STRING;
          break;
        }
        case S_UTF8: {
          p++;
          if (c < utfLo || c > utfHi) { fault = true; break; }
          utfLo = 0x80;
          utfHi = 0xbf;
          if (--utfNeed == 0) st = S_STRING;
          break;
        }
        case S_NUMBER: {
          let q = p;
          while (q < end) {
            const next = numberNext(ns, <u32>load<u8>(q));
            if (next == 0xff) break;
            ns = next;
            q++;
          }
          p = q;
          if (q >= end) break;
          // The byte at q ends the number and is read again as what follows it.
          if (!numberComplete(ns) || isDigit(<u32>load<u8>(q))) { fault = true; break; }
          st = S_AFTER;
          break;
        }
        case S_LITERAL: {
          p++;
          if (c != literalByte(lit, litPos)) { fault = true; break; }
          if (++litPos == literalLength(lit)) st = S_AFTER;
          break;
        }
        default:
          fault = true;
          break;
      }
      if (fault || closed || tooDeep) break;
    }
    this.depth = depth;
    this.isKey = isKey;
    this.numState = ns;
    this.literal = lit;
    this.literalPos = litPos;
    this.uDigits = uDigits;
    this.utfNeed = utfNeed;
    this.utfLo = utfLo;
    this.utfHi = utfHi;
    this.st = st;
    this.counted = counted;
    if (fault) {
      this.skimming = false;
      this.stop();
    } else if (closed) {
      this.skimming = false;
      this.st = S_AFTER;
      if (countAt != 0) this.endCount();
    } else if (tooDeep) {
      this.unverified = true;
      this.deep = 1;
      this.st = S_DEEP;
    }
    return p;
  }

  /** A prompt list closed: its prompts multiply the limit (an empty or all-token list is one prompt). */
  private endCount(): void {
    this.countAt = 0;
    if (this.counted > this.batchMax) this.batchMax = this.counted;
    this.settleLimits();
  }

  // ---- nesting past the kind stack ----

  /** Passes over a value nested past KIND_LEVELS: strings and brackets only. */
  private skipDeep(p: usize, end: usize): usize {
    let st = this.st;
    let deep = this.deep;
    while (p < end) {
      if (st == S_DEEP_STRING) {
        while (p < end) {
          const c = load<u8>(p);
          if (c == 0x22 || c == 0x5c) break;
          p++;
        }
        if (p >= end) break;
        st = load<u8>(p) == 0x22 ? S_DEEP : S_DEEP_ESCAPE;
        p++;
        continue;
      }
      if (st == S_DEEP_ESCAPE) { p++; st = S_DEEP_STRING; continue; }
      const c = load<u8>(p);
      p++;
      if (c == 0x22) st = S_DEEP_STRING;
      else if (c == 0x7b || c == 0x5b) {
        if (deep >= DEEP_MAX) { this.stop(); return end; }
        deep++;
      } else if (c == 0x7d || c == 0x5d) {
        if (--deep == 0) {
          this.deep = 0;
          this.st = S_AFTER; // back in the container at KIND_LEVELS
          return p;
        }
      }
    }
    this.st = st;
    this.deep = deep;
    return p;
  }
}

/** Reads a whole body held in memory (no edit): its facts. */
export function readRequestFacts(body: Uint8Array): RequestFacts {
  const r = new RequestBodyReader(false);
  r.read(body.dataStart, <usize>body.length);
  r.finish();
  return r.facts;
}

// ---- a pool of readers: a reader per metered request, its buffers reused ----

/** Readers waiting to be reused, at most POOL_SIZE (more streams at once allocate their own). */
const POOL_SIZE = 64;
const pool = new Array<RequestBodyReader>();

/** A reader as new (see the constructor), from the pool when one is free. */
export function takeRequestBodyReader(injectUsage: bool, wantModel: bool, limits: u8 = LIMITS_OPENAI): RequestBodyReader {
  if (pool.length > 0) {
    const r = pool.pop();
    r.recycle(injectUsage, wantModel, limits);
    return r;
  }
  const r = new RequestBodyReader(injectUsage, limits);
  r.wantModel = wantModel;
  return r;
}

/** Gives a reader back; nothing may use it afterwards. */
export function giveBackRequestBodyReader(r: RequestBodyReader): void {
  if (pool.length < POOL_SIZE) pool.push(r);
}
