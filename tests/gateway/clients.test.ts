// The gateway `npm start` runs (examples/local.yaml: key-auth, the real plugin, its redis-server,
// the built-in mock model), driven by the official clients as users drive it, the balance read
// over the admin API after each call. Issue 14's rules: every answer is charged what the model
// reported; a stream that did not ask for usage is charged its real usage all the same (the
// plugin asks the upstream for it and hides it from the client); an answer that ends without
// usage (cut, compressed regardless, never reported) is charged an estimate: more than nothing,
// never less than what was reported, and once.
// The mock's rule makes the usage predictable: MESSAGE has 6 words, output = the request's limit
// or 16 (gateway/mock-usage.ts). The official clients send `accept-encoding: gzip, deflate` (Node's
// fetch) as users' clients do.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import * as zlib from "node:zlib";
import { RedisClient } from "../../host";
import { GatewayProcess } from "./gateway-process";
import { StreamedAnswer, send } from "./http-client";
import { KeyWatch } from "./key-watch";

const MESSAGE = "Say hello to the quota gateway";
const WORDS = 6;
const START = 100_000;
const ADMIN = { authorization: "Bearer credential3" };
const USER = { authorization: "Bearer credential1", "content-type": "application/json" };
const CHAT = "/v1/chat/completions";

let gw: GatewayProcess;
let redis: RedisClient;
let watch: KeyWatch;
let mockUrl: string;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  gw = await GatewayProcess.launch(["--config", "examples/local.yaml", "--port", "0"]);
  redis = await RedisClient.connect(gw.redisPort, { host: gw.redisHost });
  watch = await KeyWatch.start(gw.redisHost, gw.redisPort, "chat_quota:consumer1");
  mockUrl = /^upstream: mock \((\S+)\)$/.exec(gw.lines.find((l) => l.startsWith("upstream: mock"))!)![1];
  openai = new OpenAI({ baseURL: gw.url + "/v1", apiKey: "credential1", maxRetries: 0, timeout: 10_000 });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: null, authToken: "credential1", maxRetries: 0, timeout: 10_000 });
}, 60_000);

afterAll(async () => {
  watch?.close();
  redis?.close();
  await gw?.stop();
  gw?.kill();
});

beforeEach(async () => {
  const r = await send(gw.url + CHAT + "/quota/refresh", { headers: { ...ADMIN, "content-type": "application/x-www-form-urlencoded" }, body: `consumer=consumer1&quota=${START}` });
  expect(r.status).toBe(200);
});

