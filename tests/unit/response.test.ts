// assembly/usage/response_reader.ts, hider.ts and the content counting of extractor.ts, through
// build/test/usage.wasm: usage found however deep unrelated values nest, generated content counted
// per format (decoded bytes, wherever the chunks are cut), and the usage events the plugin's own
// include_usage added taken out of the stream byte for byte.
import fc from "fast-check";
import { ResponseModule, ReaderRun, splitAt } from "./response_module";

const m = new ResponseModule();
afterEach(() => expect(m.logs).toEqual([]));

const MAX_HELD = 65536; // MAX_HELD_BYTES in assembly/usage/hider.ts
const sseOf = (docs: unknown[], eol = "\n") => docs.map((d) => `data: ${typeof d === "string" ? d : JSON.stringify(d)}${eol}${eol}`).join("");
const bytes = (s: string) => Buffer.byteLength(s, "utf8");
const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
const deepObj = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

/** The run fed whole, cut in two at every byte, and byte by byte: all must agree (usage, content, output). */
function everySplit(body: string, sse: boolean, hide: boolean): ReaderRun {
  const whole = m.run(body, sse, hide);
  const buf = Buffer.from(body, "utf8");
  const same = (r: ReaderRun, how: string) => {
    expect({ how, result: { ...r.result, bodyBytes: "-" }, out: r.out.toString("latin1") }).toEqual({ how, result: { ...whole.result, bodyBytes: "-" }, out: whole.out.toString("latin1") });
  };
  for (let i = 1; i < buf.length; i++) same(m.run(buf, sse, hide, [i]), `cut at ${i}`);
  same(m.run(buf, sse, hide, "bytes"), "byte by byte");
  return whole;
}

describe("depth cannot hide usage", () => {
  const N = 100_000;
  const cases: Array<[string, boolean, string, { input: string; output: string }]> = [
    ["chat JSON: an unrelated member nested 100,000 deep", false, `{"id":"x","x":${deep(N)},"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":5}}`, { input: "7", output: "5" }],
    ["chat JSON: deep inside choices (a tool call's logprobs, say)", false, `{"choices":[{"message":{"content":"hi"},"logprobs":${deep(N)}}],"usage":{"prompt_tokens":7,"completion_tokens":5}}`, { input: "7", output: "5" }],
    ["Responses SSE: response.completed echoing a client's tool schema", true, `data: {"type":"response.completed","response":{"tools":[{"type":"function","parameters":${deepObj(N)}}],"usage":{"input_tokens":11,"output_tokens":3}}}\n\n`, { input: "11", output: "3" }],
    ["Anthropic JSON: tool_use input nested 100,000 deep", false, `{"type":"message","content":[{"type":"tool_use","name":"t","input":${deepObj(N)}}],"usage":{"input_tokens":9,"output_tokens":4}}`, { input: "9", output: "4" }],
    ["Anthropic SSE: message_start after a deep ping", true, `data: {"type":"ping","x":${deep(N)}}\n\ndata: {"type":"message_start","message":{"x":${deep(N)},"usage":{"input_tokens":9,"output_tokens":1}}}\n\n`, { input: "9", output: "1" }],
    ["Gemini: functionCall args nested deep", false, `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":${deepObj(N)}}}]}}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2}}`, { input: "8", output: "2" }],
    ["Gemini array form: a deep first element", false, `[${deep(N)},{"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":2}}]`, { input: "8", output: "2" }],
    ["a usage member whose value is deep, then the real one", false, `{"usage":${deep(N)},"usage":{"prompt_tokens":1,"completion_tokens":2}}`, { input: "1", output: "2" }],
  ];
  test.each(cases)("%s", (_name, sse, body, want) => {
    for (const cuts of [[], [1], [N - 3, N + 17], [Math.floor(body.length / 2)], Array.from({ length: 40 }, (_, i) => i * 5003 + 7)]) {
      const r = m.run(body, sse, false, cuts);
      expect(r.result.usage).toMatchObject({ found: true, ...want });
      expect(r.result.malformed).toBe(0);
    }
  });

  test("the measured tool input counts as written, however deep", () => {
    const input = deepObj(1000);
    const r = m.run(`{"content":[{"type":"tool_use","input":${input}}],"usage":{"input_tokens":1,"output_tokens":1}}`, false, false);
    expect(r.result.contentBytes).toBe(String(input.length));
  });

  test("10 MB of opening brackets in 64 KiB chunks: memory stays flat", () => {
    m.start(true, false);
    const head = Buffer.from(`data: {"x":`);
    const chunk = Buffer.alloc(65536, "[");
    m.feed(head, false);
    m.feed(chunk, false);
    const before = m.memoryBytes;
    for (let i = 0; i < 160; i++) m.feed(chunk, false);
    m.feed(Buffer.from("]]]\n\n"), true);
    expect(m.memoryBytes - before).toBeLessThanOrEqual(64 * 1024);
    expect(m.result().malformed).toBe(1); // never closed: the event is malformed, and nothing trapped
  });
});

