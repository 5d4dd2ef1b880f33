// The self-hosted servers' native APIs behind the plugin (issue 23 item 1), through the real .wasm
// and a real redis-server: Ollama (/api/chat, /api/generate, /api/embed; NDJSON streams), TGI
// (/generate, /generate_stream), llama.cpp server (/completion, /infill), SGLang (/generate,
// /encode). Each is refused at balance 0, charged the usage its answer reports, and estimated when
// the answer says nothing or is cut (docs/metering.md).
import { QuotaFixture, request } from "./fixture";
import { inputEstimateOf, outputEstimateOf } from "../unit/response_module";
import type { ResponseSpec } from "../../host/stream-run";
import {
  llamaCompletion, llamaStream, ollamaChat, ollamaChatStream, ollamaEmbed, ollamaGenerateStream,
  sglangEncode, sglangGenerate, sglangStream, tgiGenerate, tgiStream,
} from "../unit/self_hosted_corpus";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

const NDJSON: ResponseSpec["headers"] = [[":status", "200"], ["content-type", "application/x-ndjson"]];
const JSON_TYPE: ResponseSpec["headers"] = [[":status", "200"], ["content-type", "application/json"]];
const SSE: ResponseSpec["headers"] = [[":status", "200"], ["content-type", "text/event-stream"]];

// Request bodies as each server's clients send them.
const BODIES: Record<string, string> = {
  "/api/chat": '{"model":"llama3.2","messages":[{"role":"user","content":"Why is the sky blue?"}]}',
  "/api/generate": '{"model":"llama3.2","prompt":"Why is the sky blue?"}',
  "/api/embed": '{"model":"all-minilm","input":["Why is the sky blue?","Why is the grass green?"]}',
  "/api/embeddings": '{"model":"all-minilm","prompt":"Why is the sky blue?"}',
  "/generate": '{"inputs":"Why is the sky blue?","parameters":{"max_new_tokens":20}}',
  "/generate_stream": '{"inputs":"Why is the sky blue?","parameters":{"max_new_tokens":20}}',
  "/completion": '{"prompt":"The capital of France is","n_predict":16}',
  "/infill": '{"input_prefix":"def f(","input_suffix":"):\\n    return x","n_predict":16}',
  "/encode": '{"text":"Why is the sky blue?"}',
};

async function call(path: string, response: ResponseSpec, consumer = "c1", requestBody?: string) {
  const vm = await fx.plugin();
  const body = requestBody ?? BODIES[path.replace(/^.*?(\/api\/\w+|\/\w+)$/, "$1")] ?? BODIES["/generate"];
  const r = await vm.newStream().run({
    request: { headers: request("POST", path, consumer, [["content-type", "application/json"]]), body },
    response: () => response,
  });
  await vm.idle();
  // The input estimate of a body (usage/text_estimate.ts; native APIs are family 0).
  return { r, vm, inputEstimate: inputEstimateOf(body) };
}

/** docs/metering.md's estimate of output: content bytes / 2, plus 16 for an answer with content. */
/** The plugin's output estimate (usage/estimate.ts): these routes are of the chat family, their requests declare no tools. */
const outputEstimate = (contentBytes: number) => outputEstimateOf(contentBytes, 0, false);

describe("balance 0: every native endpoint is refused before the upstream sees it", () => {
  test.each([
    "/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/generate", "/generate_stream",
    "/completion", "/infill", "/encode", "/v1/../api/chat", "/API/CHAT", "/api/chat/",
  ])("%s", async (path) => {
    await fx.setBalance("c1", 0);
    const { r } = await call(path, { headers: NDJSON, body: ollamaChatStream });
    expect(r.local?.status).toBe(403);
    expect(r.local?.details).toBe("ai-quota.noquota");
    expect(r.upstream).toBeNull();
  });
});

