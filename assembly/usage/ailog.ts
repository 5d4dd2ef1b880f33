// Token usage from the `ai_log` filter state that Higress's ai-statistics plugin writes:
// a JSON object such as {"model":"qwen-max","input_token":12,"output_token":34,...}.
import { JsonHandler, JsonTokenizer } from "../json/tokenizer";
import { parseInt64At } from "../util/int64";
import { TokenUsage } from "./token_usage";

const F_NONE: i32 = 0;
const F_INPUT: i32 = 1;
const F_OUTPUT: i32 = 2;
const F_MODEL: i32 = 3;

// For each token field: absent, valid, or present but unusable.
const ABSENT: u8 = 0;
const VALID: u8 = 1;
const INVALID: u8 = 2;

class AiLogHandler extends JsonHandler {
  rootIsObject: bool = false;
  field: i32 = F_NONE;
  inputState: u8 = ABSENT;
  outputState: u8 = ABSENT;
  input: i64 = 0;
  output: i64 = 0;
  model: string = "";

  beginObject(tok: JsonTokenizer): void {
    if (tok.depth == 1) this.rootIsObject = true;
    this.nonCount(tok, 2);
  }

  beginArray(tok: JsonTokenizer): void {
    this.nonCount(tok, 2);
  }

  key(tok: JsonTokenizer): void {
    this.field = F_NONE;
    if (tok.depth != 1) return;
    if (tok.textEquals("input_token")) this.field = F_INPUT;
    else if (tok.textEquals("output_token")) this.field = F_OUTPUT;
    else if (tok.textEquals("model")) this.field = F_MODEL;
  }

  number(tok: JsonTokenizer): void {
    if (tok.depth != 1) return;
    this.count(tok, tok.numberIsInteger);
  }

  string(tok: JsonTokenizer): void {
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

  private count(tok: JsonTokenizer, integerForm: bool): void {
    const f = this.field;
    if (f != F_INPUT && f != F_OUTPUT) return;
    let ok = integerForm && !tok.textTruncated && tok.textLen > 0 && load<u8>(tok.text.dataStart) != 0x2d;
    let v: i64 = 0;
    if (ok) {
      const parsed = parseInt64At(tok.text.dataStart, tok.textLen);
      ok = parsed.ok;
      v = parsed.value;
    }
    if (f == F_INPUT) { this.inputState = ok ? VALID : INVALID; this.input = v; }
    else { this.outputState = ok ? VALID : INVALID; this.output = v; }
  }
}

/**
 * The usage in an ai_log object: input_token and output_token (non-negative integers, as numbers
 * or digit strings; a missing one counts 0), and model. Null when the data is not a JSON object,
 * when neither count is present, or when a count present (the last, if repeated) is not usable.
 */
export function usageFromAiLog(data: Uint8Array): TokenUsage | null {
  const h = new AiLogHandler();
  const tok = new JsonTokenizer(h, 64, 256);
  tok.feed(data, 0, data.length);
  if (!tok.finish() || !h.rootIsObject) return null;
  if (h.inputState == INVALID || h.outputState == INVALID) return null;
  if (h.inputState == ABSENT && h.outputState == ABSENT) return null;
  const u = new TokenUsage();
  u.input = h.input;
  u.output = h.output;
  u.found = true;
  u.hasInput = h.inputState == VALID;
  u.hasOutput = h.outputState == VALID;
  u.model = h.model;
  return u;
}
