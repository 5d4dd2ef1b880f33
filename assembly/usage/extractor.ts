// Picks token counts and the model out of JSON token events by key path, without building a
// document, and counts the bytes of generated content for estimates: a byte of state per nesting
// level it reads; every container off its paths is passed over by the tokenizer (skipContainer,
// skipValue), however deep it nests.
//
// Paths read, relative to a root object (the top-level object, or each element of a top-level
// array as Gemini's non-SSE streaming returns):
//   usage.{prompt_tokens, input_tokens}                      -> input   (OpenAI chat/completions/embeddings, Responses, Anthropic)
//   usage.{completion_tokens, output_tokens}                 -> output
//   usage.{cache_creation_input_tokens, cache_read_input_tokens} -> input, added (Anthropic)
//   response.usage.* and message.usage.*                     -> the same (Responses SSE response.completed, Anthropic message_start)
//   usageMetadata.{promptTokenCount, toolUsePromptTokenCount} -> input, added (Gemini; cachedContentTokenCount
//                                                               is part of promptTokenCount: not added)
//   usageMetadata.{candidatesTokenCount, thoughtsTokenCount} -> output, added
//   (OpenAI's *_tokens_details — cached_tokens, reasoning_tokens, audio_tokens — are parts of the
//   counts above: never added; docs/metering.md has the sources)
//   message.usage.output_tokens is provisional (Anthropic message_start says 1 before anything is
//   generated): the usage says so (provisionalOutput) until a final output count replaces it
//   model, response.model, message.model, modelVersion       -> model
// Self-hosted servers' native APIs (their counts are root members or in one object of their own):
//   prompt_eval_count -> input, eval_count -> output         Ollama (/api/chat, /api/generate, /api/embed)
//   tokens_evaluated -> input, tokens_predicted -> output     llama.cpp server (/completion, /infill)
//   details.generated_tokens -> output; details.prompt_tokens, or the length of a non-empty
//     details.prefill (TGI sends it with decoder_input_details) -> input      TGI (/generate, /generate_stream)
//   meta_info.{prompt_tokens -> input, completion_tokens -> output}           SGLang native (/generate, /encode)
//   With sumRoots (a batch: the route's API answers an array of prompts with an array of answers),
//   the elements of a top-level array add up instead of each replacing the last; and a streamed
//   batch's events (SGLang, llama.cpp: running totals per prompt, interleaved, told apart by a root
//   integer `index`) replace only the counts of their own index, the usage being the sum over the
//   indexes (up to MAX_INDEXES; after an event with a larger index the usage no longer covers every
//   prompt: the answer is estimated — the request's input, the content after the last count — with
//   the sums as a floor).
// Generated content (contentBytes: decoded UTF-8 bytes of these strings; the written bytes of the
// two JSON values marked "as written"):
//   choices: every string value of a key content, reasoning_content, reasoning, refusal, arguments,
//            text or transcript (audio output's, .delta.audio / .message.audio), at any depth
//            (OpenAI chat .delta/.message.content, tool_calls[].function.arguments,
//            completions .text; vLLM and SGLang reasoning_content): choices is passed over by the
//            tokenizer, which counts those strings as it goes (the hot path: no callback per chunk)
//   delta (a string)                                    Responses *.delta events (text, arguments, reasoning)
// Audio (base64, counted apart from content: the tokenizer's altCountedBytes):
//   choices: every string value of a key data (.delta.audio.data, .message.audio.data), at any depth
//   delta of an event whose root type (before it) is response.audio.delta or response.output_audio.delta
//   output[].content[].{text, refusal}, output[].summary[].text, output[].arguments   Responses (JSON)
//   delta.{text, partial_json, thinking}                Anthropic content_block_delta
//   content[].{text, thinking}, content[].input (as written)   Anthropic message (JSON)
//   candidates[].content.parts[].text, ...parts[].functionCall.args (as written)   Gemini
//   on the self-hosted servers' routes only (nativeContent):
//   message.{content, thinking}, response (a string)     Ollama chat / generate
//   content (a string)                                  llama.cpp server
//   token.text, generated_text                          TGI (stream events, answer)
// Streams repeat nothing here: Responses' *.done events, output_item events and response.completed
// (response.output) and Anthropic's content_block_start are not counted.
// Values under any other key are passed over by the tokenizer, validated but never reported
// (keysFor(): per object role, the keys that can lead to a count, the model or content).
// A count must be a non-negative integer literal that fits in i64; anything else is ignored.
// Values are first held as pending and become visible through commit(): the scanner commits an SSE
// event only once its JSON is complete and valid, and a plain JSON body as each usage object closes.
// Content bytes count as they arrive (a cut or malformed event's content was still sent).
import { JsonHandler, JsonKeySet, JsonTokenizer } from "../json/tokenizer";
import { addSaturating, parseI64At, parsedI64 } from "../util/int64";
import { TokenUsage } from "./token_usage";
import { COHERE_ROLES, CR_ROOT, SLOT_BILLED_INPUT, SLOT_BILLED_OUTPUT, cohereArrayRole, cohereCommitsOnClose, cohereCounts, cohereKey, cohereKeysFor, cohereObjectRole, cohereSlot } from "./cohere";

