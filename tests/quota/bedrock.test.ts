// AWS Bedrock runtime behind the plugin (issue 23 item 1), through the real .wasm and a real
// redis-server: Converse (JSON), ConverseStream and InvokeModelWithResponseStream (the binary AWS
// event-stream framing, split at any byte, CRCs checked), each charged exactly the counts Bedrock
// reports (docs/metering.md: which add up), estimated when cut or when a mid-stream exception ends
// it, and charged as an unreadable answer when the framing fails its checks: never free.
import { QuotaFixture, request } from "./fixture";
import { inputEstimateOf, outputEstimateOf } from "../unit/response_module";
import type { ResponseSpec } from "../../host/stream-run";
import { PluginVm } from "../../host";
import { eventMessage, eventStreamMessage, exceptionMessage, invokeChunk } from "../../gateway/eventstream";

let fx: QuotaFixture;
let vm: PluginVm;
beforeAll(async () => {
  fx = await QuotaFixture.start();
  vm = await fx.plugin();
});
afterAll(async () => fx.stop());
beforeEach(async () => fx.flush());
afterEach(() => expect(vm.trapped).toBeNull());

const MODEL = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";
const CONVERSE = `/model/${MODEL}/converse`;
const CONVERSE_STREAM = `/model/${MODEL}/converse-stream`;
const INVOKE_STREAM = `/model/${MODEL}/invoke-with-response-stream`;
const LLAMA_INVOKE_STREAM = "/model/meta.llama3-8b-instruct-v1:0/invoke-with-response-stream";

const CONVERSE_BODY = '{"messages":[{"role":"user","content":[{"text":"Why is the sky blue?"}]}],"inferenceConfig":{"maxTokens":300}}';
const INVOKE_BODY = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":300,"messages":[{"role":"user","content":"Why is the sky blue?"}]}';
const START = 100_000;

const JSON_TYPE: ResponseSpec["headers"] = [[":status", "200"], ["content-type", "application/json"]];
const EVENTS: ResponseSpec["headers"] = [[":status", "200"], ["content-type", "application/vnd.amazon.eventstream"]];

const ceilDiv = (n: number, d: number) => Math.ceil(n / d);
/** docs/metering.md's estimate of output: content bytes / 2, plus 16 for an answer with content. */
/** The plugin's output estimate (usage/estimate.ts): these routes are of the chat family, their requests declare no tools. */
const outputEstimate = (contentBytes: number) => outputEstimateOf(contentBytes, 0, false);
const bytes = (s: string) => Buffer.byteLength(s, "utf8");

/** One whole exchange; answers what the consumer was charged. */
async function spent(path: string, response: ResponseSpec, body = path.includes("invoke") ? INVOKE_BODY : CONVERSE_BODY): Promise<number> {
  await fx.setBalance("c1", START);
  const r = await vm.newStream().run({
    request: { headers: request("POST", path, "c1", [["content-type", "application/json"]]), body },
    response: () => response,
  });
  expect(r.upstream).not.toBeNull();
  await vm.idle();
  return START - Number(await fx.balance("c1"));
}

