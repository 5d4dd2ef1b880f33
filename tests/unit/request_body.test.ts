// assembly/request/ (the streaming reader and rewriter of metered request bodies) and
// assembly/quota/estimate.ts (the max_tokens reservation), through build/test/request_body.wasm.
import fc from "fast-check";
import { Facts, loadRequestBody } from "./request_body_module";

const m = loadRequestBody();
afterEach(() => expect(m.logs).toEqual([]));

const INCLUDE = '"stream_options":{"include_usage":true}';
const CAP = 1_000_000n;
const LIMIT_2_50 = (1n << 50n) - 1n;

/** The body without a leading BOM, parsed (JSON.parse refuses a BOM). */
const parse = (b: Buffer | string): any => JSON.parse(Buffer.isBuffer(b) ? b.toString("utf8").replace(/^\ufeff/, "") : b.replace(/^\ufeff/, ""));

/** Byte offsets of every occurrence of `needle` in `s` (UTF-8). */
function offsetOf(s: string, needle: string, nth = 0): number {
  const b = Buffer.from(s, "utf8");
  let at = -1;
  for (let i = 0; i <= nth; i++) at = b.indexOf(Buffer.from(needle, "utf8"), at + 1);
  if (at < 0) throw new Error(`${needle} not in ${s}`);
  return at;
}

