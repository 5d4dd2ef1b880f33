// The output limits of the self-hosted servers' native APIs, Cohere v2 and Bedrock Converse count as
// the request's output limit (issue 22 item 7 for issue 23's endpoints), through the real .wasm and
// a real redis-server: an estimated output never exceeds limit × choices, a field the upstream does
// not read (another API's, another spelling) never caps anything, "no limit" values (-1, -2) cap
// nothing, huge values saturate, and a `max_tokens` reservation reserves the limit. The fields and
// where each server reads them: docs/metering.md ("Request bodies").
import { PluginVm } from "../../host";
import type { ResponseSpec } from "../../host/stream-run";
import { eventMessage } from "../../gateway/eventstream";
import * as fc from "fast-check";
import { BASE_CONFIG, QuotaFixture, request } from "./fixture";
import { outputEstimateOf } from "../unit/response_module";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());

type Headers = ResponseSpec["headers"];
const SSE: Headers = [[":status", "200"], ["content-type", "text/event-stream"]];
const NDJSON: Headers = [[":status", "200"], ["content-type", "application/x-ndjson"]];
const JSON_TYPE: Headers = [[":status", "200"], ["content-type", "application/json"]];
const EVENTS: Headers = [[":status", "200"], ["content-type", "application/vnd.amazon.eventstream"]];
/** An answer the plugin cannot read (compressed anyway): its output is estimated from its size. */
const GZIP_SSE: Headers = [...SSE, ["content-encoding", "gzip"]];

const START = 1_000_000;
/** 400 bytes of generated text, and its uncapped output estimate (usage/estimate.ts) for each API family. */
const TEXT = "x".repeat(400);
const TEXT_ESTIMATE = outputEstimateOf(TEXT.length);
const RESPONSES_TEXT_ESTIMATE = outputEstimateOf(TEXT.length, 2);
const MESSAGES_TEXT_ESTIMATE = outputEstimateOf(TEXT.length, 1);
/** 3000 unreadable bytes of a compressed SSE answer: estimated at 3000 / 3 = 1000 output tokens. */
const WIRE = Buffer.alloc(3000, 0x5a);
const WIRE_ESTIMATE = 1000;

// The answers, as each server streams generated text (without usage: they are cut).
const tgiStreamAnswer = `data:${JSON.stringify({ index: 1, token: { id: 5, text: TEXT, logprob: -0.2, special: false }, generated_text: null, details: null })}\n\n`;
const tgiJsonAnswer = JSON.stringify({ generated_text: TEXT });
const llamaAnswer = `data: ${JSON.stringify({ index: 0, content: TEXT, tokens: [], stop: false, id_slot: -1 })}\n\n`;
const ollamaChatAnswer = JSON.stringify({ model: "llama3.2", created_at: "t", message: { role: "assistant", content: TEXT }, done: false }) + "\n";
const ollamaGenerateAnswer = JSON.stringify({ model: "llama3.2", created_at: "t", response: TEXT, done: false }) + "\n";
const cohereAnswer = `event: content-delta\ndata: ${JSON.stringify({ type: "content-delta", index: 0, delta: { message: { content: { text: TEXT } } } })}\n\n`;
const converseAnswer = eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: TEXT } });
const completionsAnswer = `data: ${JSON.stringify({ id: "c", object: "text_completion", choices: [{ index: 0, text: TEXT, finish_reason: null }] })}\n\n`;

const CONVERSE_STREAM = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream";
const CONVERSE = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";

