// Token counts and generated content of AWS Bedrock runtime's own JSON, read from token events by
// key path (as extractor.ts reads the other formats; kept apart so that neither file grows past
// its job). One handler, four kinds of document (the caller says which: beginDocument):
//
//   Converse answer (`/converse`, JSON):
//     usage.{inputTokens, cacheReadInputTokens, cacheWriteInputTokens} -> input, added
//     usage.outputTokens -> output; usage.totalTokens above their sum -> the rest as input
//     output.message.content[].text, .reasoningContent.reasoningText.text,
//     .reasoningContent.redactedContent (strings), .toolUse.input (as written)        -> content
//   ConverseStream `metadata` event: usage.* as above
//   ConverseStream `contentBlockDelta` event: delta.text, delta.toolUse.input (a string of partial
//     JSON), delta.reasoningContent.{text, redactedContent}                           -> content
//   InvokeModelWithResponseStream chunk (the model's own event JSON, decoded from base64):
//     amazon-bedrock-invocationMetrics.{inputTokenCount, cacheReadInputTokenCount,
//     cacheWriteInputTokenCount} -> input, added; .outputTokenCount -> output
//
// Which add up (docs/metering.md has the sources): the Bedrock API reference's TokenUsage gives
// totalTokens as "the total of input tokens and tokens generated", and Converse answers with
// prompt caching report inputTokens without the cached part (a metadata event of inputTokens 4,
// cacheReadInputTokens 1490, outputTokens 832, totalTokens 2326): the cache counts are apart and
// added, as Anthropic's are. A total above input + cache + output (some model families on
// ConverseStream count the cache write inside inputTokens too, and their total says so) is
// charged as input: never below Bedrock's own total. The duplicate `cacheReadInputTokenCount` /
// `cacheWriteInputTokenCount` members seen beside them in `usage` are not read (they would add the
// cache twice).
//
// A count must be a non-negative integer literal that fits in i64. Counts are pending until
// commit(): a stream event commits once its JSON is complete and valid; a Converse answer commits
// as its usage object closes (a cut answer keeps what came before the cut).
import { JsonHandler, JsonKeySet, JsonTokenizer } from "../json/tokenizer";
import { addSaturating, parseI64At, parsedI64 } from "../util/int64";
import { TokenUsage } from "./token_usage";

// Roles of the objects (and arrays) read.
const R_OTHER: u8 = 0;
const R_ROOT: u8 = 1;
const R_USAGE: u8 = 2; // root.usage
const R_OUTPUT: u8 = 3; // root.output
const R_MESSAGE: u8 = 4; // root.output.message
const R_BLOCKS: u8 = 5; // message.content (array)
const R_BLOCK: u8 = 6; // message.content[]
const R_TOOL_USE: u8 = 7; // content[].toolUse
const R_REASONING: u8 = 8; // content[].reasoningContent
const R_REASONING_TEXT: u8 = 9; // content[].reasoningContent.reasoningText
const R_DELTA: u8 = 10; // root.delta (contentBlockDelta)
const R_DELTA_TOOL: u8 = 11; // delta.toolUse
const R_DELTA_REASONING: u8 = 12; // delta.reasoningContent
const R_METRICS: u8 = 13; // root["amazon-bedrock-invocationMetrics"]
/** The deepest path read: root, output, message, content, block, reasoningContent, reasoningText. */
const TRACKED_LEVELS: i32 = 8;

const K_OTHER: u8 = 0;
const K_USAGE: u8 = 1;
const K_OUTPUT: u8 = 2;
const K_MESSAGE: u8 = 3;
const K_CONTENT: u8 = 4;
const K_TEXT: u8 = 5;
const K_TOOL_USE: u8 = 6;
const K_INPUT: u8 = 7;
const K_REASONING: u8 = 8;
const K_REASONING_TEXT: u8 = 9;
const K_REDACTED: u8 = 10;
const K_DELTA: u8 = 11;
const K_METRICS: u8 = 12;
const K_INPUT_TOKENS: u8 = 13;
const K_OUTPUT_TOKENS: u8 = 14;
const K_TOTAL_TOKENS: u8 = 15;
const K_CACHE_READ: u8 = 16;
const K_CACHE_WRITE: u8 = 17;
const K_INPUT_COUNT: u8 = 18;
const K_OUTPUT_COUNT: u8 = 19;
const K_CACHE_READ_COUNT: u8 = 20;
const K_CACHE_WRITE_COUNT: u8 = 21;