describe("usage injection, streaming path", () => {
  // [name, input, output ("=" unchanged), injected, usageAsked]
  const cases: Array<[string, string, string, boolean, boolean]> = [
    ["stream first", '{"stream":true,"messages":[{"role":"user","content":"}"}]}', `{"stream":true,"messages":[{"role":"user","content":"}"}],${INCLUDE}}`, true, false],
    ["stream last", '{"model":"m","messages":[],"stream":true}', `{"model":"m","messages":[],"stream":true,${INCLUDE}}`, true, false],
    ["whitespace around the root's close", ' {"stream" : true \n}\n ', ` {"stream" : true \n,${INCLUDE}}\n `, true, false],
    ["stream false", '{"stream":false,"messages":[]}', "=", false, false],
    ["stream null", '{"stream":null}', "=", false, false],
    ["stream absent", '{"messages":[]}', "=", false, false],
    ["stream as pydantic reads a string", '{"stream":"yes"}', `{"stream":"yes",${INCLUDE}}`, true, false],
    ["stream 1", '{"stream":1}', `{"stream":1,${INCLUDE}}`, true, false],
    ["stream 1.0", '{"stream":1.0}', `{"stream":1.0,${INCLUDE}}`, true, false],
    ["stream 2 (refused upstream)", '{"stream":2}', "=", false, false],
    ["stream written with an escape", '{"str\\u0065am":true}', `{"str\\u0065am":true,${INCLUDE}}`, true, false],
    ["Stream is another key", '{"Stream":true}', "=", false, false],
    ["stream nested is not the request's", '{"messages":[{"stream":true}],"x":{"stream":true}}', "=", false, false],
    ["the last stream wins (true)", '{"stream":false,"stream":true}', `{"stream":false,"stream":true,${INCLUDE}}`, true, false],
    ["the last stream wins (false)", '{"stream":true,"stream":false}', "=", false, false],
    ["include_usage false", '{"stream":true,"stream_options":{"include_usage":false}}', '{"stream":true,"stream_options":{"include_usage":true }}', true, false],
    ["include_usage null", '{"stream":true,"stream_options":{"include_usage":null}}', '{"stream":true,"stream_options":{"include_usage":true}}', true, false],
    ["include_usage false before stream", '{"stream_options":{"include_usage":false},"stream":true}', '{"stream_options":{"include_usage":true },"stream":true}', true, false],
    ["include_usage true: asked", '{"stream":true,"stream_options":{"include_usage":true}}', "=", false, true],
    ["include_usage as pydantic reads a string", '{"stream":true,"stream_options":{"include_usage":"on"}}', "=", false, true],
    ["include_usage 1", '{"stream":true,"stream_options":{"include_usage":1}}', "=", false, true],
    ["include_usage 0: left, not ours to hide", '{"stream":true,"stream_options":{"include_usage":0}}', "=", false, false],
    ["include_usage a string refused upstream", '{"stream":true,"stream_options":{"include_usage":"x"}}', "=", false, false],
    ["empty stream_options after stream", '{"stream":true,"stream_options":{}}', '{"stream":true,"stream_options":{"include_usage":true}}', true, false],
    ["empty stream_options before stream: vLLM takes {} without stream", '{"stream_options":{ },"stream":true}', "=", false, false],
    ["other members, stream later", '{"stream_options":{"continuous_usage_stats":true},"stream":true}', '{"stream_options":{"continuous_usage_stats":true,"include_usage":true},"stream":true}', true, false],
    ["other members, no stream: vLLM refuses both", '{"stream_options":{"a":1}}', '{"stream_options":{"a":1,"include_usage":true}}', false, false],
    ["include_usage false, no stream", '{"stream_options":{"include_usage":false}}', '{"stream_options":{"include_usage":true }}', false, false],
    ["stream_options null after stream", '{"stream":true,"stream_options":null}', '{"stream":true,"stream_options":{"include_usage":true}}', true, false],
    ["stream_options null before stream", '{"stream_options":null,"stream":true}', "=", false, false],
    ["stream_options not an object", '{"stream":true,"stream_options":[]}', "=", false, false],
    ["stream_options a string", '{"stream":true,"stream_options":"x"}', "=", false, false],
    ["include_usage nested deeper is not the option", '{"stream":true,"stream_options":{"x":{"include_usage":false}}}', '{"stream":true,"stream_options":{"x":{"include_usage":false},"include_usage":true}}', true, false],
    ["include_usage twice: the last (false) is fixed", '{"stream":true,"stream_options":{"include_usage":true,"include_usage":false}}', '{"stream":true,"stream_options":{"include_usage":true,"include_usage":true }}', true, false],
    ["include_usage twice: the last (true) asks", '{"stream":true,"stream_options":{"include_usage":false,"include_usage":true}}', '{"stream":true,"stream_options":{"include_usage":true ,"include_usage":true}}', false, true],
    ["stream_options twice: the last asks", '{"stream":true,"stream_options":{},"stream_options":{"include_usage":true}}', '{"stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}', false, true],
    ["stream_options twice: the last is fixed", '{"stream":true,"stream_options":{"include_usage":true},"stream_options":{}}', '{"stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}', true, false],
    ["a BOM and nesting", '\ufeff{"a":[[[{"b":{}}]]],"stream":true}', `\ufeff{"a":[[[{"b":{}}]]],"stream":true,${INCLUDE}}`, true, false],
    ["empty body", "", "=", false, false],
    ["not an object", '[{"stream":true}]', "=", false, false],
  ];

  test.each(cases)("%s", (_name, input, want, injected, asked) => {
    const { result, mismatch } = m.allSplits(input, true);
    expect(mismatch).toBeNull(); // every cut in two, and byte by byte, gives the same bytes and facts
    const expected = want === "=" ? input : want;
    expect(result.body.toString("utf8")).toBe(expected);
    expect(result.injected).toBe(injected);
    expect(result.usageAsked).toBe(asked);
    expect(result.changed).toEqual(want === "=" ? [] : [0]);
    if (result.complete) expect(() => parse(result.body)).not.toThrow();
  });

  test("without injectUsage nothing changes, and the facts are the same", () => {
    for (const [, input] of cases) {
      const off = m.allSplits(input, false);
      expect(off.mismatch).toBeNull();
      expect(off.result.body.toString("utf8")).toBe(input);
      expect(off.result.injected).toBe(false);
      const on = m.rewrite(input, true);
      expect({ ...off.result, body: null, injected: null, changed: null, usageAsked: null }).toEqual({ ...on, body: null, injected: null, changed: null, usageAsked: null });
    }
  });

  test("only the chunk holding the edit point changes (one chunk per byte)", () => {
    const root = '{"stream":true,"messages":[{"content":"a}b"}]}';
    expect(m.rewrite(root, true, "bytes").changed).toEqual([Buffer.byteLength(root) - 1]);
    const inner = '{"stream":true,"stream_options":{"x":1},"n":1}';
    expect(m.rewrite(inner, true, "bytes").changed).toEqual([offsetOf(inner, "}")]);
    const literal = '{"stream":true,"stream_options":{"include_usage":false}}';
    const at = offsetOf(literal, "false");
    const r = m.rewrite(literal, true, "bytes");
    expect(r.changed).toEqual([at, at + 1, at + 2, at + 3, at + 4]);
    expect(r.body.toString()).toBe('{"stream":true,"stream_options":{"include_usage":true }}');
    // The literal cut between chunks: each chunk changes its own bytes only.
    const two = m.rewrite(literal, true, [at + 2]);
    expect(two.changed).toEqual([0, 1]);
    expect(two.body.toString()).toBe(r.body.toString());
  });

  test("a chunk after the root's close (trailing whitespace) is left alone", () => {
    const body = '{"stream":true}   \n';
    const r = m.rewrite(body, true, [15]);
    expect(r.changed).toEqual([0]);
    expect(r.body.toString()).toBe(`{"stream":true,${INCLUDE}}   \n`);
  });

  test("at most 16 edits per body: past them the last stream_options is not ours, injected stays false", () => {
    const many = (k: number) => `{"stream":true,${Array.from({ length: k }, () => '"stream_options":{"a":1}').join(",")}}`;
    const sixteen = m.rewrite(many(16), true);
    expect(sixteen.injected).toBe(true);
    expect(parse(sixteen.body).stream_options).toEqual({ a: 1, include_usage: true });
    const seventeen = m.rewrite(many(17), true);
    expect(seventeen.injected).toBe(false);
    expect(Buffer.byteLength(seventeen.body) - Buffer.byteLength(many(17))).toBe(16 * ',"include_usage":true'.length);
  });

  test("an invalid body stops the reading: no edit after the fault, complete false, injected false", () => {
    for (const input of ['{"stream":true,"x":tru}', '{"stream":true,"x":"\xff"}', '{"stream":true} x', '{"stream":true', '{"stream":true,}']) {
      const bytes = Buffer.from(input, "latin1");
      const r = m.rewrite(bytes, true);
      expect(r.complete).toBe(false);
      expect(r.injected).toBe(false);
    }
    // The root closed, then junk in a later chunk: the edit went out with the root's chunk and a Go
    // upstream reads the document (its Decoder ignores what follows), so the usage event is ours to
    // hide (issue 22 item 9; before, injected was false and the client got the usage event).
    const late = m.rewrite('{"stream":true} x', true, [15]);
    expect(late.changed).toEqual([0]);
    expect(late.injected).toBe(true);
  });
});