/** What `body` on `path` costs when its answer (`chunks`) is cut by an upstream reset (`cut`), or ends there. */
async function cost(vm: PluginVm, path: string, body: string, headers: Headers, chunks: (string | Buffer)[], cut = true): Promise<number> {
  await fx.setBalance("c1", START);
  const s = vm.newStream();
  s.requestHeaders(request("POST", path, "c1", [["content-type", "application/json"]]), false);
  s.requestBody(body, true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
  expect(s.localResponse).toBeNull();
  s.responseHeaders(headers);
  chunks.forEach((c, i) => s.responseBody(c, !cut && i === chunks.length - 1));
  if (cut) s.finish("upstream reset");
  await vm.idle();
  expect(vm.trapped).toBeNull();
  return START - Number(await fx.balance("c1"));
}

/** What the answer costs beyond the input estimate of `body` (the same body with no answer costs that alone). */
async function outputCharged(path: string, body: string, headers: Headers, chunks: (string | Buffer)[], cut = true): Promise<number> {
  const vm = await fx.plugin();
  const input = await cost(vm, path, body, headers, []);
  return (await cost(vm, path, body, headers, chunks, cut)) - input;
}

type Case = [string, string, string, Headers, (string | Buffer)[], number];

describe("an estimated output is at most the limit the native API reads × its choices", () => {
  test.each<Case>([
    // TGI: GenerateRequest { inputs, parameters: GenerateParameters { max_new_tokens, best_of, … } } (serde: exact keys)
    ["TGI stream, parameters.max_new_tokens 5", "/generate_stream", '{"inputs":"Why?","parameters":{"max_new_tokens":5}}', SSE, [tgiStreamAnswer], 5],
    ["TGI stream, max_new_tokens 5000 (the bound is what holds the one above)", "/generate_stream", '{"inputs":"Why?","parameters":{"max_new_tokens":5000}}', SSE, [tgiStreamAnswer], TEXT_ESTIMATE],
    ["TGI stream, max_new_tokens null (TGI's default: whatever fits)", "/generate_stream", '{"inputs":"Why?","parameters":{"max_new_tokens":null}}', SSE, [tgiStreamAnswer], TEXT_ESTIMATE],
    ["TGI: a root max_tokens is not TGI's (ignored upstream): no cap", "/generate_stream", '{"inputs":"Why?","max_tokens":5}', SSE, [tgiStreamAnswer], TEXT_ESTIMATE],
    ["TGI: \"Parameters\" is not parameters to serde: no cap", "/generate_stream", '{"inputs":"Why?","Parameters":{"max_new_tokens":5}}', SSE, [tgiStreamAnswer], TEXT_ESTIMATE],
    ["TGI /generate without details, max_new_tokens 3 × best_of 2", "/generate", '{"inputs":"Why?","parameters":{"max_new_tokens":3,"best_of":2,"do_sample":true}}', JSON_TYPE, [tgiJsonAnswer], 6],
    // SGLang: GenerateReqInput { text | input_ids | input_embeds, sampling_params: { max_new_tokens, n } }; batch × n
    ["SGLang, sampling_params max_new_tokens 4 × n 2", "/generate", '{"text":"Why?","sampling_params":{"max_new_tokens":4,"n":2},"stream":true}', GZIP_SSE, [WIRE], 8],
    ["SGLang, a batch of 3 texts × max_new_tokens 4", "/generate", '{"text":["a","b","c"],"sampling_params":{"max_new_tokens":4}}', GZIP_SSE, [WIRE], 12],
    ["SGLang, a batch of 2 input_ids lists × 4", "/generate", '{"input_ids":[[1,2],[3]],"sampling_params":{"max_new_tokens":4}}', GZIP_SSE, [WIRE], 8],
    ["SGLang, one input_ids list (token ids are one prompt) × 4", "/generate", '{"input_ids":[1,2,3],"sampling_params":{"max_new_tokens":4}}', GZIP_SSE, [WIRE], 4],
    ["SGLang body with TGI's parameters: SGLang ignores them, no cap", "/generate", '{"text":"Why?","parameters":{"max_new_tokens":1}}', GZIP_SSE, [WIRE], WIRE_ESTIMATE],
    ["TGI body with SGLang's sampling_params: TGI ignores them, no cap", "/generate", '{"inputs":"Why?","sampling_params":{"max_new_tokens":1}}', GZIP_SSE, [WIRE], WIRE_ESTIMATE],
    ["a body both servers accept: the larger of both readings", "/generate", '{"inputs":"a","text":"a","parameters":{"max_new_tokens":1},"sampling_params":{"max_new_tokens":2}}', GZIP_SSE, [WIRE], 2],
    ["a body both accept, one without a limit: no cap", "/generate", '{"inputs":"a","text":"a","parameters":{"max_new_tokens":1}}', GZIP_SSE, [WIRE], WIRE_ESTIMATE],
    ["SGLang sampling_params as a list (one per prompt): not read, no cap", "/generate", '{"text":["a"],"sampling_params":[{"max_new_tokens":1}]}', GZIP_SSE, [WIRE], WIRE_ESTIMATE],
    // llama.cpp server: n_predict, else max_tokens; n_cmpl, else n; -1 is no limit; a wrong type is the server default
    ["llama.cpp n_predict 5", "/completion", '{"prompt":"Hi","n_predict":5,"stream":true}', SSE, [llamaAnswer], 5],
    ["llama.cpp max_tokens 5 (n_predict's alias)", "/completion", '{"prompt":"Hi","max_tokens":5,"stream":true}', SSE, [llamaAnswer], 5],
    ["llama.cpp n_predict 5 and max_tokens 7: the larger", "/completion", '{"prompt":"Hi","n_predict":5,"max_tokens":7}', SSE, [llamaAnswer], 7],
    ["llama.cpp n_predict -1: no limit", "/completion", '{"prompt":"Hi","n_predict":-1}', SSE, [llamaAnswer], TEXT_ESTIMATE],
    ["llama.cpp n_predict -1 beside max_tokens 5: n_predict wins upstream, no limit", "/completion", '{"prompt":"Hi","max_tokens":5,"n_predict":-1}', SSE, [llamaAnswer], TEXT_ESTIMATE],
    ["llama.cpp n_predict \"5\" (a string: the server default): no cap", "/completion", '{"prompt":"Hi","n_predict":"5"}', SSE, [llamaAnswer], TEXT_ESTIMATE],
    ["llama.cpp N_PREDICT (nlohmann keys are exact): no cap", "/completion", '{"prompt":"Hi","N_PREDICT":5}', SSE, [llamaAnswer], TEXT_ESTIMATE],
    ["llama.cpp two prompts × n_predict 3", "/completion", '{"prompt":["a","b"],"n_predict":3}', SSE, [llamaAnswer], 6],
    ["llama.cpp one mixed prompt (tokens and a string) × 3", "/completion", '{"prompt":[12,34,"a",56],"n_predict":3}', SSE, [llamaAnswer], 3],
    ["llama.cpp n 2 × n_predict 3", "/completion", '{"prompt":"a","n":2,"n_predict":3}', SSE, [llamaAnswer], 6],
    ["llama.cpp n_cmpl 3 × n_predict 2", "/completion", '{"prompt":"a","n_cmpl":3,"n_predict":2}', SSE, [llamaAnswer], 6],
    ["llama.cpp /infill n_predict 4", "/infill", '{"input_prefix":"def f(","input_suffix":")","n_predict":4}', SSE, [llamaAnswer], 4],
    // Ollama: options.num_predict (options is a Go struct field: its key folds; the option names are exact map keys)
    ["Ollama chat, options.num_predict 5", "/api/chat", '{"model":"llama3.2","messages":[],"options":{"num_predict":5}}', NDJSON, [ollamaChatAnswer], 5],
    ["Ollama generate, options.num_predict 6", "/api/generate", '{"model":"llama3.2","prompt":"Hi","options":{"num_predict":6}}', NDJSON, [ollamaGenerateAnswer], 6],
    ["Ollama num_predict -1 (infinite): no cap", "/api/chat", '{"model":"m","messages":[],"options":{"num_predict":-1}}', NDJSON, [ollamaChatAnswer], TEXT_ESTIMATE],
    ["Ollama num_predict -2 (fill the context): no cap", "/api/chat", '{"model":"m","messages":[],"options":{"num_predict":-2}}', NDJSON, [ollamaChatAnswer], TEXT_ESTIMATE],
    ["Ollama num_predict 0 (the runner's maximum): no cap", "/api/chat", '{"model":"m","messages":[],"options":{"num_predict":0}}', NDJSON, [ollamaChatAnswer], TEXT_ESTIMATE],
    ["Ollama: a root max_tokens is not Ollama's: no cap", "/api/chat", '{"model":"m","messages":[],"max_tokens":5}', NDJSON, [ollamaChatAnswer], TEXT_ESTIMATE],
    ["Ollama: \"Options\" is options to Go", "/api/chat", '{"model":"m","messages":[],"Options":{"num_predict":5}}', NDJSON, [ollamaChatAnswer], 5],
    ["Ollama: NUM_PREDICT is not an option name: no cap", "/api/chat", '{"model":"m","messages":[],"options":{"NUM_PREDICT":5}}', NDJSON, [ollamaChatAnswer], TEXT_ESTIMATE],
    ["Ollama: duplicate options objects, the larger", "/api/chat", '{"model":"m","options":{"num_predict":5},"messages":[],"options":{"num_predict":9}}', NDJSON, [ollamaChatAnswer], 9],
    // Cohere v2 and Bedrock Converse
    ["Cohere v2 chat, max_tokens 5", "/v2/chat", '{"model":"command-a-03-2025","messages":[],"max_tokens":5,"stream":true}', SSE, [cohereAnswer], 5],
    ["Converse stream, inferenceConfig.maxTokens 5", CONVERSE_STREAM, '{"messages":[],"inferenceConfig":{"maxTokens":5}}', EVENTS, [converseAnswer], 5],
    ["Converse: a root max_tokens is not Converse's: no cap", CONVERSE_STREAM, '{"messages":[],"max_tokens":5}', EVENTS, [converseAnswer], TEXT_ESTIMATE],
    // OpenAI legacy completions: a prompt list is a batch
    ["completions, two prompts × max_tokens 3", "/v1/completions", '{"model":"m","prompt":["a","b"],"max_tokens":3,"stream":true}', SSE, [completionsAnswer], 6],
    ["completions, one prompt of token ids × max_tokens 3", "/v1/completions", '{"model":"m","prompt":[1,2,3],"max_tokens":3,"stream":true}', SSE, [completionsAnswer], 3],
  ])("%s", async (_name, path, body, headers, chunks, output) => {
    expect(await outputCharged(path, body, headers, chunks)).toBe(output);
  });

  test("TGI /generate answered whole without details: the estimate is held by the limit too", async () => {
    expect(await outputCharged("/generate", '{"inputs":"Why?","parameters":{"max_new_tokens":7}}', JSON_TYPE, [tgiJsonAnswer], false)).toBe(7);
  });

  test("a spelling only Go reads (\"MAX_TOKENS\") caps nothing: Python upstreams ignore it", async () => {
    const chat = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: TEXT } }] })}\n\n`;
    expect(await outputCharged("/v1/chat/completions", '{"model":"m","MAX_TOKENS":5,"messages":[]}', SSE, [chat])).toBe(TEXT_ESTIMATE);
    expect(await outputCharged("/v1/chat/completions", '{"model":"m","MAX_TOKENS":5,"max_tokens":3,"messages":[]}', SSE, [chat])).toBe(5);
  });

  // Each OpenAI-style path counts the fields its API defines; another API's field (or llama.cpp's
  // n_predict, which its OpenAI API reads before max_tokens) can only raise the limit, never set it.
  const chatAnswer = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: TEXT } }] })}\n\n`;
  const responsesAnswer = `event: response.output_text.delta\ndata: ${JSON.stringify({ type: "response.output_text.delta", delta: TEXT })}\n\n`;
  const messagesAnswer = `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: TEXT } })}\n\n`;
  test.each<Case>([
    ["chat: max_completion_tokens 5", "/v1/chat/completions", '{"model":"m","max_completion_tokens":5,"messages":[]}', SSE, [chatAnswer], 5],
    ["chat: max_output_tokens is the Responses API's (chat upstreams ignore it): no cap", "/v1/chat/completions", '{"model":"m","max_output_tokens":5,"messages":[]}', SSE, [chatAnswer], TEXT_ESTIMATE],
    ["chat: max_tokens 5 beside max_output_tokens 9: the larger", "/v1/chat/completions", '{"model":"m","max_tokens":5,"max_output_tokens":9,"messages":[]}', SSE, [chatAnswer], 9],
    ["chat: n_predict -1 beside max_tokens 5 (llama.cpp reads n_predict first): no cap", "/v1/chat/completions", '{"model":"m","max_tokens":5,"n_predict":-1,"messages":[]}', SSE, [chatAnswer], TEXT_ESTIMATE],
    ["chat: n_predict 9 beside max_tokens 5: the larger", "/v1/chat/completions", '{"model":"m","max_tokens":5,"n_predict":9,"messages":[]}', SSE, [chatAnswer], 9],
    ["chat: n_predict 5 alone (vLLM ignores it): no cap", "/v1/chat/completions", '{"model":"m","n_predict":5,"messages":[]}', SSE, [chatAnswer], TEXT_ESTIMATE],
    ["responses: max_output_tokens 5", "/v1/responses", '{"model":"m","input":"hi","max_output_tokens":5,"stream":true}', SSE, [responsesAnswer], 5],
    ["responses: max_tokens is not the Responses API's: no cap", "/v1/responses", '{"model":"m","input":"hi","max_tokens":5,"stream":true}', SSE, [responsesAnswer], RESPONSES_TEXT_ESTIMATE],
    ["messages: max_tokens 5", "/v1/messages", '{"model":"m","max_tokens":5,"messages":[],"stream":true}', SSE, [messagesAnswer], 5],
    ["messages: max_completion_tokens is not Anthropic's: no cap", "/v1/messages", '{"model":"m","max_completion_tokens":5,"messages":[],"stream":true}', SSE, [messagesAnswer], MESSAGES_TEXT_ESTIMATE],
  ])("%s", async (_name, path, body, headers, chunks, output) => {
    expect(await outputCharged(path, body, headers, chunks)).toBe(output);
  });

  test("huge limits and multipliers saturate: no overflow, no trap, the estimate itself is charged", async () => {
    const max = "9007199254740991"; // 2^53 − 1
    expect(await outputCharged("/completion", `{"prompt":"a","n_predict":${max},"n":${max}}`, SSE, [llamaAnswer])).toBe(TEXT_ESTIMATE);
    expect(await outputCharged("/generate", `{"text":["a","b"],"sampling_params":{"max_new_tokens":${max},"n":${max}}}`, GZIP_SSE, [WIRE])).toBe(WIRE_ESTIMATE);
    expect(await outputCharged("/api/chat", `{"model":"m","messages":[],"options":{"num_predict":${max}}}`, NDJSON, [ollamaChatAnswer])).toBe(TEXT_ESTIMATE);
  });
});

