// Cohere v2's answers (`/v2/chat`, `/v2/embed`), for extractor.ts and paths.ts: on those routes the extractor
// follows these roles instead of its own, so nothing of the OpenAI/Anthropic paths is read there
// and nothing of these is read elsewhere. Shapes (cohere-ai 8.1.0's types, generated from Cohere's
// API definition: V2ChatResponse, Usage, ChatMessageEndEventDelta, ApiMeta, EmbedByTypeResponse):
//   chat JSON     usage.{tokens, billed_units}.{input_tokens, output_tokens};
//                 message.content[].{text, thinking}, message.tool_plan, message.tool_calls[].function.arguments
//   chat SSE      message-end: delta.usage.{tokens, billed_units}.*; content-delta:
//                 delta.message.content.{text, thinking}; tool-plan-delta: delta.message.tool_plan;
//                 tool-call-start/-delta: delta.message.tool_calls.function.arguments (an object, not an array)
//   embed         meta.{tokens, billed_units}.input_tokens
// `tokens` is what the model processed (prompt template included), `billed_units` what Cohere
// bills: each side is charged the larger of the two (docs/metering.md).
import { JsonKeySet, JsonTokenizer } from "../json/tokenizer";
import { SLOT_BILLED_INPUT, SLOT_BILLED_OUTPUT, SLOT_INPUT, SLOT_OUTPUT } from "./slots";

/** Roles from here up are Cohere's (the extractor's own are below). */
export const COHERE_ROLES: u8 = 64;
export const CR_ROOT: u8 = 64;
const CR_DELTA: u8 = 65; // root.delta (stream events)
const CR_MESSAGE: u8 = 66; // root.message, delta.message
const CR_USAGE: u8 = 67; // root.usage, delta.usage
const CR_META: u8 = 68; // root.meta (embed)
const CR_TOKENS: u8 = 69; // usage.tokens, meta.tokens
const CR_BILLED: u8 = 70; // usage.billed_units, meta.billed_units
const CR_CONTENTS: u8 = 71; // message.content as an array (JSON answer)
const CR_CONTENT: u8 = 72; // an element of it, or message.content as an object (content-delta)
const CR_CALLS: u8 = 73; // message.tool_calls as an array (JSON answer)
const CR_CALL: u8 = 74; // an element of it, or message.tool_calls as an object (tool-call events)
const CR_FUNCTION: u8 = 75; // tool_calls.function

// Keys (Cohere's own numbering: only these roles see them).
const CK_OTHER: u8 = 0;
const CK_MESSAGE: u8 = 1;
const CK_DELTA: u8 = 2;
const CK_USAGE: u8 = 3;
const CK_META: u8 = 4;
const CK_TOKENS: u8 = 5;
const CK_BILLED: u8 = 6;
const CK_INPUT: u8 = 7;
const CK_OUTPUT: u8 = 8;
const CK_CONTENT: u8 = 9;
const CK_TEXT: u8 = 10;
const CK_THINKING: u8 = 11;
const CK_TOOL_PLAN: u8 = 12;
const CK_TOOL_CALLS: u8 = 13;
const CK_FUNCTION: u8 = 14;
const CK_ARGUMENTS: u8 = 15;

const ROOT_KEYS = new JsonKeySet(["message", "delta", "usage", "meta"]);
const DELTA_KEYS = new JsonKeySet(["message", "usage"]);
const MESSAGE_KEYS = new JsonKeySet(["content", "tool_plan", "tool_calls"]);
const USAGE_KEYS = new JsonKeySet(["tokens", "billed_units"]);
const COUNT_KEYS = new JsonKeySet(["input_tokens", "output_tokens"]);
const CONTENT_KEYS = new JsonKeySet(["text", "thinking"]);
const CALL_KEYS = new JsonKeySet(["function"]);
const FUNCTION_KEYS = new JsonKeySet(["arguments"]);

/** The keys wanted in an object of a Cohere role; null: none (arrays). */
export function cohereKeysFor(role: u8): JsonKeySet | null {
  switch (role) {
    case CR_ROOT: return ROOT_KEYS;
    case CR_DELTA: return DELTA_KEYS;
    case CR_MESSAGE: return MESSAGE_KEYS;
    case CR_USAGE: return USAGE_KEYS;
    case CR_META: return USAGE_KEYS;
    case CR_TOKENS: return COUNT_KEYS;
    case CR_BILLED: return COUNT_KEYS;
    case CR_CONTENT: return CONTENT_KEYS;
    case CR_CALL: return CALL_KEYS;
    case CR_FUNCTION: return FUNCTION_KEYS;
    default: return null;
  }
}

