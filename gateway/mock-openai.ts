// The OpenAI APIs of the mock: chat completions, legacy completions, embeddings and the Responses
// API, shaped as OpenAI's API reference (platform.openai.com/docs/api-reference) and the official
// `openai` client's types describe them. Token counts follow mock-usage.ts.
//
// Streams (chat and completions): `data:` events, then `data: [DONE]`. Usage travels in a stream
// ONLY when the request sets `stream_options.include_usage: true`: then every chunk carries
// `"usage": null` and one more chunk, with `"choices": []` and the usage, comes before [DONE]
// (ChatCompletionStreamOptions in the API reference: "All other chunks will also include a usage
// field, but with a null value"). `stream_options` without `stream: true` is refused 400 with
// OpenAI's message (quoted in BerriAI/litellm issue 5803).
// Responses: `event:`-named SSE with a `sequence_number`, `response.created` … `response.completed`
// (or `response.incomplete` when max_output_tokens stopped the output) carrying the usage, and no
// [DONE] (the Responses API has no sentinel: ai-dynamo/frontend-crates issue 206).
// `background: true` without `stream` answers at once with `status: "queued"`, no output and
// `usage: null`; the finished response (with usage) is then what GET /v1/responses/{id} returns.
import type { Exchange } from "./mock-upstream";
import { MockUsage, RequestFault, contentWords, countWords, isObject, outputLimit, promptTokens, promptWords, replyText, replyWords } from "./mock-usage";
import { sse } from "./mock-wire";

export function openAiError(message: string, type = "invalid_request_error", param: string | null = null, code: string | null = null): unknown {
  return { error: { message, type, param, code } };
}

function fault(x: Exchange, f: RequestFault): void {
  x.reply.json(400, openAiError(f.message, "invalid_request_error", f.param));
}

function usage(prompt: number, completion: number): MockUsage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** What chat and completions share: the output size, the stream flags, the refusal of stray stream_options. */
function generation(x: Exchange): { limit: number; limited: boolean; stream: boolean; includeUsage: boolean } | RequestFault {
  const body = x.body;
  const stream = body.stream === true;
  if (body.stream_options !== undefined && body.stream_options !== null && !stream) {
    return { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: "stream_options" };
  }
  const asked = outputLimit(body, ["max_tokens", "max_completion_tokens"], null);
  if (asked !== null && typeof asked !== "number") return asked;
  const options = body.stream_options;
  const includeUsage = stream && isObject(options) && options.include_usage === true && !x.reply.directives.omitUsage;
  return { limit: asked ?? 16, limited: asked !== null, stream, includeUsage };
}

/** POST /v1/chat/completions */
export async function chatCompletions(x: Exchange): Promise<void> {
  if (!Array.isArray(x.body.messages)) return fault(x, { message: "messages must be an array of messages", param: "messages" });
  const g = generation(x);
  if (!("limit" in g)) return fault(x, g);
  const id = x.id("chatcmpl-mock-");
  const created = x.created;
  const u = usage(promptTokens(x.body.messages), g.limit);
  const finish = g.limited ? "length" : "stop";
  if (!g.stream) {
    return x.reply.json(200, {
      id, object: "chat.completion", created, model: x.model,
      choices: [{ index: 0, message: { role: "assistant", content: replyText(g.limit), refusal: null }, logprobs: null, finish_reason: finish }],
      ...(x.reply.directives.omitUsage ? {} : { usage: u }),
    });
  }
  const chunk = (choices: unknown[]) => sse({ id, object: "chat.completion.chunk", created, model: x.model, choices, ...(g.includeUsage ? { usage: null } : {}) });
  const events = [chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }])];
  replyWords(g.limit).forEach((w, i) => events.push(chunk([{ index: 0, delta: { content: i === 0 ? w : " " + w }, logprobs: null, finish_reason: null }])));
  events.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]));
  if (g.includeUsage) events.push(sse({ id, object: "chat.completion.chunk", created, model: x.model, choices: [], usage: u }));
  events.push(sse("[DONE]"));
  await x.reply.stream("text/event-stream", events, x.eventDelayMs);
}

/** POST /v1/completions (legacy): `prompt` in, `text` choices out. */
export async function completions(x: Exchange): Promise<void> {
  const prompt = x.body.prompt;
  if (prompt === undefined || prompt === null) return fault(x, { message: "you must provide a prompt", param: "prompt" });
  const g = generation(x);
  if (!("limit" in g)) return fault(x, g);
  const id = x.id("cmpl-mock-");
  const created = x.created;
  const u = usage(promptWords(prompt), g.limit);
  const finish = g.limited ? "length" : "stop";
  if (!g.stream) {
    return x.reply.json(200, {
      id, object: "text_completion", created, model: x.model,
      choices: [{ text: replyText(g.limit), index: 0, logprobs: null, finish_reason: finish }],
      ...(x.reply.directives.omitUsage ? {} : { usage: u }),
    });
  }
  const chunk = (text: string, finishReason: string | null) =>
    sse({ id, object: "text_completion", created, model: x.model, choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }], ...(g.includeUsage ? { usage: null } : {}) });
  const events = replyWords(g.limit).map((w, i) => chunk(i === 0 ? w : " " + w, null));
  events.push(chunk("", finish));
  if (g.includeUsage) events.push(sse({ id, object: "text_completion", created, model: x.model, choices: [], usage: u }));
  events.push(sse("[DONE]"));
  await x.reply.stream("text/event-stream", events, x.eventDelayMs);
}