describe("reservation: max_tokens reserves the prompt estimate + the native limit × choices", () => {
  const prompt = (body: string) => Math.ceil(Buffer.byteLength(body) / 4);
  const config = { ...BASE_CONFIG, reservation: { mode: "max_tokens", tokens: 16, cap: 50000 } };

  test.each<[string, string, string, number]>([
    ["TGI parameters.max_new_tokens", "/generate_stream", '{"inputs":"Why?","parameters":{"max_new_tokens":100}}', 100],
    ["TGI max_new_tokens × best_of", "/generate", '{"inputs":"Why?","parameters":{"max_new_tokens":100,"best_of":2}}', 200],
    ["SGLang batch 2 × n 2 × max_new_tokens 50", "/generate", '{"text":["a","b"],"sampling_params":{"max_new_tokens":50,"n":2}}', 200],
    ["SGLang without a limit: reservation.tokens", "/generate", '{"text":"a"}', 16],
    ["llama.cpp n_predict", "/completion", '{"prompt":"Hi","n_predict":300}', 300],
    ["llama.cpp n_predict -1: reservation.tokens", "/completion", '{"prompt":"Hi","n_predict":-1}', 16],
    ["llama.cpp n_predict -1 beside max_tokens 400: the larger of 400 and reservation.tokens", "/completion", '{"prompt":"Hi","max_tokens":400,"n_predict":-1}', 400],
    ["Ollama options.num_predict", "/api/chat", '{"model":"m","messages":[],"options":{"num_predict":250}}', 250],
    ["Ollama num_predict -2: reservation.tokens", "/api/chat", '{"model":"m","messages":[],"options":{"num_predict":-2}}', 16],
    ["Ollama ignores a root max_tokens: reservation.tokens", "/api/chat", '{"model":"m","messages":[],"max_tokens":250}', 16],
    ["Converse inferenceConfig.maxTokens", CONVERSE, '{"messages":[],"inferenceConfig":{"maxTokens":200}}', 200],
    ["Cohere v2 max_tokens", "/v2/chat", '{"model":"command-a-03-2025","messages":[],"max_tokens":120}', 120],
    ["completions: two prompts × max_tokens", "/v1/completions", '{"model":"m","prompt":["a","b"],"max_tokens":70}', 140],
    ["chat: a field another API defines only raises: max_output_tokens 300 on chat", "/v1/chat/completions", '{"model":"m","max_output_tokens":300,"messages":[]}', 300],
    ["chat: … and never lowers reservation.tokens", "/v1/chat/completions", '{"model":"m","max_output_tokens":5,"messages":[]}', 16],
    ["a huge limit × a huge n saturates at reservation.cap", "/completion", '{"prompt":"a","n_predict":9007199254740991,"n":9007199254740991}', 50000],
  ])("%s", async (_name, path, body, output) => {
    const vm = await fx.plugin(config);
    await fx.setBalance("c1", START);
    const s = vm.newStream();
    s.requestHeaders(request("POST", path, "c1", [["content-type", "application/json"]]), false);
    s.requestBody(body, true);
    await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
    expect(s.upstream.ended).toBe(true);
    const reserved = output === 50000 ? 50000 : prompt(body) + output;
    expect(await fx.balance("c1")).toBe(String(START - reserved));
    s.finish("upstream reset");
    await vm.idle();
    expect(vm.trapped).toBeNull();
  });
});

