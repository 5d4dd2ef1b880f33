// Response bodies of each LLM API, shaped after the providers' public API references (OpenAI Chat
// Completions, Completions, Embeddings and Responses; Anthropic Messages; Google Gemini
// generateContent / streamGenerateContent), with the usage the scanner must read from them.

import { selfHostedCorpus } from "./self_hosted_corpus";

export interface UsageCase {
  name: string;
  /** Whether the response's content type says SSE. */
  sse: boolean;
  body: string;
  input: number;
  output: number;
  model: string;
  found?: boolean; // default true
}

/** SSE events joined with the given line ending; each event is [lines...]. */
export function sse(events: string[][], eol = "\n"): string {
  return events.map((lines) => lines.join(eol) + eol + eol).join("");
}

const data = (o: unknown) => "data: " + JSON.stringify(o);

// ---- OpenAI Chat Completions ----

export const openaiChat = JSON.stringify(
  {
    id: "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    object: "chat.completion",
    created: 1741569952,
    model: "gpt-4.1-2025-04-14",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: "Hello! How can I assist you today? \u4f60\u597d \ud83d\ude00 \"quoted\" \\ back", refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop",
      },
    ],
    usage: {
      prompt_tokens: 19,
      completion_tokens: 10,
      total_tokens: 29,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: "default",
  },
  null,
  2,
);

const chunk = (delta: object, finish: string | null, usage: object | null = null, choices = true) => ({
  id: "chatcmpl-123",
  object: "chat.completion.chunk",
  created: 1694268190,
  model: "gpt-4o-mini-2024-07-18",
  system_fingerprint: "fp_44709d6fcb",
  choices: choices ? [{ index: 0, delta, logprobs: null, finish_reason: finish }] : [],
  usage,
});

const openaiChatStreamEvents: string[][] = [
  [data(chunk({ role: "assistant", content: "", refusal: null }, null))],
  [data(chunk({ content: "Hello" }, null))],
  [data(chunk({ content: "! How can I help?\n\n" }, null))],
  [data(chunk({}, "stop"))],
  [
    data(
      chunk({}, null, { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } }, false),
    ),
  ],
  ["data: [DONE]"],
];
export const openaiChatStream = sse(openaiChatStreamEvents);
export const openaiChatStreamCrlf = sse(openaiChatStreamEvents, "\r\n");
export const openaiChatStreamCr = sse(openaiChatStreamEvents, "\r");

// ---- OpenAI Completions (legacy) and Embeddings ----

export const openaiCompletion = JSON.stringify({
  id: "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
  object: "text_completion",
  created: 1589478378,
  model: "gpt-3.5-turbo-instruct",
  system_fingerprint: "fp_44709d6fcb",
  choices: [{ text: "\n\nThis is indeed a test", index: 0, logprobs: null, finish_reason: "length" }],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
});

export const openaiCompletionStream = sse([
  [data({ id: "cmpl-1", object: "text_completion", created: 1, model: "gpt-3.5-turbo-instruct", choices: [{ text: "This", index: 0, logprobs: null, finish_reason: null }], usage: null })],
  [data({ id: "cmpl-1", object: "text_completion", created: 1, model: "gpt-3.5-turbo-instruct", choices: [{ text: " is", index: 0, logprobs: null, finish_reason: "length" }], usage: null })],
  [data({ id: "cmpl-1", object: "text_completion", created: 1, model: "gpt-3.5-turbo-instruct", choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } })],
  ["data: [DONE]"],
]);

export const openaiEmbeddings = JSON.stringify({
  object: "list",
  data: [{ object: "embedding", embedding: [0.0023064255, -0.009327292, -0.0028842222, 1e-7, -3.5e-12], index: 0 }],
  model: "text-embedding-3-small",
  usage: { prompt_tokens: 8, total_tokens: 8 },
});

// ---- OpenAI Responses API ----

const responseObject = (status: string, usage: object | null, output: object[]) => ({
  id: "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
  object: "response",
  created_at: 1741476542,
  status,
  error: null,
  incomplete_details: null,
  instructions: "You are a helpful assistant.",
  max_output_tokens: null,
  model: "gpt-4.1-2025-04-14",
  output,
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: null, summary: null },
  store: true,
  temperature: 1.0,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: [],
  top_p: 1.0,
  truncation: "disabled",
  usage,
  user: null,
  metadata: {},
});

