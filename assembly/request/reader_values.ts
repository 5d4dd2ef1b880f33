// What the request reader makes of a key and of a value: which field a key names for this
// reader's API, and how each value read feeds the facts (limits, multipliers, flags).
import { bytesEqual, C_CONVERSE, C_GEN, C_OLLAMA, C_SGL, C_STREAM_OPTIONS, C_TGI, definedFields, F_GENERATION_CONFIG, F_MAX_COMPLETION_TOKENS, F_MAX_OUTPUT_TOKENS, F_MAX_TOKENS, FOLD_BEST_OF, FOLD_CANDIDATE_COUNT, FOLD_CANDIDATE_COUNT_SNAKE, FOLD_CONVERSATION, FOLD_GENERATION_CONFIG, FOLD_GENERATION_CONFIG_SNAKE, FOLD_MAX_COMPLETION_TOKENS, FOLD_MAX_OUTPUT_TOKENS, FOLD_MAX_OUTPUT_TOKENS_CAMEL, FOLD_MAX_TOKENS, FOLD_N, FOLD_OPTIONS, FOLD_PREVIOUS_RESPONSE_ID, K_BACKGROUND, K_BATCH, K_BEST_OF, K_CANDIDATES, K_CONVERSE_CONFIG, K_GEN, K_INCLUDE_USAGE, K_LIMIT, K_LIMIT_SOME, K_LLAMA_LIMIT, K_MODEL, K_N, K_OLLAMA_LIMIT, K_OLLAMA_OPTIONS, K_OTHER, K_SGL_INPUT, K_SGL_LIMIT, K_SGL_N, K_SGL_PARAMS, K_STATEFUL, K_STREAM, K_STREAM_OPTIONS, K_TGI_BEST_OF, K_TGI_INPUT, K_TGI_LIMIT, K_TGI_PARAMS, KEY_BACKGROUND, KEY_BEST_OF, KEY_GENERATION_CONFIG, KEY_GENERATION_CONFIG_SNAKE, KEY_INCLUDE_USAGE, KEY_INFERENCE_CONFIG, KEY_INPUT_EMBEDS, KEY_INPUT_IDS, KEY_INPUTS, KEY_MAX_COMPLETION_TOKENS, KEY_MAX_NEW_TOKENS, KEY_MAX_OUTPUT_TOKENS, KEY_MAX_OUTPUT_TOKENS_CAMEL, KEY_MAX_TOKENS, KEY_MAX_TOKENS_CAMEL, KEY_MODEL, KEY_N, KEY_N_CMPL, KEY_N_PREDICT, KEY_NUM_PREDICT, KEY_PARAMETERS, KEY_PROMPT, KEY_SAMPLING_PARAMS, KEY_STREAM, KEY_STREAM_OPTIONS, KEY_TEXT } from "./keys";
import { LIMITS_CONVERSE, LIMITS_GENERATE, LIMITS_LLAMA, LIMITS_OLLAMA } from "./facts";
import { L_FALSE, L_NULL, L_TRUE, UNREADABLE } from "./grammar";
import { O_FIXED, O_UNFIXED, U_ASKED, U_FIXED, U_UNFIXED } from "./edit_texts";
import { UNREADABLE_FOLDED_KEY } from "./verdict";
import { UsageEdit } from "./usage_edit";
import { boolString, foldedEqual, integralNumber, integralString } from "./lax";

export function mulSaturating(a: i64, b: i64): i64 {
  if (a <= 0 || b <= 0) return 0;
  return a > i64.MAX_VALUE / b ? i64.MAX_VALUE : a * b;
}

export class ValueReader extends UsageEdit {
  protected classifyKey(): void {
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
  protected limitKey(p: usize, n: i32): u8 {
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

  /** A container where t wanted a scalar. */
  protected notScalar(t: u8): void {
    this.scalar(t, UNREADABLE, -1, false, UNREADABLE, true);
  }

  protected stringValue(t: u8): void {
    const p = changetype<usize>(this.capBuf);
    const n = this.capLen;
    if (t == K_MODEL) {
      this.facts.model = this.capOver || !this.wantModel ? "" : String.UTF8.decodeUnsafe(p, <usize>n);
      return;
    }
    if (this.capOver) { this.scalar(t, UNREADABLE, -1, false, UNREADABLE, true); return; }
    this.scalar(t, integralString(p, n), boolString(p, n), false, UNREADABLE, true);
  }

  protected numberValue(t: u8): void {
    const p = changetype<usize>(this.capBuf);
    const n = this.capLen;
    const v = this.capOver ? UNREADABLE : integralNumber(p, n);
    // A negative integer's magnitude (-1 and -2 mean "no limit" to llama.cpp and Ollama).
    const negative = !this.capOver && n > 1 && load<u8>(p) == 0x2d ? integralNumber(p + 1, n - 1) : UNREADABLE;
    this.scalar(t, v, v == 0 ? 0 : (v == 1 ? 1 : -1), false, negative, false);
  }

  protected literalValue(t: u8, kind: u8, replaced: bool): void {
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
  protected scalar(t: u8, number: i64, flag: i32, literal: bool, negative: i64, notNumber: bool): void {
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
  protected limit(t: u8, number: i64, literal: bool): void {
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
  protected settleLimits(): void {
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

  /** A prompt list closed: its prompts multiply the limit (an empty or all-token list is one prompt). */
  protected endCount(): void {
    this.countAt = 0;
    if (this.counted > this.batchMax) this.batchMax = this.counted;
    this.settleLimits();
  }

}
