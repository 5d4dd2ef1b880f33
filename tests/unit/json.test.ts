// assembly/json/*: strict RFC 8259 tokenizer (push, any split), document model, Go-style quoting.
import fc from "fast-check";
import { loadParsers } from "./parsers_module";

const m = loadParsers();
afterEach(() => expect(m.logs).toEqual([]));

const bytes = (s: string | Buffer) => (typeof s === "string" ? Buffer.from(s, "latin1") : s);
/** Parse whole: "V:<compact>" or "E:<error>". Inputs given as strings are taken byte for byte (latin1). */
const parse = (s: string | Buffer, maxDepth = 64) => m.text("json_parse", bytes(s), maxDepth);
const pieces = (s: string | Buffer, split: number, maxDepth = 64) => m.text("json_pieces", bytes(s), maxDepth, split);
const u8 = (s: string) => Buffer.from(s, "utf8");

// [input (UTF-8 text), compact output]
const valid: Array<[string, string]> = [
  ["null", "null"],
  ["true", "true"],
  ["false", "false"],
  [" 1 ", "1"],
  ["0", "0"],
  ["-0", "-0"],
  ["1.5e10", "1.5e10"],
  ["1E+2", "1E+2"],
  ["1e-2", "1e-2"],
  ["-1.0", "-1.0"],
  ["0.000001", "0.000001"],
  ["123456789012345678901234567890", "123456789012345678901234567890"],
  ['"abc"', '"abc"'],
  ['""', '""'],
  ["[]", "[]"],
  ["{}", "{}"],
  ["[1,[2,[3]]]", "[1,[2,[3]]]"],
  ['{"a":1,"b":[true,null,false]}', '{"a":1,"b":[true,null,false]}'],
  ['{"a":1,"a":2}', '{"a":1,"a":2}'],
  ["\t\n\r [ 1 , 2 ] \n", "[1,2]"],
  ['{ "a" : { "b" : [ ] } }', '{"a":{"b":[]}}'],
  ['"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\"\\\\/\\b\\f\\n\\r\\t"'],
  ['"\\u0041\\u00e9\\u4E2D"', '"Aé中"'],
  ['"\\ud83d\\ude00"', '"😀"'],
  ['"\\uD83D\\uDE00x"', '"😀x"'],
  ['"\\ud83d"', '"\ufffd"'],
  ['"\\ude00"', '"\ufffd"'],
  ['"\\ud83d\\u0041"', '"\ufffdA"'],
  ['"\\ud83d\\ud83d\\ude00"', '"\ufffd😀"'],
  ['"\\ud83dx"', '"\ufffdx"'],
  ['"\\ud83d\\n"', '"\ufffd\\n"'],
  ['"\\u0000"', '"\\u0000"'],
  ['"\\u001f"', '"\\u001f"'],
  ['"<>&"', '"\\u003c\\u003e\\u0026"'],
  ['"中文😀é"', '"中文😀é"'],
  ['"\u2028\u2029"', '"\\u2028\\u2029"'],
  ['"\u007f"', '"\u007f"'],
  ['{"":""}', '{"":""}'],
  ['{"\\u0061":1}', '{"a":1}'],
  ['[-1.5E-7,0e0,0.0]', "[-1.5E-7,0e0,0.0]"],
];