describe("content bytes, per format", () => {
  // Each body with the strings counted in it (decoded UTF-8), or a number for values counted as written.
  const e = "caf\u00e9 \u4f60\u597d \ud83d\ude00"; // 2-, 3- and 4-byte UTF-8
  const cases: Array<[string, boolean, string, Array<string | number>]> = [
    ["OpenAI chat stream: content, reasoning_content, tool arguments", true, sseOf([
      { choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { reasoning_content: "think" }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { content: e }, logprobs: { content: [{ token: "x", bytes: [1] }] }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "c", type: "function", function: { name: "get", arguments: '{"a":' } }] } }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "1}" } }] }, finish_reason: "tool_calls" }] },
      { choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } },
      "[DONE]",
    ]), ["think", e, '{"a":', "1}"]],
    ["OpenAI chat JSON: message content, refusal, reasoning", false, JSON.stringify({ choices: [{ message: { role: "assistant", content: "Paris.", refusal: "no", reasoning: "r" } }, { message: { content: null } }], usage: { prompt_tokens: 1 } }), ["Paris.", "no", "r"]],
    ["OpenAI completions stream: text", true, sseOf([{ choices: [{ text: "Once", index: 0 }] }, { choices: [{ text: " upon", index: 0 }] }]), ["Once", " upon"]],
    ["escapes decode: \\n \\\" \\u00e9 a pair and lone surrogates", true, 'data: {"choices":[{"delta":{"content":"a\\nb\\"\\u00e9\\ud83d\\ude00\\ud83d|\\ude00|\\ud83d\\ud83d"}}]}\n\n', ["a\nb\"\u00e9\ud83d\ude00", 3, "|", 3, "|", 6]],
    ["Responses stream: the deltas, not the done events nor response.completed", true, sseOf([
      { type: "response.output_item.added", item: { type: "message", content: [] } },
      { type: "response.output_text.delta", delta: "In a" },
      { type: "response.output_text.delta", delta: " grove" },
      { type: "response.function_call_arguments.delta", delta: '{"x":1}' },
      { type: "response.reasoning_summary_text.delta", delta: "why" },
      { type: "response.output_text.done", text: "In a grove" },
      { type: "response.output_item.done", item: { type: "message", content: [{ type: "output_text", text: "In a grove" }] } },
      { type: "response.completed", response: { output: [{ content: [{ text: "In a grove" }] }], usage: { input_tokens: 5, output_tokens: 4 } } },
    ]), ["In a", " grove", '{"x":1}', "why"]],
    ["Responses JSON: output text, function arguments, reasoning summary", false, JSON.stringify({
      output: [
        { type: "reasoning", summary: [{ type: "summary_text", text: "plan" }] },
        { type: "message", content: [{ type: "output_text", text: "Done", annotations: [{ text: "no" }] }, { type: "refusal", refusal: "nope" }] },
        { type: "function_call", name: "f", arguments: '{"q":"x"}' },
      ],
      usage: { input_tokens: 1, output_tokens: 1 },
    }), ["plan", "Done", "nope", '{"q":"x"}']],
    ["Anthropic stream: text, partial_json and thinking deltas (not signatures, not block starts)", true, sseOf([
      { type: "message_start", message: { content: [{ type: "text", text: "no" }], usage: { input_tokens: 5, output_tokens: 1 } } },
      { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "hmm" } },
      { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "c2lnbmF0dXJl" } },
      { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: e } },
      { type: "content_block_start", index: 2, content_block: { type: "tool_use", name: "t", input: {} } },
      { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"k": ' } },
      { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 20 } },
    ]), ["hmm", e, '{"k": ']],
    ["Anthropic JSON: text, thinking, tool input as written", false, `{"content":[{"type":"thinking","thinking":"t1","signature":"x"},{"type":"text","text":"Hi"},{"type":"tool_use","name":"n","input": {"a": [1, "x"]}}],"usage":{"input_tokens":1,"output_tokens":1}}`, ["t1", "Hi", 15]],
    ["Gemini SSE: parts text and functionCall args as written", true, sseOf([
      { candidates: [{ content: { parts: [{ text: "The", thought: true }, { text: e }], role: "model" } }], usageMetadata: { promptTokenCount: 1 } },
      { candidates: [{ content: { parts: [{ functionCall: { name: "f", args: { x: 1 } } }] }, citationMetadata: { text: "no" } }] },
    ], "\r\n"), ["The", e, 7]],
    ["Gemini array form", false, JSON.stringify([{ candidates: [{ content: { parts: [{ text: "a" }] } }] }, { candidates: [{ content: { parts: [{ text: "bc" }] } }] }]), ["a", "bc"]],
    ["no content where no path leads", false, JSON.stringify({ text: "x", content: "y", message: { content: "z" }, response: { output: [{ content: [{ text: "w" }] }] }, item: { content: [{ text: "v" }] } }), []],
  ];
  test.each(cases)("%s", (_name, sse, body, parts) => {
    const want = parts.reduce<number>((n, p) => n + (typeof p === "number" ? p : bytes(p)), 0);
    const r = everySplit(body, sse, false);
    expect(r.result.contentBytes).toBe(String(want));
  });

  test("a stream cut inside a string still counts the bytes that came", () => {
    const r = m.run('data: {"choices":[{"delta":{"content":"abcdef', true, false);
    expect(r.result.contentBytes).toBe("6");
    expect(m.run('{"content":[{"type":"text","text":"ab\\u00e9', false, false).result.contentBytes).toBe("4");
  });

  test("content keys elsewhere inside choices count too (documented: any depth)", () => {
    expect(m.run(sseOf([{ choices: [{ x: { text: "abc", content: ["no"] } }] }]), true, false).result.contentBytes).toBe("3");
  });
});