describe("usage injection, buffered path (front edit)", () => {
  const front = (lead: string, rest: string) => `${lead}{${INCLUDE}${rest === "}" ? "" : ","}${rest}`;

  test.each([
    ['{"stream":true,"messages":[]}', "", '"stream":true,"messages":[]}'],
    ['\ufeff \n{"model":"m","stream":true}', "\ufeff \n", '"model":"m","stream":true}'],
    ['{"stream":"true"}', "", '"stream":"true"}'],
  ])("%j", (input, lead, rest) => {
    for (const cuts of [undefined, "bytes" as const, [3]]) {
      const r = m.read(input, true, cuts);
      expect(r.drain).toBe(Buffer.byteLength(lead) + 1);
      expect(r.body.toString("utf8")).toBe(front(lead, rest));
      expect(r.injected).toBe(true);
      expect(parse(r.body)).toEqual({ ...parse(input), stream_options: { include_usage: true } });
    }
  });

  test.each([
    ["the client sent stream_options", '{"stream":true,"stream_options":{}}', false],
    ["the client asked", '{"stream":true,"stream_options":{"include_usage":true}}', true],
    ["stream_options null", '{"stream":true,"stream_options":null}', false],
    ["not streaming", '{"stream":false}', false],
    ["incomplete", '{"stream":true', false],
    ["invalid", '{"stream":true,"a":01}', false],
    ["more than 63 bytes before the root", " ".repeat(64) + '{"stream":true}', false],
  ])("no edit: %s", (_name, input, asked) => {
    const r = m.read(input, true);
    expect(r.drain).toBe(-1);
    expect(r.body.toString()).toBe(input);
    expect(r.injected).toBe(false);
    expect(r.usageAsked).toBe(asked);
  });

  test("63 bytes before the root still fit", () => {
    expect(m.read(" ".repeat(63) + '{"stream":true}', true).drain).toBe(64);
  });

  test("without injectUsage, no edit", () => {
    expect(m.read('{"stream":true}', false).drain).toBe(-1);
  });
});

