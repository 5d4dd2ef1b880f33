// Cohere's v2 API in the mock (POST /v2/chat, /v2/embed), shaped as cohere-ai 8.1.0's types
// (generated from Cohere's API definition) read it:
//   chat JSON   V2ChatResponse {id, finish_reason, message {role, content [{type: "text", text}]},
//               usage {billed_units {input_tokens, output_tokens}, tokens {input_tokens, output_tokens}}}
//   chat SSE    (`"stream": true`) typed events, each an `event: <type>` line and its `data:` JSON
//               carrying the same `type`: message-start, content-start, content-delta (one per
//               word, delta.message.content.text), content-end, message-end (delta.finish_reason
//               and delta.usage: the only place a stream reports usage), then `data: [DONE]`
//               (the SDK's stream terminator). Cohere has no option to ask for usage: it always
//               sends it, once, at the end.
//   embed       EmbedByTypeResponse {id, embeddings {float: [[…]]}, texts, meta {api_version,
//               billed_units {input_tokens}}} (no output side)
// Tokens (mock-usage.ts): billed input = the words of the messages (or texts); `tokens` counts
// what the model processed, Cohere's prompt template included: the billed input + TEMPLATE_TOKENS.
// Output = `max_tokens`, else 16, both sides alike; the answer stops with MAX_TOKENS. Errors are
// Cohere's `{"id", "message"}`. Directives (mock-wire.ts): +no-usage drops `usage`/`meta`'s
// counts; +cut=N cuts a stream after N events.
import type { Exchange } from "./mock-upstream";
import { countWords, outputLimit, promptTokens, replyText, replyWords } from "./mock-usage";
import { sse } from "./mock-wire";

/** What `usage.tokens.input_tokens` adds to the billed input: the chat template's tokens. */
export const TEMPLATE_TOKENS = 7;

function cohereError(x: Exchange, status: number, message: string): void {
  x.reply.json(status, { id: x.id("err-"), message });
}

function usage(billedInput: number, output: number): Record<string, unknown> {
  return {
    billed_units: { input_tokens: billedInput, output_tokens: output },
    tokens: { input_tokens: billedInput + TEMPLATE_TOKENS, output_tokens: output },
  };
}

/** POST /v2/chat */
export async function cohereChat(x: Exchange): Promise<void> {
  if (typeof x.body.model !== "string" || x.body.model === "") return cohereError(x, 400, "invalid request: model must be specified");
  if (!Array.isArray(x.body.messages)) return cohereError(x, 400, "invalid request: messages is required");
  const limit = outputLimit(x.body, ["max_tokens"]);
  if (typeof limit !== "number") return cohereError(x, 400, `invalid request: ${limit === null ? "max_tokens required" : limit.message}`);
  const input = promptTokens(x.body.messages);
  const id = x.id("cohere-msg-");
  const omit = x.reply.directives.omitUsage;
  if (x.body.stream !== true) {
    const answer: Record<string, unknown> = { id, finish_reason: "MAX_TOKENS", message: { role: "assistant", content: [{ type: "text", text: replyText(limit) }] } };
    if (!omit) answer.usage = usage(input, limit);
    return x.reply.json(200, answer);
  }
  const event = (type: string, rest: Record<string, unknown>) => sse({ type, ...rest }, type);
  const events = [
    event("message-start", { id, delta: { message: { role: "assistant", content: [], tool_plan: "", tool_calls: [], citations: [] } } }),
    event("content-start", { index: 0, delta: { message: { content: { type: "text", text: "" } } } }),
    ...replyWords(limit).map((w, i) => event("content-delta", { index: 0, delta: { message: { content: { text: i === 0 ? w : " " + w } } } })),
    event("content-end", { index: 0 }),
    event("message-end", { delta: omit ? { finish_reason: "MAX_TOKENS" } : { finish_reason: "MAX_TOKENS", usage: usage(input, limit) } }),
    sse("[DONE]"),
  ];
  await x.reply.stream("text/event-stream", events, x.eventDelayMs);
}

/** POST /v2/embed: one float vector per text; the billed input is their words. */
export function cohereEmbed(x: Exchange): void {
  if (typeof x.body.model !== "string" || x.body.model === "") return cohereError(x, 400, "invalid request: model must be specified");
  const texts = x.body.texts;
  if (!Array.isArray(texts) || !texts.every((t) => typeof t === "string")) return cohereError(x, 400, "invalid request: texts must be a list of strings");
  const words = (texts as string[]).reduce((n, t) => n + countWords(t), 0);
  const meta: Record<string, unknown> = { api_version: { version: "2" } };
  if (!x.reply.directives.omitUsage) meta.billed_units = { input_tokens: words };
  const types = Array.isArray(x.body.embedding_types) && x.body.embedding_types.length > 0 ? x.body.embedding_types.filter((t) => typeof t === "string") : ["float"];
  const embeddings: Record<string, unknown> = {};
  for (const t of types as string[]) embeddings[t] = texts.map(() => (t === "float" ? [0.01, -0.02, 0.03] : [1, -2, 3]));
  x.reply.json(200, { id: x.id("cohere-embed-"), embeddings, texts, meta, response_type: "embeddings_by_type" });
}
