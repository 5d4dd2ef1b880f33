// AWS Bedrock runtime in the mock, shaped as the Bedrock API reference and the official
// `@aws-sdk/client-bedrock-runtime` read it:
//   POST /model/{modelId}/converse                     ConverseResponse: output.message.content[].text,
//                                                       stopReason, usage {inputTokens, outputTokens,
//                                                       totalTokens}, metrics {latencyMs}
//   POST /model/{modelId}/converse-stream              event-stream: messageStart, contentBlockDelta
//                                                       (one per word), contentBlockStop, messageStop,
//                                                       metadata {usage, metrics}
//   POST /model/{modelId}/invoke                       the model's own JSON: Anthropic's Messages
//                                                       answer for `anthropic.*`, Llama's
//                                                       {generation, prompt_token_count,
//                                                       generation_token_count} for `meta.*`; the
//                                                       x-amzn-bedrock-{input,output}-token-count headers
//   POST /model/{modelId}/invoke-with-response-stream  event-stream of `chunk` events, {"bytes": base64
//                                                       of the model's own stream event}; Bedrock's
//                                                       amazon-bedrock-invocationMetrics in the last one
// Event-stream messages are framed with both CRCs (eventstream.ts) and carry the `p` padding
// member Bedrock adds to payloads. Errors are Bedrock's: a status, `x-amzn-errortype`, and
// {"message": …}. Tokens (mock-usage.ts): input = words of the text parts of the messages and the
// system prompt; output = `inferenceConfig.maxTokens` (Converse), `max_tokens` (Claude) or
// `max_gen_len` (Llama), else 16. Directives: +no-usage drops usage, the metadata event and the
// invocation metrics; +cut=N cuts a stream after N messages.
import type { Exchange } from "./mock-upstream";
import { eventMessage, invokeChunk } from "./eventstream";
import { contentWords, countWords, isObject, outputLimit, promptTokens, replyText, replyWords } from "./mock-usage";

const EVENT_STREAM = "application/vnd.amazon.eventstream";

/** Bedrock's operations under /model/{modelId}/ (the id percent-encoded by the SDK). */
export const BEDROCK_PATH = /^\/model\/(.+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/i;

function bedrockError(x: Exchange, status: number, type: string, message: string): void {
  x.reply.json(status, { message }, { "x-amzn-errortype": type });
}

/** Words of Converse messages (content blocks with `text`) and the system blocks. */
function converseInput(body: Record<string, unknown>): number {
  let n = 0;
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (isObject(m) && Array.isArray(m.content)) for (const b of m.content) if (isObject(b) && typeof b.text === "string") n += countWords(b.text);
  }
  for (const s of Array.isArray(body.system) ? body.system : []) if (isObject(s) && typeof s.text === "string") n += countWords(s.text);
  return n;
}

/** Padding as Bedrock adds it to event payloads (a `p` member of letters). */
const pad = (n: number) => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0".slice(0, 1 + (n % 50));