/** A deterministic vector for the `index`-th input. */
function vector(index: number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, k) => (((index + 1) * (k + 3)) % 11) / 11);
}

/** POST /v1/embeddings: one embedding per input item; `encoding_format: base64` packs float32 little-endian (the official client asks for it by default). */
export function embeddings(x: Exchange): void {
  const input = x.body.input;
  if (input === undefined || input === null || (Array.isArray(input) && input.length === 0)) return fault(x, { message: "'input' is a required property", param: "input" });
  const format = x.body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") return fault(x, { message: "encoding_format must be 'float' or 'base64'", param: "encoding_format" });
  const dims = outputLimit(x.body, ["dimensions"], 8);
  if (typeof dims !== "number" || dims === 0) return fault(x, { message: "dimensions must be a positive integer", param: "dimensions" });
  const items = Array.isArray(input) && input.some((i) => typeof i !== "number") ? input : [input];
  const data = items.map((_, index) => {
    const v = vector(index, dims);
    const embedding = format === "float" ? v : Buffer.from(new Float32Array(v).buffer).toString("base64");
    return { object: "embedding", index, embedding };
  });
  const prompt = promptWords(input);
  x.reply.json(200, { object: "list", data, model: x.model, ...(x.reply.directives.omitUsage ? {} : { usage: { prompt_tokens: prompt, total_tokens: prompt } }) });
}

// ---- the Responses API ----

/** Words of a Responses `input`: a string, or items (messages) with a `content`. */
function responsesInput(input: unknown): number {
  if (typeof input === "string") return countWords(input);
  return Array.isArray(input) ? promptTokens(input) : 0;
}

interface ResponseShape {
  id: string;
  created: number;
  model: string;
  body: Record<string, unknown>;
  background: boolean;
}

function responseObject(r: ResponseShape, status: string, output: unknown[], u: unknown): Record<string, unknown> {
  return {
    id: r.id, object: "response", created_at: r.created, status, background: r.background, error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: r.body.instructions ?? null, max_output_tokens: r.body.max_output_tokens ?? null, model: r.model, output,
    parallel_tool_calls: true, previous_response_id: r.body.previous_response_id ?? null, reasoning: { effort: null, summary: null },
    service_tier: "default", store: r.body.store !== false, temperature: 1, text: { format: { type: "text" } }, tool_choice: "auto", tools: [],
    top_p: 1, truncation: "disabled", usage: u, user: null, metadata: r.body.metadata ?? {},
  };
}

function responseUsage(input: number, output: number): unknown {
  return { input_tokens: input, input_tokens_details: { cached_tokens: 0 }, output_tokens: output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: input + output };
}

/** POST /v1/responses */
export async function responses(x: Exchange): Promise<void> {
  const body = x.body;
  if (body.input === undefined || body.input === null) return fault(x, { message: "Missing required parameter: 'input'.", param: "input" });
  const asked = outputLimit(body, ["max_output_tokens"], null);
  if (asked !== null && typeof asked !== "number") return fault(x, asked);
  const limit = asked ?? 16;
  const r: ResponseShape = { id: x.id("resp_mock_"), created: x.created, model: x.model, body, background: body.background === true };
  const msgId = `msg_${r.id}`;
  const input = responsesInput(body.input) + (typeof body.instructions === "string" ? countWords(body.instructions) : contentWords(body.instructions));
  const final = asked !== null ? "incomplete" : "completed";
  const text = replyText(limit);
  const part = { type: "output_text", annotations: [], logprobs: [], text };
  const message = { id: msgId, type: "message", status: final, role: "assistant", content: [part] };
  const u = x.reply.directives.omitUsage ? null : responseUsage(input, limit);
  const done = responseObject(r, final, [message], u);
  x.state.rememberResponse(r.id, done);
  if (body.stream !== true) {
    if (r.background) return x.reply.json(200, responseObject(r, "queued", [], null));
    return x.reply.json(200, done);
  }
  let seq = 0;
  const ev = (type: string, fields: Record<string, unknown>) => sse({ type, sequence_number: seq++, ...fields }, type);
  const at = { item_id: msgId, output_index: 0, content_index: 0 };
  const events = [
    ev("response.created", { response: responseObject(r, r.background ? "queued" : "in_progress", [], null) }),
    ev("response.in_progress", { response: responseObject(r, "in_progress", [], null) }),
    ev("response.output_item.added", { output_index: 0, item: { id: msgId, type: "message", status: "in_progress", role: "assistant", content: [] } }),
    ev("response.content_part.added", { ...at, part: { type: "output_text", annotations: [], logprobs: [], text: "" } }),
  ];
  replyWords(limit).forEach((w, i) => events.push(ev("response.output_text.delta", { ...at, delta: i === 0 ? w : " " + w, logprobs: [] })));
  events.push(ev("response.output_text.done", { ...at, text, logprobs: [] }));
  events.push(ev("response.content_part.done", { ...at, part }));
  events.push(ev("response.output_item.done", { output_index: 0, item: message }));
  events.push(ev(`response.${final}`, { response: done }));
  await x.reply.stream("text/event-stream", events, x.eventDelayMs);
}

/** GET /v1/responses/{id}: a response the mock made (background ones come back finished, with usage). */
export function retrieveResponse(x: Exchange, id: string): void {
  const found = x.state.response(id);
  if (found === undefined) return x.reply.json(404, openAiError(`Response with id '${id}' not found.`, "invalid_request_error", null, null));
  x.reply.json(200, found);
}