const message = {
  type: "message",
  id: "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
  status: "completed",
  role: "assistant",
  content: [{ type: "output_text", text: "In a peaceful grove beneath a silver moon, a unicorn named Lumina discovered a hidden pool.", annotations: [] }],
};

const responsesUsage = { input_tokens: 36, input_tokens_details: { cached_tokens: 0 }, output_tokens: 87, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 123 };

export const openaiResponses = JSON.stringify(responseObject("completed", responsesUsage, [message]));

export const openaiResponsesStream = sse([
  ["event: response.created", data({ type: "response.created", sequence_number: 0, response: responseObject("in_progress", null, []) })],
  ["event: response.in_progress", data({ type: "response.in_progress", sequence_number: 1, response: responseObject("in_progress", null, []) })],
  [
    "event: response.output_item.added",
    data({ type: "response.output_item.added", sequence_number: 2, output_index: 0, item: { id: "msg_1", status: "in_progress", type: "message", role: "assistant", content: [] } }),
  ],
  ["event: response.output_text.delta", data({ type: "response.output_text.delta", sequence_number: 4, item_id: "msg_1", output_index: 0, content_index: 0, delta: "In a peaceful grove" })],
  [
    "event: response.completed",
    data({
      type: "response.completed",
      sequence_number: 9,
      response: responseObject("completed", { input_tokens: 37, input_tokens_details: { cached_tokens: 0 }, output_tokens: 11, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 48 }, [message]),
    }),
  ],
]);

// ---- Anthropic Messages ----

export const anthropicMessage = JSON.stringify({
  id: "msg_013Zva2CMHLNnXjNJJKqJ2EF",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-20250514",
  content: [{ type: "text", text: "Hi! My name is Claude." }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 2095, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 503, service_tier: "standard" },
});

export const anthropicMessageCached = JSON.stringify({
  id: "msg_01",
  type: "message",
  role: "assistant",
  model: "claude-3-5-haiku-20241022",
  content: [{ type: "text", text: "Cached answer" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 12, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 0 }, output_tokens: 6 },
});

// The stream as the Messages streaming guide shows it (note the spaces the docs put after ':' and ',').
export const anthropicStream = [
  "event: message_start",
  'data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-1-20250805", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}',
  "",
  "event: content_block_start",
  'data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}',
  "",
  "event: ping",
  'data: {"type": "ping"}',
  "",
  "event: content_block_delta",
  'data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}',
  "",
  "event: content_block_delta",
  'data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}',
  "",
  "event: content_block_stop",
  'data: {"type": "content_block_stop", "index": 0}',
  "",
  "event: message_delta",
  'data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}',
  "",
  "event: message_stop",
  'data: {"type": "message_stop"}',
  "",
  "",
].join("\n");

export const anthropicStreamCached = sse([
  [
    "event: message_start",
    data({
      type: "message_start",
      message: {
        id: "msg_2",
        type: "message",
        role: "assistant",
        content: [],
        model: "claude-sonnet-4-5",
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 10, cache_creation_input_tokens: 1500, cache_read_input_tokens: 300, output_tokens: 1 },
      },
    }),
  ],
  ["event: content_block_start", data({ type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "" } })],
  ["event: content_block_delta", data({ type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Let me think about usage: {\"usage\":1}" } })],
  ["event: content_block_stop", data({ type: "content_block_stop", index: 0 })],
  ["event: message_delta", data({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 312 } })],
  ["event: message_stop", data({ type: "message_stop" })],
]);

// ---- Google Gemini ----

export const geminiResponse = JSON.stringify(
  {
    candidates: [{ content: { parts: [{ text: "AI learns patterns from data." }], role: "model" }, finishReason: "STOP", avgLogprobs: -0.1 }],
    usageMetadata: {
      promptTokenCount: 8,
      candidatesTokenCount: 54,
      totalTokenCount: 1200,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: 8 }],
      thoughtsTokenCount: 1138,
    },
    modelVersion: "gemini-2.5-flash",
    responseId: "mW5kaK3yBsSgz7IP2OTOqAQ",
  },
  null,
  2,
);