/** Handles a Bedrock path (already matched by BEDROCK_PATH); the body is parsed JSON. */
export async function bedrock(x: Exchange, operation: string): Promise<void> {
  const op = operation.toLowerCase();
  const omit = x.reply.directives.omitUsage;
  if (op === "converse" || op === "converse-stream") {
    if (!Array.isArray(x.body.messages)) return bedrockError(x, 400, "ValidationException", "The model returned the following errors: messages: Field required");
    const limit = outputLimit(x.body, ["inferenceConfig.maxTokens"]);
    if (typeof limit !== "number") return bedrockError(x, 400, "ValidationException", limit === null ? "maxTokens required" : limit.message);
    const input = converseInput(x.body);
    const usage = { inputTokens: input, outputTokens: limit, totalTokens: input + limit };
    if (op === "converse") {
      return x.reply.json(200, {
        output: { message: { role: "assistant", content: [{ text: replyText(limit) }] } },
        stopReason: "max_tokens", ...(omit ? {} : { usage }), metrics: { latencyMs: 10 },
      });
    }
    const events: Buffer[] = [eventMessage("messageStart", { p: pad(0), role: "assistant" })];
    replyWords(limit).forEach((w, i) => events.push(eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: i === 0 ? w : " " + w }, p: pad(i + 1) })));
    events.push(eventMessage("contentBlockStop", { contentBlockIndex: 0, p: pad(limit + 1) }));
    events.push(eventMessage("messageStop", { p: pad(limit + 2), stopReason: "max_tokens" }));
    if (!omit) events.push(eventMessage("metadata", { metrics: { latencyMs: 10 }, p: pad(limit + 3), usage }));
    return x.reply.stream(EVENT_STREAM, events, x.eventDelayMs);
  }
  const model = x.model.toLowerCase();
  const claude = model.startsWith("anthropic.") || /^(us|eu|apac|global)\.anthropic\./.test(model);
  const llama = model.startsWith("meta.") || /^(us|eu|apac|global)\.meta\./.test(model);
  if (!claude && !llama) return bedrockError(x, 400, "ValidationException", `The mock serves InvokeModel for anthropic.* and meta.* models, not ${x.model}`);
  const limit = outputLimit(x.body, [claude ? "max_tokens" : "max_gen_len"], claude ? null : 16);
  if (typeof limit !== "number") return bedrockError(x, 400, "ValidationException", limit === null ? "max_tokens: Field required" : limit.message);
  const input = claude ? contentWords(x.body.system) + promptTokens(Array.isArray(x.body.messages) ? x.body.messages : []) : countWords(typeof x.body.prompt === "string" ? x.body.prompt : "");
  const metrics = { inputTokenCount: input, outputTokenCount: limit, invocationLatency: 10, firstByteLatency: 5 };
  if (op === "invoke") {
    const counts: Record<string, string> = omit ? {} : { "x-amzn-bedrock-input-token-count": String(input), "x-amzn-bedrock-output-token-count": String(limit) };
    if (llama) return x.reply.json(200, { generation: replyText(limit), ...(omit ? {} : { prompt_token_count: input, generation_token_count: limit }), stop_reason: "length" }, counts);
    return x.reply.json(200, {
      id: x.id("msg_bdrk_"), type: "message", role: "assistant", model: "claude-mock", content: [{ type: "text", text: replyText(limit) }],
      stop_reason: "max_tokens", stop_sequence: null, ...(omit ? {} : { usage: { input_tokens: input, output_tokens: limit } }),
    }, counts);
  }
  const chunks: unknown[] = [];
  const last = omit ? {} : { "amazon-bedrock-invocationMetrics": metrics };
  if (llama) {
    replyWords(limit).forEach((w, i) => chunks.push({ generation: i === 0 ? w : " " + w, prompt_token_count: omit || i > 0 ? null : input, generation_token_count: omit ? null : i + 1, stop_reason: i === limit - 1 ? "length" : null }));
    if (chunks.length === 0) chunks.push({ generation: "", prompt_token_count: null, generation_token_count: null, stop_reason: "length" });
    Object.assign(chunks[chunks.length - 1] as object, last);
  } else {
    const usage = (output: number) => (omit ? {} : { usage: { input_tokens: input, output_tokens: output } });
    chunks.push({ type: "message_start", message: { id: x.id("msg_bdrk_"), type: "message", role: "assistant", model: "claude-mock", content: [], stop_reason: null, stop_sequence: null, ...usage(1) } });
    chunks.push({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    replyWords(limit).forEach((w, i) => chunks.push({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: i === 0 ? w : " " + w } }));
    chunks.push({ type: "content_block_stop", index: 0 });
    chunks.push({ type: "message_delta", delta: { stop_reason: "max_tokens", stop_sequence: null }, ...(omit ? {} : { usage: { output_tokens: limit } }) });
    chunks.push({ type: "message_stop", ...last });
  }
  return x.reply.stream(EVENT_STREAM, chunks.map(invokeChunk), x.eventDelayMs);
}
