// Where the counts, the model and the generated content sit in an answer: the role of each object
// and array on the paths below, the keys wanted in each, and what a value under a key is (a count's
// slot, the model, content to count). extractor.ts follows these as the tokenizer reads.
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
//   indexes (up to MAX_INDEXES, extractor.ts; after an event with a larger index the usage no longer
//   covers every prompt: the answer is estimated — the request's input, the content after the last
//   count — with the sums as a floor).
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
import { JsonKeySet, JsonTokenizer } from "../json/tokenizer";
import { COHERE_ROLES, cohereKeysFor, cohereSlot } from "./cohere";
import { K_ARGS, K_ARGUMENTS, K_CACHE_CREATION, K_CACHE_READ, K_CANDIDATES, K_CANDIDATES_TOKEN_COUNT, K_COMPLETION_TOKENS, K_CONTENT, K_DELTA, K_DETAILS, K_EVAL_COUNT, K_GEMINI_CALL, K_GENERATED_TEXT, K_GENERATED_TOKENS, K_INPUT, K_INPUT_TOKENS, K_MESSAGE, K_META_INFO, K_OUTPUT, K_OUTPUT_TOKENS, K_PARTIAL_JSON, K_PARTS, K_PREFILL, K_PROMPT_EVAL_COUNT, K_PROMPT_TOKENS, K_PROMPT_TOKEN_COUNT, K_REFUSAL, K_RESPONSE, K_SUMMARY, K_TEXT, K_THINKING, K_THOUGHTS_TOKEN_COUNT, K_TOKEN, K_TOKENS_EVALUATED, K_TOKENS_PREDICTED, K_TOOL_USE_PROMPT_TOKEN_COUNT, K_USAGE, K_USAGE_METADATA } from "./key_names";
import { SLOT_CACHE_CREATION, SLOT_CACHE_READ, SLOT_INPUT, SLOT_OUTPUT, SLOT_THOUGHTS, SLOT_TOOL_USE_PROMPT } from "./slots";

// Where a value sits (the first six are the roles of the usage paths).
export const R_OTHER: u8 = 0;
export const R_ROOT: u8 = 1; // a root object
export const R_ROOT_ARRAY: u8 = 2; // a top-level array (its object elements are roots)
export const R_WRAPPER: u8 = 3; // root.response
export const R_USAGE: u8 = 4; // an OpenAI/Anthropic usage object
export const R_GEMINI_USAGE: u8 = 5; // root.usageMetadata
export const R_MESSAGE: u8 = 6; // root.message (Anthropic message_start; Ollama's chat message)
export const R_START_USAGE: u8 = 7; // root.message.usage: its output count is provisional
export const R_TGI_DETAILS: u8 = 8; // root.details (TGI)
export const R_META_INFO: u8 = 9; // root.meta_info (SGLang)
export const R_TGI_TOKEN: u8 = 10; // root.token (TGI stream event)
export const R_TGI_PREFILL: u8 = 11; // root.details.prefill (array; its objects are counted, not entered)
export const R_DELTA: u8 = 12; // root.delta as an object (Anthropic)
export const R_BLOCKS: u8 = 13; // root.content (Anthropic), output[].content, output[].summary (arrays)
export const R_BLOCK: u8 = 14; // an element of those
export const R_OUTPUT: u8 = 15; // root.output (Responses, array)
export const R_OUTPUT_ITEM: u8 = 16; // root.output[]
export const R_CANDIDATES: u8 = 17; // root.candidates (Gemini, array)
export const R_CANDIDATE: u8 = 18; // root.candidates[]
export const R_GEMINI_CONTENT: u8 = 19; // candidates[].content
export const R_PARTS: u8 = 20; // candidates[].content.parts (array)
export const R_PART: u8 = 21; // candidates[].content.parts[]
export const R_GEMINI_CALL: u8 = 22; // parts[].functionCall

/**
 * Nesting levels with a role (the deepest: Gemini's array form: array, root, candidates, candidate,
 * content, parts, part, functionCall). Only containers with a role are entered: no deeper level occurs.
 */
export const TRACKED_LEVELS: i32 = 8;

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
export function filterFor(tok: JsonTokenizer, role: u8): void {
  if (role == R_ROOT) tok.filterKeys(ROOT_KEYS, ROOT_COUNTED, CHOICES_CONTENT_KEYS);
  else tok.filterKeys(role >= COHERE_ROLES ? cohereKeysFor(role) : keysFor(role));
}

/** The keys wanted in an object of this role; null: none (arrays, R_OTHER). */
@inline
export function keysFor(role: u8): JsonKeySet | null {
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
export function objectRole(parent: u8, k: u8): u8 {
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
export function arrayRole(parent: u8, k: u8): u8 {
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
export function contentOf(r: u8, k: u8): i32 {
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

/** Content of the self-hosted servers' formats (read only on their routes: nativeContent), 1 or 0 as contentOf. */
export function nativeContentOf(r: u8, k: u8): i32 {
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

/** The slot a count under key k in an object of role role goes to (-1: none is read there). */
export function slotOf(role: u8, k: u8): i32 {
  if (role == R_USAGE || role == R_START_USAGE) {
    if (k == K_PROMPT_TOKENS || k == K_INPUT_TOKENS) return SLOT_INPUT;
    if (k == K_COMPLETION_TOKENS || k == K_OUTPUT_TOKENS) return SLOT_OUTPUT;
    if (k == K_CACHE_CREATION) return SLOT_CACHE_CREATION;
    if (k == K_CACHE_READ) return SLOT_CACHE_READ;
    return -1;
  }
  if (role == R_GEMINI_USAGE) {
    if (k == K_PROMPT_TOKEN_COUNT) return SLOT_INPUT;
    if (k == K_CANDIDATES_TOKEN_COUNT) return SLOT_OUTPUT;
    if (k == K_THOUGHTS_TOKEN_COUNT) return SLOT_THOUGHTS;
    if (k == K_TOOL_USE_PROMPT_TOKEN_COUNT) return SLOT_TOOL_USE_PROMPT;
    return -1;
  }
  return role >= COHERE_ROLES ? cohereSlot(role, k) : selfHostedSlot(role, k);
}