describe("usage charged exactly as each server reports it", () => {
  test.each<[string, string, ResponseSpec["headers"], string, number]>([
    ["Ollama chat stream (NDJSON; a count-like string and tool arguments are not counts)", "/api/chat", NDJSON, ollamaChatStream, 26 + 298],
    ["Ollama chat, stream false", "/api/chat", JSON_TYPE, ollamaChat, 14 + 42],
    ["Ollama generate stream", "/api/generate", NDJSON, ollamaGenerateStream, 26 + 2],
    ["Ollama embed", "/api/embed", JSON_TYPE, ollamaEmbed, 8],
    ["TGI generate with prefill details", "/generate", JSON_TYPE, tgiGenerate, 3 + 3],
    ["llama.cpp completion (echoed prompt and settings are not counts)", "/completion", JSON_TYPE, llamaCompletion, 7 + 3],
    ["llama.cpp completion stream", "/completion", SSE, llamaStream, 7 + 3],
    ["llama.cpp infill", "/infill", JSON_TYPE, llamaCompletion, 7 + 3],
    ["SGLang generate", "/generate", JSON_TYPE, sglangGenerate, 6 + 3],
    ["SGLang generate stream (cumulative meta_info)", "/generate", SSE, sglangStream, 6 + 3],
    ["SGLang encode", "/encode", JSON_TYPE, sglangEncode, 5],
  ])("%s", async (_name, path, headers, body, cost) => {
    await fx.setBalance("c1", 1000);
    const { r } = await call(path, { headers, body });
    expect(r.local).toBeNull();
    expect(r.text).toBe(body); // nothing added or taken out
    expect(await fx.balance("c1")).toBe(String(1000 - cost));
  });

  test("split at every byte: the Ollama NDJSON stream in one-byte chunks costs the same", async () => {
    await fx.setBalance("c1", 1000);
    const bytes = Buffer.from(ollamaChatStream);
    const chunks = Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1).toString("latin1"));
    const { r } = await call("/api/chat", { headers: NDJSON, body: chunks.map((c) => Buffer.from(c, "latin1")) });
    expect(r.local).toBeNull();
    expect(await fx.balance("c1")).toBe(String(1000 - 26 - 298));
  });

  test("TGI stream: output from details.generated_tokens, input estimated (TGI reports no prompt count)", async () => {
    await fx.setBalance("c1", 1000);
    const { inputEstimate } = await call("/generate_stream", { headers: SSE, body: tgiStream });
    expect(await fx.balance("c1")).toBe(String(1000 - 3 - inputEstimate));
  });

  test("TGI /generate without details (its default): estimated from the request and generated_text", async () => {
    await fx.setBalance("c1", 1000);
    const body = JSON.stringify({ generated_text: " Rayleigh scattering" });
    const { inputEstimate } = await call("/generate", { headers: JSON_TYPE, body });
    // (26 estimated; the request's max_new_tokens 20 holds it)
    expect(await fx.balance("c1")).toBe(String(1000 - inputEstimate - Math.min(outputEstimate(" Rayleigh scattering".length), 20)));
  });

  test("Ollama omits prompt_eval_count (omitempty, a cached prompt): the input is estimated, the output charged", async () => {
    await fx.setBalance("c1", 1000);
    const body = JSON.stringify({ model: "llama3.2", created_at: "t", response: "Hi", done: true, eval_count: 5 });
    const { inputEstimate } = await call("/api/generate", { headers: JSON_TYPE, body });
    expect(await fx.balance("c1")).toBe(String(1000 - 5 - inputEstimate));
  });

  test.each<[string, string]>([
    ["llama.cpp: a multi-prompt /completion answers an array, each element counted", "/completion"],
    ["SGLang: a batched /generate answers an array, each element counted", "/generate"],
  ])("%s", async (_name, path) => {
    await fx.setBalance("c1", 1000);
    const one = path === "/completion" ? JSON.parse(llamaCompletion) : JSON.parse(sglangGenerate);
    const body = JSON.stringify([one, one, one]);
    await call(path, { headers: JSON_TYPE, body });
    expect(await fx.balance("c1")).toBe(String(1000 - 3 * (path === "/completion" ? 10 : 9)));
  });
});

