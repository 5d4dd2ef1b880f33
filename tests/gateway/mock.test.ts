// The mock model: its usage rule (unit), and the mock as a standalone upstream over HTTP.
import { DEFAULT_COMPLETION_TOKENS, contentWords, countWords, parseChatRequest, promptTokens, usageOf } from "../../gateway/mock-usage";
import { MockUpstream, startMockUpstream } from "../../gateway/mock-upstream";
import { StreamedAnswer, send, sseUsage } from "./http-client";

describe("the usage rule", () => {
  test.each([
    ["", 0], ["   ", 0], ["one", 1], ["Say hello to the quota gateway", 6], ["  padded\tby\n\nwhitespace  ", 3], ["naïve café — ok", 4],
  ])("countWords(%j) = %d", (text, n) => {
    expect(countWords(text)).toBe(n);
  });

  test("string contents and the text parts of array contents count; other parts and fields do not", () => {
    expect(contentWords("a b c")).toBe(3);
    expect(contentWords([{ type: "text", text: "a b" }, { type: "image_url", image_url: { url: "http://x/y z" } }, { type: "text", text: "c" }])).toBe(3);
    expect(contentWords([{ text: "untyped part" }, "bare string part"])).toBe(5);
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

  test("completion_tokens: max_tokens, else max_completion_tokens, else 16", () => {
    const messages = [{ role: "user", content: "x y" }];
    expect(usageOf({ messages })).toEqual({ prompt_tokens: 2, completion_tokens: DEFAULT_COMPLETION_TOKENS, total_tokens: 18 });
    expect(DEFAULT_COMPLETION_TOKENS).toBe(16);
    expect(usageOf({ messages, max_tokens: 5 })).toEqual({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
    expect(usageOf({ messages, max_completion_tokens: 9 })).toEqual({ prompt_tokens: 2, completion_tokens: 9, total_tokens: 11 });
    expect(usageOf({ messages, max_tokens: 3, max_completion_tokens: 9 })).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    expect(usageOf({ messages, max_tokens: null, max_completion_tokens: 0 })).toEqual({ prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 });
  });

  test.each([[-1], [1.5], ["8"], [1e9]])("max_tokens %j is refused", (v) => {
    expect(usageOf({ messages: [], max_tokens: v })).toEqual({ message: expect.stringMatching(/^max_tokens must be an integer/), param: "max_tokens" });
  });

  test("requests the mock refuses", () => {
    expect(parseChatRequest("{")).toMatchObject({ ok: false, message: "the request body is not valid JSON" });
    expect(parseChatRequest("[]")).toMatchObject({ ok: false, message: "the request body must be a JSON object" });
    expect(parseChatRequest("{}")).toMatchObject({ ok: false, param: "messages" });
    expect(parseChatRequest('{"messages":[],"stream":true,"model":"m"}')).toEqual({
      ok: true, request: { model: "m", stream: true, usage: { prompt_tokens: 0, completion_tokens: 16, total_tokens: 16 } },
    });
  });
});

describe("the mock as a standalone upstream", () => {
  let mock: MockUpstream;
  beforeAll(async () => {
    mock = await startMockUpstream();
  });
  afterAll(async () => mock?.close());

  const chat = (body: object) => send(mock.url + "/v1/chat/completions", { headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  test("JSON: usage by the rule, and that many words in the reply", async () => {
    const r = await chat({ model: "gpt-4o", max_tokens: 3, messages: [{ role: "user", content: "count these four words" }] });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({ object: "chat.completion", model: "gpt-4o", usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 } });
    expect(body.choices[0].message).toEqual({ role: "assistant", content: "lorem lorem lorem" });
  });

  test("SSE: several chunk events, usage in the last data event before [DONE], without stream_options", async () => {
    const s = await StreamedAnswer.open(mock.url + "/v1/chat/completions", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ stream: true, max_completion_tokens: 5, messages: [{ role: "user", content: [{ type: "text", text: "a b" }] }] }),
    });
    expect(s.status).toBe(200);
    expect(s.headers["content-type"]).toBe("text/event-stream");
    const text = await s.end();
    const events = text.split("\n\n").filter((e) => e !== "");
    expect(events).toHaveLength(1 + 5 + 1 + 1 + 1);
    expect(events.every((e) => e.startsWith("data: "))).toBe(true);
    expect(events[events.length - 1]).toBe("data: [DONE]");
    const last = JSON.parse(events[events.length - 2].slice(6));
    expect(last.usage).toEqual({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
    expect(sseUsage(text)).toEqual(last.usage);
    const content = events.slice(0, -2).map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? "").join("");
    expect(content).toBe("lorem lorem lorem lorem lorem");
  });

  test("other paths and methods → 404 JSON error", async () => {
    for (const [method, path] of [["GET", "/v1/models"], ["POST", "/v1/embeddings"], ["GET", "/v1/chat/completions"]]) {
      const r = await send(mock.url + path, { method });
      expect(r.status).toBe(404);
      expect(JSON.parse(r.body)).toEqual({ error: { message: `Invalid URL (${method} ${path})`, type: "invalid_request_error", param: null, code: null } });
    }
  });

  test("a bad request → 400 JSON error", async () => {
    const r = await send(mock.url + "/v1/chat/completions", { body: "not json" });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.type).toBe("invalid_request_error");
  });
});