// Where a value sits (the first six are the roles of the usage paths).
const R_OTHER: u8 = 0;
const R_ROOT: u8 = 1; // a root object
const R_ROOT_ARRAY: u8 = 2; // a top-level array (its object elements are roots)
const R_WRAPPER: u8 = 3; // root.response
const R_USAGE: u8 = 4; // an OpenAI/Anthropic usage object
const R_GEMINI_USAGE: u8 = 5; // root.usageMetadata
const R_MESSAGE: u8 = 6; // root.message (Anthropic message_start; Ollama's chat message)
const R_START_USAGE: u8 = 7; // root.message.usage: its output count is provisional
const R_TGI_DETAILS: u8 = 8; // root.details (TGI)
const R_META_INFO: u8 = 9; // root.meta_info (SGLang)
const R_TGI_TOKEN: u8 = 10; // root.token (TGI stream event)
const R_TGI_PREFILL: u8 = 11; // root.details.prefill (array; its objects are counted, not entered)
const R_DELTA: u8 = 12; // root.delta as an object (Anthropic)
const R_BLOCKS: u8 = 13; // root.content (Anthropic), output[].content, output[].summary (arrays)
const R_BLOCK: u8 = 14; // an element of those
const R_OUTPUT: u8 = 15; // root.output (Responses, array)
const R_OUTPUT_ITEM: u8 = 16; // root.output[]
const R_CANDIDATES: u8 = 17; // root.candidates (Gemini, array)
const R_CANDIDATE: u8 = 18; // root.candidates[]
const R_GEMINI_CONTENT: u8 = 19; // candidates[].content
const R_PARTS: u8 = 20; // candidates[].content.parts (array)
const R_PART: u8 = 21; // candidates[].content.parts[]
const R_GEMINI_CALL: u8 = 22; // parts[].functionCall

// Keys that matter (K_OTHER for every other key).
const K_OTHER: u8 = 0;
const K_USAGE: u8 = 1;
const K_USAGE_METADATA: u8 = 2;
const K_RESPONSE: u8 = 3;
const K_MESSAGE: u8 = 4;
const K_MODEL: u8 = 5;
const K_MODEL_VERSION: u8 = 6;
const K_PROMPT_TOKENS: u8 = 7;
const K_COMPLETION_TOKENS: u8 = 8;
const K_INPUT_TOKENS: u8 = 9;
const K_OUTPUT_TOKENS: u8 = 10;
const K_CACHE_CREATION: u8 = 11;
const K_CACHE_READ: u8 = 12;
const K_PROMPT_TOKEN_COUNT: u8 = 13;
const K_CANDIDATES_TOKEN_COUNT: u8 = 14;
const K_THOUGHTS_TOKEN_COUNT: u8 = 15;
const K_DELTA: u8 = 17;
const K_CONTENT: u8 = 18;
const K_OUTPUT: u8 = 19;
const K_CANDIDATES: u8 = 20;
const K_TEXT: u8 = 21;
const K_REFUSAL: u8 = 24;
const K_ARGUMENTS: u8 = 28;
const K_PARTIAL_JSON: u8 = 29;
const K_THINKING: u8 = 30;
const K_INPUT: u8 = 31;
const K_SUMMARY: u8 = 32;
const K_PARTS: u8 = 33;
const K_GEMINI_CALL: u8 = 34; // functionCall
const K_ARGS: u8 = 35;
const K_TOOL_USE_PROMPT_TOKEN_COUNT: u8 = 36;
const K_PROMPT_EVAL_COUNT: u8 = 37;
const K_EVAL_COUNT: u8 = 38;
const K_TOKENS_EVALUATED: u8 = 39;
const K_TOKENS_PREDICTED: u8 = 40;
const K_DETAILS: u8 = 41;
const K_META_INFO: u8 = 42;
const K_GENERATED_TEXT: u8 = 43;
const K_TOKEN: u8 = 44;
const K_GENERATED_TOKENS: u8 = 45;
const K_PREFILL: u8 = 46;
const K_INDEX: u8 = 47;
const K_TYPE: u8 = 48;

// Counters kept apart so that a later event overwrites each one on its own.
const SLOT_INPUT: i32 = 0;
const SLOT_CACHE_CREATION: i32 = 1;
const SLOT_CACHE_READ: i32 = 2;
const SLOT_OUTPUT: i32 = 3;
const SLOT_THOUGHTS: i32 = 4;
const SLOT_TOOL_USE_PROMPT: i32 = 5;
const SLOTS: i32 = 8; // 6 and 7: Cohere's billed_units (cohere.ts), each side the larger of it and the rest
const INPUT_SLOTS: u32 = (1 << SLOT_INPUT) | (1 << SLOT_CACHE_CREATION) | (1 << SLOT_CACHE_READ) | (1 << SLOT_TOOL_USE_PROMPT) | (1 << SLOT_BILLED_INPUT);
const OUTPUT_SLOTS: u32 = (1 << SLOT_OUTPUT) | (1 << SLOT_THOUGHTS) | (1 << SLOT_BILLED_OUTPUT);

