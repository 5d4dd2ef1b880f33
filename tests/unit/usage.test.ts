// assembly/usage/*: token usage from LLM response bodies (SSE and JSON, split anywhere) and ai_log.
import fc from "fast-check";
import { loadParsers } from "./parsers_module";
import { anthropicStream, corpus, geminiArrayStream, openaiChat, openaiChatStream, sse } from "./usage_corpus";

const m = loadParsers();
afterEach(() => expect(m.logs).toEqual([]));

interface Usage { found: boolean; input: string; output: string; total: string; model: string }
interface ScanResult { usage: Usage; events: number; malformed: number; oversized: number; done: boolean; sse: boolean; jsonFailed: boolean }

const WHOLE = -2;
const BYTEWISE = -1;
const scan = (body: string | Buffer, isSse: boolean, maxEventBytes = 262144, split = WHOLE): ScanResult =>
  m.json("usage", body, isSse ? 1 : 0, maxEventBytes, split);
const allSplits = (body: string | Buffer, isSse: boolean, maxEventBytes = 262144): { result: ScanResult; mismatch: number | null } =>
  m.json("usage_all_splits", body, isSse ? 1 : 0, maxEventBytes);
const usage = (input: number | string, output: number | string, model: string, found = true): Usage => ({
  found,
  input: String(input),
  output: String(output),
  total: (BigInt(input) + BigInt(output)).toString(),
  model,
});
const notFound = (model = ""): Usage => ({ found: false, input: "0", output: "0", total: "0", model });

describe("corpus: every API, whole, split in two at every byte, and byte by byte", () => {
  test.each(corpus.map((c) => [c.name, c]))("%s", (_name, c) => {
    const { result, mismatch } = allSplits(c.body, c.sse);
    expect(result.usage).toEqual(usage(c.input, c.output, c.model, c.found ?? true));
    expect(result.sse).toBe(c.sse);
    expect(result.malformed).toBe(0);
    expect(result.jsonFailed).toBe(false);
    expect(mismatch).toBeNull();
  });

  test("also with the other content-type hint (the first byte decides)", () => {
    for (const c of corpus) {
      const r = scan(c.body, !c.sse);
      expect(r.usage).toEqual(usage(c.input, c.output, c.model));
      expect(r.sse).toBe(c.sse);
    }
  });

  test("stream bookkeeping: events, [DONE]", () => {
    const r = scan(openaiChatStream, true);
    expect(r).toMatchObject({ events: 6, malformed: 0, done: true, oversized: 0 });
    expect(scan(anthropicStream, true)).toMatchObject({ events: 8, malformed: 0, done: false });
  });
});

