// Token usage from the `ai_log` filter state that Higress's ai-statistics plugin writes:
// a JSON object such as {"model":"qwen-max","input_token":12,"output_token":34,...}.
//
// wasm-go stores it JSON-string-escaped without the quotes, {\"input_token\":12,...}
// (pkg/wrapper/plugin_wrapper.go WriteUserAttributeToLogWithKey, which writes MarshalStr(json);
// pkg/wrapper/utils.go MarshalStr/UnmarshalStr). Both that form and the raw object are read; they
// cannot be confused: an object's first key starts with '"', the escaped form's with '\'.
import { hexDigit } from "../util/hex";
import { JsonHandler, JsonTokenizer } from "../json/tokenizer";
import { addSaturating, parseInt64At } from "../util/int64";
import { TokenUsage } from "./token_usage";

const F_NONE: i32 = 0;
const F_INPUT: i32 = 1;
const F_OUTPUT: i32 = 2;
const F_MODEL: i32 = 3;
const F_TOTAL: i32 = 4;
const F_INPUT_DETAILS: i32 = 5;
const F_OUTPUT_DETAILS: i32 = 6;
// In input_token_details / output_token_details: counts that are not part of input_token /
// output_token (pkg/tokenusage ExtractInputTokenDetails / ExtractOutputTokenDetails). The other keys
// wasm-go copies there are parts of the count (OpenAI's cached_tokens, reasoning_tokens,
// audio_tokens; Gemini's cached_content_token_count) and are not added.
const F_EXTRA_INPUT: i32 = 7; // cache_creation_input_tokens, cache_read_input_tokens, tool_use_prompt_token_count
const F_EXTRA_OUTPUT: i32 = 8; // thoughts_token_count

// For each token field: absent, valid, or present but unusable.
const ABSENT: u8 = 0;
const VALID: u8 = 1;
const INVALID: u8 = 2;

class AiLogHandler extends JsonHandler {
  rootIsObject: bool = false;
  field: i32 = F_NONE;
  /** F_INPUT_DETAILS / F_OUTPUT_DETAILS while inside that object (depth 2), else F_NONE. */
  section: i32 = F_NONE;
  inputState: u8 = ABSENT;
  outputState: u8 = ABSENT;
  input: i64 = 0;
  output: i64 = 0;
  total: i64 = 0;
  extraInput: i64 = 0;
  extraOutput: i64 = 0;
  model: string = "";

  beginObject(tok: JsonTokenizer): void {
    if (tok.depth == 1) this.rootIsObject = true;
    if (tok.depth == 2 && (this.field == F_INPUT_DETAILS || this.field == F_OUTPUT_DETAILS)) {
      this.section = this.field;
      this.field = F_NONE;
      return;
    }
    this.nonCount(tok, 2);
  }

  endObject(tok: JsonTokenizer): void {
    if (tok.depth == 1) this.section = F_NONE;
  }

  beginArray(tok: JsonTokenizer): void {
    this.nonCount(tok, 2);
  }

  key(tok: JsonTokenizer): void {
    this.field = F_NONE;
    if (tok.depth == 2) {
      if (this.section == F_INPUT_DETAILS && (tok.textEquals("cache_creation_input_tokens") || tok.textEquals("cache_read_input_tokens") || tok.textEquals("tool_use_prompt_token_count"))) this.field = F_EXTRA_INPUT;
      else if (this.section == F_OUTPUT_DETAILS && tok.textEquals("thoughts_token_count")) this.field = F_EXTRA_OUTPUT;
      return;
    }
    if (tok.depth != 1) return;
    if (tok.textEquals("input_token")) this.field = F_INPUT;
    else if (tok.textEquals("output_token")) this.field = F_OUTPUT;
    else if (tok.textEquals("model")) this.field = F_MODEL;
    else if (tok.textEquals("total_token")) this.field = F_TOTAL;
    else if (tok.textEquals("input_token_details")) this.field = F_INPUT_DETAILS;
    else if (tok.textEquals("output_token_details")) this.field = F_OUTPUT_DETAILS;
  }

  number(tok: JsonTokenizer): void {
    if (tok.depth == 2 && this.section != F_NONE) { this.extra(tok, tok.numberIsInteger); return; }
    if (tok.depth != 1) return;
    this.count(tok, tok.numberIsInteger);
  }