async function balance(): Promise<number> {
  const r = await send(gw.url + CHAT + "/quota?consumer=consumer1", { headers: ADMIN });
  expect(r.status).toBe(200);
  return JSON.parse(r.body).quota;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Runs one model call and waits until the gateway has logged it (the stream is over in the plugin,
 * its charge sent); resolves with what the call returned or the error it threw, and the charge.
 */
async function call<T>(path: string, run: () => Promise<T>): Promise<{ value: T | undefined; error: unknown; charged: number }> {
  const from = gw.lines.length;
  let value: T | undefined;
  let error: unknown = null;
  try {
    value = await run();
  } catch (err) {
    error = err;
  }
  await gw.waitForLine(new RegExp(`^POST ${escape(path)}(\\?\\S*)? \\S+ consumer1( |$)`), 10_000, from);
  return { value, error, charged: START - (await balance()) };
}

/** A request charged exactly its usage (no compression asked, usage asked): 6 + 1 tokens. */
async function sentinel(): Promise<void> {
  const r = await send(gw.url + CHAT, { headers: USER, body: JSON.stringify({ model: "gpt-4o", max_tokens: 1, messages: [{ role: "user", content: MESSAGE }] }) });
  expect(JSON.parse(r.body).usage.total_tokens).toBe(WORDS + 1);
}

/**
 * An answer charged an estimate: more than `atLeast`, and once: the balance key is written once
 * for it, and a later request moves the balance by exactly its own usage.
 */
async function expectEstimate(charged: number, atLeast: number, writesBefore: number): Promise<void> {
  expect(charged).toBeGreaterThan(atLeast);
  const from = gw.lines.length;
  await sentinel();
  await gw.waitForLine(/^POST \/v1\/chat\/completions 200 consumer1$/, 10_000, from);
  expect(START - (await balance())).toBe(charged + WORDS + 1);
  expect((await watch.sync(redis)).length - writesBefore).toBe(2);
}

const user = (content = MESSAGE) => [{ role: "user" as const, content }];

/** The chunks of an SSE text, ids and timestamps blanked (they differ between two answers). */
function chunksOf(text: string): string[] {
  return text.split("\n\n").filter((e) => e !== "").map((e) => e.replace(/"id":"[^"]*"/, '"id":""').replace(/"created":\d+/, '"created":0'));
}

describe("OpenAI chat completions through the gateway", () => {
  test("a plain client (no accept-encoding): JSON charged its usage, 6 + 16", async () => {
    const { value, charged } = await call(CHAT, () => send(gw.url + CHAT, { headers: USER, body: JSON.stringify({ model: "gpt-4o", messages: user() }) }));
    expect(JSON.parse(value!.body).usage).toEqual({ prompt_tokens: WORDS, completion_tokens: 16, total_tokens: WORDS + 16 });
    expect(charged).toBe(WORDS + 16);
  });

  test("the official client, not streaming: charged the reported usage, 6 + 5", async () => {
    const { value, error, charged } = await call(CHAT, () => openai.chat.completions.create({ model: "gpt-4o", max_tokens: 5, messages: user() }));
    expect(error).toBeNull();
    expect(value!.usage).toEqual({ prompt_tokens: WORDS, completion_tokens: 5, total_tokens: WORDS + 5 });
    expect(value!.choices[0].message.content).toBe("lorem lorem lorem lorem lorem");
    expect(charged).toBe(WORDS + 5);
  });

  test("streaming WITH include_usage: the client gets its usage chunk, charged 6 + 8", async () => {
    const { value, error, charged } = await call(CHAT, async () => {
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const c of await openai.chat.completions.create({ model: "gpt-4o", stream: true, stream_options: { include_usage: true }, max_tokens: 8, messages: user() })) chunks.push(c);
      return chunks;
    });
    expect(error).toBeNull();
    expect(value!.map((c) => c.choices.map((ch) => ch.delta.content ?? "").join("")).join("")).toBe("lorem lorem lorem lorem lorem lorem lorem lorem");
    expect(value![value!.length - 1]).toMatchObject({ choices: [], usage: { prompt_tokens: WORDS, completion_tokens: 8, total_tokens: WORDS + 8 } });
    expect(charged).toBe(WORDS + 8);
  });

  test("streaming WITHOUT include_usage: the client sees no usage, and is charged its real usage all the same, 6 + 8", async () => {
    const { value, error, charged } = await call(CHAT, async () => {
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const c of await openai.chat.completions.create({ model: "gpt-4o", stream: true, max_tokens: 8, messages: user() })) chunks.push(c);
      return chunks;
    });
    expect(error).toBeNull();
    expect(value).toHaveLength(1 + 8 + 1);
    expect(value!.every((c) => c.choices.length === 1 && (c as { usage?: unknown }).usage == null)).toBe(true);
    expect(charged).toBe(WORDS + 8);
  });

  test.each([
    ["stream first", { model: "gpt-4o", stream: true, max_tokens: 3, messages: user() }],
    ["stream last", { model: "gpt-4o", max_tokens: 3, messages: user(), stream: true }],
    ["empty stream_options", { model: "gpt-4o", stream: true, stream_options: {}, max_tokens: 3, messages: user() }],
    ["include_usage false", { model: "gpt-4o", stream_options: { include_usage: false }, max_tokens: 3, messages: user(), stream: true }],
  ])("streaming WITHOUT include_usage (%s): event for event the stream the upstream sends without the gateway, charged 6 + 3", async (_, request) => {
    const body = JSON.stringify(request);
    const direct = await (await StreamedAnswer.open(mockUrl + CHAT, { headers: { "content-type": "application/json" }, body })).end();
    const { value, charged } = await call(CHAT, async () => (await StreamedAnswer.open(gw.url + CHAT, { headers: USER, body })).end());
    expect(chunksOf(value!)).toEqual(chunksOf(direct));
    expect(charged).toBe(WORDS + 3);
  });

  test("a stream whose upstream never reports usage (ignores include_usage): charged an estimate, once", async () => {
    const before = (await watch.sync(redis)).length;
    const { value, charged } = await call(CHAT, async () => {
      let n = 0;
      for await (const c of await openai.chat.completions.create({ model: "gpt-4o", stream: true, stream_options: { include_usage: true }, messages: user() }, { headers: { "x-mock-usage": "omit" } })) {
        expect(c.usage ?? null).toBeNull();
        n++;
      }
      return n;
    });
    expect(value).toBe(1 + 16 + 1);
    await expectEstimate(charged, 0, before);
  });

  test("a stream the upstream cuts after 3 events: the client sees the cut; charged an estimate, once", async () => {
    const before = (await watch.sync(redis)).length;
    const seen: string[] = [];
    const { error, charged } = await call(CHAT, async () => {
      for await (const c of await openai.chat.completions.create({ model: "gpt-4o", stream: true, messages: user() }, { headers: { "x-mock-cut-after": "3" } })) {
        seen.push(c.choices[0]?.delta.content ?? "");
      }
    });
    expect(String(error)).toMatch(/terminated|aborted|closed|reset/i); // the client saw the cut (fetch's error, another realm's TypeError)
    expect(seen).toEqual(["", "lorem", " lorem"]);
    await expectEstimate(charged, 0, before);
  });

  test("a client that leaves mid-stream: charged an estimate, once", async () => {
    const before = (await watch.sync(redis)).length;
    const { value, charged } = await call(CHAT, async () => {
      let n = 0;
      const stream = await openai.chat.completions.create({ model: "gpt-4o", stream: true, max_tokens: 50_000, messages: user() });
      for await (const c of stream) {
        if (c.choices[0]?.delta.content && ++n === 2) break; // the client's iterator aborts the request
      }
      return n;
    });
    expect(value).toBe(2);
    await expectEstimate(charged, 0, before);
  });
});