describe("wide characters (3- and 4-byte UTF-8) counted among the content bytes", () => {
  const cases: Array<[string, boolean, string, { content: number; wide: number }]> = [
    ["chat SSE: CJK, emoji, accents, as written", true, sseOf([
      { choices: [{ delta: { content: "你好 wörld" } }] },
      { choices: [{ delta: { content: "😀!", reasoning_content: "日本" } }] },
    ]), { content: bytes("你好 wörld") + bytes("😀!") + 6, wide: 6 + 4 + 6 }],
    ["escaped: \\u4f60, a pair, a lone surrogate (U+FFFD), \\u00e9 (2 bytes: not wide)", true,
      'data: {"choices":[{"delta":{"content":"\\u4f60\\ud83d\\ude00\\ud83dx\\u00e9"}}]}\n\n', { content: 3 + 4 + 3 + 1 + 2, wide: 3 + 4 + 3 }],
    ["chat JSON and Anthropic JSON", false, JSON.stringify({ choices: [{ message: { content: "中文" } }], content: [{ type: "text", text: "한국어" }] }), { content: 6 + 9, wide: 15 }],
    ["audio data is not content, however it is written", true, 'data: {"choices":[{"delta":{"audio":{"data":"中文"}}}]}\n\n', { content: 0, wide: 0 }],
  ];
  test.each(cases)("%s", (_name, sse, body, want) => {
    const r = everySplit(body, sse, false);
    expect([r.result.contentBytes, r.result.contentWide]).toEqual([String(want.content), String(want.wide)]);
    m.ex.usage_quick(0);
    try {
      const slow = m.run(body, sse, false);
      expect([slow.result.contentBytes, slow.result.contentWide]).toEqual([String(want.content), String(want.wide)]);
    } finally {
      m.ex.usage_quick(1);
    }
  });
});