// Every family's fields, split into chunks anywhere (the prompt list counted across chunk edges),
// between unrelated nesting: the reservation is the prompt estimate + the modelled limit × choices.
describe("property: reservations of native bodies split anywhere", () => {
  const config = { ...BASE_CONFIG, reservation: { mode: "max_tokens", tokens: 16, cap: 10 ** 9 } };
  type Built = { path: string; members: string[]; output: number };
  const noise = fc.constantFrom('"messages":[]', '"tools":[[["a",{"b":[1,"c"]}]]]', '"x":{"y":[{"n_predict":1,"max_new_tokens":1}]}', '"temperature":0.5');
  // A prompt list: strings and lists are prompts, numbers are tokens of one (llama.cpp, completions).
  const promptList = fc.array(fc.constantFrom('"p"', "[1,2]", "7", '"q\\"]"', '{"prompt_string":"s"}'), { maxLength: 5 });
  const prompts = (items: string[]) => Math.max(1, items.filter((i) => !/^\d+$/.test(i)).length);
  const limit = fc.integer({ min: 1, max: 5000 });
  const mult = fc.integer({ min: 1, max: 4 });
  const family: fc.Arbitrary<Built> = fc.oneof(
    fc.tuple(promptList, limit, mult).map(([items, l, m]) => ({ path: "/completion", members: [`"prompt":[${items.join(",")}]`, `"n_predict":${l}`, `"n":${m}`], output: l * m * prompts(items) })),
    fc.tuple(fc.integer({ min: 1, max: 4 }), limit, mult).map(([k, l, m]) => ({ path: "/generate", members: [`"text":[${Array(k).fill('"t"').join(",")}]`, `"sampling_params":{"temperature":0,"max_new_tokens":${l},"n":${m}}`], output: l * m * k })),
    fc.tuple(limit, mult).map(([l, b]) => ({ path: "/generate_stream", members: ['"inputs":"i"', `"parameters":{"best_of":${b},"max_new_tokens":${l}}`], output: l * b })),
    limit.map((l) => ({ path: "/api/chat", members: ['"model":"m"', `"options":{"temperature":0,"num_predict":${l}}`], output: l })),
    limit.map((l) => ({ path: CONVERSE, members: [`"inferenceConfig":{"maxTokens":${l},"topP":0.9}`], output: l })),
  );
  test("200 bodies, each in 1–4 chunks", async () => {
    const vm = await fx.plugin(config);
    await fc.assert(
      fc.asyncProperty(family, fc.array(noise, { maxLength: 3 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }), async (b, extra, cuts) => {
        const members = extra.length % 2 === 0 ? [...extra, ...b.members] : [...b.members, ...extra];
        const body = `{${members.join(",")}}`;
        const bytes = Buffer.from(body);
        const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((x, y) => x - y);
        const chunks = [0, ...points].map((p, i, all) => bytes.subarray(p, i + 1 < all.length ? all[i + 1] : bytes.length));
        await fx.setBalance("c1", START);
        const s = vm.newStream();
        s.requestHeaders(request("POST", b.path, "c1", [["content-type", "application/json"]]), false);
        chunks.forEach((c, i) => s.requestBody(c, i === chunks.length - 1));
        await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
        expect(s.localResponse).toBeNull();
        expect(await fx.balance("c1")).toBe(String(START - Math.ceil(bytes.length / 4) - b.output));
        s.finish("upstream reset");
        await vm.idle();
      }),
      { numRuns: 200, seed: 22 },
    );
    expect(vm.trapped).toBeNull();
  });
});
