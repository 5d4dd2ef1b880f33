// Metering truth (issue 22 items 2, 3, 4, 6): partial usage is estimated for the side it lacks;
// every count a provider bills is read, subsets never added twice; ai-statistics' ai_log counts
// only where it says more than the answer; audio transcripts are generated output. Real .wasm,
// real redis-server, both builds.
import { AiStatistics, AI_LOG_STATE_KEY } from "../../host/ai-statistics";
import { BASE_CONFIG, QuotaFixture, jsonResponse, request, sseResponse } from "./fixture";
import { ResponseSpec } from "../../host";
import { inputEstimateOf, outputEstimateOf } from "../unit/response_module";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const START = 1_000_000;
const sse = (docs: unknown[]) => docs.map((d) => `data: ${JSON.stringify(d)}\n\n`).join("");
const anthropicEvent = (type: string, d: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...d })}\n\n`;

/** One metered call with `body` as the request; returns the charge. */
async function charged(response: ResponseSpec, options: { path?: string; body?: string; filterState?: Record<string, string> } = {}): Promise<number> {
  const vm = await fx.plugin(BASE_CONFIG);
  await fx.setBalance("c1", START);
  const body = options.body ?? '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
  const r = await vm.newStream({ filterState: options.filterState }).run({
    request: { headers: request("POST", options.path ?? "/v1/chat/completions", "c1", [["content-type", "application/json"]]), body },
    response: () => response,
  });
  expect(r.local).toBeNull();
  await vm.idle();
  return START - Number(await fx.balance("c1"));
}

const text20k = "lorem ipsum ".repeat(1700); // 20,400 bytes of generated text

describe("partial usage: the side not reported is estimated (item 2)", () => {
  test("{prompt_tokens} only, 20 KB of content: the output is the content's estimate, not 0", async () => {
    const answer = { id: "x", object: "chat.completion", model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: text20k } }], usage: { prompt_tokens: 12 } };
    const c = await charged(jsonResponse(JSON.stringify(answer)));
    // 12 reported + the output estimate of 20,400 bytes (usage/estimate.ts: chat, no tools)
    expect(c).toBe(12 + outputEstimateOf(20_400));
  });

  test("{completion_tokens} only, a 100 KB prompt: the input is the request's estimate, not 0", async () => {
    const prompt = "x".repeat(100_000);
    const body = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: prompt }] });
    const answer = { id: "x", object: "chat.completion", model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: "ok" } }], usage: { completion_tokens: 5 } };
    const c = await charged(jsonResponse(JSON.stringify(answer)), { body });
    expect(c).toBeGreaterThanOrEqual(5 + 100_000 / 5);
    expect(c).toBe(5 + inputEstimateOf(body, 0));
  });

  test("the same in a stream (usage event with one side only)", async () => {
    const s = sse([{ choices: [{ index: 0, delta: { content: text20k } }] }, { choices: [], usage: { prompt_tokens: 12 } }]) + "data: [DONE]\n\n";
    expect(await charged(sseResponse(s), { body: '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[]}' })).toBe(12 + outputEstimateOf(20_400));
  });

  test("an Anthropic stream whose message_delta has no usage: message_start's output_tokens 1 is not the output", async () => {
    const deltas = Array.from({ length: 300 }, () => anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: "word word " } })).join("");
    const s = anthropicEvent("message_start", { message: { id: "m", model: "claude-sonnet-4-5", usage: { input_tokens: 50, output_tokens: 1 } } }) + deltas +
      anthropicEvent("message_delta", { delta: { stop_reason: "end_turn" } }) + anthropicEvent("message_stop", {});
    // 50 input + 1 (the start's) + the output estimate of the 300 deltas' 3,000 bytes (Anthropic's family)
    expect(await charged(sseResponse(s), { path: "/v1/messages" })).toBe(50 + 1 + outputEstimateOf(3000, 1));
  });

  test("a complete Anthropic stream still costs exactly what its message_delta says", async () => {
    const s = anthropicEvent("message_start", { message: { id: "m", model: "claude-sonnet-4-5", usage: { input_tokens: 50, output_tokens: 1 } } }) +
      anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: "x".repeat(5000) } }) +
      anthropicEvent("message_delta", { delta: { stop_reason: "end_turn" }, usage: { output_tokens: 90 } }) + anthropicEvent("message_stop", {});
    expect(await charged(sseResponse(s), { path: "/v1/messages" })).toBe(50 + 90);
  });

  test("an embedding (prompt_tokens, no content) is complete: exactly its input", async () => {
    const answer = { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }], model: "text-embedding-3-small", usage: { prompt_tokens: 8, total_tokens: 8 } };
    expect(await charged(jsonResponse(JSON.stringify(answer)), { path: "/v1/embeddings", body: '{"model":"text-embedding-3-small","input":"' + "y".repeat(4000) + '"}' })).toBe(8);
  });
});

describe("every billed count, subsets not added twice (item 3)", () => {
  test("Gemini: Google's documented url_context example (toolUsePromptTokenCount is input) costs its total, 10,412", async () => {
    // the shape of the url_context example in ai.google.dev/gemini-api/docs/url-context: total 10,412, of
    // which prompt + candidates are 103 (what the plugin charged before it read toolUsePromptTokenCount)
    const usageMetadata = { promptTokenCount: 27, candidatesTokenCount: 76, totalTokenCount: 10412, toolUsePromptTokenCount: 10309, thoughtsTokenCount: 0 };
    const answer = { candidates: [{ content: { parts: [{ text: "The recipes..." }], role: "model" } }], usageMetadata, modelVersion: "gemini-2.5-flash" };
    expect(await charged(jsonResponse(JSON.stringify(answer)), { path: "/v1beta/models/gemini-2.5-flash:generateContent", body: '{"contents":[{"parts":[{"text":"Compare the recipes"}]}]}' })).toBe(10412);
  });

  test("Gemini: cachedContentTokenCount is part of promptTokenCount; thoughts are output", async () => {
    const usageMetadata = { promptTokenCount: 1000, cachedContentTokenCount: 800, candidatesTokenCount: 20, thoughtsTokenCount: 300, totalTokenCount: 1320 };
    const answer = { candidates: [{ content: { parts: [{ text: "ok" }], role: "model" } }], usageMetadata };
    expect(await charged(jsonResponse(JSON.stringify(answer)), { path: "/v1beta/models/gemini-2.5-pro:generateContent", body: '{"contents":[]}' })).toBe(1320);
  });

  test("OpenAI: cached_tokens and reasoning_tokens are parts of prompt_tokens / completion_tokens", async () => {
    const answer = {
      id: "x", object: "chat.completion", model: "o4-mini", choices: [{ index: 0, message: { role: "assistant", content: "hi" } }],
      usage: { prompt_tokens: 2000, completion_tokens: 500, total_tokens: 2500, prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 448, audio_tokens: 0 } },
    };
    expect(await charged(jsonResponse(JSON.stringify(answer)))).toBe(2500);
  });

  test("Responses: input_tokens_details / output_tokens_details are parts of the counts", async () => {
    const answer = { id: "r", object: "response", model: "gpt-5", output: [], usage: { input_tokens: 300, input_tokens_details: { cached_tokens: 200 }, output_tokens: 100, output_tokens_details: { reasoning_tokens: 64 }, total_tokens: 400 } };
    expect(await charged(jsonResponse(JSON.stringify(answer)), { path: "/v1/responses", body: '{"model":"gpt-5","input":"hi"}' })).toBe(400);
  });

  test("Anthropic: cache writes and reads are apart from input_tokens, and added", async () => {
    const answer = { id: "m", type: "message", model: "claude-sonnet-4-5", content: [{ type: "text", text: "hi" }], usage: { input_tokens: 10, cache_creation_input_tokens: 2000, cache_read_input_tokens: 3000, output_tokens: 7 } };
    expect(await charged(jsonResponse(JSON.stringify(answer)), { path: "/v1/messages" })).toBe(5017);
  });
});

describe("ai_log counts only where it says more (item 4)", () => {
  const ailog = (o: object) => ({ [AI_LOG_STATE_KEY]: JSON.stringify(o) });
  const usageNullStream = sse([
    { id: "c", object: "chat.completion.chunk", model: "gpt-4o", choices: [{ index: 0, delta: { content: "x".repeat(2000) } }], usage: null },
  ]) + "data: [DONE]\n\n";

  test("a 0/0 ai_log (wasm-go's for a \"usage\":null stream) does not suppress the estimate", async () => {
    const c = await charged(sseResponse(usageNullStream), { filterState: ailog({ model: "gpt-4o", input_token: 0, output_token: 0, total_token: 0 }), body: '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},"messages":[]}' });
    expect(c).toBeGreaterThanOrEqual(outputEstimateOf(2000));
  });

  test("the emulated ai-statistics writes that 0/0 for such a stream, as pkg/tokenusage does", () => {
    const state = new Map<string, Buffer>();
    const ai = new AiStatistics(state, {}, () => 0);
    ai.onRequestHeaders([], "r");
    ai.onStreamingBody(usageNullStream, true);
    const log = JSON.parse(JSON.parse(`"${state.get(AI_LOG_STATE_KEY)!.toString()}"`));
    expect(log).toMatchObject({ input_token: 0, output_token: 0, total_token: 0 });
  });

  test("per side, the larger: a lower ai_log does not lower what the answer reported", async () => {
    const answer = { id: "x", object: "chat.completion", model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: "hi" } }], usage: { prompt_tokens: 100, completion_tokens: 100 } };
    expect(await charged(jsonResponse(JSON.stringify(answer)), { filterState: ailog({ input_token: 3, output_token: 400 }) })).toBe(100 + 400);
  });

  test("Anthropic through the emulated ai-statistics: cache tokens it keeps in input_token_details are charged", async () => {
    const answer = { id: "m", type: "message", model: "claude-sonnet-4-5", content: [{ type: "text", text: "hi" }], usage: { input_tokens: 10, cache_creation_input_tokens: 2000, cache_read_input_tokens: 3000, output_tokens: 7 } };
    const state = new Map<string, Buffer>();
    const ai = new AiStatistics(state, {}, () => 0);
    ai.onRequestHeaders([], "r");
    ai.onResponseBody(JSON.stringify(answer));
    const log = JSON.parse(JSON.parse(`"${state.get(AI_LOG_STATE_KEY)!.toString()}"`));
    expect(log).toMatchObject({ input_token: 10, output_token: 7, total_token: 5017, input_token_details: { cache_creation_input_tokens: 2000, cache_read_input_tokens: 3000 } });
    // the ai_log alone (the answer compressed, so our own reading has nothing): its details count
    const encoded: ResponseSpec = { headers: [[":status", "200"], ["content-type", "application/json"], ["content-encoding", "br"]], body: Buffer.from([1, 2, 3]) };
    expect(await charged(encoded, { path: "/v1/messages", filterState: { [AI_LOG_STATE_KEY]: state.get(AI_LOG_STATE_KEY)!.toString() } })).toBe(5017);
  });

  test("Gemini through the emulated ai-statistics: thoughts and tool-use prompt tokens from its details", async () => {
    const usageMetadata = { promptTokenCount: 27, candidatesTokenCount: 76, thoughtsTokenCount: 500, toolUsePromptTokenCount: 10309, totalTokenCount: 10912 };
    const state = new Map<string, Buffer>();
    const ai = new AiStatistics(state, {}, () => 0);
    ai.onRequestHeaders([], "r");
    ai.onResponseBody(JSON.stringify({ candidates: [], usageMetadata, modelVersion: "gemini-2.5-flash" }));
    const log = JSON.parse(JSON.parse(`"${state.get(AI_LOG_STATE_KEY)!.toString()}"`));
    expect(log).toMatchObject({ input_token: 27, output_token: 76, total_token: 10912, output_token_details: { thoughts_token_count: 500 }, input_token_details: { tool_use_prompt_token_count: 10309 } });
    const encoded: ResponseSpec = { headers: [[":status", "200"], ["content-type", "application/json"], ["content-encoding", "gzip"]], body: Buffer.from([0x1f, 0x8b, 0]) };
    expect(await charged(encoded, { path: "/v1beta/models/gemini-2.5-flash:generateContent", body: '{"contents":[]}', filterState: { [AI_LOG_STATE_KEY]: state.get(AI_LOG_STATE_KEY)!.toString() } })).toBe(10912);
  });
});

describe("audio output (item 6)", () => {
  // OpenAI bills assistant audio at 1 token per 50 ms (developers.openai.com/api/docs/guides/realtime-costs);
  // streamed audio is pcm16 (24 kHz, 16-bit, mono: 48,000 bytes a second), so a second of it is
  // 64,000 base64 characters and 20 tokens: a token per 3,200 base64 characters. A transcript is text.
  const audioTokens = (base64Chars: number) => Math.ceil(base64Chars / 3200);
  const tenth = Buffer.alloc(4800, 7).toString("base64"); // 0.1 s of pcm16: 6,400 characters, 2 tokens
  const words = "spoken words here "; // 18 bytes of transcript per chunk
  const chatBody = '{"model":"gpt-4o-audio-preview","stream":true,"stream_options":{"include_usage":false},"modalities":["text","audio"],"audio":{"voice":"alloy","format":"pcm16"},"messages":[{"role":"user","content":"Tell me a story"}]}';
  const chunk = (i: number) => ({ id: "c", object: "chat.completion.chunk", model: "gpt-4o-audio-preview", choices: [{ index: 0, delta: { audio: { id: "audio_1", transcript: words, data: tenth, expires_at: 1729444178 + i } } }] });
  const chunks = Array.from({ length: 50 }, (_, i) => chunk(i));

  /** The 50-chunk stream's body cut after `bytes` of it (no [DONE]), then an upstream reset: the charge. */
  async function chargedCut(body: string, bytes: number, path = "/v1/chat/completions", requestBody = chatBody): Promise<number> {
    const vm = await fx.plugin(BASE_CONFIG);
    await fx.setBalance("c1", START);
    const s = vm.newStream();
    s.requestHeaders(request("POST", path, "c1", [["content-type", "application/json"]]), false);
    s.requestBody(requestBody, true);
    await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
    s.responseHeaders([[":status", "200"], ["content-type", "text/event-stream"]]);
    s.responseBody(body.slice(0, bytes), false);
    s.finish("upstream reset");
    await vm.idle();
    return START - Number(await fx.balance("c1"));
  }

  test("a 50-chunk chat audio stream without usage: the transcript as text and 5 s of audio at 20 tokens a second", async () => {
    const c = await charged(sseResponse(sse(chunks) + "data: [DONE]\n\n"), { body: chatBody });
    // not the 55 it was charged before audio data counted; not 320,000 base64 characters read as text either
    expect(c).toBe(inputEstimateOf(chatBody) + outputEstimateOf(50 * words.length) + audioTokens(50 * tenth.length));
    expect(audioTokens(50 * tenth.length)).toBe(100);
  });

  test("the same stream cut inside the last chunk's audio: what arrived of it is audio, not text", async () => {
    const body = sse(chunks);
    const last = body.lastIndexOf('"data":"') + '"data":"'.length;
    const c = await chargedCut(body, last + 3200);
    expect(c).toBe(inputEstimateOf(chatBody) + outputEstimateOf(50 * words.length) + audioTokens(49 * tenth.length + 3200));
    // cut after whole chunks: each chunk's audio
    const twenty = sse(chunks.slice(0, 20)).length;
    expect(await chargedCut(body, twenty)).toBe(inputEstimateOf(chatBody) + outputEstimateOf(20 * words.length) + audioTokens(20 * tenth.length));
  });

  test("audio without a transcript still costs its audio", async () => {
    const silent = Array.from({ length: 50 }, (_, i) => ({ choices: [{ index: 0, delta: { audio: { id: "audio_1", data: tenth, expires_at: i } } }] }));
    expect(await charged(sseResponse(sse(silent) + "data: [DONE]\n\n"), { body: chatBody })).toBe(inputEstimateOf(chatBody) + audioTokens(50 * tenth.length));
  });

  test("a JSON answer's message.audio: transcript as text, data as audio (5 s of wav)", async () => {
    const wav = Buffer.alloc(44 + 240_000, 3).toString("base64");
    const transcript = "t".repeat(1000);
    const answer = { id: "x", object: "chat.completion", model: "gpt-4o-audio-preview", choices: [{ index: 0, message: { role: "assistant", content: null, audio: { id: "a", expires_at: 1, data: wav, transcript } } }] };
    const body = '{"model":"gpt-4o-audio-preview","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},"messages":[]}';
    expect(await charged(jsonResponse(JSON.stringify(answer)), { body })).toBe(inputEstimateOf(body) + outputEstimateOf(1000) + audioTokens(wav.length));
  });

  test("Responses: response.audio.delta is audio, response.audio.transcript.delta text", async () => {
    const body = '{"model":"gpt-4o-audio-preview","stream":true,"input":"Tell me a story"}';
    const event = (type: string, i: number, delta: string) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: i, item_id: "item_1", output_index: 0, delta })}\n\n`;
    let stream = "";
    for (let i = 0; i < 50; i++) stream += event("response.audio.transcript.delta", 2 * i, words) + event("response.audio.delta", 2 * i + 1, tenth);
    expect(await charged(sseResponse(stream), { path: "/v1/responses", body })).toBe(inputEstimateOf(body, 2) + outputEstimateOf(50 * words.length, 2) + audioTokens(50 * tenth.length));
    // cut inside an audio delta
    const cut = stream.lastIndexOf('"delta":"') + '"delta":"'.length + 3200;
    expect(await chargedCut(stream, cut, "/v1/responses", body)).toBe(inputEstimateOf(body, 2) + outputEstimateOf(50 * words.length, 2) + audioTokens(49 * tenth.length + 3200));
  });

  test("never more than the request allows: max_completion_tokens caps the audio too (item 7)", async () => {
    const body = chatBody.replace('"stream":true', '"stream":true,"max_completion_tokens":20');
    expect(await charged(sseResponse(sse(chunks) + "data: [DONE]\n\n"), { body })).toBe(inputEstimateOf(body) + 20);
  });

  test("a usage report still stands over the estimate", async () => {
    const s = sse(chunks) + sse([{ choices: [], usage: { prompt_tokens: 20, completion_tokens: 1200, completion_tokens_details: { audio_tokens: 1100 } } }]) + "data: [DONE]\n\n";
    expect(await charged(sseResponse(s), { body: chatBody.replace('"include_usage":false', '"include_usage":true') })).toBe(1220);
  });
});