/** The answer begins and is then cut by an upstream reset after `chunks`. */
async function spentCut(path: string, chunks: Buffer[], body = path.includes("invoke") ? INVOKE_BODY : CONVERSE_BODY): Promise<number> {
  await fx.setBalance("c1", START);
  const s = vm.newStream();
  s.requestHeaders(request("POST", path, "c1", [["content-type", "application/json"]]), false);
  s.requestBody(body, true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
  s.responseHeaders(EVENTS);
  for (const c of chunks) s.responseBody(c, false);
  s.finish("upstream reset");
  await vm.idle();
  return START - Number(await fx.balance("c1"));
}

/** Every split of `body` in two, and byte by byte: each charged `want`. */
async function everySplit(path: string, body: Buffer, want: number, step = 1): Promise<void> {
  for (let i = 0; i <= body.length; i += step) {
    expect([i, await spent(path, { headers: EVENTS, body: [body.subarray(0, i), body.subarray(i)] })]).toEqual([i, want]);
  }
  expect(await spent(path, { headers: EVENTS, body: [...body].map((b) => Buffer.from([b])) })).toBe(want);
}

// ---- Converse ----

const converseAnswer = (usage: Record<string, number>) => JSON.stringify({
  output: { message: { role: "assistant", content: [
    { reasoningContent: { reasoningText: { text: "The user asks about Rayleigh scattering.", signature: "c2ln" } } },
    { text: "Rayleigh scattering: short wavelengths scatter more." },
    { toolUse: { toolUseId: "t1", name: "lookup", input: { topic: "sky" } } },
  ] } },
  stopReason: "end_turn", usage, metrics: { latencyMs: 321 },
});
/** Content bytes of converseAnswer: the reasoning text, the text, the tool input as written. */
const CONVERSE_CONTENT = bytes("The user asks about Rayleigh scattering.") + bytes("Rayleigh scattering: short wavelengths scatter more.") + bytes('{"topic":"sky"}');

describe("Converse (JSON)", () => {
  test("inputTokens + outputTokens charged exactly", async () => {
    expect(await spent(CONVERSE, { headers: JSON_TYPE, body: converseAnswer({ inputTokens: 10, outputTokens: 5, totalTokens: 15 }) })).toBe(15);
  });

  test("cache reads and writes are apart from inputTokens and added; their *Count duplicates are not", async () => {
    // A real ConverseStream metadata's usage (docs/metering.md): 4 + 1490 + 832 = 2326 = totalTokens.
    const usage = { cacheReadInputTokenCount: 1490, cacheReadInputTokens: 1490, cacheWriteInputTokenCount: 0, cacheWriteInputTokens: 0, inputTokens: 4, outputTokens: 832, totalTokens: 2326 };
    expect(await spent(CONVERSE, { headers: JSON_TYPE, body: converseAnswer(usage) })).toBe(2326);
    expect(await spent(CONVERSE, { headers: JSON_TYPE, body: converseAnswer({ inputTokens: 4, cacheWriteInputTokens: 1224, outputTokens: 155, totalTokens: 1383 }) })).toBe(1383);
  });

  test("a totalTokens above the parts: the rest is charged as input (never below Bedrock's total)", async () => {
    expect(await spent(CONVERSE, { headers: JSON_TYPE, body: converseAnswer({ inputTokens: 10, outputTokens: 5, totalTokens: 40 }) })).toBe(40);
  });

  test("split at every byte: the same charge", async () => {
    const body = Buffer.from(converseAnswer({ inputTokens: 11, outputTokens: 7, totalTokens: 18 }));
    for (let i = 0; i <= body.length; i += 3) {
      expect([i, await spent(CONVERSE, { headers: JSON_TYPE, body: [body.subarray(0, i), body.subarray(i)] })]).toEqual([i, 18]);
    }
  });

  test("usage-like text inside content and tool input is not read", async () => {
    const body = JSON.stringify({
      output: { message: { role: "assistant", content: [{ text: '"usage":{"inputTokens":1,"outputTokens":1}' }, { toolUse: { toolUseId: "t", name: "x", input: { usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } } } }] } },
      usage: { inputTokens: 30, outputTokens: 20, totalTokens: 50 },
    });
    expect(await spent(CONVERSE, { headers: JSON_TYPE, body })).toBe(50);
  });

  test("without usage (or cut): the request's input estimate + the content's output estimate", async () => {
    const noUsage = converseAnswer({}).replace(/,"usage":\{\}/, "");
    expect(await spent(CONVERSE, { headers: JSON_TYPE, body: noUsage })).toBe(inputEstimateOf(CONVERSE_BODY) + outputEstimate(CONVERSE_CONTENT));
  });

  test("an error answer (4xx, no usage, no content) costs nothing", async () => {
    expect(await spent(CONVERSE, { headers: [[":status", "400"], ["content-type", "application/json"], ["x-amzn-errortype", "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"]], body: '{"message":"Malformed input request"}' })).toBe(0);
    expect(await spent(CONVERSE_STREAM, { headers: [[":status", "429"], ["content-type", "application/json"]], body: '{"message":"Too many requests"}' })).toBe(0);
  });
});

// ---- ConverseStream ----

const TEXT_DELTAS = ["Rayleigh", " scattering", " makes the sky \u00e9 blue."];
const converseStream = (usage: Record<string, number> | null) => Buffer.concat([
  eventMessage("messageStart", { p: "abcdefgh", role: "assistant" }),
  eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { text: "Think." } }, p: "ab" }),
  eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { reasoningContent: { signature: "c2lnbmF0dXJl" } } }),
  eventMessage("contentBlockStop", { contentBlockIndex: 0 }),
  ...TEXT_DELTAS.map((text) => eventMessage("contentBlockDelta", { contentBlockIndex: 1, delta: { text } })),
  eventMessage("contentBlockStop", { contentBlockIndex: 1 }),
  eventMessage("contentBlockStart", { contentBlockIndex: 2, start: { toolUse: { toolUseId: "t1", name: "lookup" } } }),
  eventMessage("contentBlockDelta", { contentBlockIndex: 2, delta: { toolUse: { input: '{"topic":' } } }),
  eventMessage("contentBlockDelta", { contentBlockIndex: 2, delta: { toolUse: { input: '"sky"}' } } }),
  eventMessage("contentBlockStop", { contentBlockIndex: 2 }),
  eventMessage("messageStop", { stopReason: "tool_use" }),
  ...(usage === null ? [] : [eventMessage("metadata", { usage, metrics: { latencyMs: 900 }, p: "abc" })]),
]);
const STREAM_CONTENT = bytes("Think.") + bytes(TEXT_DELTAS.join("")) + bytes('{"topic":"sky"}');