// Counts kept apart, so that a later document overwrites each on its own.
const S_INPUT: i32 = 0;
const S_CACHE_READ: i32 = 1;
const S_CACHE_WRITE: i32 = 2;
const S_OUTPUT: i32 = 3;
const S_TOTAL: i32 = 4;
const M_INPUT: i32 = 5;
const M_CACHE_READ: i32 = 6;
const M_CACHE_WRITE: i32 = 7;
const M_OUTPUT: i32 = 8;
const SLOTS: i32 = 9;
const USAGE_INPUT_SLOTS: u32 = (1 << S_INPUT) | (1 << S_CACHE_READ) | (1 << S_CACHE_WRITE);
const METRICS_INPUT_SLOTS: u32 = (1 << M_INPUT) | (1 << M_CACHE_READ) | (1 << M_CACHE_WRITE);
const OUTPUT_SLOTS: u32 = (1 << S_OUTPUT) | (1 << M_OUTPUT);

/** The keys read at a document's root, by kind of document. */
export const CONVERSE_ROOT = new JsonKeySet(["usage", "output"]);
export const METADATA_ROOT = new JsonKeySet(["usage"]);
export const DELTA_ROOT = new JsonKeySet(["delta"]);
export const INVOKE_CHUNK_ROOT = new JsonKeySet(["amazon-bedrock-invocationMetrics"]);
const USAGE_KEYS = new JsonKeySet(["inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokens", "cacheWriteInputTokens"]);
const OUTPUT_KEYS = new JsonKeySet(["message"]);
const MESSAGE_KEYS = new JsonKeySet(["content"]);
const BLOCK_KEYS = new JsonKeySet(["text", "toolUse", "reasoningContent"]);
const TOOL_USE_KEYS = new JsonKeySet(["input"]);
const REASONING_KEYS = new JsonKeySet(["reasoningText", "redactedContent"]);
const REASONING_TEXT_KEYS = new JsonKeySet(["text"]);
const DELTA_KEYS = new JsonKeySet(["text", "toolUse", "reasoningContent"]);
const DELTA_REASONING_KEYS = new JsonKeySet(["text", "redactedContent"]);
const METRICS_KEYS = new JsonKeySet(["inputTokenCount", "outputTokenCount", "cacheReadInputTokenCount", "cacheWriteInputTokenCount"]);

export class BedrockCounts extends JsonHandler {
  /** Commit as a usage or metrics object closes (a Converse answer read as one body). */
  commitOnClose: bool = false;
  /** The content bytes read (the tokenizer's countedBytes) when an output count was last committed. */
  contentAtOutput: i64 = 0;

  private rootKeys: JsonKeySet = CONVERSE_ROOT;
  private roles: StaticArray<u8> = new StaticArray<u8>(TRACKED_LEVELS);
  private level: i32 = 0;
  private currentKey: u8 = K_OTHER;
  private pending: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private pendingMask: u32 = 0;
  private committed: StaticArray<i64> = new StaticArray<i64>(SLOTS);
  private committedMask: u32 = 0;

  /** As new (a pooled reader's). */
  recycle(): void {
    this.commitOnClose = false;
    this.contentAtOutput = 0;
    this.rootKeys = CONVERSE_ROOT;
    this.level = 0;
    this.currentKey = K_OTHER;
    this.pendingMask = 0;
    this.committedMask = 0;
  }

  /** A new document whose root keys are `rootKeys` (one of the *_ROOT sets above). */
  beginDocument(rootKeys: JsonKeySet): void {
    this.rootKeys = rootKeys;
    this.level = 0;
    this.currentKey = K_OTHER;
    this.pendingMask = 0;
  }

  discard(): void {
    this.pendingMask = 0;
  }

  /** Makes the pending counts visible; contentNow: the content bytes read so far. */
  commit(contentNow: i64): void {
    const mask = this.pendingMask;
    if (mask == 0) return;
    if ((mask & OUTPUT_SLOTS) != 0) this.contentAtOutput = contentNow;
    for (let i = 0; i < SLOTS; i++) {
      if ((mask & (1 << i)) != 0) unchecked(this.committed[i] = this.pending[i]);
    }
    this.committedMask |= mask;
    this.pendingMask = 0;
  }

  /** Whether invocationMetrics reported an output count. */
  get metricsOutput(): bool {
    return (this.committedMask & (1 << M_OUTPUT)) != 0;
  }