describe("SSE framing", () => {
  const u = (p: number, c: number) => JSON.stringify({ usage: { prompt_tokens: p, completion_tokens: c } });
  test.each<[string, string, Usage]>([
    ["data without a space after the colon", `data:${u(1, 2)}\n\n`, usage(1, 2, "")],
    ["two spaces: only one is dropped (the other is JSON whitespace)", `data:  ${u(1, 2)}\n\n`, usage(1, 2, "")],
    ["data split over several lines is joined with \\n", `data: {"usage":\ndata: {"prompt_tokens":3,\ndata: "completion_tokens":4}}\n\n`, usage(3, 4, "")],
    ["comments, event, id and retry lines are ignored", `: keep-alive\nevent: x\nid: 7\nretry: 100\ndata: ${u(5, 6)}\n: another\n\n`, usage(5, 6, "")],
    ["a field named like data is not data", `datax: ${u(9, 9)}\ndat: ${u(9, 9)}\nDATA: ${u(9, 9)}\n\n`, notFound()],
    ["leading blank lines", `\n\n\r\n${"data: " + u(1, 1)}\n\n`, usage(1, 1, "")],
    ["several events in one chunk, last wins", `data: ${u(1, 1)}\n\ndata: ${u(2, 3)}\n\n`, usage(2, 3, "")],
    ["no blank line at the end: the last event still counts at finish()", `data: ${u(7, 8)}`, usage(7, 8, "")],
    ["mixed line endings", `data: ${u(1, 1)}\r\n\ndata: ${u(4, 4)}\r\r`, usage(4, 4, "")],
    ["a UTF-8 byte-order mark at the start", `\ufeffdata: ${u(2, 2)}\n\n`, usage(2, 2, "")],
    ["data: alone (no colon) adds an empty line", `data\ndata: ${u(3, 3)}\n\n`, usage(3, 3, "")],
  ])("%s", (_name, body, want) => {
    const { result, mismatch } = allSplits(body, true);
    expect(result.usage).toEqual(want);
    expect(mismatch).toBeNull();
  });

  test("a malformed event is skipped, never fatal", () => {
    const body = sse([
      [`data: {"usage":{"prompt_tokens":999,"completion_tokens":999}`], // unclosed
      [`data: ${u(10, 20)}`],
      [`data: {"usage":{"prompt_tokens":1,"completion_tokens":1}} trailing`],
      [`data: not json`],
      [`data: [DONE]`],
    ]);
    const { result, mismatch } = allSplits(body, true);
    expect(result).toMatchObject({ usage: usage(10, 20, ""), malformed: 3, done: true, events: 5 });
    expect(mismatch).toBeNull();
  });

  test("later events overwrite earlier values field by field", () => {
    const body = sse([
      [`data: {"model":"m1","usage":{"prompt_tokens":5,"completion_tokens":1}}`],
      [`data: {"usage":{"completion_tokens":9}}`],
      [`data: {"model":"m2"}`],
      [`data: {"usage":null}`],
    ]);
    expect(scan(body, true).usage).toEqual(usage(5, 9, "m2"));
  });

  test("an oversized event is dropped (memory stays bounded), the next one counts", () => {
    const big = `data: {"pad":"${"x".repeat(500)}","usage":{"prompt_tokens":100,"completion_tokens":100}}`;
    const body = sse([[big], [`data: ${u(1, 2)}`]]);
    const { result, mismatch } = allSplits(body, true, 200);
    expect(result).toMatchObject({ usage: usage(1, 2, ""), oversized: 1, events: 2, malformed: 0 });
    expect(mismatch).toBeNull();
    // with no limit (0) the big event is scanned in full as it streams by
    expect(scan(sse([[big]]), true, 0).usage).toEqual(usage(100, 100, ""));
    // the limit counts the event's data bytes, the "\n" joining its lines included
    const exact = `{"usage":{"prompt_tokens":3}}`;
    expect(scan(`data: ${exact}\n\n`, true, exact.length).usage).toEqual(usage(3, 0, ""));
    expect(scan(`data: ${exact}\n\n`, true, exact.length - 1)).toMatchObject({ usage: notFound(), oversized: 1 });
  });

  test("a stream cut inside an event's JSON counts only the complete events", () => {
    const body = `data: ${u(1, 2)}\n\ndata: {"usage":{"prompt_tokens":50,"completion_tokens":5`;
    expect(scan(body, true)).toMatchObject({ usage: usage(1, 2, ""), malformed: 1 });
  });
});