const invalid: string[] = [
  "",
  " ",
  "nul",
  "nulll",
  "True",
  "NULL",
  "[1,]",
  "[,1]",
  "[,]",
  "{,}",
  '{"a":1,}',
  '{"a"}',
  '{"a":}',
  '{"a" 1}',
  "{a:1}",
  "{'a':1}",
  "{1:1}",
  "[1 2]",
  '{"a":1 "b":2}',
  "01",
  "-",
  "-01",
  "00",
  "1.",
  ".1",
  "1e",
  "1e+",
  "1.e1",
  "+1",
  "0x1",
  "NaN",
  "Infinity",
  "-Infinity",
  "1 2",
  "[] []",
  "[",
  "]",
  "{",
  "}",
  "[1",
  '{"a":1',
  '{"a"',
  '"abc',
  '"\\x"',
  '"\\u12"',
  '"\\u12G4"',
  '"\\U0041"',
  '"\\',
  '"a\tb"',
  '"a\nb"',
  '"\u0001"',
  "[1]x",
  "1x",
  "truex",
  "[true false]",
  "\u00ef\u00bb\u00bf[1]", // UTF-8 byte-order mark (as latin1 bytes EF BB BF)
  '"\u00ff"', // the byte FF
  '"\u00c0\u0080"', // overlong NUL
  '"\u00c1\u00bf"', // overlong
  '"\u00e0\u0080\u0080"', // overlong 3-byte
  '"\u00ed\u00a0\u0080"', // encoded surrogate D800
  '"\u00f0\u0080\u0080\u0080"', // overlong 4-byte
  '"\u00f4\u0090\u0080\u0080"', // beyond U+10FFFF
  '"\u00f5\u0080\u0080\u0080"',
  '"\u00e4\u00b8"', // cut 3-byte sequence
  '"\u00e4\u00b8x"',
  '"\u0080"', // lone continuation byte
  '"\u00f0\u009f\u0098"', // cut 4-byte sequence
  "\u00ff",
  "[\u0000]",
  '{"a":1}}',
  "[1]]",
  '{"a":[}',
  '[{"a":1]}',
];

describe("parseJson: valid documents", () => {
  test.each(valid)("%j", (input, want) => {
    const got = parse(u8(input));
    expect(got).toBe("V:" + want);
    // the compact form is itself valid JSON meaning the same thing (JS keeps lone surrogates; we do not)
    if (!want.includes("\ufffd")) expect(JSON.parse(want)).toEqual(JSON.parse(input));
  });
});

describe("parseJson: invalid documents", () => {
  test.each(invalid.map((s) => [s]))("%j", (input) => {
    expect(parse(input)).toMatch(/^E:json: .* at offset \d+$/);
  });

  test("JavaScript's JSON.parse agrees on what is invalid (for the non-byte-level cases)", () => {
    for (const s of invalid) {
      if (/[\u0080-\u00ff]/.test(s)) continue; // byte-level UTF-8 cases: JS strings cannot carry them
      expect(() => JSON.parse(s)).toThrow();
    }
  });
});

describe("push tokenizer: any split gives the same result", () => {
  const cases = [...valid.map(([s]) => u8(s)), ...invalid.map((s) => bytes(s))];
  test("two pieces at every byte boundary, and byte by byte", () => {
    for (const input of cases) {
      const whole = parse(input);
      for (let i = 0; i <= input.length; i++) expect(pieces(input, i)).toBe(whole);
      expect(pieces(input, -1)).toBe(whole);
    }
  });
});

describe("depth limit", () => {
  const arrays = (n: number) => "[".repeat(n) + "]".repeat(n);
  const objects = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
  test("default 64", () => {
    expect(parse(arrays(64))).toBe("V:" + arrays(64));
    expect(parse(arrays(65))).toMatch(/^E:json: nesting too deep at offset 64$/);
    expect(parse(objects(64))).toMatch(/^V:/);
    expect(parse(objects(65))).toMatch(/too deep/);
  });
  test("explicit limits", () => {
    expect(parse("1", 0)).toBe("V:1");
    expect(parse("[]", 0)).toMatch(/too deep/);
    expect(parse("[[]]", 2)).toBe("V:[[]]");
    expect(parse("[[[]]]", 2)).toMatch(/too deep/);
    expect(parse("[1]", -5)).toMatch(/too deep/);
  });
  test("deep input: no recursion in the parser", () => {
    expect(parse("[".repeat(200000))).toMatch(/too deep/);
    // (JsonValue.toString recurses, so deep documents are checked by walking them iteratively)
    const deep = "[".repeat(100000) + "]".repeat(100000);
    expect(m.text("json_depth", deep, 100000)).toBe("depth 100000");
    expect(m.text("json_depth", deep, 99999)).toMatch(/too deep at offset 99999$/);
  });
});