describe("the output estimate per API family and tools declared (item 8)", () => {
  const text = "The quick brown fox jumps over the lazy dog. ".repeat(40); // 1,800 bytes
  test("chat without and with tools: the group's rate and base, through the real plugin", async () => {
    const answer = JSON.stringify({ id: "x", object: "chat.completion", model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: text } }] });
    const plain = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
    const tools = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}';
    expect(await charged(jsonResponse(answer), { body: plain })).toBe(inputEstimateOf(plain) + outputEstimateOf(1800, 0, false));
    expect(await charged(jsonResponse(answer), { body: tools })).toBe(inputEstimateOf(tools) + outputEstimateOf(1800, 0, true));
    // a token per 4 bytes of English plus chat's base: about the truth (this text is about 11 tokens per 45 bytes, 440 in all), not the former 916
    expect(outputEstimateOf(1800, 0, false)).toBe(450 + 9);
  });

  test("attack: an answer in CJK is not charged at English's rate (a character a token at least)", async () => {
    const cjk = "这是一个关于天空为什么是蓝色的长篇回答".repeat(50); // 950 characters, 2,850 bytes
    const answer = JSON.stringify({ id: "x", object: "chat.completion", model: "gpt-4o", choices: [{ index: 0, message: { role: "assistant", content: cjk } }] });
    const body = '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}';
    const c = await charged(jsonResponse(answer), { body });
    expect(c).toBe(inputEstimateOf(body) + outputEstimateOf(2850, 0, false, 2850));
    expect(c - inputEstimateOf(body)).toBeGreaterThanOrEqual(950);
    // cut in a stream: the same rate for what arrived
    const s = sse([{ choices: [{ index: 0, delta: { content: cjk } }] }]);
    expect(await charged(sseResponse(s), { body: '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},"messages":[]}' }))
      .toBe(inputEstimateOf('{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":false},"messages":[]}') + outputEstimateOf(2850, 0, false, 2850));
  });

  test("Anthropic: its own rate (2.5 bytes a token) and base", async () => {
    const answer = JSON.stringify({ id: "m", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [{ type: "text", text }] });
    const body = '{"model":"claude-sonnet-4-5","max_tokens":4096,"messages":[{"role":"user","content":"hi"}]}';
    expect(await charged(jsonResponse(answer), { path: "/v1/messages", body })).toBe(inputEstimateOf(body, 1) + outputEstimateOf(1800, 1, false));
    expect(outputEstimateOf(1800, 1, false)).toBe(720 + 5);
  });
});

