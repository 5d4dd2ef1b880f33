// The scanner's fast path: values the usage extractor has no use for (everything but the usage
// objects and the model) are passed over by the tokenizer without being reported (skipValue), and
// keys of the objects it reads are judged in place (filterKeys). Passing over must change nothing:
// those values are validated byte for byte as before (an event with invalid JSON anywhere is still
// malformed), keys are read however they are written, and where chunks are cut never matters.
import fc from "fast-check";
import { loadParsers } from "./parsers_module";

const m = loadParsers();
afterEach(() => expect(m.logs).toEqual([]));

interface Usage { found: boolean; input: string; output: string; total: string; model: string }
interface ScanResult { usage: Usage; events: number; malformed: number; oversized: number; done: boolean; sse: boolean; jsonFailed: boolean }

const WHOLE = -2;
/** Inputs given as strings are taken byte for byte (latin1), so invalid UTF-8 can be written. */
const bytes = (s: string | Buffer): Buffer => (typeof s === "string" ? Buffer.from(s, "latin1") : s);
const scan = (body: string | Buffer, isSse: boolean, split = WHOLE): ScanResult => m.json("usage", bytes(body), isSse ? 1 : 0, 0, split);
const allSplits = (body: string | Buffer, isSse: boolean): { result: ScanResult; mismatch: number | null } =>
  m.json("usage_all_splits", bytes(body), isSse ? 1 : 0, 0);
const parse = (doc: string | Buffer, maxDepth: number): string => m.text("json_parse", bytes(doc), maxDepth);
const usage = (input: number, output: number, model: string): Usage => ({ found: true, input: String(input), output: String(output), total: String(input + output), model });
const notFound = (model = ""): Usage => ({ found: false, input: "0", output: "0", total: "0", model });
const event = (doc: string) => `data: ${doc}\n\n`;

/** The scanner's nesting limit (MAX_DEPTH in assembly/usage/scanner.ts). */
const MAX_DEPTH = 1024;

// JSON no value may be, each as it could sit under a key the extractor passes over.
const invalidValues: string[] = [
  "[1,]", "[,1]", "[1 2]", "[}", "{]", "{,}", '{"a" 1}', '{"a":}', '{"a":1,}', '{"a":1 "b":2}', "{a:1}", "{1:1}", '{"a"}',
  "01", "-01", "00", "-", "--1", "+1", ".5", "1.", "1.e1", "1e", "1e+", "0x1", "NaN", "Infinity",
  "tru", "nul", "nulll", "True", "fals", "t",
  '"\\x"', '"\\u12G4"', '"\\u12"', '"\\U0041"', '"a\tb"', '"\x01"', '"\x7f\x00"',
  '"\xff"', '"\xc0\x80"', '"\xc1\xbf"', '"\xe0\x80\x80"', '"\xed\xa0\x80"', '"\xf0\x80\x80\x80"', '"\xf4\x90\x80\x80"', '"\xf5\x80\x80\x80"',
  '"\xe4\xb8"', '"\xe4\xb8x"', '"\x80"', '"\xf0\x9f\x98"',
  '[{"a":[1,{"b":"\\q"}]}]', '{"x":{"y":{"z":[1,2,}}}', '[[[[[[1]]]]]', '{"deep":[[[["ok"]]]],"bad":tru}',
];