  /** Converse's usage (answer or metadata event) into u; false (u untouched): none read. */
  converseUsage(u: TokenUsage): bool {
    const seen = this.committedMask;
    if ((seen & (USAGE_INPUT_SLOTS | (1 << S_OUTPUT) | (1 << S_TOTAL))) == 0) return false;
    let input = addSaturating(addSaturating(this.slot(S_INPUT), this.slot(S_CACHE_READ)), this.slot(S_CACHE_WRITE));
    const output = this.slot(S_OUTPUT);
    const total = this.slot(S_TOTAL);
    const sum = addSaturating(input, output);
    if (total > sum) input = addSaturating(input, total - sum);
    u.found = true;
    u.input = input;
    u.output = output;
    u.hasInput = (seen & USAGE_INPUT_SLOTS) != 0 || ((seen & (1 << S_TOTAL)) != 0 && total > output);
    u.hasOutput = (seen & (1 << S_OUTPUT)) != 0;
    u.provisionalOutput = false;
    return true;
  }

  /** invocationMetrics' counts into input and output of u where larger than what u says; false: none read. */
  metricsUsage(u: TokenUsage): bool {
    const seen = this.committedMask;
    if ((seen & (METRICS_INPUT_SLOTS | (1 << M_OUTPUT))) == 0) return false;
    u.found = true;
    if ((seen & METRICS_INPUT_SLOTS) != 0) {
      const input = addSaturating(addSaturating(this.slot(M_INPUT), this.slot(M_CACHE_READ)), this.slot(M_CACHE_WRITE));
      if (!u.hasInput || input > u.input) u.input = input;
      u.hasInput = true;
    }
    if ((seen & (1 << M_OUTPUT)) != 0) {
      const output = this.slot(M_OUTPUT);
      if (!u.hasOutput || output > u.output) u.output = output;
      u.hasOutput = true;
      // Bedrock's own count for the whole answer: nothing after it is uncovered.
      u.provisionalOutput = false;
    }
    return true;
  }

  @inline
  private slot(i: i32): i64 {
    return (this.committedMask & (1 << i)) != 0 ? unchecked(this.committed[i]) : 0;
  }

  @inline
  private role(): u8 {
    const l = this.level;
    return l > 0 && l <= TRACKED_LEVELS ? unchecked(this.roles[l - 1]) : R_OTHER;
  }

  private enter(tok: JsonTokenizer, role: u8): void {
    if (this.level < TRACKED_LEVELS) unchecked(this.roles[this.level] = role);
    this.level++;
    this.currentKey = K_OTHER;
    tok.filterKeys(this.keysFor(role));
  }

  private leave(tok: JsonTokenizer): void {
    const role = this.role();
    if (this.level > 0) this.level--;
    this.currentKey = K_OTHER;
    tok.filterKeys(this.keysFor(this.role()));
    if (this.commitOnClose && (role == R_USAGE || role == R_METRICS)) this.commit(tok.countedBytes);
  }

  private keysFor(role: u8): JsonKeySet | null {
    switch (role) {
      case R_ROOT: return this.rootKeys;
      case R_USAGE: return USAGE_KEYS;
      case R_OUTPUT: return OUTPUT_KEYS;
      case R_MESSAGE: return MESSAGE_KEYS;
      case R_BLOCK: return BLOCK_KEYS;
      case R_TOOL_USE: return TOOL_USE_KEYS;
      case R_REASONING: return REASONING_KEYS;
      case R_REASONING_TEXT: return REASONING_TEXT_KEYS;
      case R_DELTA: return DELTA_KEYS;
      case R_DELTA_TOOL: return TOOL_USE_KEYS;
      case R_DELTA_REASONING: return DELTA_REASONING_KEYS;
      case R_METRICS: return METRICS_KEYS;
      default: return null;
    }
  }

  beginObject(tok: JsonTokenizer): void {
    if (this.level == 0) { this.enter(tok, R_ROOT); return; }
    const parent = this.role();
    const k = this.currentKey;
    let role = R_OTHER;
    if (parent == R_ROOT) {
      if (k == K_USAGE) role = R_USAGE;
      else if (k == K_OUTPUT) role = R_OUTPUT;
      else if (k == K_DELTA) role = R_DELTA;
      else if (k == K_METRICS) role = R_METRICS;
    } else if (parent == R_OUTPUT) {
      if (k == K_MESSAGE) role = R_MESSAGE;
    } else if (parent == R_BLOCKS) {
      role = R_BLOCK;
    } else if (parent == R_BLOCK) {
      if (k == K_TOOL_USE) role = R_TOOL_USE;
      else if (k == K_REASONING) role = R_REASONING;
    } else if (parent == R_REASONING) {
      if (k == K_REASONING_TEXT) role = R_REASONING_TEXT;
    } else if (parent == R_DELTA) {
      if (k == K_TOOL_USE) role = R_DELTA_TOOL;
      else if (k == K_REASONING) role = R_DELTA_REASONING;
    }
    if (role == R_OTHER) { tok.skipContainer(); return; }
    this.enter(tok, role);
  }

  endObject(tok: JsonTokenizer): void {
    this.leave(tok);
  }