/**
 * Nesting levels with a role (the deepest: Gemini's array form: array, root, candidates, candidate,
 * content, parts, part, functionCall). Only containers with a role are entered: no deeper level occurs.
 */
const TRACKED_LEVELS: i32 = 8;

/** The indexes of a streamed batch kept apart (16 bytes each, allocated on the first indexed event). */
const MAX_INDEXES: i32 = 256;

// What a top-level object's `usage` was (for hiding usage events; `choices` is passed over, and
// the tokenizer says whether it was an empty array: countedValueEmptyArray).
/** The document is an object (not an array of roots). */
export const DOC_TOP_OBJECT: u32 = 1;
/** root.usage is an object. */
export const DOC_USAGE_OBJECT: u32 = 4;
/** root.usage is null. */
export const DOC_USAGE_NULL: u32 = 8;

// The keys whose values can hold a count, the model or content, by the role of the object they are
// in. Nothing under any other key can matter, so the tokenizer passes over those values without
// reporting them. Each key here is one classify() knows.
export const ROOT_KEYS = new JsonKeySet(["usage", "usageMetadata", "response", "message", "model", "modelVersion", "delta", "content", "output", "candidates",
  "prompt_eval_count", "eval_count", "tokens_evaluated", "tokens_predicted", "details", "meta_info", "generated_text", "token", "index", "type"]);