describe("output limits, read as the upstream reads them", () => {
  const facts = (body: string | Buffer): Facts => m.read(typeof body === "string" ? Buffer.from(body, "utf8") : body, false);
  const limit = (v: string, key = "max_tokens") => facts(`{"${key}":${v}}`);

  test.each([
    ["100", "100"], ['"100"', "100"], ["100.0", "100"], ["1e2", "100"], ["1E+2", "100"], ["1000e-1", "100"], ["0.1e3", "100"],
    ['" +1_000 "', "1000"], ['"1_000.000"', "1000"], ['"0100"', "100"], ['"\\u0031\\u0030"', "10"], ['"\\t7\\n"', "7"],
    ["9007199254740991", "9007199254740991"], ['"9007199254740991"', "9007199254740991"],
  ])("max_tokens %s reads %s", (v, want) => {
    const f = limit(v);
    expect(f).toMatchObject({ outputLimit: want, outputLimitUnreadable: false, complete: true });
  });

  test.each([
    "-5", "0", "-0", "0.0", '"0"', "1.5", "100.5e0", '"1.5"', '"1e5"', '"abc"', '""', '"+-1"', '"1__0"', '"_1"', '"1_"', '" 1 2 "', '"100."', '"-3"',
    "true", "false", "{}", "[]", "[100]", '{"value":100}', "1e400", "9007199254740992", '"9007199254740992"', "123456789012345678901234567890",
    "1" + "0".repeat(70), '"\\u00a0100"',
  ])("max_tokens %s is unreadable (the reservation fails closed)", (v) => {
    expect(limit(v).outputLimitUnreadable).toBe(true);
  });

  test("null is not given", () => {
    expect(limit("null")).toMatchObject({ outputLimit: "-1", outputLimitUnreadable: false });
  });

  test.each([
    ['{"max_completion_tokens":50}', "50"],
    ['{"max_output_tokens":70}', "70"],
    ['{"max_tokens":10,"max_completion_tokens":500}', "500"],
    ['{"max_completion_tokens":500,"max_tokens":10}', "500"],
    ['{"max_tokens":100000,"max_tokens":10}', "100000"],
    ['{"generationConfig":{"maxOutputTokens":256}}', "256"],
    ['{"generation_config":{"max_output_tokens":"300"}}', "300"],
    ['{"generationConfig":{"temperature":1,"maxOutputTokens":256.0},"max_tokens":8}', "256"],
    ['{"MAX_TOKENS":42}', "42"],
    ['{"Max_Completion_Tokens":43}', "43"],
    ['{"max_to\u212aens":44}', "44"],
    ['{"max_to\\u212aens":45}', "45"],
    ['{"max_tokenſ":46}', "46"],
    ['{"max\\u005ftokens":47}', "47"],
    ['{"x":{"max_tokens":5},"messages":[{"max_tokens":6}]}', "-1"],
    ['{"generationConfig":{"x":{"maxOutputTokens":5}}}', "-1"],
    ['\ufeff{"max_tokens":48}', "48"],
  ])("%s: limit %s", (body, want) => {
    expect(facts(body)).toMatchObject({ outputLimit: want, outputLimitUnreadable: false, complete: true });
  });

  test.each([
    ['{"n":3}', "3"], ['{"n":3,"best_of":2}', "6"], ['{"n":"4"}', "4"], ['{"n":null}', "1"], ['{"N":5}', "5"],
    ['{"generationConfig":{"candidateCount":2},"n":3}', "6"], ['{"generation_config":{"candidate_count":2}}', "2"],
    ['{"n":2,"n":5}', "5"], ['{"n":9007199254740991,"best_of":9007199254740991}', "9223372036854775807"],
  ])("%s: choices %s", (body, want) => {
    expect(facts(body)).toMatchObject({ choices: want, outputLimitUnreadable: false });
  });

  test.each(['{"n":0}', '{"n":-1}', '{"best_of":1.5}', '{"n":"two"}', '{"n":true}', '{"generationConfig":{"candidateCount":[]}}'])("%s: unreadable", (body) => {
    expect(facts(body).outputLimitUnreadable).toBe(true);
  });

  test("model, background", () => {
    expect(facts('{"model":"gpt-4o"}').model).toBe("gpt-4o");
    expect(facts('{"model":"g\\u00e9\\ud83d\\ude00"}').model).toBe("gé😀");
    expect(facts('{"model":"a","model":"b"}').model).toBe("b");
    expect(facts('{"model":5}').model).toBe("");
    expect(facts(`{"model":"${"m".repeat(256)}"}`).model).toBe("m".repeat(256));
    expect(facts(`{"model":"${"m".repeat(257)}"}`).model).toBe("");
    expect(facts('{"x":{"model":"inner"}}').model).toBe("");
    expect(facts('{"background":true}').background).toBe(true);
    expect(facts('{"background":"yes"}').background).toBe(true);
    expect(facts('{"background":false}').background).toBe(false);
    expect(facts('{"Background":true}').background).toBe(false);
  });

  test("deep unrelated nesting does not hide top-level keys", () => {
    for (const depth of [40, 1000, 16383, 20000, 200_000]) {
      const deep = "[".repeat(depth) + "]".repeat(depth);
      const f = facts(`{"tools":${deep},"stream":true,"max_tokens":"77","model":"m"}`);
      expect(f).toMatchObject({ stream: 1, outputLimit: "77", model: "m" });
      // Bracket kinds are verified for 16384 levels (the root is one); deeper is passed over, not verified.
      expect(f.complete).toBe(depth + 1 <= 16384);
      const objects = `{"a":`.repeat(depth) + "1" + "}".repeat(depth);
      expect(facts(`{"x":${objects},"max_tokens":8}`)).toMatchObject({ outputLimit: "8", complete: depth + 1 <= 16384 });
    }
    // Brackets and quotes inside strings of the deep part do not count.
    const tricky = "[".repeat(17000) + '"]]\\"]"' + "]".repeat(17000);
    expect(facts(`{"x":${tricky},"max_tokens":9}`)).toMatchObject({ outputLimit: "9" });
    // A mismatched bracket within the verified levels is an error.
    expect(facts('{"x":[[}],"max_tokens":9}').complete).toBe(false);
  });

  test("the rewrite past the verified nesting still finds the root's close", () => {
    const deep = "[".repeat(20000) + "]".repeat(20000);
    const r = m.rewrite(`{"x":${deep},"stream":true}`, true, [5, 30000]);
    expect(r.body.toString().endsWith(`,${INCLUDE}}`)).toBe(true);
    expect(r.changed).toEqual([2]);
  });
});