  beginArray(tok: JsonTokenizer): void {
    if (this.level > 0 && this.role() == R_MESSAGE && this.currentKey == K_CONTENT) {
      this.enter(tok, R_BLOCKS);
      return;
    }
    tok.skipContainer();
  }

  endArray(tok: JsonTokenizer): void {
    this.leave(tok);
  }

  key(tok: JsonTokenizer): void {
    const role = this.role();
    const keys = this.keysFor(role);
    if (keys === null || tok.textTruncated || !keys.has(tok.text.dataStart, <usize>tok.textLen)) {
      this.currentKey = K_OTHER;
      tok.skipValue();
      return;
    }
    const k = classify(tok);
    this.currentKey = k;
    // Content: strings counted as decoded bytes; a tool call's input object as written.
    if (k == K_TEXT || k == K_REDACTED || (role == R_DELTA_TOOL && k == K_INPUT)) tok.countString();
    else if (role == R_TOOL_USE && k == K_INPUT) tok.measureValue();
  }

  number(tok: JsonTokenizer): void {
    const role = this.role();
    const k = this.currentKey;
    let slot = -1;
    if (role == R_USAGE) {
      if (k == K_INPUT_TOKENS) slot = S_INPUT;
      else if (k == K_OUTPUT_TOKENS) slot = S_OUTPUT;
      else if (k == K_TOTAL_TOKENS) slot = S_TOTAL;
      else if (k == K_CACHE_READ) slot = S_CACHE_READ;
      else if (k == K_CACHE_WRITE) slot = S_CACHE_WRITE;
    } else if (role == R_METRICS) {
      if (k == K_INPUT_COUNT) slot = M_INPUT;
      else if (k == K_OUTPUT_COUNT) slot = M_OUTPUT;
      else if (k == K_CACHE_READ_COUNT) slot = M_CACHE_READ;
      else if (k == K_CACHE_WRITE_COUNT) slot = M_CACHE_WRITE;
    }
    if (slot < 0) return;
    // Only "0" or [1-9][0-9]*: no sign, fraction or exponent; the range is checked by the parse.
    if (!tok.numberIsInteger || tok.textTruncated || tok.textLen == 0) return;
    if (load<u8>(tok.text.dataStart) == 0x2d) return;
    if (!parseI64At(tok.text.dataStart, tok.textLen)) return;
    unchecked(this.pending[slot] = parsedI64);
    this.pendingMask |= 1 << slot;
  }
}

/** The key in the tokenizer's text, as one of the K_ constants (the key sets above hold no others). */
function classify(tok: JsonTokenizer): u8 {
  switch (tok.textLen) {
    case 4: return tok.textEquals("text") ? K_TEXT : K_OTHER;
    case 5:
      if (tok.textEquals("usage")) return K_USAGE;
      if (tok.textEquals("input")) return K_INPUT;
      if (tok.textEquals("delta")) return K_DELTA;
      break;
    case 6: return tok.textEquals("output") ? K_OUTPUT : K_OTHER;
    case 7:
      if (tok.textEquals("message")) return K_MESSAGE;
      if (tok.textEquals("content")) return K_CONTENT;
      if (tok.textEquals("toolUse")) return K_TOOL_USE;
      break;
    case 11:
      if (tok.textEquals("inputTokens")) return K_INPUT_TOKENS;
      if (tok.textEquals("totalTokens")) return K_TOTAL_TOKENS;
      break;
    case 12: return tok.textEquals("outputTokens") ? K_OUTPUT_TOKENS : K_OTHER;
    case 13: return tok.textEquals("reasoningText") ? K_REASONING_TEXT : K_OTHER;
    case 15:
      if (tok.textEquals("redactedContent")) return K_REDACTED;
      if (tok.textEquals("inputTokenCount")) return K_INPUT_COUNT;
      break;
    case 16:
      if (tok.textEquals("reasoningContent")) return K_REASONING;
      if (tok.textEquals("outputTokenCount")) return K_OUTPUT_COUNT;
      break;
    case 20: return tok.textEquals("cacheReadInputTokens") ? K_CACHE_READ : K_OTHER;
    case 21: return tok.textEquals("cacheWriteInputTokens") ? K_CACHE_WRITE : K_OTHER;
    case 24: return tok.textEquals("cacheReadInputTokenCount") ? K_CACHE_READ_COUNT : K_OTHER;
    case 25: return tok.textEquals("cacheWriteInputTokenCount") ? K_CACHE_WRITE_COUNT : K_OTHER;
    case 32: return tok.textEquals("amazon-bedrock-invocationMetrics") ? K_METRICS : K_OTHER;
  }
  return K_OTHER;
}
