// The mock model's rules, deterministic so a walk-through can predict every balance:
//   prompt_tokens     = whitespace-separated words across all message contents (string contents;
//                       for array contents, the text parts)
//   completion_tokens = max_tokens when given, else max_completion_tokens, else 16
//   the reply         = that many words ("lorem lorem …")

export const DEFAULT_COMPLETION_TOKENS = 16;
/** A bound on the reply, so one request cannot make the mock write gigabytes. */
export const MAX_COMPLETION_TOKENS = 100_000;

export interface MockUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatRequest {
  model: string;
  stream: boolean;
  usage: MockUsage;
}

export type ParsedChat = { ok: true; request: ChatRequest } | { ok: false; message: string; param: string | null };

export function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed === "" ? 0 : trimmed.split(/\s+/).length;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Words in one message's content: a string, or an array of parts of which the text parts count. */
export function contentWords(content: unknown): number {
  if (typeof content === "string") return countWords(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part === "string") n += countWords(part);
    else if (isObject(part) && (part.type === "text" || part.type === undefined) && typeof part.text === "string") n += countWords(part.text);
  }
  return n;
}

export function promptTokens(messages: readonly unknown[]): number {
  let n = 0;
  for (const m of messages) if (isObject(m)) n += contentWords(m.content);
  return n;
}

/** The completion size the request asks for, or an error message for a bad limit. */
export function completionTokens(body: Record<string, unknown>): number | { message: string; param: string } {
  for (const param of ["max_tokens", "max_completion_tokens"]) {
    const v = body[param];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_COMPLETION_TOKENS) {
      return { message: `${param} must be an integer between 0 and ${MAX_COMPLETION_TOKENS}`, param };
    }
    return v;
  }
  return DEFAULT_COMPLETION_TOKENS;
}

export function usageOf(body: Record<string, unknown>): MockUsage | { message: string; param: string | null } {
  if (!Array.isArray(body.messages)) return { message: "messages must be an array of messages", param: "messages" };
  const completion = completionTokens(body);
  if (typeof completion !== "number") return completion;
  const prompt = promptTokens(body.messages);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Parses a /v1/chat/completions request body. */
export function parseChatRequest(text: string): ParsedChat {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, message: "the request body is not valid JSON", param: null };
  }
  if (!isObject(body)) return { ok: false, message: "the request body must be a JSON object", param: null };
  const usage = usageOf(body);
  if (!("total_tokens" in usage)) return { ok: false, ...usage };
  const model = typeof body.model === "string" && body.model !== "" ? body.model : "mock-model";
  return { ok: true, request: { model, stream: body.stream === true, usage } };
}

/** The reply's words, one per completion token. */
export function replyWords(count: number): string[] {
  return new Array<string>(count).fill("lorem");
}