describe("complete: one valid JSON object and nothing else", () => {
  test.each([
    '{"a":1} ', ' \t\r\n{}', '\ufeff{}', '{"a":"\\ud800"}', '{"a":[1,2,{"b":null}],"c":-0.5e-3}', '{"a":1,"a":2}',
  ])("valid: %j", (b) => {
    expect(m.read(b, false).complete).toBe(true);
  });

  test.each([
    "", " ", "[]", '"x"', "1", "null", "{", '{"a":1}}', '{"a":1} {}', '{"a":1,}', "{'a':1}", '{"a":NaN}', '{"a":Infinity}',
    '{"a":01}', '{"a":1.}', '{"a":"\\x"}', '{"a":"\t"}', " \xef\xbb\xbf{}", "\xef\xbb{}", "\xef{}", '{"a":"\xff"}', '{"a":"\xed\xa0\x80"}', '{"a":"\xc0\xaf"}',
    '{"a":[}', '{"a":{]}', '{"a" 1}', '{1:2}', '{"a":tru}', '{"a":nul}',
  ])("invalid: %j", (b) => {
    const bytes = Buffer.from(b, "latin1");
    expect(m.read(bytes, false).complete).toBe(false);
    expect(m.rewrite(bytes, true, "bytes").complete).toBe(false);
  });
});