describe("what counts as a token count", () => {
  const one = (usageJson: string) => scan(`{"usage":${usageJson}}`, false).usage;
  test.each<[string, Usage]>([
    [`{"prompt_tokens":-5,"completion_tokens":1.5}`, notFound()],
    [`{"prompt_tokens":"5","completion_tokens":true}`, notFound()],
    [`{"prompt_tokens":1e2,"completion_tokens":2E0}`, notFound()],
    [`{"prompt_tokens":-0}`, notFound()],
    [`{"prompt_tokens":null,"completion_tokens":[1]}`, notFound()],
    [`{"prompt_tokens":{"n":1}}`, notFound()],
    [`{"prompt_tokens":9223372036854775808}`, notFound()],
    [`{"prompt_tokens":123456789012345678901234567890}`, notFound()],
    [`{"prompt_tokens":0,"completion_tokens":0}`, usage(0, 0, "")],
    [`{"prompt_tokens":9223372036854775807,"completion_tokens":0}`, usage("9223372036854775807", 0, "")],
    [`{"prompt_tokens":3,"prompt_tokens":4}`, usage(4, 0, "")],
    [`{"prompt_tokens":3,"prompt_tokens":"x"}`, usage(3, 0, "")],
  ])("%s", (json, want) => {
    expect(one(json)).toEqual(want);
  });

  test("sums saturate instead of wrapping", () => {
    const r = scan(`{"usage":{"input_tokens":9223372036854775807,"cache_read_input_tokens":5,"output_tokens":9223372036854775807}}`, false).usage;
    expect(r).toEqual({ found: true, input: "9223372036854775807", output: "9223372036854775807", total: "9223372036854775807", model: "" });
  });

  test("usage only at the known paths", () => {
    const body = (o: unknown) => scan(JSON.stringify(o), false).usage;
    expect(body({ choices: [{ usage: { prompt_tokens: 5 } }] })).toEqual(notFound());
    expect(body({ data: { usage: { prompt_tokens: 5 } } })).toEqual(notFound());
    expect(body({ usage: { usage: { prompt_tokens: 5 } } })).toEqual(notFound());
    expect(body({ response: { response: { usage: { input_tokens: 5 } } } })).toEqual(notFound());
    expect(body({ message: { usageMetadata: { promptTokenCount: 5 } } })).toEqual(notFound());
    expect(body({ usageMetadata: { prompt_tokens: 5 } })).toEqual(notFound());
    expect(body({ usage: { promptTokenCount: 5 } })).toEqual(notFound());
    expect(body([[{ usage: { prompt_tokens: 5 } }]])).toEqual(notFound());
    expect(body({ x: { model: "no" }, choices: [{ model: "no" }] })).toEqual(notFound());
    expect(body([{ usage: { prompt_tokens: 5 }, model: "a" }])).toEqual(usage(5, 0, "a"));
    expect(body({ message: { usage: { input_tokens: 5, output_tokens: 2 }, model: "c" } })).toEqual(usage(5, 2, "c"));
    expect(body({ response: { usage: { input_tokens: 5, output_tokens: 2 }, model: "r" } })).toEqual(usage(5, 2, "r"));
  });
});

describe("plain JSON bodies", () => {
  test("a body cut after its usage object still counts", () => {
    const cut = openaiChat.slice(0, openaiChat.indexOf('"service_tier"'));
    expect(scan(cut, false).usage).toEqual(usage(19, 10, "gpt-4.1-2025-04-14"));
    const inside = openaiChat.slice(0, openaiChat.indexOf('"total_tokens"'));
    expect(scan(inside, false).usage).toEqual(notFound());
  });

  test("Gemini's array stream cut in the second element counts the first", () => {
    const second = geminiArrayStream.indexOf("\r\n,\r\n") + 10;
    const r = scan(geminiArrayStream.slice(0, second), false);
    expect(r.usage).toEqual(usage(11, 0, "gemini-2.0-flash"));
  });

  test("invalid JSON: what came before a complete usage object stays, the rest is ignored", () => {
    expect(scan(`{"usage":{"prompt_tokens":1,"completion_tokens":2}, oops {"usage":{"prompt_tokens":9}}}`, false)).toMatchObject({
      usage: usage(1, 2, ""),
      jsonFailed: true,
    });
    expect(scan(`{"model":"x","usage":{"prompt_tokens":1,"completion_tokens":2 oops}}`, false)).toMatchObject({ usage: notFound(), jsonFailed: true });
  });

  test("concatenated JSON values (NDJSON) are read one after another", () => {
    const body = `{"usage":{"prompt_tokens":1,"completion_tokens":1}}\n{"model":"n","usage":{"completion_tokens":4}}\n`;
    const { result, mismatch } = allSplits(body, false);
    expect(result.usage).toEqual(usage(1, 4, "n"));
    expect(mismatch).toBeNull();
  });

  test("an HTML error page or empty body is harmless", () => {
    expect(scan("<html><body>502 Bad Gateway</body></html>", false)).toMatchObject({ usage: notFound(), sse: true });
    expect(scan("", false)).toMatchObject({ usage: notFound(), events: 0 });
    expect(scan("   \r\n ", true)).toMatchObject({ usage: notFound(), events: 0 });
  });

  test("long model names are not kept half", () => {
    expect(scan(JSON.stringify({ model: "m".repeat(600), usage: { prompt_tokens: 1 } }), false).usage).toEqual(usage(1, 0, ""));
    expect(scan(JSON.stringify({ model: "m".repeat(500), usage: { prompt_tokens: 1 } }), false).usage).toEqual(usage(1, 0, "m".repeat(500)));
  });
});