describe("audio output, counted apart from content (issue 22 item 6)", () => {
  const b64 = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff)).toString("base64"); // 400 characters, with "+" and "/"
  const cases: Array<[string, boolean, string, { content: number; audio: number }]> = [
    ["chat SSE: delta.audio transcript and data", true, sseOf([
      { choices: [{ index: 0, delta: { audio: { id: "a", transcript: "Hi" } } }] },
      { choices: [{ index: 0, delta: { audio: { data: b64, expires_at: 1 } } }], usage: null },
      { choices: [{ index: 0, delta: { audio: { transcript: " th\u00e9re", data: b64 } } }] },
    ]) + "data: [DONE]\n\n", { content: 2 + bytes(" th\u00e9re"), audio: 800 }],
    ["chat JSON: message.audio", false, JSON.stringify({ choices: [{ index: 0, message: { content: null, audio: { id: "a", data: b64, transcript: "hello" } } }] }), { content: 5, audio: 400 }],
    ["escaped base64 (\\/) counts decoded", true, 'data: {"choices":[{"delta":{"audio":{"data":"ab\\/c"}}}]}\n\n', { content: 0, audio: 4 }],
    ["Responses SSE: audio deltas apart, transcript deltas as text", true, sseOf([
      { type: "response.audio.transcript.delta", sequence_number: 1, delta: "Hello" },
      { type: "response.audio.delta", sequence_number: 2, delta: b64 },
      { type: "response.output_audio.delta", sequence_number: 3, delta: b64 },
      { type: "response.output_text.delta", sequence_number: 4, delta: "abc" },
    ]), { content: 8, audio: 800 }],
    ["Responses: a delta before its type is text (never less)", true, 'data: {"delta":"abcd","type":"response.audio.delta"}\n\n', { content: 4, audio: 0 }],
    ["data outside choices is nothing", false, JSON.stringify({ data: b64, choices: [] }), { content: 0, audio: 0 }],
  ];
  test.each(cases)("%s", (_name, sse, body, want) => {
    const r = everySplit(body, sse, false);
    expect([r.result.contentBytes, r.result.audioBytes]).toEqual([String(want.content), String(want.audio)]);
    // the quick path (whole documents) and the usual way agree
    m.ex.usage_quick(0);
    try {
      const slow = m.run(body, sse, false);
      expect([slow.result.contentBytes, slow.result.audioBytes]).toEqual([String(want.content), String(want.audio)]);
    } finally {
      m.ex.usage_quick(1);
    }
  });

  test("a stream cut inside the audio: what came of it is audio, not content", () => {
    const r = m.run('data: {"choices":[{"delta":{"audio":{"transcript":"ab","data":"' + b64.slice(0, 123), true, false);
    expect([r.result.contentBytes, r.result.audioBytes]).toEqual(["2", "123"]);
    const j = m.run('data: {"type":"response.audio.delta","delta":"' + b64.slice(0, 50), true, false);
    expect([j.result.contentBytes, j.result.audioBytes]).toEqual(["0", "50"]);
    // cut in one event, then the next event: the cut one's audio stays audio
    const n = m.run('data: {"choices":[{"delta":{"audio":{"data":"' + b64.slice(0, 10) + '\n\ndata: {"choices":[{"delta":{"content":"xyz"}}]}\n\n', true, false);
    expect([n.result.contentBytes, n.result.audioBytes]).toEqual(["3", "10"]);
  });
});

