// The member names the usage paths (paths.ts) go through, as small numbers: classify() reads the
// tokenizer's key once, and the tables compare numbers. K_OTHER is every other name.
import { JsonTokenizer } from "../json/tokenizer";

export const K_OTHER: u8 = 0;
export const K_USAGE: u8 = 1;
export const K_USAGE_METADATA: u8 = 2;
export const K_RESPONSE: u8 = 3;
export const K_MESSAGE: u8 = 4;
export const K_MODEL: u8 = 5;
export const K_MODEL_VERSION: u8 = 6;
export const K_PROMPT_TOKENS: u8 = 7;
export const K_COMPLETION_TOKENS: u8 = 8;
export const K_INPUT_TOKENS: u8 = 9;
export const K_OUTPUT_TOKENS: u8 = 10;
export const K_CACHE_CREATION: u8 = 11;
export const K_CACHE_READ: u8 = 12;
export const K_PROMPT_TOKEN_COUNT: u8 = 13;
export const K_CANDIDATES_TOKEN_COUNT: u8 = 14;
export const K_THOUGHTS_TOKEN_COUNT: u8 = 15;
export const K_DELTA: u8 = 17;
export const K_CONTENT: u8 = 18;
export const K_OUTPUT: u8 = 19;
export const K_CANDIDATES: u8 = 20;
export const K_TEXT: u8 = 21;
export const K_REFUSAL: u8 = 24;
export const K_ARGUMENTS: u8 = 28;
export const K_PARTIAL_JSON: u8 = 29;
export const K_THINKING: u8 = 30;
export const K_INPUT: u8 = 31;
export const K_SUMMARY: u8 = 32;
export const K_PARTS: u8 = 33;
export const K_GEMINI_CALL: u8 = 34; // functionCall
export const K_ARGS: u8 = 35;
export const K_TOOL_USE_PROMPT_TOKEN_COUNT: u8 = 36;
export const K_PROMPT_EVAL_COUNT: u8 = 37;
export const K_EVAL_COUNT: u8 = 38;
export const K_TOKENS_EVALUATED: u8 = 39;
export const K_TOKENS_PREDICTED: u8 = 40;
export const K_DETAILS: u8 = 41;
export const K_META_INFO: u8 = 42;
export const K_GENERATED_TEXT: u8 = 43;
export const K_TOKEN: u8 = 44;
export const K_GENERATED_TOKENS: u8 = 45;
export const K_PREFILL: u8 = 46;
export const K_INDEX: u8 = 47;
export const K_TYPE: u8 = 48;

/** The key in the tokenizer's text, as one of the K_ constants. */
@inline
export function classify(tok: JsonTokenizer): u8 {
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