  string(tok: JsonTokenizer): void {
    if (tok.depth == 2 && this.section != F_NONE) { this.extra(tok, true); return; }
    if (tok.depth != 1) return;
    if (this.field == F_MODEL) {
      if (!tok.textTruncated) this.model = tok.textString();
      return;
    }
    this.count(tok, true); // a count written as a string of digits is accepted too
  }

  boolean(tok: JsonTokenizer, value: bool): void {
    this.nonCount(tok, 1);
  }

  null(tok: JsonTokenizer): void {
    this.nonCount(tok, 1);
  }

  /** A value that cannot be a count, at `depth` when it is a direct member of the root. */
  private nonCount(tok: JsonTokenizer, depth: i32): void {
    if (tok.depth != depth) return;
    if (this.field == F_INPUT) this.inputState = INVALID;
    else if (this.field == F_OUTPUT) this.outputState = INVALID;
  }

  /** The count in the tokenizer's text: a non-negative i64, or -1. */
  private parsed(tok: JsonTokenizer, integerForm: bool): i64 {
    if (!integerForm || tok.textTruncated || tok.textLen == 0 || load<u8>(tok.text.dataStart) == 0x2d) return -1;
    const parsed = parseInt64At(tok.text.dataStart, tok.textLen);
    return parsed.ok ? parsed.value : -1;
  }

  private count(tok: JsonTokenizer, integerForm: bool): void {
    const f = this.field;
    if (f == F_TOTAL) {
      const v = this.parsed(tok, integerForm);
      if (v > 0) this.total = v;
      return;
    }
    if (f != F_INPUT && f != F_OUTPUT) return;
    const v = this.parsed(tok, integerForm);
    if (f == F_INPUT) { this.inputState = v >= 0 ? VALID : INVALID; this.input = v >= 0 ? v : 0; }
    else { this.outputState = v >= 0 ? VALID : INVALID; this.output = v >= 0 ? v : 0; }
  }

  /** A detail count that is not part of input_token / output_token (the last of each key counts once). */
  private extra(tok: JsonTokenizer, integerForm: bool): void {
    const f = this.field;
    if (f != F_EXTRA_INPUT && f != F_EXTRA_OUTPUT) return;
    const v = this.parsed(tok, integerForm);
    if (v <= 0) return;
    if (f == F_EXTRA_INPUT) this.extraInput = addSaturating(this.extraInput, v);
    else this.extraOutput = addSaturating(this.extraOutput, v);
  }
}

/**
 * The usage in an ai_log object: input_token and output_token (non-negative integers, as numbers
 * or digit strings) plus the detail counts that are not part of them (Anthropic's cache tokens,
 * Gemini's tool-use prompt as input; Gemini's thoughts as output), and model. A side whose count is
 * 0 or missing is not reported: wasm-go writes 0 for a chunk that holds "usage" without counts (a
 * `"usage":null` stream), so a 0 says nothing. total_token above input + output (a count wasm-go
 * read that we do not know) is added to the input. Null when the data is not a JSON object, when
 * no side is reported, or when a count present (the last, if repeated) is not usable.
 */
export function usageFromAiLog(data: Uint8Array): TokenUsage | null {
  const h = new AiLogHandler();
  const tok = new JsonTokenizer(h, 64, 256);
  if (isEscapedObject(data)) {
    if (!feedUnescaped(tok, data)) return null;
  } else {
    tok.feed(data, 0, data.length);
  }
  if (!tok.finish() || !h.rootIsObject) return null;
  if (h.inputState == INVALID || h.outputState == INVALID) return null;
  let input = addSaturating(h.input, h.extraInput);
  const output = addSaturating(h.output, h.extraOutput);
  const sum = addSaturating(input, output);
  if (h.total > sum) input = addSaturating(input, h.total - sum);
  if (input == 0 && output == 0) return null;
  const u = new TokenUsage();
  u.input = input;
  u.output = output;
  u.found = true;
  u.hasInput = input > 0;
  u.hasOutput = output > 0;
  u.model = h.model == "unknown" ? "" : h.model;
  return u;
}

/**
 * What to charge from ai_log and our own reading of the answer together: per side, the larger
 * count (ai_log can miss what we read — Anthropic's message_start cache tokens — and we can miss
 * what it read); its model when it names one. Our provisional output (Anthropic message_start's)
 * stays provisional unless ai_log says more.
 */