describe("reservation (max_tokens mode)", () => {
  const est = (body: string, fallback = 1024n, cap = CAP) => m.estimate(body, fallback, cap);

  test("prompt estimate (1 token per 4 bytes, rounded up) + limit × choices", () => {
    const body = '{"max_tokens":100,"n":3}'; // 24 bytes
    expect(est(body)).toEqual({ reservation: "306", sameWhole: true, input: "6", output: "300", atCap: false });
    const noLimit = '{"n":2}'; // 7 bytes
    expect(est(noLimit, 50n).reservation).toBe(String(2 + 100));
    expect(est("{}", 0n).reservation).toBe("1");
  });

  test("unreadable or incomplete bodies reserve the cap", () => {
    for (const body of ['{"max_tokens":"lots"}', '{"max_tokens":1.5}', '{"n":0}', '{"max_tokens":100', "[]", "", '{"x":' + "[".repeat(20000) + "]".repeat(20000) + "}"]) {
      expect(est(body)).toMatchObject({ reservation: String(CAP), atCap: true });
    }
  });

  test("the cap bounds every reservation and stays within 2^50 − 1", () => {
    expect(est('{"max_tokens":9007199254740991,"n":128}').reservation).toBe(String(CAP));
    expect(est('{"max_tokens":9007199254740991,"n":128}', 1024n, 1n << 62n).reservation).toBe(String(LIMIT_2_50));
    expect(est('{"max_tokens":"x"}', 1024n, 0n).reservation).toBe("1");
  });

  // The README's bound with require_full holds when the reservation covers what the upstream may
  // produce: the limit as the upstream reads it, for every choice (or the cap). Bodies are built
  // from the forms the upstreams accept; each form's reading is known independently here.
  const forms: Array<[string, bigint | "unreadable" | null]> = [
    ["100", 100n], ['"100"', 100n], ["1e2", 100n], ["100.0", 100n], ['" 2_000 "', 2000n], ["1E3", 1000n], ["12345", 12345n],
    ["null", null], ["1.5", "unreadable"], ["-1", "unreadable"], ["0", "unreadable"], ['"x"', "unreadable"], ["true", "unreadable"], ["{}", "unreadable"],
  ];
  const keys = ["max_tokens", "max_completion_tokens", "max_output_tokens", "MAX_TOKENS"];
  test("property: reservation ≥ prompt estimate + limit × choices (or the cap)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...keys), fc.constantFrom(...forms)), { maxLength: 3 }),
        fc.option(fc.tuple(fc.constantFrom("n", "best_of"), fc.constantFrom<[string, bigint | "unreadable" | null]>(["2", 2n], ['"3"', 3n], ["1", 1n], ["0", "unreadable"], ["null", null]))),
        fc.option(fc.constantFrom(...forms)),
        fc.constantFrom("", "\ufeff", " "),
        fc.nat(3),
        fc.bigInt(0n, 5000n),
        (limits, mult, gem, lead, depth, fallback) => {
          const members = limits.map(([k, [v]]) => `"${k}":${v}`);
          if (mult !== null) members.push(`"${mult[0]}":${mult[1][0]}`);
          if (gem !== null) members.push(`"generationConfig":{"maxOutputTokens":${gem[0]}}`);
          members.push(`"messages":${"[".repeat(depth)}"hello"${"]".repeat(depth)}`);
          const body = `${lead}{${members.join(",")}}`;
          const readings = [...limits.map(([, [, r]]) => r), ...(gem === null ? [] : [gem[1]])];
          const multReading = mult === null ? 1n : mult[1][1];
          const got = BigInt(est(body, fallback, 1n << 40n).reservation);
          if (readings.includes("unreadable") || multReading === "unreadable") {
            expect(got).toBe(1n << 40n);
            return;
          }
          const given = readings.filter((r): r is bigint => typeof r === "bigint");
          let out = given.length > 0 ? given.reduce((a, b) => (a > b ? a : b)) : fallback;
          // A limit only Go reads ("MAX_TOKENS") is none to Python upstreams: then the fallback counts too.
          const exact = [...limits.filter(([k]) => k !== "MAX_TOKENS").map(([, [, r]]) => r), ...(gem === null ? [] : [gem[1]])].some((r) => typeof r === "bigint");
          const folded = limits.some(([k, [, r]]) => k === "MAX_TOKENS" && typeof r === "bigint");
          if (folded && !exact && fallback > out) out = fallback;
          const bytes = BigInt(Buffer.byteLength(body));
          const want = (bytes + 3n) / 4n + out * (multReading ?? 1n);
          expect(got).toBe(want);
        },
      ),
      { numRuns: 400, seed: 7 },
    );
  });
});