describe("compression", () => {
  test("a client that accepts gzip and br gets its answer uncompressed (metered requests do not pass accept-encoding on), charged exactly", async () => {
    const { value, charged } = await call(CHAT, () =>
      send(gw.url + CHAT, { headers: { ...USER, "accept-encoding": "gzip;q=1.0, br;q=0.9" }, body: JSON.stringify({ model: "gpt-4o", messages: user() }) }));
    expect(value!.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(value!.body).usage.total_tokens).toBe(WORDS + 16);
    expect(charged).toBe(WORDS + 16);
  });

  test("an upstream that compresses regardless: the client decodes its answer; charged an estimate, once", async () => {
    const before = (await watch.sync(redis)).length;
    const { value, charged } = await call(CHAT, () =>
      send(gw.url + CHAT, { headers: { ...USER, "x-mock-content-encoding": "gzip" }, body: JSON.stringify({ model: "gpt-4o", messages: user() }) }));
    expect(value!.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(zlib.gunzipSync(value!.bytes).toString()).usage.total_tokens).toBe(WORDS + 16);
    await expectEstimate(charged, 0, before);
  });
});

describe("the other OpenAI endpoints", () => {
  test("legacy completions, JSON: 6 + 4", async () => {
    const { value, charged } = await call("/v1/completions", () => openai.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: MESSAGE, max_tokens: 4 }));
    expect(value!.usage!.total_tokens).toBe(WORDS + 4);
    expect(charged).toBe(WORDS + 4);
  });

  test("legacy completions, streaming without include_usage: no usage seen, charged 6 + 4", async () => {
    const { value, charged } = await call("/v1/completions", async () => {
      const chunks: OpenAI.Completions.Completion[] = [];
      for await (const c of await openai.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: MESSAGE, max_tokens: 4, stream: true })) chunks.push(c);
      return chunks;
    });
    expect(value).toHaveLength(4 + 1);
    expect(value!.every((c) => c.choices.length === 1 && c.usage == null)).toBe(true);
    expect(charged).toBe(WORDS + 4);
  });

  test("embeddings: 6 prompt tokens", async () => {
    const { value, charged } = await call("/v1/embeddings", () => openai.embeddings.create({ model: "text-embedding-3-small", input: MESSAGE }));
    expect(value!.usage).toEqual({ prompt_tokens: WORDS, total_tokens: WORDS });
    expect(charged).toBe(WORDS);
  });

  test("Responses, JSON: 6 + 16", async () => {
    const { value, charged } = await call("/v1/responses", () => openai.responses.create({ model: "gpt-4o", input: MESSAGE }));
    expect(value!.usage).toMatchObject({ input_tokens: WORDS, output_tokens: 16, total_tokens: WORDS + 16 });
    expect(charged).toBe(WORDS + 16);
  });

  test("Responses, streaming: usage in response.completed, 6 + 16", async () => {
    const { value, charged } = await call("/v1/responses", async () => {
      const types: string[] = [];
      for await (const e of await openai.responses.create({ model: "gpt-4o", input: MESSAGE, stream: true })) types.push(e.type);
      return types;
    });
    expect(value![value!.length - 1]).toBe("response.completed");
    expect(charged).toBe(WORDS + 16);
  });

  test("Responses, streaming, stopped by max_output_tokens: usage in response.incomplete, 6 + 5", async () => {
    const { value, charged } = await call("/v1/responses", async () => {
      const stream = openai.responses.stream({ model: "gpt-4o", input: MESSAGE, max_output_tokens: 5 });
      for await (const _ of stream) void _;
      return stream.finalResponse();
    });
    expect(value).toMatchObject({ status: "incomplete", usage: { total_tokens: WORDS + 5 } });
    expect(charged).toBe(WORDS + 5);
  });

  test("Responses, background: refused by default (responses_background: deny), nothing charged", async () => {
    const before = (await watch.sync(redis)).length;
    const { error, charged } = await call("/v1/responses", () => openai.responses.create({ model: "gpt-4o", input: MESSAGE, background: true }));
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeGreaterThanOrEqual(400);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeLessThan(500);
    expect(charged).toBe(0);
    expect((await watch.sync(redis)).length).toBe(before);
  });
});

