// Anthropic's Messages API in the mock (POST /v1/messages), shaped as Anthropic's API reference
// (docs.anthropic.com "Messages" and "Streaming Messages") and the official `@anthropic-ai/sdk`
// types describe it. `max_tokens` is required (400 without it); the output is that many tokens, so
// every answer stops with `stop_reason: "max_tokens"`. Input tokens: words of `system` and of the
// messages (mock-usage.ts).
// Stream: `message_start` (the message with empty content and the INPUT usage, output_tokens 1 as
// the real API reports it there), `content_block_start`, a `ping`, one `content_block_delta` per word,
// `content_block_stop`, `message_delta` with the stop reason and the cumulative OUTPUT usage, and
// `message_stop`; every event is `event:`-named. No [DONE].
import type { Exchange } from "./mock-upstream";
import { contentWords, outputLimit, promptTokens, replyText, replyWords } from "./mock-usage";
import { sse } from "./mock-wire";

export function anthropicError(type: string, message: string): unknown {
  return { type: "error", error: { type, message } };
}

/** POST /v1/messages */
export async function messages(x: Exchange): Promise<void> {
  const body = x.body;
  if (body.max_tokens === undefined || body.max_tokens === null) return x.reply.json(400, anthropicError("invalid_request_error", "max_tokens: Field required"));
  if (!Array.isArray(body.messages)) return x.reply.json(400, anthropicError("invalid_request_error", "messages: Field required"));
  const limit = outputLimit(body, ["max_tokens"]);
  if (typeof limit !== "number") return x.reply.json(400, anthropicError("invalid_request_error", limit === null ? "max_tokens: Field required" : limit.message));
  const input = contentWords(body.system) + promptTokens(body.messages);
  const id = x.id("msg_mock_");
  const omit = x.reply.directives.omitUsage;
  const usage = (output: number) => ({ input_tokens: input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output });
  const message = (content: unknown[], stop: string | null, output: number) => ({
    id, type: "message", role: "assistant", model: x.model, content, stop_reason: stop, stop_sequence: null, ...(omit ? {} : { usage: usage(output) }),
  });
  if (body.stream !== true) return x.reply.json(200, message([{ type: "text", text: replyText(limit) }], "max_tokens", limit));
  const events = [
    sse({ type: "message_start", message: message([], null, 1) }, "message_start"),
    sse({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }, "content_block_start"),
    sse({ type: "ping" }, "ping"),
  ];
  replyWords(limit).forEach((w, i) =>
    events.push(sse({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: i === 0 ? w : " " + w } }, "content_block_delta")),
  );
  events.push(sse({ type: "content_block_stop", index: 0 }, "content_block_stop"));
  events.push(sse({ type: "message_delta", delta: { stop_reason: "max_tokens", stop_sequence: null }, ...(omit ? {} : { usage: { output_tokens: limit } }) }, "message_delta"));
  events.push(sse({ type: "message_stop" }, "message_stop"));
  await x.reply.stream("text/event-stream", events, x.eventDelayMs);
}
