// Answers of the self-hosted servers' native APIs, shaped after their sources (the fields each
// sends, in its order): Ollama api/types.go (ChatResponse, GenerateResponse, EmbedResponse, Metrics),
// TGI router/src/lib.rs (GenerateResponse, Details, StreamResponse, StreamDetails), llama.cpp
// tools/server (to_json_non_oaicompat of the final and partial results), SGLang
// srt/managers/tokenizer_manager.py (text, output_ids, meta_info). Each with the usage the scanner
// must read; client-controlled text holding count-like members must not be read as counts.
import type { UsageCase } from "./usage_corpus";

const ndjson = (lines: object[]): string => lines.map((l) => JSON.stringify(l) + "\n").join("");
const sseData = (events: (object | string)[], space = true): string =>
  events.map((e) => `data:${space ? " " : ""}${typeof e === "string" ? e : JSON.stringify(e)}\n\n`).join("");

const at = "2025-06-01T10:00:00.123456789Z";
const metrics = (prompt: number, evalCount: number) => ({
  total_duration: 5043500667, load_duration: 5025959, prompt_eval_count: prompt, prompt_eval_duration: 325953000, eval_count: evalCount, eval_duration: 4709213000,
});

export const ollamaChatStream = ndjson([
  { model: "llama3.2", created_at: at, message: { role: "assistant", content: "The sky" }, done: false },
  { model: "llama3.2", created_at: at, message: { role: "assistant", content: " is \"eval_count\":1,\"prompt_eval_count\":1 blue" }, done: false },
  { model: "llama3.2", created_at: at, message: { role: "assistant", content: "", tool_calls: [{ function: { name: "f", arguments: { eval_count: 999, prompt_eval_count: 999 } } }] }, done: false },
  { model: "llama3.2", created_at: at, message: { role: "assistant", content: "" }, done_reason: "stop", done: true, ...metrics(26, 298) },
]);

export const ollamaChat = JSON.stringify({
  model: "qwen3", created_at: at, message: { role: "assistant", content: "Hello!", thinking: "The user greets." }, done_reason: "stop", done: true, ...metrics(14, 42),
});

export const ollamaGenerateStream = ndjson([
  { model: "llama3.2", created_at: at, response: "The", done: false },
  { model: "llama3.2", created_at: at, response: " sky", done: false },
  { model: "llama3.2", created_at: at, response: "", done: true, done_reason: "stop", context: [1, 2, 3, 4], ...metrics(26, 2) },
]);

export const ollamaEmbed = JSON.stringify({
  model: "all-minilm", embeddings: [[0.010071029, -0.0017594862, 0.05007221], [-0.0098027075, 0.06042469, 0.025450965]], total_duration: 14143917, load_duration: 1019500, prompt_eval_count: 8,
});

export const tgiGenerate = JSON.stringify({
  generated_text: " Rayleigh scattering \"generated_tokens\":1",
  details: {
    finish_reason: "length", generated_tokens: 3, seed: null,
    prefill: [{ id: 1, text: "<s>", logprob: null }, { id: 4315, text: "Why", logprob: -10.5 }, { id: 338, text: " is", logprob: -2.1 }],
    tokens: [{ id: 390, text: " Ray", logprob: -0.2, special: false }, { id: 11, text: "leigh", logprob: -0.01, special: false }, { id: 2, text: " scattering", logprob: -0.3, special: false }],
  },
});

const tgiToken = (index: number, id: number, text: string) => ({ index, token: { id, text, logprob: -0.2, special: false }, generated_text: null, details: null });
export const tgiStream = sseData([
  tgiToken(1, 390, " Ray"),
  tgiToken(2, 11, "leigh"),
  { index: 3, token: { id: 2, text: " scattering", logprob: -0.3, special: false }, generated_text: " Rayleigh scattering", details: { finish_reason: "length", generated_tokens: 3, seed: null } },
], false);