describe("Anthropic Messages through the gateway", () => {
  test("not streaming: 6 + 8", async () => {
    const { value, charged } = await call("/v1/messages", () => anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 8, messages: user() }));
    expect(value!.usage).toMatchObject({ input_tokens: WORDS, output_tokens: 8 });
    expect(charged).toBe(WORDS + 8);
  });

  test("streaming: message_start's input and message_delta's output, 6 + 8 (not 6 + 1 + 8)", async () => {
    const { value, charged } = await call("/v1/messages", () => anthropic.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 8, messages: user() }).finalMessage());
    expect(value!.usage).toMatchObject({ input_tokens: WORDS, output_tokens: 8 });
    expect(charged).toBe(WORDS + 8);
  });

  test("a stream cut after message_start and one delta: charged more than the input it reported, once", async () => {
    const before = (await watch.sync(redis)).length;
    const types: string[] = [];
    const { error, charged } = await call("/v1/messages", async () => {
      for await (const e of await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 8, stream: true, messages: user() }, { headers: { "x-mock-cut-after": "4" } })) types.push(e.type);
    });
    expect(String(error)).toMatch(/terminated|aborted|closed|reset/i);
    // The SDK drops `ping` events itself (@anthropic-ai/sdk core/streaming.js): the client sees the rest.
    expect(types).toEqual(["message_start", "content_block_start", "content_block_delta"]);
    await expectEstimate(charged, WORDS, before);
  });
});

describe("Gemini through the gateway", () => {
  const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: MESSAGE }] }], generationConfig: { maxOutputTokens: 5 } });

  test("generateContent: usageMetadata, 6 + 5", async () => {
    const path = "/v1beta/models/gemini-2.0-flash:generateContent";
    const { value, charged } = await call(path, () => send(gw.url + path, { headers: USER, body }));
    expect(JSON.parse(value!.body).usageMetadata.totalTokenCount).toBe(WORDS + 5);
    expect(charged).toBe(WORDS + 5);
  });

  test("streamGenerateContent?alt=sse: the last cumulative usageMetadata, 6 + 5 (not summed)", async () => {
    const path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent";
    const { value, charged } = await call(path, async () => (await StreamedAnswer.open(gw.url + path + "?alt=sse", { headers: USER, body })).end());
    expect(value!.split("\r\n\r\n").filter((e) => e !== "")).toHaveLength(5);
    expect(charged).toBe(WORDS + 5);
  });
});
