// The keys the request reader matches, what each one's value feeds, and the objects below the
// root that it reads into (generationConfig, TGI parameters, SGLang sampling_params, Ollama
// options, Converse inferenceConfig).
import { LIMITS_CHAT, LIMITS_COMPLETIONS, LIMITS_GEMINI, LIMITS_MAX_TOKENS, LIMITS_RESPONSES } from "./facts";

// Keys, and the value each one's value feeds.
export const K_OTHER: u8 = 0;
export const K_STREAM: u8 = 1;
export const K_STREAM_OPTIONS: u8 = 2;
export const K_MODEL: u8 = 3;
export const K_BACKGROUND: u8 = 4;
export const K_LIMIT: u8 = 5;
export const K_N: u8 = 6;
export const K_BEST_OF: u8 = 7;
export const K_GEN: u8 = 8;
export const K_INCLUDE_USAGE: u8 = 9;
export const K_CANDIDATES: u8 = 10;
export const K_STATEFUL: u8 = 11;
export const K_LIMIT_SOME: u8 = 12; // a limit only some upstreams of the API read (another API's field, a spelling only Go reads)
export const K_BATCH: u8 = 13; // a prompt list: each prompt is answered
export const K_TGI_INPUT: u8 = 14; // TGI's `inputs`
export const K_SGL_INPUT: u8 = 15; // SGLang's text / input_ids / input_embeds (a list: a batch)
export const K_TGI_PARAMS: u8 = 16;
export const K_SGL_PARAMS: u8 = 17;
export const K_OLLAMA_OPTIONS: u8 = 18;
export const K_CONVERSE_CONFIG: u8 = 19;
export const K_LLAMA_LIMIT: u8 = 20; // n_predict / max_tokens as llama.cpp reads them
export const K_TGI_LIMIT: u8 = 21;
export const K_TGI_BEST_OF: u8 = 22;
export const K_SGL_LIMIT: u8 = 23;
export const K_SGL_N: u8 = 24;
export const K_OLLAMA_LIMIT: u8 = 25;

// What the object at depth 2 is.
export const C_OTHER: u8 = 0;
export const C_STREAM_OPTIONS: u8 = 1;
export const C_GEN: u8 = 2;
export const C_TGI: u8 = 3;
export const C_SGL: u8 = 4;
export const C_OLLAMA: u8 = 5;
export const C_CONVERSE: u8 = 6;

// The OpenAI-style limit fields, as bits of what each family defines.
export const F_MAX_TOKENS: u8 = 1;
export const F_MAX_COMPLETION_TOKENS: u8 = 2;
export const F_MAX_OUTPUT_TOKENS: u8 = 4;
export const F_GENERATION_CONFIG: u8 = 8;

/** The OpenAI-style limit fields family `limits` defines (all for LIMITS_OPENAI). */
export function definedFields(limits: u8): u8 {
  switch (limits) {
    case LIMITS_CHAT: return F_MAX_TOKENS | F_MAX_COMPLETION_TOKENS;
    case LIMITS_COMPLETIONS: case LIMITS_MAX_TOKENS: return F_MAX_TOKENS;
    case LIMITS_RESPONSES: return F_MAX_OUTPUT_TOKENS;
    case LIMITS_GEMINI: return F_GENERATION_CONFIG;
    default: return F_MAX_TOKENS | F_MAX_COMPLETION_TOKENS | F_MAX_OUTPUT_TOKENS | F_GENERATION_CONFIG;
  }
}

export function ascii(s: string): StaticArray<u8> {
  const out = new StaticArray<u8>(s.length);
  for (let i = 0; i < s.length; i++) out[i] = <u8>s.charCodeAt(i);
  return out;
}

// Keys matched exactly (bytes), and case-folded (lowercase ASCII targets).
export const KEY_STREAM = ascii("stream");
export const KEY_STREAM_OPTIONS = ascii("stream_options");
export const KEY_MODEL = ascii("model");
export const KEY_BACKGROUND = ascii("background");
export const KEY_INCLUDE_USAGE = ascii("include_usage");
export const FOLD_MAX_TOKENS = ascii("max_tokens");
export const FOLD_MAX_COMPLETION_TOKENS = ascii("max_completion_tokens");
export const FOLD_MAX_OUTPUT_TOKENS = ascii("max_output_tokens");
export const FOLD_N = ascii("n");
export const FOLD_BEST_OF = ascii("best_of");
export const FOLD_GENERATION_CONFIG = ascii("generationconfig");
export const FOLD_GENERATION_CONFIG_SNAKE = ascii("generation_config");
export const FOLD_MAX_OUTPUT_TOKENS_CAMEL = ascii("maxoutputtokens");
export const FOLD_CANDIDATE_COUNT = ascii("candidatecount");
export const FOLD_CANDIDATE_COUNT_SNAKE = ascii("candidate_count");
export const FOLD_PREVIOUS_RESPONSE_ID = ascii("previous_response_id");
export const FOLD_CONVERSATION = ascii("conversation");
export const KEY_MAX_TOKENS = ascii("max_tokens");
export const KEY_MAX_COMPLETION_TOKENS = ascii("max_completion_tokens");
export const KEY_MAX_OUTPUT_TOKENS = ascii("max_output_tokens");
export const KEY_MAX_OUTPUT_TOKENS_CAMEL = ascii("maxOutputTokens");
export const KEY_GENERATION_CONFIG = ascii("generationConfig");
export const KEY_GENERATION_CONFIG_SNAKE = ascii("generation_config");
export const KEY_PROMPT = ascii("prompt");
export const KEY_N = ascii("n");
export const KEY_N_CMPL = ascii("n_cmpl");
export const KEY_N_PREDICT = ascii("n_predict");
export const KEY_INPUTS = ascii("inputs");
export const KEY_PARAMETERS = ascii("parameters");
export const KEY_MAX_NEW_TOKENS = ascii("max_new_tokens");
export const KEY_BEST_OF = ascii("best_of");
export const KEY_TEXT = ascii("text");
export const KEY_INPUT_IDS = ascii("input_ids");
export const KEY_INPUT_EMBEDS = ascii("input_embeds");
export const KEY_SAMPLING_PARAMS = ascii("sampling_params");
export const FOLD_OPTIONS = ascii("options");
export const KEY_NUM_PREDICT = ascii("num_predict");
export const KEY_INFERENCE_CONFIG = ascii("inferenceConfig");
export const KEY_MAX_TOKENS_CAMEL = ascii("maxTokens");

/** The object kind a root target opens (generationConfig, TGI parameters, SGLang sampling_params, Ollama options, Converse inferenceConfig). */
export function containerOf(t: u8): u8 {
  if (t == K_GEN) return C_GEN;
  if (t == K_TGI_PARAMS) return C_TGI;
  if (t == K_SGL_PARAMS) return C_SGL;
  if (t == K_OLLAMA_OPTIONS) return C_OLLAMA;
  return C_CONVERSE;
}

export function bytesEqual(p: usize, len: i32, target: StaticArray<u8>): bool {
  if (len != target.length) return false;
  for (let i = 0; i < len; i++) {
    if (load<u8>(p + <usize>i) != unchecked(target[i])) return false;
  }
  return true;
}