/** The role of an object opened under key k in a container of Cohere role parent (0: not read). */
export function cohereObjectRole(parent: u8, k: u8): u8 {
  switch (parent) {
    case CR_ROOT:
      if (k == CK_MESSAGE) return CR_MESSAGE;
      if (k == CK_DELTA) return CR_DELTA;
      if (k == CK_USAGE) return CR_USAGE;
      return k == CK_META ? CR_META : 0;
    case CR_DELTA:
      if (k == CK_MESSAGE) return CR_MESSAGE;
      return k == CK_USAGE ? CR_USAGE : 0;
    case CR_MESSAGE:
      if (k == CK_CONTENT) return CR_CONTENT;
      return k == CK_TOOL_CALLS ? CR_CALL : 0;
    case CR_USAGE:
    case CR_META:
      if (k == CK_TOKENS) return CR_TOKENS;
      return k == CK_BILLED ? CR_BILLED : 0;
    case CR_CONTENTS: return CR_CONTENT;
    case CR_CALLS: return CR_CALL;
    case CR_CALL: return k == CK_FUNCTION ? CR_FUNCTION : 0;
    default: return 0;
  }
}

/** The role of an array opened under key k in an object of Cohere role parent (0: not read). */
export function cohereArrayRole(parent: u8, k: u8): u8 {
  if (parent != CR_MESSAGE) return 0;
  if (k == CK_CONTENT) return CR_CONTENTS;
  return k == CK_TOOL_CALLS ? CR_CALLS : 0;
}

/** Whether the value of key k in an object of Cohere role r is generated text (counted). */
export function cohereCounts(r: u8, k: u8): bool {
  if (r == CR_CONTENT) return k == CK_TEXT || k == CK_THINKING;
  if (r == CR_MESSAGE) return k == CK_TOOL_PLAN;
  return r == CR_FUNCTION && k == CK_ARGUMENTS;
}

/** The extractor's slot of a count under key k in Cohere role r; -1: none. */
export function cohereSlot(r: u8, k: u8): i32 {
  if (r == CR_TOKENS) return k == CK_INPUT ? SLOT_INPUT : k == CK_OUTPUT ? SLOT_OUTPUT : -1;
  if (r == CR_BILLED) return k == CK_INPUT ? SLOT_BILLED_INPUT : k == CK_OUTPUT ? SLOT_BILLED_OUTPUT : -1;
  return -1;
}

/** A plain JSON answer commits its counts as these close. */
export function cohereCommitsOnClose(r: u8): bool {
  return r == CR_TOKENS || r == CR_BILLED || r == CR_ROOT;
}

/** The key in the tokenizer's text, as one of the CK_ constants. */
export function cohereKey(tok: JsonTokenizer): u8 {
  switch (tok.textLen) {
    case 4:
      if (tok.textEquals("meta")) return CK_META;
      if (tok.textEquals("text")) return CK_TEXT;
      break;
    case 5:
      if (tok.textEquals("delta")) return CK_DELTA;
      if (tok.textEquals("usage")) return CK_USAGE;
      break;
    case 6: return tok.textEquals("tokens") ? CK_TOKENS : CK_OTHER;
    case 7:
      if (tok.textEquals("message")) return CK_MESSAGE;
      if (tok.textEquals("content")) return CK_CONTENT;
      break;
    case 8:
      if (tok.textEquals("thinking")) return CK_THINKING;
      if (tok.textEquals("function")) return CK_FUNCTION;
      break;
    case 9:
      if (tok.textEquals("tool_plan")) return CK_TOOL_PLAN;
      if (tok.textEquals("arguments")) return CK_ARGUMENTS;
      break;
    case 10: return tok.textEquals("tool_calls") ? CK_TOOL_CALLS : CK_OTHER;
    case 12:
      if (tok.textEquals("billed_units")) return CK_BILLED;
      if (tok.textEquals("input_tokens")) return CK_INPUT;
      break;
    case 13: return tok.textEquals("output_tokens") ? CK_OUTPUT : CK_OTHER;
  }
  return CK_OTHER;
}