describe("JsonValue accessors", () => {
  const num = (s: string) => m.json("json_number", s);
  const f64bits = (x: number) => {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, x, true);
    return b.getBigInt64(0, true).toString();
  };
  test.each([
    ["42", true, "42"],
    ["-0", true, "0"],
    ["0", true, "0"],
    ["9223372036854775807", true, "9223372036854775807"],
    ["-9223372036854775808", true, "-9223372036854775808"],
    ["9223372036854775808", false, "0"],
    ["-9223372036854775809", false, "0"],
    ["1.0", false, "0"],
    ["1e2", false, "0"],
    ["1E2", false, "0"],
    ["-5", true, "-5"],
  ])("isInteger/asI64 %s", (text, isInteger, i64) => {
    expect(num(text)).toEqual({ isInteger, i64, f64bits: f64bits(Number(text)) });
  });

  test.each(["0.1", "1.5", "-2.25", "1e300", "1e400", "-1e400", "5e-324", "123456.789", "3.141592653589793", "2.5e-10"])("asF64 %s", (text) => {
    expect(num(text).f64bits).toBe(f64bits(Number(text)));
  });

  test("get: last duplicate wins; absent keys; non-objects", () => {
    const get = (key: string, json: string) => m.text("json_get", Buffer.from(`${key}\u0000${json}`, "utf8"));
    expect(get("a", '{"a":1,"a":2}')).toBe("2");
    expect(get("a", '{"a":{"b":[1]}}')).toBe('{"b":[1]}');
    expect(get("b", '{"a":1}')).toBe("absent");
    expect(get("a", "[1]")).toBe("absent");
    expect(get("", '{"":null}')).toBe("null");
    expect(get("中", '{"\\u4e2d":"x"}')).toBe('"x"');
  });
});

describe("quoteJsonString (Go encoding/json)", () => {
  const quote16 = (s: string) => m.text("json_quote16", Buffer.from(s, "utf16le"));
  test.each([
    ["plain", '"plain"'],
    ["", '""'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ["\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'],
    ["\u0000\u0001\u001f", '"\\u0000\\u0001\\u001f"'],
    ["<script>&", '"\\u003cscript\\u003e\\u0026"'],
    ["\u2028\u2029", '"\\u2028\\u2029"'],
    ["中文😀", '"中文😀"'],
    ["\ud83d", '"\\ufffd"'],
    ["a\ude00b", '"a\\ufffdb"'],
    ["\ude00\ud83d", '"\\ufffd\\ufffd"'],
    ["/\u007f", '"/\u007f"'],
  ])("%j", (s, want) => {
    expect(quote16(s)).toBe(want);
  });
});

describe("property tests", () => {
  test("any JSON value round-trips: parse(stringify(v)) compact form means v", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const text = JSON.stringify(v);
        const out = parse(u8(text));
        expect(out.startsWith("V:")).toBe(true);
        expect(JSON.parse(out.slice(2))).toEqual(JSON.parse(text));
        const cut = text.length >> 1;
        expect(pieces(u8(text), Buffer.byteLength(text.slice(0, cut)))).toBe(out);
      }),
      { seed: 21, numRuns: 1500 },
    );
  });

  test("validity agrees with JSON.parse on JSON-flavoured strings", () => {
    const tokens = fc.constantFrom("{", "}", "[", "]", ",", ":", '"', "a", "1", "0", "-", ".", "e", "+", " ", "\\", "u", "true", "null", "\\n", "é", "\u2028");
    fc.assert(
      fc.property(fc.array(tokens, { maxLength: 16 }).map((a) => a.join("")), (s) => {
        let ok = true;
        try {
          JSON.parse(s);
        } catch {
          ok = false;
        }
        expect(parse(u8(s)).startsWith("V:")).toBe(ok);
      }),
      { seed: 22, numRuns: 4000 },
    );
  });

  test("arbitrary bytes never trap, whole or in pieces", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), fc.integer({ min: -1, max: 48 }), fc.integer({ min: -1, max: 6 }), (b, split, depth) => {
        const whole = parse(Buffer.from(b), depth);
        expect(pieces(Buffer.from(b), split, depth)).toBe(whole);
      }),
      { seed: 23, numRuns: 3000 },
    );
  });
});