export function largerUsage(log: TokenUsage, own: TokenUsage | null): TokenUsage {
  if (own === null || !own.found) return log;
  const u = new TokenUsage();
  u.found = true;
  u.hasInput = log.hasInput || own.hasInput;
  u.hasOutput = log.hasOutput || own.hasOutput;
  u.input = log.input > own.input ? log.input : own.input;
  u.output = log.output > own.output ? log.output : own.output;
  u.provisionalOutput = own.provisionalOutput && log.output <= own.output;
  u.model = log.model.length > 0 ? log.model : own.model;
  return u;
}

function isSpace(c: u8): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

/** `{` then `\` (whitespace aside): the start of an object written through MarshalStr. */
function isEscapedObject(data: Uint8Array): bool {
  const n = data.length;
  let i = 0;
  while (i < n && isSpace(data[i])) i++;
  if (i >= n || data[i] != 0x7b) return false;
  i++;
  while (i < n && isSpace(data[i])) i++;
  return i < n && data[i] == 0x5c;
}

/** How many bytes of decoded text are handed to the tokenizer at a time. */
const UNESCAPE_CHUNK = 1024;

/** The code unit of `\uXXXX` whose `u` is at data[at], or -1. */
function hex4(data: Uint8Array, at: i32): i32 {
  if (at + 4 >= data.length) return -1;
  let v = 0;
  for (let k = 1; k <= 4; k++) {
    const d = hexDigit(data[at + k]);
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

/**
 * Decodes the contents of a JSON string (what UnmarshalStr reads between the quotes it adds) and
 * feeds the text to the tokenizer in bounded chunks. False when the contents are not a valid JSON
 * string body: a bare quote or control character, or a broken escape. A lone surrogate becomes
 * U+FFFD, as Go's decoder makes it.
 */
function feedUnescaped(tok: JsonTokenizer, data: Uint8Array): bool {
  const out = new Uint8Array(UNESCAPE_CHUNK);
  let o = 0;
  const n = data.length;
  let i = 0;
  while (i < n) {
    if (o > UNESCAPE_CHUNK - 4) {
      tok.feed(out, 0, o);
      o = 0;
    }
    const c = data[i];
    if (c == 0x22 || c < 0x20) return false;
    if (c != 0x5c) {
      out[o++] = c;
      i++;
      continue;
    }
    if (i + 1 >= n) return false;
    const e = data[i + 1];
    let b: i32 = -1;
    if (e == 0x22 || e == 0x5c || e == 0x2f) b = e;
    else if (e == 0x62) b = 0x08;
    else if (e == 0x66) b = 0x0c;
    else if (e == 0x6e) b = 0x0a;
    else if (e == 0x72) b = 0x0d;
    else if (e == 0x74) b = 0x09;
    if (b >= 0) {
      out[o++] = <u8>b;
      i += 2;
      continue;
    }
    if (e != 0x75) return false;
    let cp = hex4(data, i + 1);
    if (cp < 0) return false;
    i += 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const low = i + 1 < n && data[i] == 0x5c && data[i + 1] == 0x75 ? hex4(data, i + 1) : -1;
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i += 6;
      } else {
        cp = 0xfffd;
      }
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      cp = 0xfffd;
    }
    o = putUtf8(out, o, cp);
  }
  if (o > 0) tok.feed(out, 0, o);
  return true;
}

function putUtf8(out: Uint8Array, o: i32, cp: i32): i32 {
  if (cp < 0x80) {
    out[o] = <u8>cp;
    return o + 1;
  }
  if (cp < 0x800) {
    out[o] = <u8>(0xc0 | (cp >> 6));
    out[o + 1] = <u8>(0x80 | (cp & 0x3f));
    return o + 2;
  }
  if (cp < 0x10000) {
    out[o] = <u8>(0xe0 | (cp >> 12));
    out[o + 1] = <u8>(0x80 | ((cp >> 6) & 0x3f));
    out[o + 2] = <u8>(0x80 | (cp & 0x3f));
    return o + 3;
  }
  out[o] = <u8>(0xf0 | (cp >> 18));
  out[o + 1] = <u8>(0x80 | ((cp >> 12) & 0x3f));
  out[o + 2] = <u8>(0x80 | ((cp >> 6) & 0x3f));
  out[o + 3] = <u8>(0x80 | (cp & 0x3f));
  return o + 4;
}
