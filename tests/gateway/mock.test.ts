// The mock model: its token rules and wire helpers (unit), then the mock as a standalone upstream
// over HTTP, each API against the shapes its provider documents, and the official clients (openai,
// @anthropic-ai/sdk) reading it as they read the real services.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import * as zlib from "node:zlib";
import { MockUpstream, routePath, startMockUpstream } from "../../gateway/mock-upstream";
import { DEFAULT_COMPLETION_TOKENS, contentWords, countWords, geminiWords, promptTokens, promptWords, usageOf } from "../../gateway/mock-usage";
import { negotiateEncoding } from "../../gateway/mock-wire";
import { StreamedAnswer, send } from "./http-client";

describe("the token rules", () => {
  test.each([
    ["", 0], ["   ", 0], ["one", 1], ["Say hello to the quota gateway", 6], ["  padded\tby\n\nwhitespace  ", 3], ["naïve café — ok", 4],
  ])("countWords(%j) = %d", (text, n) => {
    expect(countWords(text)).toBe(n);
  });

  test("string contents and the text parts of array contents count; other parts and fields do not", () => {
    expect(contentWords("a b c")).toBe(3);
    expect(contentWords([{ type: "text", text: "a b" }, { type: "image_url", image_url: { url: "http://x/y z" } }, { type: "text", text: "c" }])).toBe(3);
    expect(contentWords([{ text: "untyped part" }, "bare string part", { type: "input_text", text: "in" }, { type: "output_text", text: "out" }])).toBe(7);
    expect(contentWords(null)).toBe(0);
    expect(contentWords(42)).toBe(0);
    expect(promptTokens([
      { role: "system", content: "be brief" },
      { role: "user", content: [{ type: "text", text: "one two three" }] },
      { role: "assistant", content: null, tool_calls: [{ function: { arguments: "{\"a\": 1}" } }] },
      { role: "user", name: "ignored words here", content: "four" },
      "not a message",
    ])).toBe(6);
  });

  test("prompts: strings, lists of strings, token arrays; Gemini: the text parts", () => {
    expect(promptWords("a b")).toBe(2);
    expect(promptWords(["a b", "c"])).toBe(3);
    expect(promptWords([1, 2, 3])).toBe(3);
    expect(promptWords([[1, 2], [3]])).toBe(3);
    expect(geminiWords([{ role: "user", parts: [{ text: "a b" }, { inlineData: {} }] }, { parts: [{ text: "c" }] }])).toBe(3);
    expect(geminiWords({ parts: [{ text: "system words" }] })).toBe(2);
  });

  test("completion_tokens: max_tokens, else max_completion_tokens, else 16", () => {
    const messages = [{ role: "user", content: "x y" }];
    expect(DEFAULT_COMPLETION_TOKENS).toBe(16);
    expect(usageOf({ messages })).toEqual({ prompt_tokens: 2, completion_tokens: 16, total_tokens: 18 });
    expect(usageOf({ messages, max_tokens: 5 })).toEqual({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
    expect(usageOf({ messages, max_completion_tokens: 9 })).toEqual({ prompt_tokens: 2, completion_tokens: 9, total_tokens: 11 });
    expect(usageOf({ messages, max_tokens: 3, max_completion_tokens: 9 })).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    expect(usageOf({ messages, max_tokens: null, max_completion_tokens: 0 })).toEqual({ prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 });
  });

  test.each([[-1], [1.5], ["8"], [1e9]])("max_tokens %j is refused", (v) => {
    expect(usageOf({ messages: [], max_tokens: v })).toEqual({ message: expect.stringMatching(/^max_tokens must be an integer/), param: "max_tokens" });
  });
});

describe("the wire", () => {
  test.each([
    [undefined, null], ["", null], ["identity", null], ["gzip", "gzip"], ["gzip, deflate, br", "br"], ["deflate, gzip", "gzip"],
    ["gzip;q=0.5, br;q=0.2", "gzip"], ["br;q=0, gzip;q=0", null], ["*", "br"], ["*;q=0.5, br;q=0", "gzip"], ["deflate;q=1, *;q=0.1", "deflate"],
    ["GZIP ; Q=0.9", "gzip"], ["compress, x-unknown", null],
  ])("accept-encoding %j → %j", (accept, expected) => {
    expect(negotiateEncoding(accept)).toBe(expected);
  });

  test.each([
    ["/v1/chat/completions", "/v1/chat/completions"], ["/V1/Chat/Completions/", "/V1/Chat/Completions"], ["//v1///messages", "/v1/messages"],
    ["/v1/x/../responses?stream=1", "/v1/responses"], ["/v1/./%63hat/completions", "/v1/chat/completions"], ["/v1/chat%2Fcompletions", "/v1/chat%2Fcompletions"],
  ])("routes %j as %j", (url, path) => {
    expect(routePath(url)).toBe(path);
  });
});

/** The data events of an SSE text, parsed ([DONE] kept as the string). */
function dataEvents(text: string): unknown[] {
  return text.split(/\r?\n\r?\n/).filter((e) => e !== "").map((block) => {
    const data = block.split(/\r?\n/).find((l) => l.startsWith("data: "))!.slice(6);
    return data === "[DONE]" ? data : JSON.parse(data);
  });
}

/** The `event:` names of an SSE text. */
function eventNames(text: string): string[] {
  return text.split("\n").filter((l) => l.startsWith("event: ")).map((l) => l.slice(7));
}

describe("the mock over HTTP", () => {
  let mock: MockUpstream;
  let openai: OpenAI;
  let anthropic: Anthropic;
  beforeAll(async () => {
    mock = await startMockUpstream();
    openai = new OpenAI({ baseURL: mock.url + "/v1", apiKey: "unused", maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: mock.url, apiKey: null, authToken: "unused", maxRetries: 0 });
  });
  afterAll(async () => mock?.close());

  const post = (path: string, body: object, headers: Record<string, string> = {}) =>
    send(mock.url + path, { headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  const open = (path: string, body: object, headers: Record<string, string> = {}) =>
    StreamedAnswer.open(mock.url + path, { headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
  const MSG = [{ role: "user", content: "count these four words" }];

  describe("OpenAI chat completions", () => {
    test("JSON: usage by the rule, that many words, finish_reason length when max_tokens stopped it", async () => {
      const r = await post("/v1/chat/completions", { model: "gpt-4o", max_tokens: 3, messages: MSG });
      expect(r.status).toBe(200);
      expect(r.headers["content-type"]).toBe("application/json");
      const body = JSON.parse(r.body);
      expect(body).toMatchObject({ object: "chat.completion", model: "gpt-4o", usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 } });
      expect(body.choices[0]).toMatchObject({ message: { role: "assistant", content: "lorem lorem lorem" }, finish_reason: "length" });
      expect(JSON.parse((await post("/v1/chat/completions", { messages: MSG })).body).choices[0].finish_reason).toBe("stop");
    });

    test("SSE without include_usage: no usage anywhere, no usage chunk, [DONE] last", async () => {
      const s = await open("/v1/chat/completions", { stream: true, max_completion_tokens: 5, messages: [{ role: "user", content: [{ type: "text", text: "a b" }] }] });
      expect(s.status).toBe(200);
      expect(s.headers["content-type"]).toBe("text/event-stream");
      const text = await s.end();
      expect(text).not.toContain("usage");
      const events = dataEvents(text);
      expect(events).toHaveLength(1 + 5 + 1 + 1);
      expect(events[events.length - 1]).toBe("[DONE]");
      const chunks = events.slice(0, -1) as Array<{ choices: Array<{ delta: { content?: string } }> }>;
      expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
      expect(chunks.map((c) => c.choices[0].delta.content ?? "").join("")).toBe("lorem lorem lorem lorem lorem");
    });

    test("SSE with include_usage: usage null on every chunk, then a choices:[] chunk with the usage before [DONE]", async () => {
      const s = await open("/v1/chat/completions", { stream: true, stream_options: { include_usage: true }, max_tokens: 2, messages: MSG });
      const events = dataEvents(await s.end()) as Array<Record<string, unknown>>;
      expect(events).toHaveLength(1 + 2 + 1 + 1 + 1);
      expect(events[events.length - 1]).toBe("[DONE]");
      expect(events[events.length - 2]).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } });
      for (const e of events.slice(0, -2)) expect(e.usage).toBeNull();
    });

    test("stream_options without stream: 400 as OpenAI answers it", async () => {
      for (const extra of [{}, { stream: false }]) {
        const r = await post("/v1/chat/completions", { messages: MSG, stream_options: { include_usage: true }, ...extra });
        expect(r.status).toBe(400);
        expect(JSON.parse(r.body)).toEqual({ error: { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", type: "invalid_request_error", param: "stream_options", code: null } });
      }
      expect((await post("/v1/chat/completions", { messages: MSG, stream_options: null })).status).toBe(200);
    });

    test("the official client streams it, with and without include_usage", async () => {
      const seen: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const c of await openai.chat.completions.create({ model: "gpt-4o", stream: true, max_tokens: 2, messages: [{ role: "user", content: "a b" }] })) seen.push(c);
      expect(seen.some((c) => "usage" in c)).toBe(false);
      const withUsage: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const c of await openai.chat.completions.create({ model: "gpt-4o", stream: true, stream_options: { include_usage: true }, max_tokens: 2, messages: [{ role: "user", content: "a b" }] })) withUsage.push(c);
      expect(withUsage[withUsage.length - 1].usage).toEqual({ prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 });
    });
  });

  test("legacy completions: JSON and SSE, usage only with include_usage", async () => {
    const r = await openai.completions.create({ model: "gpt-3.5-turbo-instruct", prompt: ["one two", "three"], max_tokens: 4 });
    expect(r).toMatchObject({ object: "text_completion", usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    expect(r.choices[0]).toMatchObject({ text: "lorem lorem lorem lorem", finish_reason: "length" });
    const plain = dataEvents(await (await open("/v1/completions", { prompt: "a", stream: true, max_tokens: 2 })).end());
    expect(plain).toHaveLength(2 + 1 + 1);
    expect(JSON.stringify(plain)).not.toContain("usage");
    const counted = dataEvents(await (await open("/v1/completions", { prompt: "a", stream: true, max_tokens: 2, stream_options: { include_usage: true } })).end());
    expect(counted[counted.length - 2]).toMatchObject({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } });
  });

  test("embeddings: float and base64 (the official client's default), prompt-only usage", async () => {
    const r = await openai.embeddings.create({ model: "text-embedding-3-small", input: ["one two", "three"] });
    expect(r.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(r.data.map((d) => d.embedding.length)).toEqual([8, 8]);
    const floats = JSON.parse((await post("/v1/embeddings", { model: "e", input: ["one two", "three"] })).body);
    expect(r.data[1].embedding).toEqual(floats.data[1].embedding.map((v: number) => Math.fround(v)));
    expect((await post("/v1/embeddings", { model: "e" })).status).toBe(400);
  });

  describe("the Responses API", () => {
    test("JSON: output text and usage; the official client reads output_text", async () => {
      const r = await openai.responses.create({ model: "gpt-4o", instructions: "be brief", input: [{ role: "user", content: "hello there" }] });
      expect(r).toMatchObject({ object: "response", status: "completed", usage: { input_tokens: 4, output_tokens: 16, total_tokens: 20 } });
      expect(r.output_text).toBe(new Array(16).fill("lorem").join(" "));
    });

    test("SSE: named events from response.created to response.completed, usage only in the last", async () => {
      const s = await open("/v1/responses", { model: "gpt-4o", input: "hello there", stream: true });
      const text = await s.end();
      const names = eventNames(text);
      expect(names.slice(0, 4)).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
      expect(names.filter((n) => n === "response.output_text.delta")).toHaveLength(16);
      expect(names.slice(-4)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
      expect(text).not.toContain("[DONE]");
      const events = dataEvents(text) as Array<{ type: string; sequence_number: number; response?: { usage: unknown } }>;
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events[0].response!.usage).toBeNull();
      expect(events[events.length - 1].response!.usage).toMatchObject({ input_tokens: 2, output_tokens: 16, total_tokens: 18 });
    });

    test("max_output_tokens stops it: status incomplete, response.incomplete with the usage; the client's stream helper agrees", async () => {
      const stream = openai.responses.stream({ model: "gpt-4o", input: "hello there", max_output_tokens: 3 });
      const types: string[] = [];
      for await (const e of stream) types.push(e.type);
      const final = await stream.finalResponse();
      expect(types[types.length - 1]).toBe("response.incomplete");
      expect(final).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, usage: { input_tokens: 2, output_tokens: 3 } });
    });

    test("background: queued without usage at once; the retrieve has the usage", async () => {
      const queued = await openai.responses.create({ model: "gpt-4o", input: "one two three", background: true });
      expect(queued).toMatchObject({ status: "queued", background: true, usage: null, output: [] });
      const done = await openai.responses.retrieve(queued.id);
      expect(done).toMatchObject({ id: queued.id, status: "completed", usage: { input_tokens: 3, output_tokens: 16 } });
      expect((await send(mock.url + "/v1/responses/resp_nope")).status).toBe(404);
    });
  });

  describe("Anthropic Messages", () => {
    test("JSON: usage with input (system + messages) and output = max_tokens", async () => {
      const m = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 4, system: "be brief", messages: [{ role: "user", content: "hello you" }] });
      expect(m).toMatchObject({ type: "message", role: "assistant", stop_reason: "max_tokens", usage: { input_tokens: 4, output_tokens: 4 } });
      expect(m.content).toEqual([{ type: "text", text: "lorem lorem lorem lorem" }]);
    });

    test("SSE: message_start carries the input usage, message_delta the output; the client's stream helper agrees", async () => {
      const s = await open("/v1/messages", { model: "claude", max_tokens: 2, stream: true, messages: [{ role: "user", content: "a b c" }] });
      const text = await s.end();
      expect(eventNames(text)).toEqual(["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
      const events = dataEvents(text) as Array<Record<string, any>>;
      expect(events[0].message.usage).toMatchObject({ input_tokens: 3, output_tokens: 1 });
      expect(events[6]).toMatchObject({ type: "message_delta", delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 2 } });
      const final = await anthropic.messages.stream({ model: "claude", max_tokens: 2, messages: [{ role: "user", content: "a b c" }] }).finalMessage();
      expect(final.usage).toMatchObject({ input_tokens: 3, output_tokens: 2 });
    });

    test("max_tokens is required", async () => {
      const r = await post("/v1/messages", { model: "claude", messages: MSG });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ type: "error", error: { type: "invalid_request_error", message: "max_tokens: Field required" } });
    });
  });

  describe("Gemini", () => {
    const req = { contents: [{ role: "user", parts: [{ text: "a b" }] }], systemInstruction: { parts: [{ text: "be brief" }] }, generationConfig: { maxOutputTokens: 2 } };

    test("generateContent: usageMetadata", async () => {
      const r = await post("/v1beta/models/gemini-2.0-flash:generateContent", req);
      expect(JSON.parse(r.body)).toMatchObject({
        candidates: [{ content: { parts: [{ text: "lorem lorem" }], role: "model" }, finishReason: "MAX_TOKENS" }],
        usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2, totalTokenCount: 6 }, modelVersion: "gemini-2.0-flash",
      });
    });

    test("streamGenerateContent?alt=sse: CRLF-framed data events, cumulative usageMetadata in each", async () => {
      const text = await (await open("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", req)).end();
      expect(text.endsWith("}\r\n\r\n")).toBe(true);
      const events = dataEvents(text) as Array<Record<string, any>>;
      expect(events.map((e) => e.usageMetadata.candidatesTokenCount)).toEqual([1, 2]);
      expect(events[1].usageMetadata).toEqual({ promptTokenCount: 4, candidatesTokenCount: 2, totalTokenCount: 6 });
    });

    test("streamGenerateContent without alt: one JSON array, element by element", async () => {
      const s = await open("/v1/models/gemini-2.0-flash:streamGenerateContent", req);
      const text = await s.end();
      expect(s.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(text).map((c: any) => c.usageMetadata.totalTokenCount)).toEqual([5, 6]);
    });
  });

  describe("compression", () => {
    const decode: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gunzipSync, br: zlib.brotliDecompressSync, deflate: zlib.inflateSync };

    test.each([["gzip"], ["br"], ["deflate"]])("JSON and SSE in %s when accepted, the same bytes once decoded", async (enc) => {
      const body = { model: "m", max_tokens: 3, messages: MSG };
      const plain = JSON.parse((await post("/v1/chat/completions", body)).body);
      const r = await post("/v1/chat/completions", body, { "accept-encoding": `${enc}, identity;q=0.5` });
      expect(r.headers["content-encoding"]).toBe(enc);
      expect(r.headers["vary"]).toBe("accept-encoding");
      expect(Number(r.headers["content-length"])).toBe(r.bytes.length);
      expect({ ...JSON.parse(decode[enc](r.bytes).toString()), id: plain.id, created: plain.created }).toEqual(plain);
      const s = await open("/v1/chat/completions", { ...body, stream: true }, { "accept-encoding": enc });
      await s.end();
      expect(s.headers["content-encoding"]).toBe(enc);
      const events = dataEvents(decode[enc](Buffer.concat(s.raw)).toString());
      expect(events).toHaveLength(1 + 3 + 1 + 1);
    });

    test("each compressed SSE event is flushed: the reader gets it before the stream ends", async () => {
      const slow = await startMockUpstream({ eventDelayMs: 30 });
      try {
        const s = await StreamedAnswer.open(slow.url + "/v1/chat/completions", { headers: { "accept-encoding": "gzip" }, body: JSON.stringify({ stream: true, max_tokens: 3, messages: MSG }) });
        await s.until(() => s.raw.length > 0 && zlib.gunzipSync(Buffer.concat(s.raw), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString().includes("lorem"));
        expect(s.ended).toBe(false);
        await s.end();
      } finally {
        await slow.close();
      }
    });

    test("no accept-encoding: identity; a forced encoding compresses anyway (header or model suffix)", async () => {
      const r = await post("/v1/chat/completions", { messages: MSG });
      expect(r.headers["content-encoding"]).toBeUndefined();
      const forced = await post("/v1/chat/completions", { messages: MSG }, { "x-mock-content-encoding": "gzip" });
      expect(JSON.parse(zlib.gunzipSync(forced.bytes).toString()).usage.total_tokens).toBe(20);
      const suffix = await post("/v1/chat/completions", { model: "gpt-4o+br", messages: MSG });
      expect(suffix.headers["content-encoding"]).toBe("br");
      expect(JSON.parse(zlib.brotliDecompressSync(suffix.bytes).toString()).model).toBe("gpt-4o");
    });
  });

  describe("directives", () => {
    test.each([
      ["header", { "x-mock-cut-after": "3" }, "gpt-4o"],
      ["model suffix", {}, "gpt-4o+cut=3"],
    ])("cut after 3 events (%s): exactly 3 events, then the connection ends without [DONE]", async (_, headers, model) => {
      const s = await open("/v1/chat/completions", { model, stream: true, stream_options: { include_usage: true }, messages: MSG }, headers);
      await expect(s.end()).rejects.toThrow();
      const events = dataEvents(s.text) as Array<{ model: string }>;
      expect(events).toHaveLength(3);
      expect(events[0].model).toBe("gpt-4o");
      expect(s.text).not.toContain("[DONE]");
    });

    test("cut a compressed stream: the events before the cut arrive decodable", async () => {
      const s = await open("/v1/messages", { model: "claude+cut=2+gzip", max_tokens: 5, stream: true, messages: MSG });
      await expect(s.end()).rejects.toThrow();
      const text = zlib.gunzipSync(Buffer.concat(s.raw), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
      expect(eventNames(text)).toEqual(["message_start", "content_block_start"]);
    });

    test("cut a JSON answer: half its body, then the end of the connection", async () => {
      await expect(post("/v1/chat/completions", { messages: MSG }, { "x-mock-cut-after": "0" })).rejects.toThrow();
    });

    test("no usage, whatever the request asks (header or suffix), in every API", async () => {
      const omit = { "x-mock-usage": "omit" };
      const chat = await (await open("/v1/chat/completions", { stream: true, stream_options: { include_usage: true }, messages: MSG }, omit)).end();
      expect(chat).not.toContain("usage");
      expect(dataEvents(chat).every((e) => e === "[DONE]" || (e as { choices: unknown[] }).choices.length === 1)).toBe(true);
      expect(JSON.parse((await post("/v1/chat/completions", { model: "m+no-usage", messages: MSG })).body).usage).toBeUndefined();
      expect(await (await open("/v1/messages", { model: "c+no-usage", max_tokens: 2, stream: true, messages: MSG })).end()).not.toContain("usage");
      const resp = dataEvents(await (await open("/v1/responses", { model: "g+no-usage", input: "x", stream: true })).end()) as Array<{ response?: { usage: unknown } }>;
      expect(resp[resp.length - 1].response!.usage).toBeNull();
      expect((await post("/v1beta/models/g+no-usage:generateContent", { contents: [{ parts: [{ text: "x" }] }] })).body).not.toContain("usageMetadata");
    });
  });

  test("GET /v1/models answers a list as OpenAI does (its SDK reads it)", async () => {
    const r = await send(mock.url + "/v1/models");
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body);
    expect(body.object).toBe("list");
    expect(body.data.length).toBeGreaterThan(0);
    for (const m of body.data) expect(Object.keys(m).sort()).toEqual(["created", "id", "object", "owned_by"]);
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).toEqual(body.data.map((m: { id: string }) => m.id));
  });

  test("path variants route as permissive upstreams route them; unknown paths → 404 JSON", async () => {
    expect((await post("/V1//chat/./completions/", { messages: MSG })).status).toBe(200);
    expect((await post("/v1/%63ompletions", { prompt: "x" })).status).toBe(200);
    for (const [method, path] of [["GET", "/v1/files"], ["POST", "/v1/audio/speech"], ["GET", "/v1/chat/completions"]]) {
      const r = await send(mock.url + path, { method });
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body)).toEqual({ error: { message: `Invalid URL (${method} ${path})`, type: "invalid_request_error", param: null, code: null } });
    }
    const bad = await send(mock.url + "/v1/chat/completions", { body: "not json" });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.type).toBe("invalid_request_error");
  });
});