describe("values passed over are validated as before", () => {
  const good = '"usage":{"prompt_tokens":1,"completion_tokens":2}';
  test.each(invalidValues.map((v) => [v]))("%j", (v) => {
    for (const doc of [`{"choices":${v},${good}}`, `{${good},"choices":${v}}`, `{"usage":{"details":${v},"prompt_tokens":1}}`, `{"message":{"content":${v},"usage":{"input_tokens":1}}}`]) {
      // SSE: the event is malformed and counts for nothing, wherever the chunks are cut.
      const { result, mismatch } = allSplits(event(doc), true);
      expect(result).toMatchObject({ usage: notFound(), events: 1, malformed: 1 });
      expect(mismatch).toBeNull();
      // Plain JSON: the body is invalid from that byte on (what closed before it still counts).
      expect(parse(doc, MAX_DEPTH)).toMatch(/^E:/);
      expect(allSplits(doc, false).result.jsonFailed).toBe(true);
    }
  });

  test("the same values as whole documents: the tokenizer's own verdict agrees", () => {
    for (const v of invalidValues) {
      expect(parse(v, MAX_DEPTH)).toMatch(/^E:/);
      expect(scan(event(v), true)).toMatchObject({ events: 1, malformed: 1 });
    }
  });

  test("nesting past the limit inside a value passed over: bounded memory, the usage after it still counts", () => {
    const nested = (n: number) => "[".repeat(n) + "]".repeat(n);
    const doc = (v: string) => `{"choices":${v},"usage":{"prompt_tokens":3,"completion_tokens":4}}`;
    // The root object is depth 1: MAX_DEPTH - 1 arrays fit in the bracket stack; past it they are counted.
    for (const n of [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 5000]) {
      expect(scan(event(doc(nested(n))), true)).toMatchObject({ usage: usage(3, 4, ""), malformed: 0 });
      expect(scan(doc(nested(n)), false)).toMatchObject({ usage: usage(3, 4, ""), jsonFailed: false });
      for (const split of [1, 100, 600, 1030, 1500, -1]) {
        expect(scan(event(doc(nested(n))), true, split)).toMatchObject({ usage: usage(3, 4, ""), malformed: 0 });
      }
    }
    // Past the stack only the count of brackets and the strings are checked: these are still errors...
    const deep = "[".repeat(MAX_DEPTH + 10);
    for (const v of [deep + "]".repeat(MAX_DEPTH + 9), deep + '"\\x"' + "]".repeat(MAX_DEPTH + 10), deep + '"a\x01"' + "]".repeat(MAX_DEPTH + 10), deep + '"\xff"' + "]".repeat(MAX_DEPTH + 10)]) {
      expect(scan(event(doc(v)), true)).toMatchObject({ usage: notFound(), malformed: 1 });
    }
    // ...while a bracket of the other kind, or a stray comma, deep down is not seen.
    expect(scan(event(doc(deep + "}" + "]".repeat(MAX_DEPTH + 9))), true)).toMatchObject({ usage: usage(3, 4, ""), malformed: 0 });
    expect(scan(event(doc(deep + ",,1 x" + "]".repeat(MAX_DEPTH + 10))), true)).toMatchObject({ usage: usage(3, 4, ""), malformed: 0 });
    // A bracket inside a deep string is text, not nesting.
    expect(scan(event(doc(deep + '"]]]}}"' + "]".repeat(MAX_DEPTH + 10))), true)).toMatchObject({ usage: usage(3, 4, ""), malformed: 0 });
    // Where the extractor reads, the limit still holds (its paths are a few levels deep; nothing deeper is entered).
    expect(parse(nested(MAX_DEPTH + 1), MAX_DEPTH)).toMatch(/^E:/);
  });

  test("an event that is cut short inside a value passed over is malformed", () => {
    for (const cut of ['{"choices":[{"a":"b', '{"choices":[{"a":"b\\', '{"choices":[{"a":"\\u00', '{"choices":[{"a":"\xe4', '{"choices":[1', '{"choices":[-', '{"choices":[tr', '{"choices":{"a"', '{"choices":{"a":', '{"choices":[[]']) {
      const { result, mismatch } = allSplits(event(cut) + event('{"usage":{"prompt_tokens":5}}'), true);
      expect(result).toMatchObject({ usage: usage(5, 0, ""), events: 2, malformed: 1 });
      expect(mismatch).toBeNull();
    }
  });
});