/** Root keys passed over while their content is counted: choices (the tokenizer follows the chain of skipped keys through it). */
export const ROOT_COUNTED = new JsonKeySet(["choices"]);
const WRAPPER_KEYS = new JsonKeySet(["usage", "model", "content", "thinking"]);
const USAGE_KEYS = new JsonKeySet(["prompt_tokens", "input_tokens", "completion_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]);
const GEMINI_USAGE_KEYS = new JsonKeySet(["promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount"]);
/** Counted anywhere inside root.choices (passed over, see skipContainer). */
export const CHOICES_CONTENT_KEYS = new JsonKeySet(["content", "reasoning_content", "reasoning", "refusal", "arguments", "text", "transcript", "data"]);
/** Of those, the audio (base64, choices[].delta.audio.data / .message.audio.data): counted apart (the scanner's tokenizer countAltUnder). */
export const AUDIO_KEYS = new JsonKeySet(["data"]);
const DELTA_KEYS = new JsonKeySet(["text", "partial_json", "thinking"]);
const BLOCK_KEYS = new JsonKeySet(["text", "thinking", "refusal", "input"]);
const OUTPUT_ITEM_KEYS = new JsonKeySet(["content", "summary", "arguments"]);
const CANDIDATE_KEYS = new JsonKeySet(["content"]);
const GEMINI_CONTENT_KEYS = new JsonKeySet(["parts"]);
const PART_KEYS = new JsonKeySet(["text", "functionCall"]);
const GEMINI_CALL_KEYS = new JsonKeySet(["args"]);
const TGI_DETAILS_KEYS = new JsonKeySet(["generated_tokens", "prompt_tokens", "prefill"]);
const META_INFO_KEYS = new JsonKeySet(["prompt_tokens", "completion_tokens"]);
const TGI_TOKEN_KEYS = new JsonKeySet(["text"]);

/** The tokenizer's filter for an object of this role (or for the array or nothing it is in). */
@inline
function filterFor(tok: JsonTokenizer, role: u8): void {
  if (role == R_ROOT) tok.filterKeys(ROOT_KEYS, ROOT_COUNTED, CHOICES_CONTENT_KEYS);
  else tok.filterKeys(role >= COHERE_ROLES ? cohereKeysFor(role) : keysFor(role));
}

/** The keys wanted in an object of this role; null: none (arrays, R_OTHER). */
@inline
function keysFor(role: u8): JsonKeySet | null {
  switch (role) {
    case R_ROOT: return ROOT_KEYS;
    case R_WRAPPER: return WRAPPER_KEYS;
    case R_MESSAGE: return WRAPPER_KEYS;
    case R_USAGE: return USAGE_KEYS;
    case R_START_USAGE: return USAGE_KEYS;
    case R_GEMINI_USAGE: return GEMINI_USAGE_KEYS;
    case R_DELTA: return DELTA_KEYS;
    case R_BLOCK: return BLOCK_KEYS;
    case R_OUTPUT_ITEM: return OUTPUT_ITEM_KEYS;
    case R_CANDIDATE: return CANDIDATE_KEYS;
    case R_GEMINI_CONTENT: return GEMINI_CONTENT_KEYS;
    case R_PART: return PART_KEYS;
    case R_GEMINI_CALL: return GEMINI_CALL_KEYS;
    case R_TGI_DETAILS: return TGI_DETAILS_KEYS;
    case R_META_INFO: return META_INFO_KEYS;
    case R_TGI_TOKEN: return TGI_TOKEN_KEYS;
    default: return null;
  }
}

/** The role of an object opened under key k in an object or array of role parent (R_OTHER: not read). */
function objectRole(parent: u8, k: u8): u8 {
  switch (parent) {
    case R_ROOT_ARRAY: return R_ROOT;
    case R_ROOT:
      if (k == K_USAGE) return R_USAGE;
      if (k == K_USAGE_METADATA) return R_GEMINI_USAGE;
      if (k == K_RESPONSE) return R_WRAPPER;
      if (k == K_MESSAGE) return R_MESSAGE;
      if (k == K_DELTA) return R_DELTA;
      if (k == K_DETAILS) return R_TGI_DETAILS;
      if (k == K_META_INFO) return R_META_INFO;
      if (k == K_TOKEN) return R_TGI_TOKEN;
      return R_OTHER;
    case R_WRAPPER: return k == K_USAGE ? R_USAGE : R_OTHER;
    case R_MESSAGE: return k == K_USAGE ? R_START_USAGE : R_OTHER;
    case R_BLOCKS: return R_BLOCK;
    case R_OUTPUT: return R_OUTPUT_ITEM;
    case R_CANDIDATES: return R_CANDIDATE;
    case R_CANDIDATE: return k == K_CONTENT ? R_GEMINI_CONTENT : R_OTHER;
    case R_PARTS: return R_PART;
    case R_PART: return k == K_GEMINI_CALL ? R_GEMINI_CALL : R_OTHER;
    default: return R_OTHER;
  }
}

/** The role of an array opened under key k in an object of role parent. */
function arrayRole(parent: u8, k: u8): u8 {
  switch (parent) {
    case R_ROOT:
      if (k == K_CONTENT) return R_BLOCKS;
      if (k == K_OUTPUT) return R_OUTPUT;
      if (k == K_CANDIDATES) return R_CANDIDATES;
      return R_OTHER;
    case R_OUTPUT_ITEM: return k == K_CONTENT || k == K_SUMMARY ? R_BLOCKS : R_OTHER;
    case R_GEMINI_CONTENT: return k == K_PARTS ? R_PARTS : R_OTHER;
    case R_TGI_DETAILS: return k == K_PREFILL ? R_TGI_PREFILL : R_OTHER;
    default: return R_OTHER;
  }
}

/** How the value of key k in an object of role r is measured: 1 a string counted, 2 written bytes, 0 not. */
function contentOf(r: u8, k: u8): i32 {
  switch (r) {
    case R_ROOT: return k == K_DELTA ? 1 : 0;
    case R_DELTA: return k == K_TEXT || k == K_PARTIAL_JSON || k == K_THINKING ? 1 : 0;
    case R_BLOCK:
      if (k == K_INPUT) return 2;
      return k == K_TEXT || k == K_THINKING || k == K_REFUSAL ? 1 : 0;
    case R_OUTPUT_ITEM: return k == K_ARGUMENTS ? 1 : 0;
    case R_PART: return k == K_TEXT ? 1 : 0;
    case R_GEMINI_CALL: return k == K_ARGS ? 2 : 0;
    default: return 0;
  }
}

export class UsageExtractor extends JsonHandler {
  /** The committed result, updated in place. */
  usage: TokenUsage = new TokenUsage();
  /** Commit whenever a usage, wrapper or root object closes (plain JSON bodies). */
  commitOnClose: bool = false;
  /** DOC_* flags of the current document (reset by beginDocument). */
  docFlags: u32 = 0;
  /** The tokenizer's countedBytes when an output count was last committed (content it covers). */
  contentAtOutput: i64 = 0;

  private roles: StaticArray<u8> = new StaticArray<u8>(TRACKED_LEVELS);
  private level: i32 = 0;
  private currentKey: u8 = K_OTHER;

  private pending: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private pendingMask: u32 = 0;
  private pendingModel: string | null = null;
  /** The pending output count is message.usage's (provisional). */
  private pendingProvisional: bool = false;
  private committed: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private committedMask: u32 = 0;

  /** Decode the model's name (else usage.model stays ""): only weights look at it. */
  wantModel: bool = true;
  /** The elements of a top-level array are a batch's answers: their counts add up (plain JSON). */
  sumRoots: bool = false;
  /** The route is a self-hosted server's native API: its content members count too (nativeContentOf). */
  nativeContent: bool = false;
  /** The route is Cohere v2's: its roles (cohere.ts) replace these. */
  cohere: bool = false;
  /** This document's root type is a Responses audio delta (its root delta is audio). */
  private audioEvent: bool = false;
  private carried: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private carriedMask: u32 = 0;
  private prefillTokens: i64 = 0;
  /** The root `index` of the current streamed-batch event (sumRoots, SSE); -1 none. */
  private pendingIndex: i32 = -1;
  /** Per index: its last input and output counts (-1: none yet), [2 * i] and [2 * i + 1]. */
  private perIndex: StaticArray<i64> | null = null;
  /** An event's index was beyond MAX_INDEXES: the sums do not cover it. */
  private indexOverflow: bool = false;

  /** As new, keeping the buffers (a pooled reader's extractor). */
  recycle(wantModel: bool): void {
    this.usage.clear();
    this.wantModel = wantModel;
    this.sumRoots = false;
    this.nativeContent = false;
    this.cohere = false;
    this.carriedMask = 0;
    this.pendingIndex = -1;
    const table = this.perIndex;
    if (table !== null) table.fill(-1);
    this.indexOverflow = false;
    this.commitOnClose = false;
    this.docFlags = 0;
    this.contentAtOutput = 0;
    this.audioEvent = false;
    this.level = 0;
    this.currentKey = K_OTHER;
    this.pendingMask = 0;
    this.pendingModel = null;
    this.pendingProvisional = false;
    this.committedMask = 0;
  }

  /** A new document (an SSE event): forget the path and anything pending. */
  beginDocument(): void {
    this.level = 0;
    this.currentKey = K_OTHER;
    this.docFlags = 0;
    this.audioEvent = false;
    this.discard();
  }

  discard(): void {
    this.pendingMask = 0;
    this.pendingIndex = -1;
    this.pendingProvisional = false;
    this.pendingModel = null;
  }

  /** A model name read elsewhere (fast_path.ts: valid UTF-8, no escapes), pending as string() would leave it. */
  pendingModelBytes(p: usize, n: usize): void {
    const known = this.usage.model;
    this.pendingModel = known.length > 0 && asciiEquals(known, p, n) ? known : String.UTF8.decodeUnsafe(p, n);
  }

  /** A count read elsewhere (fast_path.ts), pending as number() would leave it. */
  pendingCount(slot: i32, value: i64): void {
    this.pending[slot] = value;
    this.pendingMask |= 1 << slot;
    if (slot == SLOT_OUTPUT) this.pendingProvisional = false;
  }

  /** Makes the pending values visible; contentNow: the content bytes read so far (the tokenizer's countedBytes). */
  commit(contentNow: i64): void {
    if (this.pendingIndex >= 0) this.byIndex();
    const mask = this.pendingMask;
    if ((mask & OUTPUT_SLOTS) != 0) {
      this.contentAtOutput = contentNow;
      // A final count (message_delta, any usage not under message) ends the provisional one.
      this.usage.provisionalOutput = (mask & (1 << SLOT_OUTPUT)) != 0 && this.pendingProvisional;
    }
    for (let i = 0; i < SLOTS; i++) {
      if ((mask & (1 << i)) != 0) this.committed[i] = this.pending[i];
    }
    this.committedMask |= mask;
    const model = this.pendingModel;
    if (model !== null) this.usage.model = model;
    this.pendingMask = 0;
    this.pendingModel = null;
    this.pendingProvisional = false;
    if (mask == 0) return;
    const u = this.usage;
    const input = addSaturating(addSaturating(addSaturating(this.slot(SLOT_INPUT), this.slot(SLOT_CACHE_CREATION)), this.slot(SLOT_CACHE_READ)), this.slot(SLOT_TOOL_USE_PROMPT));
    const output = addSaturating(this.slot(SLOT_OUTPUT), this.slot(SLOT_THOUGHTS));
    const billedIn = this.slot(SLOT_BILLED_INPUT);
    const billedOut = this.slot(SLOT_BILLED_OUTPUT);
    u.input = billedIn > input ? billedIn : input;
    u.output = billedOut > output ? billedOut : output;
    u.found = true;
    const seen = this.committedMask | this.carriedMask;
    u.hasInput = (seen & INPUT_SLOTS) != 0;
    u.hasOutput = (seen & OUTPUT_SLOTS) != 0;
    if (this.indexOverflow) this.uncovered();
  }

  /** Some prompts' counts are not in the sums: estimate the answer (the request's input, the content after the counts) above them. */
  private uncovered(): void {
    this.usage.provisionalOutput = true;
    this.usage.hasInput = false;
  }

  /**
   * A streamed batch's event: its counts replace those of its index only, and the pending counts
   * become the sums over the indexes (so commit() goes on as for any event).
   */
  private byIndex(): void {
    const i = this.pendingIndex;
    this.pendingIndex = -1;
    const mask = this.pendingMask;
    if ((mask & ((1 << SLOT_INPUT) | (1 << SLOT_OUTPUT))) == 0) return;
    if (i >= MAX_INDEXES) {
      // Not kept apart: its counts must not replace the sums; the answer is estimated above them.
      this.pendingMask &= ~((1 << SLOT_INPUT) | (1 << SLOT_OUTPUT));
      this.indexOverflow = true;
      this.uncovered();
      return;
    }
    let table = this.perIndex;
    if (table === null) {
      table = new StaticArray<i64>(2 * MAX_INDEXES);
      table.fill(-1);
      this.perIndex = table;
    }
    if ((mask & (1 << SLOT_INPUT)) != 0) unchecked(table[2 * i] = this.pending[SLOT_INPUT]);
    if ((mask & (1 << SLOT_OUTPUT)) != 0) unchecked(table[2 * i + 1] = this.pending[SLOT_OUTPUT]);
    let input: i64 = 0;
    let output: i64 = 0;
    let hasInput = false;
    let hasOutput = false;
    for (let j = 0; j < MAX_INDEXES; j++) {
      const a = unchecked(table[2 * j]);
      const b = unchecked(table[2 * j + 1]);
      if (a >= 0) { input = addSaturating(input, a); hasInput = true; }
      if (b >= 0) { output = addSaturating(output, b); hasOutput = true; }
    }
    if (hasInput) { this.pending[SLOT_INPUT] = input; this.pendingMask |= 1 << SLOT_INPUT; }
    if (hasOutput) { this.pending[SLOT_OUTPUT] = output; this.pendingMask |= 1 << SLOT_OUTPUT; }
  }

  private slot(i: i32): i64 {
    const own = (this.committedMask & (1 << i)) != 0 ? this.committed[i] : 0;
    return (this.carriedMask & (1 << i)) != 0 ? addSaturating(this.carried[i], own) : own;
  }

  /** A batch element closed (committed): its counts are kept, and the next element's add to them. */
  private carry(): void {
    const mask = this.committedMask;
    for (let i = 0; i < SLOTS; i++) {
      if ((mask & (1 << i)) != 0) this.carried[i] = (this.carriedMask & (1 << i)) != 0 ? addSaturating(this.carried[i], this.committed[i]) : this.committed[i];
    }
    this.carriedMask |= mask;
    this.committedMask = 0;
  }

  @inline
  private role(): u8 {
    const l = this.level;
    return l > 0 && l <= TRACKED_LEVELS ? unchecked(this.roles[l - 1]) : R_OTHER;
  }

  @inline
  private enter(role: u8): void {
    if (this.level < TRACKED_LEVELS) unchecked(this.roles[this.level] = role);
    this.level++;
    this.currentKey = K_OTHER;
  }

  @inline
  private leave(tok: JsonTokenizer): void {
    const role = this.role();
    if (this.level > 0) this.level--;
    this.currentKey = K_OTHER;
    const parent = this.role();
    filterFor(tok, parent); // back in the parent: its keys
    if (role == R_TGI_PREFILL && this.prefillTokens > 0) this.pendingCount(SLOT_INPUT, this.prefillTokens); // [] : not reported
    // Roles up to R_META_INFO are the ones a count sits in (R_TGI_TOKEN and R_TGI_PREFILL hold none).
    if (this.commitOnClose && role != R_OTHER && role != R_ROOT_ARRAY && (role <= R_META_INFO || cohereCommitsOnClose(role))) {
      this.commit(tok.countedBytes);
      if (role == R_ROOT && parent == R_ROOT_ARRAY && this.sumRoots) this.carry();
    }
  }

  beginObject(tok: JsonTokenizer): void {
    let role = this.cohere ? CR_ROOT : R_ROOT;
    if (this.level == 0) {
      this.docFlags |= DOC_TOP_OBJECT;
    } else {
      const parent = this.role();
      role = parent >= COHERE_ROLES ? cohereObjectRole(parent, this.currentKey) : objectRole(parent, this.currentKey);
      if (role == R_OTHER) {
        if (parent == R_TGI_PREFILL) this.prefillTokens++;
        tok.skipContainer();
        return;
      }
      if (role == R_USAGE && this.level == 1) this.docFlags = (this.docFlags & ~DOC_USAGE_NULL) | DOC_USAGE_OBJECT;
    }
    this.enter(role);
    // The tokenizer passes over the other keys itself, as key() would (same role, same sets).
    filterFor(tok, role);
  }

  endObject(tok: JsonTokenizer): void {
    this.leave(tok);
  }

  beginArray(tok: JsonTokenizer): void {
    let role = R_ROOT_ARRAY;
    if (this.level == 0 && this.cohere) { tok.skipContainer(); return; } // Cohere answers no arrays of roots
    if (this.level > 0) {
      const parent = this.role();
      role = parent >= COHERE_ROLES ? cohereArrayRole(parent, this.currentKey) : arrayRole(parent, this.currentKey);
      if (role == R_OTHER) { tok.skipContainer(); return; }
      if (role == R_TGI_PREFILL) this.prefillTokens = 0;
    }
    this.enter(role);
  }

  endArray(tok: JsonTokenizer): void {
    this.leave(tok);
  }

  key(tok: JsonTokenizer): void {
    const role = this.role();
    const keys = role >= COHERE_ROLES ? cohereKeysFor(role) : keysFor(role);
    if (keys === null || tok.textTruncated || !keys.has(tok.text.dataStart, <usize>tok.textLen)) {
      // Validated, not reported: no callback until the next key or the end of this object.
      this.currentKey = K_OTHER;
      // (a key the tokenizer could not judge in place: as its filter would)
      if (role == R_ROOT && tok.textEquals("choices")) tok.skipValueCounting(CHOICES_CONTENT_KEYS);
      else tok.skipValue();
      return;
    }
    if (role >= COHERE_ROLES) {
      const ck = cohereKey(tok);
      this.currentKey = ck;
      if (cohereCounts(role, ck)) tok.countString();
      return;
    }
    const k = classify(tok);
    this.currentKey = k;
    // A later member with the same key replaces what an earlier one said.
    if (k == K_USAGE && role == R_ROOT && this.level == 1) this.docFlags &= ~(DOC_USAGE_NULL | DOC_USAGE_OBJECT);
    let how = contentOf(role, k);
    if (how == 0 && this.nativeContent) how = nativeContentOf(role, k);
    // (a Responses audio event's delta is base64 audio: counted apart, when its type came first)
    if (how == 1 && this.audioEvent && role == R_ROOT && k == K_DELTA) tok.countAltString();
    else if (how == 1) tok.countString();
    else if (how == 2) tok.measureValue();
  }

  number(tok: JsonTokenizer): void {
    const role = this.role();
    const k = this.currentKey;
    let slot = -1;
    if (role == R_USAGE || role == R_START_USAGE) {
      if (k == K_PROMPT_TOKENS || k == K_INPUT_TOKENS) slot = SLOT_INPUT;
      else if (k == K_COMPLETION_TOKENS || k == K_OUTPUT_TOKENS) slot = SLOT_OUTPUT;
      else if (k == K_CACHE_CREATION) slot = SLOT_CACHE_CREATION;
      else if (k == K_CACHE_READ) slot = SLOT_CACHE_READ;
    } else if (role == R_GEMINI_USAGE) {
      if (k == K_PROMPT_TOKEN_COUNT) slot = SLOT_INPUT;
      else if (k == K_CANDIDATES_TOKEN_COUNT) slot = SLOT_OUTPUT;
      else if (k == K_THOUGHTS_TOKEN_COUNT) slot = SLOT_THOUGHTS;
      else if (k == K_TOOL_USE_PROMPT_TOKEN_COUNT) slot = SLOT_TOOL_USE_PROMPT;
    } else {
      slot = role >= COHERE_ROLES ? cohereSlot(role, k) : selfHostedSlot(role, k);
    }
    if (k == K_INDEX && role == R_ROOT && this.level == 1 && this.sumRoots && !this.commitOnClose) {
      // A streamed batch's event (a plain JSON batch is an array: carry() adds its elements up).
      if (tok.numberIsInteger && !tok.textTruncated && tok.textLen > 0 && load<u8>(tok.text.dataStart) != 0x2d && parseI64At(tok.text.dataStart, tok.textLen)) {
        this.pendingIndex = parsedI64 < <i64>MAX_INDEXES ? <i32>parsedI64 : MAX_INDEXES;
      }
      return;
    }
    if (slot < 0) return;
    // Only "0" or [1-9][0-9]*: no sign, fraction or exponent; the range is checked by the parse.
    if (!tok.numberIsInteger || tok.textTruncated || tok.textLen == 0) return;
    if (load<u8>(tok.text.dataStart) == 0x2d) return;
    if (!parseI64At(tok.text.dataStart, tok.textLen)) return;
    this.pending[slot] = parsedI64;
    this.pendingMask |= 1 << slot;
    if (slot == SLOT_OUTPUT) this.pendingProvisional = role == R_START_USAGE;
  }

  string(tok: JsonTokenizer): void {
    const role = this.role();
    const k = this.currentKey;
    if (k == K_TYPE) {
      if (role == R_ROOT) this.audioEvent = tok.textEquals("response.audio.delta") || tok.textEquals("response.output_audio.delta");
      return;
    }
    const isModel = (role == R_ROOT && (k == K_MODEL || k == K_MODEL_VERSION)) || ((role == R_WRAPPER || role == R_MESSAGE) && k == K_MODEL);
    if (!isModel || tok.textTruncated || !this.wantModel) return;
    // Streams repeat the model in every event: reuse the string when it has not changed.
    const known = this.usage.model;
    this.pendingModel = known.length > 0 && tok.textEquals(known) ? known : tok.textString();
  }

  null(tok: JsonTokenizer): void {
    if (this.level == 1 && this.currentKey == K_USAGE && this.role() == R_ROOT) this.docFlags |= DOC_USAGE_NULL;
  }
}

/** Content of the self-hosted servers' formats (read only on their routes: nativeContent), 1 or 0 as contentOf. */
function nativeContentOf(r: u8, k: u8): i32 {
  if (r == R_ROOT) return k == K_CONTENT || k == K_RESPONSE || k == K_GENERATED_TEXT ? 1 : 0;
  if (r == R_WRAPPER || r == R_MESSAGE) return k == K_CONTENT || k == K_THINKING ? 1 : 0;
  return r == R_TGI_TOKEN && k == K_TEXT ? 1 : 0;
}

/** The slot of a count of the self-hosted servers' formats (see the top of this file), -1: none. */
function selfHostedSlot(role: u8, k: u8): i32 {
  if (role == R_ROOT) {
    if (k == K_PROMPT_EVAL_COUNT || k == K_TOKENS_EVALUATED) return SLOT_INPUT;
    if (k == K_EVAL_COUNT || k == K_TOKENS_PREDICTED) return SLOT_OUTPUT;
  } else if (role == R_TGI_DETAILS) {
    if (k == K_GENERATED_TOKENS) return SLOT_OUTPUT;
    if (k == K_PROMPT_TOKENS) return SLOT_INPUT;
  } else if (role == R_META_INFO) {
    if (k == K_PROMPT_TOKENS) return SLOT_INPUT;
    if (k == K_COMPLETION_TOKENS) return SLOT_OUTPUT;
  }
  return -1;
}

/** s is ASCII and its bytes are the n at p (as JsonTokenizer#textEquals compares). */
function asciiEquals(s: string, p: usize, n: usize): bool {
  if (<usize>s.length != n) return false;
  const q = changetype<usize>(s);
  for (let i: usize = 0; i < n; i++) {
    const c = <u32>load<u16>(q + (i << 1));
    if (c >= 0x80 || <u32>load<u8>(p + i) != c) return false;
  }
  return true;
}

/** The key in the tokenizer's text, as one of the K_ constants. */
@inline
function classify(tok: JsonTokenizer): u8 {
  switch (tok.textLen) {
    case 4:
      if (tok.textEquals("text")) return K_TEXT;
      if (tok.textEquals("type")) return K_TYPE;
      if (tok.textEquals("args")) return K_ARGS;
      break;
    case 5:
      if (tok.textEquals("usage")) return K_USAGE;
      if (tok.textEquals("model")) return K_MODEL;
      if (tok.textEquals("delta")) return K_DELTA;
      if (tok.textEquals("input")) return K_INPUT;
      if (tok.textEquals("parts")) return K_PARTS;
      if (tok.textEquals("token")) return K_TOKEN;
      if (tok.textEquals("index")) return K_INDEX;
      break;
    case 6:
      if (tok.textEquals("output")) return K_OUTPUT;
      break;
    case 7:
      if (tok.textEquals("message")) return K_MESSAGE;
      if (tok.textEquals("content")) return K_CONTENT;
      if (tok.textEquals("refusal")) return K_REFUSAL;
      if (tok.textEquals("summary")) return K_SUMMARY;
      if (tok.textEquals("details")) return K_DETAILS;
      if (tok.textEquals("prefill")) return K_PREFILL;
      break;
    case 8:
      if (tok.textEquals("response")) return K_RESPONSE;
      if (tok.textEquals("thinking")) return K_THINKING;
      break;
    case 9:
      if (tok.textEquals("arguments")) return K_ARGUMENTS;
      if (tok.textEquals("meta_info")) return K_META_INFO;
      break;
    case 10:
      if (tok.textEquals("candidates")) return K_CANDIDATES;
      if (tok.textEquals("eval_count")) return K_EVAL_COUNT;
      break;
    case 12:
      if (tok.textEquals("input_tokens")) return K_INPUT_TOKENS;
      if (tok.textEquals("modelVersion")) return K_MODEL_VERSION;
      if (tok.textEquals("partial_json")) return K_PARTIAL_JSON;
      if (tok.textEquals("functionCall")) return K_GEMINI_CALL;
      break;
    case 13:
      if (tok.textEquals("prompt_tokens")) return K_PROMPT_TOKENS;
      if (tok.textEquals("output_tokens")) return K_OUTPUT_TOKENS;
      if (tok.textEquals("usageMetadata")) return K_USAGE_METADATA;
      break;
    case 14:
      if (tok.textEquals("generated_text")) return K_GENERATED_TEXT;
      break;
    case 16:
      if (tok.textEquals("promptTokenCount")) return K_PROMPT_TOKEN_COUNT;
      if (tok.textEquals("tokens_evaluated")) return K_TOKENS_EVALUATED;
      if (tok.textEquals("tokens_predicted")) return K_TOKENS_PREDICTED;
      if (tok.textEquals("generated_tokens")) return K_GENERATED_TOKENS;
      break;
    case 23:
      if (tok.textEquals("toolUsePromptTokenCount")) return K_TOOL_USE_PROMPT_TOKEN_COUNT;
      if (tok.textEquals("cache_read_input_tokens")) return K_CACHE_READ;
      break;
    case 17:
      if (tok.textEquals("completion_tokens")) return K_COMPLETION_TOKENS;
      if (tok.textEquals("prompt_eval_count")) return K_PROMPT_EVAL_COUNT;
      break;
    case 18:
      if (tok.textEquals("thoughtsTokenCount")) return K_THOUGHTS_TOKEN_COUNT;
      break;
    case 20:
      if (tok.textEquals("candidatesTokenCount")) return K_CANDIDATES_TOKEN_COUNT;
      break;
    case 27:
      if (tok.textEquals("cache_creation_input_tokens")) return K_CACHE_CREATION;
      break;
  }
  return K_OTHER;
}