describe("hiding the usage the plugin asked for", () => {
  // An OpenAI chat stream as OpenAI sends it, with and without stream_options.include_usage.
  const base = { id: "chatcmpl-B1", object: "chat.completion.chunk", created: 1741569952, model: "gpt-4o-2024-08-06", service_tier: "default", system_fingerprint: "fp_f9f4fb6dbf" };
  const chunk = (delta: object, finish: string | null, withUsage: boolean) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(withUsage ? { usage: null } : {}) });
  const deltas: Array<[object, string | null]> = [[{ role: "assistant", content: "", refusal: null }, null], [{ content: "Hello" }, null], [{ content: "! \u4f60\u597d" }, null], [{}, "stop"]];
  const usageChunk = { ...base, choices: [], usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } } };
  const stream = (withUsage: boolean, eol = "\n") =>
    sseOf([...deltas.map(([d, f]) => chunk(d, f, withUsage)), ...(withUsage ? [usageChunk] : []), "[DONE]"], eol);

  test.each([["LF", "\n"], ["CRLF", "\r\n"], ["CR", "\r"]])("OpenAI with include_usage → exactly the stream without it (%s), cut anywhere", (_n, eol) => {
    const r = everySplit(stream(true, eol), true, true);
    expect(r.out.toString("utf8")).toBe(stream(false, eol));
    expect(r.result).toMatchObject({ hiddenEvents: 1, hiddenNulls: 4, usage: { found: true, input: "19", output: "10" } });
  });

  test("whole events per chunk (how upstreams flush): a chunk goes out as it came unless something in it is removed", () => {
    const body = stream(true).replace(/,"usage":null/g, ""); // (as vLLM sends it: no null members)
    const events = body.split(/(?<=\n\n)/);
    const cuts = events.map((_, i) => Buffer.byteLength(events.slice(0, i).join(""))).slice(1);
    const r = m.run(body, true, true, cuts);
    expect(r.out.toString()).toBe(stream(false));
    expect(r.feeds).toBe(events.length);
    expect(r.unchanged).toBe(r.feeds - 1);
  });

  test("vLLM and SGLang: no null members, the usage chunk is removed", () => {
    const vllm = sseOf([
      { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "Qwen/Qwen3-8B", choices: [{ index: 0, delta: { content: "Hi" }, logprobs: null, finish_reason: null }] },
      { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "Qwen/Qwen3-8B", choices: [], usage: { prompt_tokens: 10, total_tokens: 12, completion_tokens: 2 } },
      "[DONE]",
    ]);
    const r = everySplit(vllm, true, true);
    expect(r.out.toString()).toBe(vllm.replace(/data: \{[^\n]*"choices":\[\],[^\n]*\n\n/, ""));
    expect(r.result).toMatchObject({ hiddenEvents: 1, hiddenNulls: 0, usage: { input: "10", output: "2" } });
  });

  test.each<[string, string, string | null]>([
    ["last member", 'data: {"a":1,"usage":null}\n\n', 'data: {"a":1}\n\n'],
    ["first member", 'data: {"usage":null,"a":1}\n\n', 'data: {"a":1}\n\n'],
    ["only member", 'data: {"usage":null}\n\n', "data: {}\n\n"],
    ["with blanks", 'data: { "a" : 1 , "usage" : null , "b" : 2 }\n\n', 'data: { "a" : 1 , "b" : 2 }\n\n'],
    ["last member with blanks", 'data: { "a" : 1 , "usage" : null }\n\n', 'data: { "a" : 1 }\n\n'],
    ["next to choices", 'data: {"choices":[],"usage":null}\n\n', 'data: {"choices":[]}\n\n'],
    ["first member with blanks", 'data:{ "usage" : null , "b" : 2 }\r\n\r\n', 'data:{ "b" : 2 }\r\n\r\n'],
    ["after event and id lines", 'event: x\nid: 1\ndata: {"a":"\\"usage\\":null","b":{"usage":null},"usage":null}\n\n', 'event: x\nid: 1\ndata: {"a":"\\"usage\\":null","b":{"usage":null}}\n\n'],
    ["an escaped key is left alone", 'data: {"a":1,"us\\u0061ge":null}\n\n', null],
    ["not null", 'data: {"a":1,"usage":nullx}\n\n', null],
  ])("removing \"usage\":null: %s", (_n, block, want) => {
    expect(m.removeNullUsage(block)).toBe(want);
  });

  test("what is kept as it is", () => {
    const keep = [
      sseOf([{ choices: [{ delta: { content: "x" } }], usage: { prompt_tokens: 1 } }]), // continuous usage: choices not empty
      sseOf([{ usage: { prompt_tokens: 1 } }]), // no choices
      sseOf([{ choices: {}, usage: { prompt_tokens: 1 } }]), // choices not an array
      "data: [1]\n\n", // not an object
      'data: {"choices":[],\ndata: "usage":null}\n\n', // the data in two lines
      'data: {"choices":[],"usage":{"prompt_tokens":1}} x\n\n', // not valid JSON
      ": comment\n\nevent: ping\n\n\n\n", // no data
      sseOf([{ type: "message_start", message: { usage: { input_tokens: 1 } } }]), // Anthropic
      sseOf([{ type: "response.completed", response: { usage: { input_tokens: 1 } } }]), // Responses
    ];
    for (const body of keep) {
      const r = everySplit(body, true, true);
      expect(r.out.toString()).toBe(body);
      expect(r.result.hiddenEvents + r.result.hiddenNulls).toBe(0);
    }
    // the last usage member counts: null here, so only that member goes
    expect(m.run('data: {"choices":[],"usage":{"prompt_tokens":1},"usage":null}\n\n', true, true).out.toString()).toBe('data: {"choices":[],"usage":{"prompt_tokens":1}}\n\n');
    expect(m.run('data: {"choices":[ ],"usage":{"prompt_tokens":1}}\n\n', true, true).out.toString()).toBe("");
    expect(m.run('data: {"choices":[1],"choices":[],"usage":{"prompt_tokens":1}}\n\n', true, true).out.toString()).toBe("");
    expect(m.run('data: {"choices":[],"choices":[1],"usage":{"prompt_tokens":1}}\n\n', true, true).result.hiddenEvents).toBe(0);
  });

  test("a JSON body is never touched", () => {
    const json = JSON.stringify({ choices: [], usage: { prompt_tokens: 1 } });
    const r = m.run(json, true, true, [3, 9]);
    expect(r.out.toString()).toBe(json);
    expect(r.unchanged).toBe(r.feeds);
  });

  test("without hiding, feed() returns null for every chunk", () => {
    const body = Buffer.from(stream(true));
    for (const cuts of [[], [1, 2, 3], Array.from({ length: body.length }, (_, i) => i)]) {
      const r = m.run(body, true, false, cuts);
      expect(r.unchanged).toBe(r.feeds);
      expect(r.result.usage).toMatchObject({ input: "19", output: "10" });
    }
  });

  test("an incomplete event held back goes out with the chunk that completes it", () => {
    const body = stream(false);
    const cut = body.indexOf("Hello"); // inside the second event
    m.start(true, true);
    const a = m.feed(Buffer.from(body.slice(0, cut)), false);
    expect(a.bytes.toString()).toBe(body.slice(0, body.lastIndexOf("data:", cut))); // the first event only
    const b = m.feed(Buffer.from(body.slice(cut)), true);
    expect(a.bytes.toString() + b.bytes.toString()).toBe(body);
  });

  test("the end of the body sends whatever is held, complete or not", () => {
    for (const body of ['data: {"choices":[{"delta":{"content":"cut', 'data: {"usage":null,"a":1}']) {
      const r = m.run(body, true, true, [5]);
      expect(r.out.toString()).toBe(body.includes("cut") ? body : 'data: {"a":1}');
    }
    // finish() without an end-of-stream chunk (a reset): the usage read so far is final.
    const r = m.run(stream(true).slice(0, -5), true, true, [], true);
    expect(r.result.usage.found).toBe(true);
  });

  test(`a block over ${MAX_HELD} bytes still incomplete goes out unfiltered; the next ones are filtered`, () => {
    const big = JSON.stringify({ choices: [{ delta: { content: "x".repeat(MAX_HELD) } }], usage: null });
    const body = `data: ${big}\n\n` + sseOf([{ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } }, "[DONE]"]);
    const end = body.indexOf("\n\n") + 2;
    const r = m.run(body, true, true, [1000, 40_000, end - 10, end + 5]); // held 40,000 + 25,000 bytes > the bound, still incomplete
    expect(r.out.toString()).toBe(`data: ${big}\n\ndata: [DONE]\n\n`);
    expect(r.result).toMatchObject({ hiddenEvents: 1, hiddenNulls: 0, usage: { input: "3", output: "4" } });
    // one chunk holding it whole is judged whole
    expect(m.run(body, true, true).out.toString()).toBe(`data: ${big.replace(',"usage":null', "")}\n\ndata: [DONE]\n\n`);
  });

  test("held memory is bounded: a 10 MiB event that never ends", () => {
    m.start(true, true);
    const piece = Buffer.alloc(65536, "a");
    m.feed(Buffer.from('data: {"choices":[{"delta":{"content":"'), false);
    m.feed(piece, false);
    m.feed(piece, false);
    const before = m.memoryBytes;
    let out = 0;
    for (let i = 0; i < 160; i++) out += m.feed(piece, false).bytes.length;
    expect(out).toBe(160 * 65536); // passed through as it came
    expect(m.memoryBytes - before).toBeLessThanOrEqual(64 * 1024);
  });

  test("property: only whole usage events and null members are ever removed, wherever the chunks are cut", () => {
    const piece = fc.constantFrom(
      "data: ", "data:", '{"choices":[],"usage":{"prompt_tokens":1}}', '{"choices":[{"delta":{"content":"a"}}],"usage":null}', '{"usage":null,"x":1}',
      "[DONE]", "\n", "\r\n", "\r", ": c", "event: e", '{"choices":[', "]}", ",", '"usage":null', "x",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 24 }).map((a) => a.join("")), fc.array(fc.nat(200), { maxLength: 5 }), (body, cuts) => {
        const whole = m.run(body, true, true);
        const cut = m.run(body, true, true, cuts);
        expect(cut.out.toString("latin1")).toBe(whole.out.toString("latin1"));
        // what remains is the input with some spans taken out, in order
        const out = whole.out.toString("latin1");
        let i = 0;
        for (const ch of body) {
          if (i < out.length && out[i] === ch) i++;
        }
        expect(i).toBe(out.length);
        if (whole.result.hiddenEvents + whole.result.hiddenNulls === 0) expect(out).toBe(body);
      }),
      { seed: 51, numRuns: 1500 },
    );
  });

  test("splitAt (the helper) covers the body", () => {
    expect(Buffer.concat(splitAt(Buffer.from("abcdef"), [4, 2, 2, 9])).toString()).toBe("abcdef");
  });
});