describe("valid values passed over leave the reading alone", () => {
  const noise: Array<[string, string]> = [
    ["a string", '"plain"'], ["an empty string", '""'], ["every escape", '"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t"'],
    ["\\u escapes and surrogates, paired or not", '"\\u00e9\\u4e2d\\ud83d\\ude00\\ud83d"'], ["UTF-8 of 2, 3 and 4 bytes", '"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"'],
    ["0", "0"], ["-0", "-0"], ["12", "12"], ["-1.5e+10", "-1.5e+10"], ["1E-7", "1E-7"], ["0.000", "0.000"], ["a 30-digit number", "123456789012345678901234567890"],
    ["true", "true"], ["false", "false"], ["null", "null"], ["[]", "[]"], ["{}", "{}"], ["empty containers nested", "[[],{},[[{}]]]"],
    ["objects nested", '{"a":{"b":{"c":[1,"x",{"d":null}]}}}'], ["whitespace inside", ' [ 1 , { "k" : "v" } , [ ] ] '],
    // decoys: usage where the extractor must not look
    ["a usage object", '{"usage":{"prompt_tokens":999,"completion_tokens":999}}'], ["usage in an array", '[{"usage":{"prompt_tokens":999}}]'],
    ["model and Gemini usage", '{"model":"decoy","usageMetadata":{"promptTokenCount":999}}'], ["usage inside a string", '"\\"usage\\":{\\"prompt_tokens\\":999}"'],
    ["a wrapper", '{"message":{"model":"decoy","usage":{"input_tokens":999}}}'],
    ["a 3000-byte string", `"${"x".repeat(3000)}"`], ["200 numbers", `[${Array.from({ length: 200 }, (_, i) => i).join(",")}]`], ["200 arrays deep", "[".repeat(200) + "]".repeat(200)],
  ];

  test.each(noise)("%s", (_name, v) => {
    const doc = `{"id":${v},"model":"m1","choices":[{"delta":${v}},${v}],"usage":{"prompt_tokens":7,"extra":${v},"completion_tokens":8},"tail":${v}}`;
    const { result, mismatch } = allSplits(event(doc), true);
    expect(result).toMatchObject({ usage: usage(7, 8, "m1"), events: 1, malformed: 0 });
    expect(mismatch).toBeNull();
    expect(scan(doc, false)).toMatchObject({ usage: usage(7, 8, "m1"), jsonFailed: false });
  });

  test("whitespace everywhere between tokens", () => {
    const doc = ' { "id" : "x" ,\t"choices" : [ { "a" : 1 } ] ,\r\n "model" :\t"m2" , "usage" : { "x" : [ 1 ] , "prompt_tokens" : 3 , "completion_tokens" : 4 } } ';
    const { result, mismatch } = allSplits(event(doc.replace(/\r\n/g, " ")), true);
    expect(result).toMatchObject({ usage: usage(3, 4, "m2"), malformed: 0 });
    expect(mismatch).toBeNull();
    const json = allSplits(doc, false);
    expect(json.result).toMatchObject({ usage: usage(3, 4, "m2"), jsonFailed: false });
    expect(json.mismatch).toBeNull();
  });
});

describe("keys of the objects read: however they are written", () => {
  test.each<[string, string, Usage]>([
    ["escaped usage key", '{"us\\u0061ge":{"prompt_tokens":1,"completion_tokens":2}}', usage(1, 2, "")],
    ["escaped count keys", '{"usage":{"\\u0070rompt_tokens":3,"completion\\u005ftokens":4}}', usage(3, 4, "")],
    ["escaped model key", '{"\\u006dodel":"m","usage":{"prompt_tokens":1}}', usage(1, 0, "m")],
    ["escaped wrapper and Gemini keys", '{"\\u006dessage":{"usage":{"input_tokens":5}},"usage\\u004detadata":{"promptTokenCount":6}}', usage(6, 0, "")],
    ["an unneeded key written with an escape", '{"ch\\u006fices":[{"usage":{"prompt_tokens":9}}],"usage":{"prompt_tokens":1}}', usage(1, 0, "")],
    ["a non-ASCII key", '{"\xc3\xa9":{"usage":1},"usage":{"prompt_tokens":2}}', usage(2, 0, "")],
    ["keys that only start like wanted ones", '{"usageX":{"prompt_tokens":9},"usag":{"prompt_tokens":9},"modelx":"no","usage":{"prompt_tokensX":9,"prompt_token":9,"prompt_tokens":1}}', usage(1, 0, "")],
    ["a long key starting with usage", `{"usage${"_".repeat(600)}":{"prompt_tokens":9},"usage":{"prompt_tokens":1}}`, usage(1, 0, "")],
    ["duplicate keys: the last one counts", '{"usage":{"prompt_tokens":1},"model":"a","usage":{"prompt_tokens":2},"model":"b"}', usage(2, 0, "b")],
    ["an empty key", '{"":1,"usage":{"":2,"prompt_tokens":3}}', usage(3, 0, "")],
    ["wanted keys whose values are not what the extractor reads", '{"usage":[{"prompt_tokens":9}],"model":7,"response":"x","message":[1],"usageMetadata":null}', notFound()],
  ])("%s", (_name, doc, want) => {
    const { result, mismatch } = allSplits(event(doc), true);
    expect(result.usage).toEqual(want);
    expect(result.malformed).toBe(0);
    expect(mismatch).toBeNull();
    const json = allSplits(doc, false);
    expect(json.result.usage).toEqual(want);
    expect(json.mismatch).toBeNull();
  });

  test("the Gemini array form: each element is a root with its own keys", () => {
    const doc = '[{"x":{"usageMetadata":{"promptTokenCount":9}},"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2}},[{"usageMetadata":{"promptTokenCount":9}}],{"modelVersion":"g","usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"thoughtsTokenCount":5}}]';
    const { result, mismatch } = allSplits(doc, false);
    expect(result.usage).toEqual(usage(3, 9, "g"));
    expect(mismatch).toBeNull();
  });

  test("concatenated JSON documents: each root starts over", () => {
    const doc = '{"choices":[],"usage":{"prompt_tokens":1}} {"usage":{"completion_tokens":2},"id":{"usage":{"prompt_tokens":9}}}\n{"model":"m","x":[{"model":"decoy"}]}';
    const { result, mismatch } = allSplits(doc, false);
    expect(result.usage).toEqual(usage(1, 2, "m"));
    expect(mismatch).toBeNull();
  });
});

