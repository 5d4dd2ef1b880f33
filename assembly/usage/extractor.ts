// Picks token counts and the model out of JSON token events by key path, without building a
// document: a few bytes of state per nesting level (levels deeper than usage paths are not kept).
//
// Paths read, relative to a root object (the top-level object, or each element of a top-level
// array as Gemini's non-SSE streaming returns):
//   usage.{prompt_tokens, input_tokens}                      -> input   (OpenAI chat/completions/embeddings, Responses, Anthropic)
//   usage.{completion_tokens, output_tokens}                 -> output
//   usage.{cache_creation_input_tokens, cache_read_input_tokens} -> input, added (Anthropic)
//   response.usage.* and message.usage.*                     -> the same (Responses SSE response.completed, Anthropic message_start)
//   usageMetadata.promptTokenCount                           -> input   (Gemini)
//   usageMetadata.{candidatesTokenCount, thoughtsTokenCount} -> output, added
//   model, response.model, message.model, modelVersion       -> model
// Values under any other key are passed over by the tokenizer, validated but never reported
// (keysFor(): per object role, the keys that can lead to a count or the model).
// A count must be a non-negative integer literal that fits in i64; anything else is ignored.
// Values are first held as pending and become visible through commit(): the scanner commits an SSE
// event only once its JSON is complete and valid, and a plain JSON body as each usage object closes.
import { JsonHandler, JsonKeySet, JsonTokenizer } from "../json/tokenizer";
import { addSaturating, parseInt64At } from "../util/int64";
import { TokenUsage } from "./token_usage";

// Where a value sits.
const R_OTHER: u8 = 0;
const R_ROOT: u8 = 1; // a root object
const R_ROOT_ARRAY: u8 = 2; // a top-level array (its object elements are roots)
const R_WRAPPER: u8 = 3; // root.response or root.message
const R_USAGE: u8 = 4; // an OpenAI/Anthropic usage object
const R_GEMINI_USAGE: u8 = 5; // root.usageMetadata

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

// Counters kept apart so that a later event overwrites each one on its own.
const SLOT_INPUT: i32 = 0;
const SLOT_CACHE_CREATION: i32 = 1;
const SLOT_CACHE_READ: i32 = 2;
const SLOT_OUTPUT: i32 = 3;
const SLOT_THOUGHTS: i32 = 4;
const SLOTS: i32 = 5;

/** Nesting levels whose role is remembered; usage paths are at most 3 deep (4 in an array). */
const TRACKED_LEVELS: i32 = 6;