describe("streamed batches: each prompt's running totals kept apart by index, then added", () => {
  const sglangEvent = (index: number, input: number, output: number) => `data: {"text":"x","meta_info":{"id":"r${index}","finish_reason":null,"prompt_tokens":${input},"completion_tokens":${output}},"index":${index}}\n\n`;
  const llamaEvent = (index: number, input: number, output: number) => `data: {"index":${index},"content":"x","tokens":[],"stop":false,"id_slot":${index},"tokens_predicted":${output},"tokens_evaluated":${input}}\n\n`;

  test.each<[string, string, (i: number, input: number, output: number) => string]>([
    ["SGLang /generate", "/generate", sglangEvent],
    ["llama.cpp /completion", "/completion", llamaEvent],
  ])("%s: interleaved events of three prompts cost the sum of each prompt's last counts", async (_name, path, event) => {
    await fx.setBalance("c1", 1000);
    let body = "";
    for (let k = 1; k <= 4; k++) for (const [i, input] of [[0, 6], [1, 2], [2, 3]]) body += event(i, input, k);
    if (path === "/generate") body += "data: [DONE]\n\n";
    const { r } = await call(path, { headers: SSE, body });
    expect(r.text).toBe(body);
    expect(await fx.balance("c1")).toBe(String(1000 - (6 + 2 + 3) - 3 * 4));
  });

  test("an index beyond the 256 kept apart cannot lower the charge: the answer is estimated above the sums", async () => {
    await fx.setBalance("c1", 100_000);
    let body = "";
    for (let i = 0; i < 300; i++) body += llamaEvent(i, 2, 5);
    // No n_predict: the request's own limit would cap the estimate beyond the counts (native_limits.test.ts).
    const { inputEstimate } = await call("/completion", { headers: SSE, body }, "c1", '{"prompt":"The capital of France is"}');
    const charged = 100_000 - Number(await fx.balance("c1"));
    // 256 prompts kept apart (2 + 5 each); past them the counts cover not every prompt: the input is
    // the larger of the request's estimate and the sums, the output the sums plus the estimate of
    // the 44 content bytes after the last count kept
    expect(charged).toBe(Math.max(inputEstimate, 256 * 2) + 256 * 5 + outputEstimate(44));
  });

  test("a root index outside a batch route is not a prompt: TGI's per-token stream index changes nothing", async () => {
    await fx.setBalance("c1", 1000);
    const { inputEstimate } = await call("/generate_stream", { headers: SSE, body: tgiStream });
    expect(await fx.balance("c1")).toBe(String(1000 - 3 - inputEstimate));
  });
});

describe("cut streams are estimated, never free", () => {
  test("Ollama NDJSON cut before its final line: request and content estimated; count-like text is not read", async () => {
    await fx.setBalance("c1", 1000);
    const lines = ollamaChatStream.split("\n");
    const partial = lines.slice(0, 2).join("\n") + "\n";
    const content = Buffer.byteLength("The sky" + ' is "eval_count":1,"prompt_eval_count":1 blue');
    const vm = await fx.plugin();
    const s = vm.newStream();
    const reqBody = BODIES["/api/chat"];
    s.requestHeaders(request("POST", "/api/chat", "c1", [["content-type", "application/json"]]), false);
    s.requestBody(reqBody, true);
    await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
    s.responseHeaders(NDJSON);
    s.responseBody(partial, false);
    s.finish("upstream reset");
    await vm.idle();
    expect(await fx.balance("c1")).toBe(String(1000 - inputEstimateOf(reqBody) - outputEstimate(content)));
  });

  // n_predict 64 leaves the estimate alone (2 counted + the estimate of 1 byte); 5 holds it at 5,
  // above the 2 counted (docs/metering.md).
  test.each<[string, number]>([
    ['{"prompt":"The capital of France is","n_predict":64}', 2 + outputEstimate(1)],
    ['{"prompt":"The capital of France is","n_predict":5}', Math.min(5, 2 + outputEstimate(1))],
  ])("llama.cpp stream cut in its third event: the counts of the second plus the content after them (%s)", async (reqBody, output) => {
    await fx.setBalance("c1", 1000);
    const events = llamaStream.split("\n\n");
    const vm = await fx.plugin();
    const s = vm.newStream();
    s.requestHeaders(request("POST", "/completion", "c1", [["content-type", "application/json"]]), false);
    s.requestBody(reqBody, true);
    await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
    s.responseHeaders(SSE);
    // two whole events (tokens_predicted 2, tokens_evaluated 7), then half of the third
    s.responseBody(events.slice(0, 2).join("\n\n") + "\n\n" + events[2].slice(0, 30), false);
    s.finish("upstream reset");
    await vm.idle();
    // the third event's "." was read before the cut: no count covers it
    expect(await fx.balance("c1")).toBe(String(1000 - 7 - output));
  });
});