describe("ConverseStream (event-stream)", () => {
  test("metadata's usage charged exactly, split at every byte and byte by byte", async () => {
    const body = converseStream({ inputTokens: 21, outputTokens: 13, totalTokens: 34 });
    expect(await spent(CONVERSE_STREAM, { headers: EVENTS, body })).toBe(34);
    await everySplit(CONVERSE_STREAM, body, 34, 5);
  });

  test("cache reads and writes added", async () => {
    const body = converseStream({ inputTokens: 4, cacheReadInputTokens: 1490, cacheWriteInputTokens: 7, outputTokens: 832, totalTokens: 2333 });
    expect(await spent(CONVERSE_STREAM, { headers: EVENTS, body })).toBe(2333);
  });

  test("cut before metadata: the input estimate + every content delta's estimate", async () => {
    const body = converseStream(null);
    expect(await spentCut(CONVERSE_STREAM, [body])).toBe(inputEstimateOf(CONVERSE_BODY) + outputEstimate(STREAM_CONTENT));
    // cut inside a message: the deltas that ended count
    const first = Buffer.concat([eventMessage("messageStart", { role: "assistant" }), eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hello there" } })]);
    const half = eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "never seen whole" } });
    expect(await spentCut(CONVERSE_STREAM, [first, half.subarray(0, 20)])).toBe(inputEstimateOf(CONVERSE_BODY) + outputEstimate(bytes("Hello there")));
  });

  test("ended without metadata (no usage): estimated as well", async () => {
    expect(await spent(CONVERSE_STREAM, { headers: EVENTS, body: converseStream(null) })).toBe(inputEstimateOf(CONVERSE_BODY) + outputEstimate(STREAM_CONTENT));
  });

  test("an exception message mid-stream ends the reading: what came before is estimated", async () => {
    const body = Buffer.concat([
      eventMessage("messageStart", { role: "assistant" }),
      eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Partial answer" } }),
      exceptionMessage("modelStreamErrorException", "The model stopped"),
      // nothing after an exception is read, not even a usage
      eventMessage("metadata", { usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } }),
    ]);
    expect(await spent(CONVERSE_STREAM, { headers: EVENTS, body })).toBe(inputEstimateOf(CONVERSE_BODY) + outputEstimate(bytes("Partial answer")));
  });

  test("a bad message CRC, a bad prelude CRC, an oversized message: unreadable, charged by size (never free)", async () => {
    const good = converseStream({ inputTokens: 21, outputTokens: 13, totalTokens: 34 });
    // by size, at most the request's inferenceConfig.maxTokens (300; the big message is above it)
    const unreadable = (body: Buffer) => inputEstimateOf(CONVERSE_BODY) + Math.min(ceilDiv(body.length, 2), 300);
    const badMessage = Buffer.from(good); badMessage[good.length - 30] ^= 0x01; // inside the metadata message
    expect(await spent(CONVERSE_STREAM, { headers: EVENTS, body: badMessage })).toBe(unreadable(badMessage));
    const badPrelude = Buffer.from(good); badPrelude[9] ^= 0x80;
    expect(await spent(CONVERSE_STREAM, { headers: EVENTS, body: badPrelude })).toBe(unreadable(badPrelude));
    const big = Buffer.concat([eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "x".repeat(300_000) } }), good]);
    expect(await spent(CONVERSE_STREAM, { headers: EVENTS, body: big })).toBe(unreadable(big));
    // bytes that are no framing at all (a JSON body with status 200)
    const json = Buffer.from('{"usage":{"inputTokens":1,"outputTokens":1}}');
    expect(await spent(CONVERSE_STREAM, { headers: JSON_TYPE, body: json })).toBe(unreadable(json));
  });

  test("usage in a delta or another event's payload is not read", async () => {
    const body = Buffer.concat([
      eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "hi" }, usage: { inputTokens: 1, outputTokens: 1 } }),
      eventMessage("messageStop", { stopReason: "end_turn", usage: { inputTokens: 1, outputTokens: 1 } }),
      eventStreamMessage([[":event-type", "metadata"], [":message-type", "event"]], JSON.stringify({ usage: { inputTokens: 40, outputTokens: 2, totalTokens: 42 } })),
    ]);
    expect(await spent(CONVERSE_STREAM, { headers: EVENTS, body })).toBe(42);
  });
});