describe("events without usage still count", () => {
  test("the model of a later valid event wins, as before", () => {
    const body = event('{"model":"a","usage":{"prompt_tokens":1,"completion_tokens":2}}') + event('{"model":"b","choices":[]}') + event('{"model":"c","choices":[1,]}');
    const { result, mismatch } = allSplits(body, true);
    expect(result).toMatchObject({ usage: usage(1, 2, "b"), events: 3, malformed: 1 });
    expect(mismatch).toBeNull();
  });

  test("malformed events are counted whatever they hold", () => {
    const body = event('{"choices":[{"delta":{"content":"\\x"}}]}') + event('{"id":01}') + event("[DONE]") + event('{"id":"ok"}');
    expect(scan(body, true)).toMatchObject({ events: 4, malformed: 2, done: true, usage: notFound() });
  });
});

describe("property tests", () => {
  // JSON-flavoured text (valid or not, never CR or LF so that it stays one SSE data line).
  // (No key the extractor reads: a valid document then always holds exactly the usage around it.)
  const token = fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "a", "ab", "1", "0", "-", ".", "e", "+", " ", "\\", "u", "0041", "true", "null", "\\n", "\xc3\xa9", "\xe4\xb8", "\xff", "\t");
  const text = fc.array(token, { maxLength: 24 }).map((a) => a.join(""));

  test("a value passed over is valid exactly when the tokenizer says the document is", () => {
    fc.assert(
      fc.property(text, fc.integer({ min: -1, max: 120 }), (v, split) => {
        const doc = `{"choices":${v},"usage":{"prompt_tokens":1,"x":${v},"completion_tokens":2}}`;
        const valid = parse(doc, MAX_DEPTH).startsWith("V:");
        const r = scan(event(doc), true, split);
        expect(r.malformed).toBe(valid ? 0 : 1);
        expect(r.usage).toEqual(valid ? usage(1, 2, "") : notFound());
      }),
      { seed: 41, numRuns: 4000 },
    );
  });

  test("any JSON value under any key: the same usage whole, in two pieces, and byte by byte", () => {
    const key = fc.constantFrom("usage", "model", "choices", "message", "response", "usageMetadata", "prompt_tokens", "input_tokens", "us\\u0061ge", "x");
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.jsonValue({ maxDepth: 3 })), { maxLength: 5 }), fc.nat(400), (entries, cut) => {
        const doc = "{" + entries.map(([k, v]) => `"${k}":${JSON.stringify(v)}`).join(",") + "}";
        const sseBody = event(doc.replace(/[\r\n\u2028\u2029]/g, " "));
        const whole = scan(sseBody, true);
        expect(whole.malformed).toBe(0);
        expect(scan(sseBody, true, Math.min(cut, Buffer.byteLength(sseBody)))).toEqual(whole);
        expect(scan(sseBody, true, -1)).toEqual(whole);
        const json = scan(doc, false);
        expect(json.jsonFailed).toBe(false);
        expect(scan(doc, false, Math.min(cut, Buffer.byteLength(doc)))).toEqual(json);
      }),
      { seed: 42, numRuns: 1500 },
    );
  });
});