describe("the input estimate reads the request's text (item 8)", () => {
  const noUsage = jsonResponse('{"id":"x","object":"chat.completion","choices":[]}');
  const chatBody = (content: string, extra: object = {}) => JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content }], ...extra });

  test("English costs about a token per 4.4 letters, not a token per 2 bytes of JSON", async () => {
    const body = chatBody("the quick brown fox jumps over the lazy dog ".repeat(200));
    const c = await charged(noUsage, { body });
    expect(c).toBeLessThan(Math.ceil(Buffer.byteLength(body) / 2) / 2);
    expect(c).toBeGreaterThan(7000 / 4.5);
  });

  test("CJK costs a token a character", async () => {
    const c = await charged(noUsage, { body: chatBody("你好世界".repeat(500)) });
    expect(c).toBeGreaterThanOrEqual(2000);
  });

  test("attack: text moved out of messages (a field we might not have read) costs the same", async () => {
    const text = "please summarise this document ".repeat(300);
    const inMessages = await charged(noUsage, { body: chatBody(text) });
    const hidden = await charged(noUsage, { body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], metadata: { note: text } }) });
    expect(hidden).toBeGreaterThanOrEqual(inMessages - 5);
  });

  test("tools add the tool prompt the upstream renders (Anthropic)", async () => {
    const body = JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    const withTools = JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "hi" }], tools: [{ name: "f", input_schema: { type: "object" } }] });
    const a = await charged(noUsage, { path: "/v1/messages", body });
    const b = await charged(noUsage, { path: "/v1/messages", body: withTools });
    expect(b - a).toBeGreaterThanOrEqual(500);
  });
});