const geminiChunk = (text: string, usage: object, finish?: string) => ({
  candidates: [{ content: { parts: [{ text }], role: "model" }, ...(finish ? { finishReason: finish } : {}), index: 0 }],
  usageMetadata: usage,
  modelVersion: "gemini-2.0-flash",
  responseId: "Bx5kaOTKDKPwz7IP9dXN6Ac",
});

// Gemini's alt=sse stream separates events with CRLF CRLF.
export const geminiStream = sse(
  [
    [data(geminiChunk("The", { promptTokenCount: 10, totalTokenCount: 10, promptTokensDetails: [{ modality: "TEXT", tokenCount: 10 }] }))],
    [data(geminiChunk(" quick brown", { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 }))],
    [
      data(
        geminiChunk(" fox.", { promptTokenCount: 10, candidatesTokenCount: 12, totalTokenCount: 22, candidatesTokensDetails: [{ modality: "TEXT", tokenCount: 12 }] }, "STOP"),
      ),
    ],
  ],
  "\r\n",
);

// streamGenerateContent without alt=sse: one JSON array, elements arriving over time.
export const geminiArrayStream =
  "[" +
  [
    JSON.stringify(geminiChunk("Once", { promptTokenCount: 11, totalTokenCount: 11 }), null, 2),
    JSON.stringify(geminiChunk(" upon a time", { promptTokenCount: 11, candidatesTokenCount: 20, thoughtsTokenCount: 7, totalTokenCount: 38 }), null, 2),
    JSON.stringify(geminiChunk(".", { promptTokenCount: 11, candidatesTokenCount: 30, thoughtsTokenCount: 7, totalTokenCount: 48 }, "STOP"), null, 2),
  ].join("\r\n,\r\n") +
  "]";

export const corpus: UsageCase[] = [
  { name: "OpenAI chat completion (JSON)", sse: false, body: openaiChat, input: 19, output: 10, model: "gpt-4.1-2025-04-14" },
  { name: "OpenAI chat stream, include_usage (LF)", sse: true, body: openaiChatStream, input: 9, output: 12, model: "gpt-4o-mini-2024-07-18" },
  { name: "OpenAI chat stream, include_usage (CRLF)", sse: true, body: openaiChatStreamCrlf, input: 9, output: 12, model: "gpt-4o-mini-2024-07-18" },
  { name: "OpenAI chat stream, include_usage (CR)", sse: true, body: openaiChatStreamCr, input: 9, output: 12, model: "gpt-4o-mini-2024-07-18" },
  { name: "OpenAI completion (JSON)", sse: false, body: openaiCompletion, input: 5, output: 7, model: "gpt-3.5-turbo-instruct" },
  { name: "OpenAI completion stream", sse: true, body: openaiCompletionStream, input: 4, output: 2, model: "gpt-3.5-turbo-instruct" },
  { name: "OpenAI embeddings (JSON)", sse: false, body: openaiEmbeddings, input: 8, output: 0, model: "text-embedding-3-small" },
  { name: "OpenAI Responses (JSON)", sse: false, body: openaiResponses, input: 36, output: 87, model: "gpt-4.1-2025-04-14" },
  { name: "OpenAI Responses stream (response.completed)", sse: true, body: openaiResponsesStream, input: 37, output: 11, model: "gpt-4.1-2025-04-14" },
  { name: "Anthropic message (JSON)", sse: false, body: anthropicMessage, input: 2095, output: 503, model: "claude-sonnet-4-20250514" },
  { name: "Anthropic message with cache (JSON)", sse: false, body: anthropicMessageCached, input: 2112, output: 6, model: "claude-3-5-haiku-20241022" },
  { name: "Anthropic stream (message_start + message_delta)", sse: true, body: anthropicStream, input: 25, output: 15, model: "claude-opus-4-1-20250805" },
  { name: "Anthropic stream with cache and thinking", sse: true, body: anthropicStreamCached, input: 1810, output: 312, model: "claude-sonnet-4-5" },
  { name: "Gemini generateContent with thoughts (JSON)", sse: false, body: geminiResponse, input: 8, output: 1192, model: "gemini-2.5-flash" },
  { name: "Gemini streamGenerateContent alt=sse (CRLF)", sse: true, body: geminiStream, input: 10, output: 12, model: "gemini-2.0-flash" },
  { name: "Gemini streamGenerateContent JSON array", sse: false, body: geminiArrayStream, input: 11, output: 37, model: "gemini-2.0-flash" },
  ...selfHostedCorpus,
];