// The keys whose values can hold a count or the model, by the role of the object they are in.
// Nothing under any other key can matter (every container there is R_OTHER, every scalar ignored),
// so the tokenizer passes over those values without reporting them. Each key here is one classify()
// knows.
const ROOT_KEYS = new JsonKeySet(["usage", "usageMetadata", "response", "message", "model", "modelVersion"]);
const WRAPPER_KEYS = new JsonKeySet(["usage", "model"]);
const USAGE_KEYS = new JsonKeySet(["prompt_tokens", "input_tokens", "completion_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]);
const GEMINI_USAGE_KEYS = new JsonKeySet(["promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount"]);

/** The keys wanted in an object of this role; null: none. */
@inline
function keysFor(role: u8): JsonKeySet | null {
  switch (role) {
    case R_ROOT: return ROOT_KEYS;
    case R_WRAPPER: return WRAPPER_KEYS;
    case R_USAGE: return USAGE_KEYS;
    case R_GEMINI_USAGE: return GEMINI_USAGE_KEYS;
    default: return null;
  }
}

export class UsageExtractor extends JsonHandler {
  /** The committed result, updated in place. */
  usage: TokenUsage = new TokenUsage();
  /** Commit whenever a usage, wrapper or root object closes (plain JSON bodies). */
  commitOnClose: bool = false;

  private roles: StaticArray<u8> = new StaticArray<u8>(TRACKED_LEVELS);
  private level: i32 = 0;
  private currentKey: u8 = K_OTHER;

  private pending: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private pendingMask: u32 = 0;
  private pendingModel: string | null = null;
  private committed: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private committedMask: u32 = 0;

  /** A new document (an SSE event): forget the path and anything pending. */
  beginDocument(): void {
    this.level = 0;
    this.currentKey = K_OTHER;
    this.discard();
  }

  discard(): void {
    this.pendingMask = 0;
    this.pendingModel = null;
  }

  commit(): void {
    const mask = this.pendingMask;
    for (let i = 0; i < SLOTS; i++) {
      if ((mask & (1 << i)) != 0) this.committed[i] = this.pending[i];
    }
    this.committedMask |= mask;
    const model = this.pendingModel;
    if (model !== null) this.usage.model = model;
    this.pendingMask = 0;
    this.pendingModel = null;
    if (mask == 0) return;
    const u = this.usage;
    u.input = addSaturating(addSaturating(this.slot(SLOT_INPUT), this.slot(SLOT_CACHE_CREATION)), this.slot(SLOT_CACHE_READ));
    u.output = addSaturating(this.slot(SLOT_OUTPUT), this.slot(SLOT_THOUGHTS));
    u.found = true;
  }

  private slot(i: i32): i64 {
    return (this.committedMask & (1 << i)) != 0 ? this.committed[i] : 0;
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
    tok.filterKeys(keysFor(this.role())); // back in the parent: its keys
    if (this.commitOnClose && role != R_OTHER && role != R_ROOT_ARRAY) this.commit();
  }

  beginObject(tok: JsonTokenizer): void {
    const parent = this.role();
    let role = R_OTHER;
    if (this.level == 0 || parent == R_ROOT_ARRAY) role = R_ROOT;
    else if (parent == R_ROOT) {
      const k = this.currentKey;
      if (k == K_USAGE) role = R_USAGE;
      else if (k == K_USAGE_METADATA) role = R_GEMINI_USAGE;
      else if (k == K_RESPONSE || k == K_MESSAGE) role = R_WRAPPER;
    } else if (parent == R_WRAPPER && this.currentKey == K_USAGE) role = R_USAGE;
    this.enter(role);
    // The tokenizer passes over the other keys itself, as key() would (same role, same set).
    tok.filterKeys(keysFor(this.role()));
  }

  endObject(tok: JsonTokenizer): void {
    this.leave(tok);
  }

  beginArray(tok: JsonTokenizer): void {
    this.enter(this.level == 0 ? R_ROOT_ARRAY : R_OTHER);
  }

  endArray(tok: JsonTokenizer): void {
    this.leave(tok);
  }

  key(tok: JsonTokenizer): void {
    const keys = keysFor(this.role());
    if (keys === null || tok.textTruncated || !keys.has(tok.text.dataStart, <usize>tok.textLen)) {
      // Validated, not reported: no callback until the next key or the end of this object.
      this.currentKey = K_OTHER;
      tok.skipValue();
      return;
    }
    this.currentKey = classify(tok);
  }

  number(tok: JsonTokenizer): void {
    const role = this.role();
    const k = this.currentKey;
    let slot = -1;
    if (role == R_USAGE) {
      if (k == K_PROMPT_TOKENS || k == K_INPUT_TOKENS) slot = SLOT_INPUT;
      else if (k == K_COMPLETION_TOKENS || k == K_OUTPUT_TOKENS) slot = SLOT_OUTPUT;
      else if (k == K_CACHE_CREATION) slot = SLOT_CACHE_CREATION;
      else if (k == K_CACHE_READ) slot = SLOT_CACHE_READ;
    } else if (role == R_GEMINI_USAGE) {
      if (k == K_PROMPT_TOKEN_COUNT) slot = SLOT_INPUT;
      else if (k == K_CANDIDATES_TOKEN_COUNT) slot = SLOT_OUTPUT;
      else if (k == K_THOUGHTS_TOKEN_COUNT) slot = SLOT_THOUGHTS;
    }
    if (slot < 0) return;
    // Only "0" or [1-9][0-9]*: no sign, fraction or exponent; the range is checked by the parse.
    if (!tok.numberIsInteger || tok.textTruncated || tok.textLen == 0) return;
    if (load<u8>(tok.text.dataStart) == 0x2d) return;
    const parsed = parseInt64At(tok.text.dataStart, tok.textLen);
    if (!parsed.ok) return;
    this.pending[slot] = parsed.value;
    this.pendingMask |= 1 << slot;
  }

  string(tok: JsonTokenizer): void {
    const role = this.role();
    const k = this.currentKey;
    const isModel = (role == R_ROOT && (k == K_MODEL || k == K_MODEL_VERSION)) || (role == R_WRAPPER && k == K_MODEL);
    if (!isModel || tok.textTruncated) return;
    // Streams repeat the model in every event: reuse the string when it has not changed.
    const known = this.usage.model;
    this.pendingModel = known.length > 0 && tok.textEquals(known) ? known : tok.textString();
  }
}

/** The key in the tokenizer's text, as one of the K_ constants. */
@inline
function classify(tok: JsonTokenizer): u8 {
  switch (tok.textLen) {
    case 5:
      if (tok.textEquals("usage")) return K_USAGE;
      if (tok.textEquals("model")) return K_MODEL;
      break;
    case 7:
      if (tok.textEquals("message")) return K_MESSAGE;
      break;
    case 8:
      if (tok.textEquals("response")) return K_RESPONSE;
      break;
    case 12:
      if (tok.textEquals("input_tokens")) return K_INPUT_TOKENS;
      if (tok.textEquals("modelVersion")) return K_MODEL_VERSION;
      break;
    case 13:
      if (tok.textEquals("prompt_tokens")) return K_PROMPT_TOKENS;
      if (tok.textEquals("output_tokens")) return K_OUTPUT_TOKENS;
      if (tok.textEquals("usageMetadata")) return K_USAGE_METADATA;
      break;
    case 16:
      if (tok.textEquals("promptTokenCount")) return K_PROMPT_TOKEN_COUNT;
      break;
    case 17:
      if (tok.textEquals("completion_tokens")) return K_COMPLETION_TOKENS;
      break;
    case 18:
      if (tok.textEquals("thoughtsTokenCount")) return K_THOUGHTS_TOKEN_COUNT;
      break;
    case 20:
      if (tok.textEquals("candidatesTokenCount")) return K_CANDIDATES_TOKEN_COUNT;
      break;
    case 23:
      if (tok.textEquals("cache_read_input_tokens")) return K_CACHE_READ;
      break;
    case 27:
      if (tok.textEquals("cache_creation_input_tokens")) return K_CACHE_CREATION;
      break;
  }
  return K_OTHER;
}
