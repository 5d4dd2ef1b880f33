// The mock model's token rules, the same for every API it serves, so a test or a walk-through can
// predict every balance:
//   input tokens  = whitespace-separated words in the text the request sends the model: message
//                   contents (a string, or the text parts of an array: parts typed text,
//                   input_text or output_text, or untyped parts with a string `text`), system
//                   prompts and instructions, prompts; token arrays count one per token
//   output tokens = the request's output limit when it sets one (max_tokens,
//                   max_completion_tokens, max_output_tokens, generationConfig.maxOutputTokens),
//                   else 16 (OpenAI's legacy completions default); embeddings produce none
//   the reply     = that many words, "lorem lorem …" (one token each)
// A request asking for more than MAX_OUTPUT_TOKENS is refused 400, so no request makes the mock
// write without bound.

export const DEFAULT_COMPLETION_TOKENS = 16;
export const MAX_COMPLETION_TOKENS = 100_000;

export interface MockUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A request's fault, rendered by each API in its own error format. */
export interface RequestFault {
  message: string;
  param: string | null;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}

const TEXT_PARTS = new Set([undefined, "text", "input_text", "output_text"]);

/** Words in one content: a string, or an array of parts of which the text parts count. */
export function contentWords(content: unknown): number {
  if (typeof content === "string") return countWords(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part === "string") n += countWords(part);
    else if (isObject(part) && TEXT_PARTS.has(part.type as string | undefined) && typeof part.text === "string") n += countWords(part.text);
  }
  return n;
}

/** Words across a list of messages (or Responses input items) with a `content`. */
export function promptTokens(messages: readonly unknown[]): number {
  let n = 0;
  for (const m of messages) if (isObject(m)) n += contentWords(m.content);
  return n;
}

/** A prompt or embedding input: a string, a list of strings, a token array, or a list of token arrays. */
export function promptWords(prompt: unknown): number {
  if (typeof prompt === "string") return countWords(prompt);
  if (!Array.isArray(prompt)) return 0;
  let n = 0;
  for (const item of prompt) {
    if (typeof item === "string") n += countWords(item);
    else if (typeof item === "number") n += 1;
    else if (Array.isArray(item)) n += item.filter((t) => typeof t === "number").length;
  }
  return n;
}

/** Gemini `contents` (and `systemInstruction`): the `text` of every part. */
export function geminiWords(contents: unknown): number {
  const list = Array.isArray(contents) ? contents : [contents];
  let n = 0;
  for (const c of list) {
    if (!isObject(c) || !Array.isArray(c.parts)) continue;
    for (const p of c.parts) if (isObject(p) && typeof p.text === "string") n += countWords(p.text);
  }
  return n;
}

/**
 * The output size a request asks for: the first of `params` that is set (a path like
 * "generationConfig.maxOutputTokens" reads a nested field), else `fallback`; a fault for a bad limit.
 */
export function outputLimit(body: Record<string, unknown>, params: readonly string[], fallback: number | null = DEFAULT_COMPLETION_TOKENS): number | null | RequestFault {
  for (const param of params) {
    let v: unknown = body;
    for (const key of param.split(".")) v = isObject(v) ? v[key] : undefined;
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_COMPLETION_TOKENS) {
      return { message: `${param} must be an integer between 0 and ${MAX_COMPLETION_TOKENS}`, param };
    }
    return v;
  }
  return fallback;
}

/** The completion size of a chat request: max_tokens, else max_completion_tokens, else 16. */
export function completionTokens(body: Record<string, unknown>): number | RequestFault {
  return outputLimit(body, ["max_tokens", "max_completion_tokens"]) as number | RequestFault;
}

export function usageOf(body: Record<string, unknown>): MockUsage | RequestFault {
  if (!Array.isArray(body.messages)) return { message: "messages must be an array of messages", param: "messages" };
  const completion = completionTokens(body);
  if (typeof completion !== "number") return completion;
  const prompt = promptTokens(body.messages);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The reply's words, one per output token. */
export function replyWords(count: number): string[] {
  return new Array<string>(count).fill("lorem");
}

/** The reply as text: `count` words joined by single spaces. */
export function replyText(count: number): string {
  return replyWords(count).join(" ");
}
