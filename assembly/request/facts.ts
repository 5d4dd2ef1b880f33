// What a metered request's body states, as the reader (reader.ts) learns it: the facts the
// estimate, the reservation and the stream act on, and which API's limit fields a reader reads.
import { TextCounts } from "../usage/text_estimate";

/** What the reader learnt about the request. */
export class RequestFacts {
  /** Top-level "stream": -1 absent, 0 false, 1 true. */
  stream: i8 = -1;
  /** The client's own stream_options.include_usage was true (the last stream_options). */
  usageAsked: bool = false;
  /** The client sent a top-level stream_options (any value). */
  hasStreamOptions: bool = false;
  /** Top-level "model" when a string. */
  model: string = "";
  /** The output limit the upstream will apply; -1 none given. */
  outputLimit: i64 = -1;
  /** A limit (or n, best_of, candidateCount) was given but cannot be read as the upstream would: fail closed. */
  outputLimitUnreadable: bool = false;
  /** Some upstream's reading of the request sets no output limit (-1 "infinite", a spelling only some read): outputLimit caps nothing. */
  outputUnbounded: bool = false;
  /** n × best_of × candidateCount (each >= 1 when given), saturating. */
  choices: i64 = 1;
  /** Responses API background mode. */
  background: bool = false;
  /** The body was one complete, valid JSON object (nesting deeper than 16384 levels is not verified: false). */
  complete: bool = false;
  /** Body bytes read. */
  bytes: i64 = 0;
  /** Why the body cannot be read as every upstream reads it (UNREADABLE_*, see verdict.ts); 0: it can. */
  unreadable: u8 = 0;
  /** A Responses request that names server-side context (previous_response_id, conversation). */
  stateful: bool = false;
  /** The body's text by class, for the input estimate (usage/text_estimate.ts). */
  text: TextCounts = new TextCounts();

  /** As new (a pooled reader's facts). */
  clear(): void {
    this.stream = -1;
    this.usageAsked = false;
    this.hasStreamOptions = false;
    this.model = "";
    this.outputLimit = -1;
    this.outputLimitUnreadable = false;
    this.outputUnbounded = false;
    this.choices = 1;
    this.background = false;
    this.complete = false;
    this.bytes = 0;
    this.unreadable = 0;
    this.stateful = false;
    this.text.clear();
  }
}

// Which API's limit fields a reader reads (limitFamilyOf).
/** OpenAI-style fields, every one counting (an operator's own paths, embeddings; the testing module). */
export const LIMITS_OPENAI: u8 = 0;
/** `/generate`: TGI or SGLang. */
export const LIMITS_GENERATE: u8 = 1;
/** llama.cpp server `/completion`, `/infill`. */
export const LIMITS_LLAMA: u8 = 2;
/** Ollama `/api/chat`, `/api/generate`. */
export const LIMITS_OLLAMA: u8 = 3;
/** Bedrock `/converse`, `/converse-stream`. */
export const LIMITS_CONVERSE: u8 = 4;
// The OpenAI-style APIs read the same fields, but each defines only some: another API's field (or
// llama.cpp's n_predict, which its OpenAI API reads first) may be ignored upstream, so it can raise
// the limit but never set it alone (K_LIMIT_SOME).
/** Chat completions: max_tokens, max_completion_tokens. */
export const LIMITS_CHAT: u8 = 5;
/** Legacy completions: max_tokens. */
export const LIMITS_COMPLETIONS: u8 = 6;
/** Responses: max_output_tokens. */
export const LIMITS_RESPONSES: u8 = 7;
/** Anthropic messages, Cohere v2 chat, Bedrock invoke (Claude's body): max_tokens. */
export const LIMITS_MAX_TOKENS: u8 = 8;
/** Gemini generateContent: generationConfig.maxOutputTokens. */
export const LIMITS_GEMINI: u8 = 9;