describe("numbers", () => {
  test.each([
    ["0", "0"], ["-0", "0"], ["7", "7"], ["7.000", "7"], ["70e-1", "7"], ["0.07e2", "7"], ["7e0", "7"], ["7E+0", "7"], ["0e99999999999", "0"],
    ["9007199254740991", "9007199254740991"], ["9007199254740992", "-1"], ["90071992547409910e-1", "9007199254740991"],
    ["1.5", "-1"], ["-7", "-1"], ["1e16", "-1"], ["1e15", "1000000000000000"], ["1e-1", "-1"], ["10e-1", "1"], ["1e99999999999999999999", "-1"],
  ])("integralNumber(%s) = %s", (t, want) => expect(m.integralNumber(t)).toBe(want));

  test.each([
    ["7", "7"], [" 7 ", "7"], ["\t+7\n", "7"], ["007", "7"], ["0_0_7", "7"], ["1_000", "1000"], ["7.0", "7"], ["7.00", "7"], ["0", "0"],
    ["7.", "-1"], ["7.01", "-1"], ["-7", "-1"], ["+-7", "-1"], ["1__0", "-1"], ["_1", "-1"], ["1_", "-1"], ["1e3", "-1"], ["", "-1"], [" ", "-1"], ["7 7", "-1"], ["0x10", "-1"],
  ])("integralString(%j) = %s", (t, want) => expect(m.integralString(t)).toBe(want));
});

describe("hostile bodies: bounded memory, no trap", () => {
  const MiB = 1 << 20;
  const big = (s: string) => Buffer.from(s, "latin1");
  const bodies: Array<[string, () => Buffer]> = [
    ["an 8 MiB string", () => big(`{"stream":true,"messages":[{"content":"${"x".repeat(8 * MiB - 64)}"}],"max_tokens":5}`)],
    ["an 8 MiB model name", () => big(`{"model":"${"m".repeat(8 * MiB - 32)}","stream":true}`)],
    ["an 8 MiB number under max_tokens", () => big(`{"max_tokens":1${"0".repeat(8 * MiB - 32)},"stream":true}`)],
    ["4 Mi levels of arrays", () => big(`{"a":${"[".repeat(4 * MiB - 16)}${"]".repeat(4 * MiB - 16)},"stream":true}`)],
    ["1.3 Mi levels of objects", () => big(`{"a":${'{"a":'.repeat(1_390_000)}1${"}".repeat(1_390_000)},"stream":true}`)],
    ["8 MiB unclosed", () => big("{" + '"a":{'.repeat(1_670_000))],
    ["300k stream_options objects", () => big(`{"stream":true,${Array.from({ length: 300_000 }, () => '"stream_options":{"a":1}').join(",")}}`)],
    ["8 MiB of escapes", () => big(`{"stream":true,"a":"${"\\u00e9".repeat(1_398_000)}"}`)],
  ];

  test.each(bodies)("%s", (_name, make) => {
    const body = make();
    expect(body.length).toBeLessThanOrEqual(8 * MiB + 64);
    for (const [chunk, buffered] of [[65536, false], [65536, true], [7, false], [body.length, true]] as Array<[number, boolean]>) {
      if (chunk === 7 && body.length > MiB) continue; // byte-level cuts on 1 MiB are enough (below)
      const r = m.memory(body, true, chunk, buffered);
      expect(r.grown).toBeLessThanOrEqual(MiB);
    }
    const small = body.subarray(0, MiB);
    expect(m.memory(small, true, 7, false).grown).toBeLessThanOrEqual(MiB);
  });

  test("invalid UTF-8 anywhere: complete false, nothing trapped", () => {
    for (const bad of [0xff, 0xc0, 0x80, 0xed]) {
      const body = Buffer.concat([Buffer.from('{"stream":true,"a":"'), Buffer.from([bad]), Buffer.from('"}')]);
      expect(m.read(body, true).complete).toBe(false);
      expect(m.rewrite(body, true, "bytes").injected).toBe(false);
    }
  });
});
