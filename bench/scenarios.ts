// What each benchmark request looks like: the request a client sends and what the upstream
// answers. Bodies are built once per scenario, so building them is never measured.
import { HeaderPairs } from "../host";

export const CONSUMER = "bench";
export const ADMIN = "admin";

export interface Scenario {
  name: string;
  title: string;
  /** The body in one chunk, or in several (separate body callbacks). */
  request: { headers: HeaderPairs; body?: Buffer | Buffer[] };
  /** The upstream's answer; absent when the plugin answers itself (admin). */
  response?: { headers: HeaderPairs; chunks: Buffer[] };
  /** The status the client must get (checked during warm-up). */
  expectStatus: number;
  /** The request is metered (a balance check before, a charge after). */
  metered: boolean;
}

function requestHeaders(method: string, path: string, consumer: string, extra: HeaderPairs = []): HeaderPairs {
  return [[":method", method], [":path", path], [":authority", "gateway.bench"], [":scheme", "http"], ["x-mse-consumer", consumer], ...extra];
}

const CHAT_BODY = Buffer.from(JSON.stringify({ model: "gpt-4o", stream: false, messages: [{ role: "user", content: "Say hello to the benchmark." }] }));
const CHAT_STREAM_BODY = Buffer.from(JSON.stringify({ model: "gpt-4o", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Say hello to the benchmark." }] }));
/** A stream whose client did not ask for usage (most clients): the plugin adds the option, and hides what it adds. */
const CHAT_STREAM_NO_USAGE_BODY = Buffer.from(JSON.stringify({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "Say hello to the benchmark." }] }));

function chatRequest(stream: boolean, body?: Buffer | Buffer[]): Scenario["request"] {
  return {
    headers: requestHeaders("POST", "/v1/chat/completions", CONSUMER, [["content-type", "application/json"]]),
    body: body ?? (stream ? CHAT_STREAM_BODY : CHAT_BODY),
  };
}

/**
 * A chat request body of about `bytes` bytes (ordinary messages, the model first), cut into
 * chunks of `chunkBytes` as a client's upload arrives.
 */
export function largeChatBody(bytes: number, chunkBytes: number): Buffer[] {
  const messages: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes - 100; i++) {
    const m = JSON.stringify({ role: i % 2 === 0 ? "user" : "assistant", content: `Message ${i}: an ordinary sentence of English text, with "quotes", a newline\n and an \u00e9 or two.` });
    messages.push(m);
    size += m.length + 1;
  }
  const body = Buffer.from(`{"model":"gpt-4o","stream":false,"max_tokens":1024,"messages":[${messages.join(",")}]}`);
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; at += chunkBytes) chunks.push(body.subarray(at, at + chunkBytes));
  return chunks;
}

/** A non-streaming OpenAI chat completion with its usage; `body`: another request body. */
export function chatJson(requestBody?: Buffer[], name = "chat-json", title = "chat, non-streaming"): Scenario {
  const body = JSON.stringify({
    id: "chatcmpl-bench", object: "chat.completion", created: 1700000000, model: "gpt-4o",
    choices: [{ index: 0, message: { role: "assistant", content: "Hello, benchmark! ".repeat(20).trim() }, logprobs: null, finish_reason: "stop" }],
    usage: { prompt_tokens: 14, completion_tokens: 120, total_tokens: 134 },
    system_fingerprint: "fp_bench",
  });
  return {
    name,
    title,
    request: chatRequest(false, requestBody),
    response: { headers: [[":status", "200"], ["content-type", "application/json"]], chunks: [Buffer.from(body)] },
    expectStatus: 200,
    metered: true,
  };
}

const SSE_PREFIX = 'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":"';
// With stream_options.include_usage every chunk carries "usage": null; the last one has it.
const SSE_SUFFIX = '"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n';

/**
 * An OpenAI chat completion stream of `count` body chunks, one SSE event each: content deltas,
 * then the final usage event (`choices: []`, as with stream_options.include_usage) and [DONE].
 * `contentBytes` is the length of each delta's text; the default makes ~220-byte chunks.
 */
export function chatSse(count: number, contentBytes = 8, name = `chat-sse-${count}`, title = `chat, streaming ${count} chunks`, askUsage = true): Scenario {
  const chunks: Buffer[] = [];
  const words = "lorem ipsum dolor sit amet consectetur adipiscing elit ";
  for (let i = 0; i < count - 1; i++) {
    const start = (i * 7) % words.length;
    const text = (words.repeat(Math.ceil((contentBytes + words.length) / words.length))).slice(start, start + contentBytes);
    chunks.push(Buffer.from(SSE_PREFIX + text + SSE_SUFFIX));
  }
  const usage = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1700000000, model: "gpt-4o", system_fingerprint: "fp_bench", choices: [], usage: { prompt_tokens: 14, completion_tokens: count - 1, total_tokens: 14 + count - 1 } };
  chunks.push(Buffer.from(`data: ${JSON.stringify(usage)}\n\ndata: [DONE]\n\n`));
  return {
    name,
    title,
    request: chatRequest(true, askUsage ? CHAT_STREAM_BODY : CHAT_STREAM_NO_USAGE_BODY),
    response: { headers: [[":status", "200"], ["content-type", "text/event-stream"], ["cache-control", "no-cache"]], chunks },
    expectStatus: 200,
    metered: true,
  };
}

/**
 * The same stream for a client that did not ask for usage: the plugin adds stream_options to the
 * request (rewriting its body) and takes out of the answer what that added (each chunk's
 * `"usage":null`, the usage event). The upstream answers as OpenAI does with include_usage.
 */
export function chatSseInject(count: number): Scenario {
  return chatSse(count, 8, `chat-sse-${count}-inject`, `chat, streaming ${count} chunks, usage not asked (added, then hidden)`, false);
}

export function requestBytes(s: Scenario): number {
  const b = s.request.body;
  if (b === undefined) return 0;
  return Array.isArray(b) ? b.reduce((n, c) => n + c.length, 0) : b.length;
}

/** The admin query, answered by the plugin from Redis. */
export function adminQuery(): Scenario {
  return {
    name: "admin-query",
    title: "admin query",
    request: { headers: requestHeaders("GET", `/v1/chat/completions/quota?consumer=${CONSUMER}`, ADMIN) },
    expectStatus: 200,
    metered: false,
  };
}

/** A path the plugin does not meter: it must pass untouched. */
export function passThrough(): Scenario {
  const body = JSON.stringify({ object: "list", data: [{ id: "gpt-4o", object: "model", created: 1700000000, owned_by: "bench" }] });
  return {
    name: "pass-through",
    title: "pass-through path",
    request: { headers: requestHeaders("GET", "/v1/models", CONSUMER) },
    response: { headers: [[":status", "200"], ["content-type", "application/json"]], chunks: [Buffer.from(body)] },
    expectStatus: 200,
    metered: false,
  };
}

export function bodyBytes(s: Scenario): number {
  return s.response?.chunks.reduce((n, c) => n + c.length, 0) ?? 0;
}