// ---- InvokeModelWithResponseStream ----

const claudeEvents = (metrics: Record<string, number> | null, finalOutput: number | null) => [
  { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: "claude-3-5-sonnet-20240620", content: [], stop_reason: null, usage: { input_tokens: 25, output_tokens: 1 } } },
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Rayleigh scattering." } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: " Blue light scatters most." } },
  { type: "content_block_stop", index: 0 },
  ...(finalOutput === null ? [] : [{ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: finalOutput } }]),
  { type: "message_stop", ...(metrics === null ? {} : { "amazon-bedrock-invocationMetrics": { ...metrics, invocationLatency: 1200, firstByteLatency: 300 } }) },
];
const INVOKE_CONTENT = bytes("Rayleigh scattering. Blue light scatters most.");
const invokeStream = (events: unknown[]) => Buffer.concat(events.map(invokeChunk));

describe("InvokeModelWithResponseStream (event-stream of base64 chunks)", () => {
  test("Claude: Anthropic's events and invocationMetrics agree; charged exactly, split at every byte", async () => {
    const body = invokeStream(claudeEvents({ inputTokenCount: 25, outputTokenCount: 9 }, 9));
    expect(await spent(INVOKE_STREAM, { headers: EVENTS, body })).toBe(34);
    await everySplit(INVOKE_STREAM, body, 34, 7);
  });

  test("per side the larger of Anthropic's counts and invocationMetrics' (cache counts added)", async () => {
    const body = invokeStream(claudeEvents({ inputTokenCount: 20, cacheReadInputTokenCount: 100, cacheWriteInputTokenCount: 3, outputTokenCount: 12 }, 9));
    expect(await spent(INVOKE_STREAM, { headers: EVENTS, body })).toBe(123 + 12);
  });

  test("a model whose own events the plugin does not read (Llama): invocationMetrics charged exactly", async () => {
    const events = [
      { generation: "The sky", prompt_token_count: 12, generation_token_count: 2, stop_reason: null },
      { generation: " is blue.", prompt_token_count: null, generation_token_count: 5, stop_reason: "stop", "amazon-bedrock-invocationMetrics": { inputTokenCount: 12, outputTokenCount: 5, invocationLatency: 500, firstByteLatency: 100 } },
    ];
    expect(await spent(LLAMA_INVOKE_STREAM, { headers: EVENTS, body: invokeStream(events) }, '{"prompt":"Why is the sky blue?","max_gen_len":50}')).toBe(17);
  });

  test("base64 written with JSON's \\/ escape, and a padding member: read the same", async () => {
    const events = claudeEvents({ inputTokenCount: 25, outputTokenCount: 9 }, 9);
    const body = Buffer.concat(events.map((e) => {
      const b64 = Buffer.from(JSON.stringify(e)).toString("base64").replace(/\//g, "\\/");
      return eventStreamMessage([[":event-type", "chunk"], [":content-type", "application/json"], [":message-type", "event"]], `{"p":"abcdef","bytes":"${b64}"}`);
    }));
    expect(await spent(INVOKE_STREAM, { headers: EVENTS, body })).toBe(34);
  });

  test("cut before message_delta: message_start's input + the estimate of the content after it", async () => {
    const events = claudeEvents(null, null).slice(0, 4);
    expect(await spentCut(INVOKE_STREAM, [invokeStream(events)])).toBe(25 + 1 + outputEstimate(INVOKE_CONTENT));
  });

  test("ended without message_delta or metrics: the provisional output is completed by the estimate", async () => {
    expect(await spent(INVOKE_STREAM, { headers: EVENTS, body: invokeStream(claudeEvents(null, null)) })).toBe(25 + 1 + outputEstimate(INVOKE_CONTENT));
  });

  test("a chunk that is not base64 in a JSON object: unreadable; message_start's input (read before it) + the output by size, at most max_tokens", async () => {
    const good = claudeEvents({ inputTokenCount: 25, outputTokenCount: 9 }, 9);
    for (const payload of ['{"bytes":"@@@@"}', '{"bytes":"eyJ0eXBlIjoi"}x', '{"bytes":"e"}', '{"bytes":"eyJ9","bytes":"eyJ9"}', '["bytes"]', '{"bytes":1}']) {
      const body = Buffer.concat([invokeChunk(good[0]), eventMessage("chunk", {}).subarray(0, 0), eventStreamMessage([[":event-type", "chunk"], [":message-type", "event"]], payload), ...good.slice(1).map(invokeChunk)]);
      expect([payload, await spent(INVOKE_STREAM, { headers: EVENTS, body })]).toEqual([payload, 25 + Math.min(ceilDiv(body.length, 2), 300)]);
    }
  });
});

describe("InvokeModel (the model's own JSON): the token counts Bedrock puts in the response headers", () => {
  const LLAMA_INVOKE = "/model/meta.llama3-8b-instruct-v1:0/invoke";
  const CLAUDE_INVOKE = `/model/${MODEL}/invoke`;
  const LLAMA_BODY = '{"prompt":"Why is the sky blue?","max_gen_len":300}';
  const llamaAnswer = JSON.stringify({ generation: "Because of Rayleigh scattering.", stop_reason: "stop" });
  const counts = (input: string, output: string, more: Array<[string, string]> = []): ResponseSpec["headers"] =>
    [...JSON_TYPE!, ["x-amzn-bedrock-input-token-count", input], ["x-amzn-bedrock-output-token-count", output], ...more];

  test("a model whose body reports nothing (Llama) is charged the header counts exactly", async () => {
    expect(await spent(LLAMA_INVOKE, { headers: counts("14", "36"), body: llamaAnswer }, LLAMA_BODY)).toBe(50);
  });

  test("cache reads and writes are input, added (as in Converse's usage)", async () => {
    const headers = counts("4", "10", [["x-amzn-bedrock-cache-read-input-token-count", "1490"], ["x-amzn-bedrock-cache-write-input-token-count", "6"]]);
    expect(await spent(LLAMA_INVOKE, { headers, body: llamaAnswer }, LLAMA_BODY)).toBe(4 + 1490 + 6 + 10);
  });

  test("with a Claude body that reports its usage too, each side is the larger of the two", async () => {
    const body = JSON.stringify({ type: "message", role: "assistant", content: [{ type: "text", text: "Rayleigh." }], usage: { input_tokens: 20, output_tokens: 3 } });
    expect(await spent(CLAUDE_INVOKE, { headers: counts("14", "36"), body })).toBe(20 + 36);
  });

  test("a compressed body is still charged the header counts", async () => {
    const headers = counts("14", "36", [["content-encoding", "gzip"]]);
    expect(await spent(LLAMA_INVOKE, { headers, body: Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]) }, LLAMA_BODY)).toBe(50);
  });

  test("only the first value of a repeated header counts; a value that is not a count is none (the side is estimated)", async () => {
    const repeated = [...counts("14", "36"), ["x-amzn-bedrock-output-token-count", "1"]] as ResponseSpec["headers"];
    expect(await spent(LLAMA_INVOKE, { headers: repeated, body: llamaAnswer }, LLAMA_BODY)).toBe(50);
    // "14x" is no count: the input is estimated from the request, the output header still counts.
    const charged = await spent(LLAMA_INVOKE, { headers: counts("14x", "36"), body: llamaAnswer }, LLAMA_BODY);
    expect(charged).toBe(inputEstimateOf(LLAMA_BODY) + 36);
  });

  test("the headers are read only on InvokeModel: a chat answer with them is charged its own usage", async () => {
    const body = JSON.stringify({ id: "c", object: "chat.completion", choices: [], usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } });
    expect(await spent("/v1/chat/completions", { headers: counts("1000", "1000"), body }, '{"model":"m","messages":[]}')).toBe(5);
  });
});

describe("memory", () => {
  test("linear memory stays flat over many Bedrock streams, a 200 KB message included", async () => {
    const body = converseStream({ inputTokens: 21, outputTokens: 13, totalTokens: 34 });
    const big = Buffer.concat([eventMessage("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "y".repeat(200_000) } }), body]);
    for (let i = 0; i < 20; i++) await spent(CONVERSE_STREAM, { headers: EVENTS, body });
    await spent(CONVERSE_STREAM, { headers: EVENTS, body: big });
    const before = vm.memoryBytes();
    for (let i = 0; i < 200; i++) {
      expect(await spent(i % 2 == 0 ? CONVERSE_STREAM : INVOKE_STREAM, { headers: EVENTS, body: i % 2 == 0 ? body : invokeStream(claudeEvents({ inputTokenCount: 25, outputTokenCount: 9 }, 9)) })).toBe(i % 2 == 0 ? 34 : 34);
    }
    expect(vm.memoryBytes() - before).toBeLessThanOrEqual(0);
  });
});