describe("bounded memory and linear time", () => {
  const memoryBytes = () => (m.exports.memory as { buffer: ArrayBuffer }).buffer.byteLength;
  const feedChunk = (chunk: Buffer) => {
    const ptr = m.exports.input_alloc(chunk.length) >>> 0;
    new Uint8Array((m.exports.memory as { buffer: ArrayBuffer }).buffer, ptr, chunk.length).set(chunk);
    m.exports.usage_feed(chunk.length);
  };
  const finish = () => JSON.parse(m.call("usage_finish").toString()) as ScanResult;

  test("a 16 MB SSE stream with a 4 MB event: memory flat, fast", () => {
    const delta = sse([[`data: ${JSON.stringify({ choices: [{ delta: { content: "token ".repeat(40) } }], usage: null })}`]]);
    const chunk = Buffer.from(delta.repeat(Math.ceil(65536 / delta.length)));
    // one event whose data is a 4 MB string, streamed in pieces, then the usage event
    const hugeHead = Buffer.from(`data: {"choices":[{"delta":{"content":"`);
    const hugeBody = Buffer.alloc(65536, "a");
    const hugeTail = Buffer.from(`"}}],"usage":null}\n\n`);
    const last = Buffer.from(`data: {"model":"big","usage":{"prompt_tokens":123,"completion_tokens":456}}\n\ndata: [DONE]\n\n`);

    m.exports.usage_new(1, 0);
    feedChunk(chunk); // warm up: allocations that happen once
    const before = memoryBytes();
    const t0 = Date.now();
    let bytes = 0;
    for (let i = 0; i < 192; i++) { feedChunk(chunk); bytes += chunk.length; }
    feedChunk(hugeHead);
    for (let i = 0; i < 64; i++) { feedChunk(hugeBody); bytes += hugeBody.length; }
    feedChunk(hugeTail);
    feedChunk(last);
    const r = finish();
    const ms = Date.now() - t0;
    expect(r.usage).toEqual(usage(123, 456, "big"));
    expect(r.malformed).toBe(0);
    expect(bytes).toBeGreaterThan(16e6);
    expect(memoryBytes() - before).toBeLessThanOrEqual(64 * 1024); // at most one more wasm page
    expect(ms).toBeLessThan(5000);
  });

  test("a large plain JSON body streamed in chunks: memory flat", () => {
    m.exports.usage_new(0, 262144);
    feedChunk(Buffer.from(`{"id":"x","model":"gpt","choices":[`));
    const item = Buffer.from(JSON.stringify({ index: 0, message: { role: "assistant", content: "word ".repeat(100) }, nested: [[[{ a: 1 }]]] }) + ",");
    const block = Buffer.from(item.toString().repeat(100));
    feedChunk(block);
    const before = memoryBytes();
    for (let i = 0; i < 100; i++) feedChunk(block);
    feedChunk(Buffer.from(`{"index":1}],"usage":{"prompt_tokens":7,"completion_tokens":8}}`));
    const r = finish();
    expect(r.usage).toEqual(usage(7, 8, "gpt"));
    expect(memoryBytes() - before).toBeLessThanOrEqual(64 * 1024);
  });
});