export const llamaCompletion = JSON.stringify({
  index: 0, content: " Paris.", tokens: [], id_slot: 0, stop: true, model: "gpt-3.5-turbo", tokens_predicted: 3, tokens_evaluated: 7,
  generation_settings: { n_predict: -1, seed: 4294967295, temperature: 0.8, eval_count: 999 },
  prompt: "<s> The capital of France is \"tokens_predicted\":1,\"tokens_evaluated\":1",
  has_new_line: false, truncated: false, stop_type: "eos", stopping_word: "", tokens_cached: 9,
  timings: { prompt_n: 7, prompt_ms: 12.4, prompt_per_token_ms: 1.7, prompt_per_second: 564.5, predicted_n: 3, predicted_ms: 30.1, predicted_per_token_ms: 10, predicted_per_second: 99.6 },
});

const llamaPartial = (content: string, n: number) => ({ index: 0, content, tokens: [], stop: false, id_slot: -1, tokens_predicted: n, tokens_evaluated: 7 });
export const llamaStream = sseData([
  llamaPartial(" Par", 1),
  llamaPartial("is", 2),
  llamaPartial(".", 3),
  { index: 0, content: "", tokens: [], id_slot: 0, stop: true, model: "gpt-3.5-turbo", tokens_predicted: 3, tokens_evaluated: 7, has_new_line: false, truncated: false, stop_type: "eos", stopping_word: "", tokens_cached: 9, timings: { prompt_n: 7, predicted_n: 3 } },
]);

const sglMeta = (completion: number, finish: object | null) => ({
  id: "a1b2c3", finish_reason: finish, prompt_tokens: 6, weight_version: "default", completion_tokens: completion, cached_tokens: 0, e2e_latency: 0.12,
});
export const sglangGenerate = JSON.stringify({ text: " Paris. \"meta_info\":{\"prompt_tokens\":1}", output_ids: [3681, 13], meta_info: sglMeta(3, { type: "stop", matched: 2 }) });
export const sglangStream = sseData([
  { text: " Par", output_ids: [3681], meta_info: sglMeta(1, null) },
  { text: " Paris", output_ids: [3681, 285], meta_info: sglMeta(2, null) },
  { text: " Paris.", output_ids: [3681, 285, 13], meta_info: sglMeta(3, { type: "stop", matched: 2 }) },
  "[DONE]",
]);
export const sglangEncode = JSON.stringify({ embedding: [0.0123, -0.0456, 0.0789], meta_info: { id: "e1", finish_reason: null, prompt_tokens: 5, cached_tokens: 0 } });

export const selfHostedCorpus: UsageCase[] = [
  { name: "Ollama /api/chat stream (NDJSON)", sse: false, body: ollamaChatStream, input: 26, output: 298, model: "llama3.2" },
  { name: "Ollama /api/chat, stream false, thinking", sse: false, body: ollamaChat, input: 14, output: 42, model: "qwen3" },
  { name: "Ollama /api/generate stream (NDJSON)", sse: false, body: ollamaGenerateStream, input: 26, output: 2, model: "llama3.2" },
  { name: "Ollama /api/embed", sse: false, body: ollamaEmbed, input: 8, output: 0, model: "all-minilm" },
  { name: "TGI /generate, details with decoder_input_details (prefill)", sse: false, body: tgiGenerate, input: 3, output: 3, model: "" },
  { name: "TGI /generate_stream (SSE, details in the last event)", sse: true, body: tgiStream, input: 0, output: 3, model: "" },
  { name: "llama.cpp /completion", sse: false, body: llamaCompletion, input: 7, output: 3, model: "gpt-3.5-turbo" },
  { name: "llama.cpp /completion stream", sse: true, body: llamaStream, input: 7, output: 3, model: "gpt-3.5-turbo" },
  { name: "SGLang /generate", sse: false, body: sglangGenerate, input: 6, output: 3, model: "" },
  { name: "SGLang /generate stream", sse: true, body: sglangStream, input: 6, output: 3, model: "" },
  { name: "SGLang /encode", sse: false, body: sglangEncode, input: 5, output: 0, model: "" },
];