describe("usageFromAiLog", () => {
  const ailog = (s: string) => m.json("ailog", s);
  test.each<[string, Usage | null]>([
    [`{"model":"qwen-max","input_token":12,"output_token":34,"response_type":"normal","llm_first_token_duration":120}`, usage(12, 34, "qwen-max")],
    [`{"input_token":12}`, usage(12, 0, "")],
    [`{"output_token":3,"model":"m"}`, usage(0, 3, "m")],
    [`{"input_token":"12","output_token":"3"}`, usage(12, 3, "")],
    // wasm-go writes 0/0 for a chunk holding "usage" without counts: a 0 is no report (was usage(0, 0), issue 22)
    [`{"input_token":0,"output_token":0}`, null],
    [`{"input_token":0,"output_token":5}`, usage(0, 5, "")],
    // detail counts wasm-go keeps apart (Anthropic cache, Gemini tool-use prompt / thoughts) are added; parts of a count are not
    [`{"input_token":10,"output_token":7,"input_token_details":{"cache_creation_input_tokens":2000,"cache_read_input_tokens":3000},"total_token":5017}`, usage(5010, 7, "")],
    [`{"input_token":27,"output_token":76,"input_token_details":{"cached_content_token_count":20,"tool_use_prompt_token_count":10309},"output_token_details":{"thoughts_token_count":5}}`, usage(10336, 81, "")],
    [`{"input_token":2000,"output_token":500,"input_token_details":{"cached_tokens":1920},"output_token_details":{"reasoning_tokens":448},"total_token":2500}`, usage(2000, 500, "")],
    // total_token above what is known: the rest is input; "unknown" is no model
    [`{"input_token":10,"output_token":7,"total_token":30,"model":"unknown"}`, usage(23, 7, "")],
    [`{"input_token":1,"input_token":2}`, usage(2, 0, "")],
    [`{"nested":{"input_token":5},"output_token":1}`, usage(0, 1, "")],
    [`{"model":"only"}`, null],
    [`{}`, null],
    [`{"input_token":-1,"output_token":3}`, null],
    [`{"input_token":1.5}`, null],
    [`{"input_token":1e3}`, null],
    [`{"input_token":null}`, null],
    [`{"input_token":true}`, null],
    [`{"input_token":[1]}`, null],
    [`{"input_token":{"v":1}}`, null],
    [`{"input_token":"12a"}`, null],
    [`{"input_token":9223372036854775808}`, null],
    [`[{"input_token":1}]`, null],
    [`12`, null],
    [`{"input_token":1`, null],
    [`{"input_token":1} x`, null],
    [``, null],
  ])("%s", (s, want) => {
    expect(ailog(s)).toEqual(want);
  });
});

describe("property tests", () => {
  test("arbitrary bytes never trap (both hints, random splits)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), fc.boolean(), fc.integer({ min: -2, max: 96 }), fc.integer({ min: 0, max: 64 }), (b, hint, split, max) => {
        scan(Buffer.from(b), hint, max, split);
        m.run("ailog", b);
      }),
      { seed: 31, numRuns: 3000 },
    );
  });

  test("SSE-flavoured noise never traps and never depends on where chunks are cut", () => {
    const piece = fc.constantFrom("data:", "data: ", "event: x", ":", "\n", "\r\n", "\r", '{"usage":{"prompt_tokens":', "1", "2", "}", "}}", '"', "[DONE]", "{", "[", "usageMetadata", ",");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }).map((a) => a.join("")), fc.boolean(), (body, hint) => {
        const whole = scan(body, hint);
        for (const cut of [1, body.length >> 1, body.length - 1]) {
          if (cut > 0 && cut < body.length) expect(scan(body, hint, 262144, cut)).toEqual(whole);
        }
      }),
      { seed: 32, numRuns: 2000 },
    );
  });

  test("corpus streams in random multi-chunk splits give the same usage", () => {
    const streams = corpus;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: streams.length - 1 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), (i, sizes) => {
        const c = streams[i];
        const body = Buffer.from(c.body);
        m.exports.usage_new(c.sse ? 1 : 0, 262144);
        let pos = 0;
        let k = 0;
        while (pos < body.length) {
          const n = sizes[k++ % sizes.length];
          const part = body.subarray(pos, pos + n);
          const ptr = m.exports.input_alloc(part.length) >>> 0;
          new Uint8Array((m.exports.memory as { buffer: ArrayBuffer }).buffer, ptr, part.length).set(part);
          m.exports.usage_feed(part.length);
          pos += n;
        }
        const r = JSON.parse(m.call("usage_finish").toString()) as ScanResult;
        expect(r.usage).toEqual(usage(c.input, c.output, c.model));
      }),
      { seed: 33, numRuns: 400 },
    );
  });
});
