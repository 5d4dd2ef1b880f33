// assembly/usage/estimate.ts: what an answer costs when its usage is missing or partial, through
// build/test/usage.wasm: the rules on real stream shapes, never below what was reported, and the
// measured error on the corpus of real answers (the figures docs/metering.md reports).
import fc from "fast-check";
import { ResponseModule } from "./response_module";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { measure, table } from "./estimate_stats";
import { estimateCorpus } from "./estimate_corpus";
import { fit as fitHalf, fitOutput, heldOut } from "../../scripts/output-fit";

const m = new ResponseModule();
afterEach(() => expect(m.logs).toEqual([]));

const K = m.constants();
const ceil = (n: number, d: number) => Math.ceil(n / d);
/** The output estimate of `bytes` for a family (0 chat, 1 Anthropic, 2 Responses, 3 Gemini), from the pinned constants. */
const out = (bytes: number, family = 0, tools = false) => { const [rate, base] = K.output[family * 2 + (tools ? 1 : 0)]; return Math.ceil((bytes * rate) / 1000) + base; };
const sse = (docs: unknown[]) => docs.map((d) => `data: ${JSON.stringify(d)}\n\n`).join("");

describe("the rules", () => {
  test("the constants (pinned: the measurement below is for these; scripts/output-fit.ts chose the output's)", () => {
    // per group (family × 2, + 1 with tools): [milli-tokens per content byte, base]
    expect(K).toEqual({ request: 2, encodedSse: 3, encodedJson: 2, output: [[250, 9], [250, 67], [400, 5], [400, 49], [250, 5], [250, 59], [250, 14], [250, 14]] });
  });

  test("the output estimate: ⌈bytes × rate⌉ + base of the answer's group; nothing for no content", () => {
    for (let family = 0; family < 4; family++) {
      for (const tools of [false, true]) {
        const [rate, base] = K.output[family * 2 + (tools ? 1 : 0)];
        for (const bytes of [1, 7, 400, 20_400]) expect(m.outputEstimate(bytes, family, tools)).toBe(Math.ceil((bytes * rate) / 1000) + base);
        expect(m.outputEstimate(0, family, tools)).toBe(0);
      }
    }
    // an unknown family is chat's
    expect(m.outputEstimate(400, 9, false)).toBe(m.outputEstimate(400, 0, false));
    expect(m.outputEstimate(400, -1, true)).toBe(m.outputEstimate(400, 0, true));
  });

  test("attack: CJK and emoji are not charged at English's rate: a 3-byte character a token at least", () => {
    for (let family = 0; family < 4; family++) {
      const [rate, base] = K.output[family * 2];
      const wideRate = Math.max(rate, 333);
      // 1,000 CJK characters (3,000 bytes, all wide) and 100 ASCII bytes
      expect(m.outputEstimate(3100, family, false, 3000)).toBe(Math.ceil((100 * rate + 3000 * wideRate) / 1000) + base);
      expect(m.outputEstimate(3000, family, false, 3000)).toBeGreaterThanOrEqual(1000);
    }
    // wide bytes are part of the bytes: never more of them than bytes, never negative
    expect(m.outputEstimate(30, 0, false, 10_000)).toBe(m.outputEstimate(30, 0, false, 30));
    expect(m.outputEstimate(30, 0, false, -5)).toBe(m.outputEstimate(30, 0, false, 0));
  });

  test("attack: no group charges a long answer less than a token per 4 bytes, and tools never lower the base", () => {
    for (let g = 0; g < 8; g++) expect(K.output[g][0]).toBeGreaterThanOrEqual(250);
    for (let f = 0; f < 4; f++) expect(K.output[f * 2 + 1][1]).toBeGreaterThanOrEqual(K.output[f * 2][1]);
  });

  test("nothing read: input from the request's bytes, no output", () => {
    expect(m.estimate(1001, false, true, true)).toMatchObject({ input: String(ceil(1001, K.request)), output: "0", hasInput: false, hasOutput: false });
    expect(m.estimate(0, false, false, true)).toMatchObject({ input: "0", output: "0" });
  });

  test("an OpenAI stream that never reported usage: input from the request, output from the content", () => {
    const body = sse([{ model: "gpt-4o-2024-08-06", choices: [{ delta: { content: "Hello there, friend" } }] }, { choices: [{ delta: { content: " \u4f60\u597d" } }] }]) + "data: [DONE]\n\n";
    m.run(body, true, false);
    expect(m.estimate(300, false, false)).toEqual({ found: true, input: String(ceil(300, K.request)), output: String(out(26)), hasInput: false, hasOutput: false, model: "gpt-4o-2024-08-06" });
  });

  test("a cut Anthropic stream: the input it reported, its output (1 at the start) plus the content after it", () => {
    const start = { type: "message_start", message: { model: "claude-sonnet-4-5", usage: { input_tokens: 2500, output_tokens: 1 } } };
    const text = "x".repeat(400);
    const r = m.run(sse([start, { type: "content_block_delta", delta: { type: "text_delta", text } }]), true, false, [], true);
    expect(r.result.contentAfterOutput).toBe("400");
    expect(m.estimate(999_999, false, true, false, 1)).toMatchObject({ input: "2500", output: String(1 + out(400, 1)), hasInput: true, hasOutput: true });
    // the same stream, complete: what it reported at the end stands, even below the content's estimate
    m.run(sse([start, { type: "content_block_delta", delta: { type: "text_delta", text } }, { type: "message_delta", usage: { output_tokens: 90 } }]), true, false);
    expect(m.estimate(999_999, false, false)).toMatchObject({ input: "2500", output: "90" });
    // cut after the final count (message_delta): it covers everything before it
    m.run(sse([start, { type: "content_block_delta", delta: { type: "text_delta", text } }, { type: "message_delta", usage: { output_tokens: 5000 } }]), true, false, [], true);
    expect(m.estimate(10, false, true)).toMatchObject({ input: "2500", output: "5000" });
  });

  test("an OpenAI stream cut after its usage event (before [DONE]): exactly the usage", () => {
    const body = sse([{ choices: [{ delta: { content: "Hello there" } }] }, { choices: [], usage: { prompt_tokens: 30, completion_tokens: 12 } }]);
    const r = m.run(body, true, false, [], true);
    expect(r.result.contentAfterOutput).toBe("0");
    expect(m.estimate(500, false, true)).toMatchObject({ input: "30", output: "12" });
  });

  test("a cut Gemini stream: promptTokenCount stands; the running count plus what came after it", () => {
    const chunk = (t: string, c: number) => ({ candidates: [{ content: { parts: [{ text: t }] } }], usageMetadata: { promptTokenCount: 12, candidatesTokenCount: c } });
    m.run(sse([chunk("a".repeat(100), 3), chunk("b".repeat(100), 6)]), true, false, [], true);
    // the last count covers its own event's text: nothing after it
    expect(m.estimate(50, false, true)).toMatchObject({ input: "12", output: "6" });
    // a last event cut short: its text came, its count did not
    m.run(sse([chunk("a".repeat(100), 3)]) + 'data: {"candidates":[{"content":{"parts":[{"text":"' + "b".repeat(100), true, false, [], true);
    expect(m.estimate(50, false, true, false, 3)).toMatchObject({ input: "12", output: String(3 + out(100, 3)) });
  });

  test("a compressed answer: output from its wire bytes (SSE or JSON by content type)", () => {
    const junk = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) & 0xff));
    junk[0] = 0x1f; // gzip's first byte: no format reads it
    m.run(junk, true, false);
    expect(m.estimate(100, true, false)).toMatchObject({ input: String(ceil(100, K.request)), output: String(ceil(3000, K.encodedSse)) });
    m.run(junk, false, false);
    expect(m.estimate(100, true, false)).toMatchObject({ output: String(ceil(3000, K.encodedJson)) });
  });

  test("large numbers do not overflow", () => {
    const r = m.estimateNumbers({ requestBytes: Number.MAX_SAFE_INTEGER, contentBytes: 0, bodyBytes: 0, sse: false, encoded: false, cut: true, input: null, output: null });
    expect(BigInt(r.input)).toBe(BigInt(Math.ceil(Number.MAX_SAFE_INTEGER / K.request)));
    const max = 9223372036854775807n;
    expect(m.json("estimate_numbers", max, max, max, max, 1, 1, 1, 0, 0n, 1, max, 0, 0, max, max)).toMatchObject({ output: String(max) });
    expect(m.json("estimate_numbers", max, max, max, max, 1, 0, 1, 0, 0n, 1, max, 1, 1, max, max)).toMatchObject({ output: String(max) }); // saturates
    // no count reported: the content's estimate, positive, for every group
    for (let g = 0; g < 8; g++) {
      const e = m.json("estimate_numbers", 0n, max, max, 0n, 1, 0, 1, 0, 0n, 0, 0n, g >> 1, g & 1, max, max);
      expect(BigInt(e.output)).toBeGreaterThan(2n ** 50n);
    }
  });

  test("property: never below what was reported; a complete answer's report stands", () => {
    const n = fc.bigInt(0n, 2n ** 62n);
    fc.assert(
      fc.property(n, n, n, fc.boolean(), fc.boolean(), fc.boolean(), fc.option(n), fc.option(n), fc.integer({ min: -2, max: 6 }), fc.boolean(), n, (req, content, wire, isSse, encoded, cut, input, output, family, tools, audio) => {
        const after = content / 3n;
        const e = m.json("estimate_numbers", req, content, after, wire, isSse ? 1 : 0, encoded ? 1 : 0, cut ? 1 : 0, input === null ? 0 : 1, input ?? 0n, output === null ? 0 : 1, output ?? 0n, family, tools ? 1 : 0, audio, audio / 2n);
        if (input !== null) expect(BigInt(e.input)).toBe(input);
        else expect(BigInt(e.input)).toBe((req + BigInt(K.request) - 1n) / BigInt(K.request));
        if (output !== null) {
          expect(BigInt(e.output) >= output).toBe(true);
          if (!cut && !encoded) expect(BigInt(e.output)).toBe(output);
        }
        expect(BigInt(e.output) >= 0n).toBe(true);
      }),
      { seed: 61, numRuns: 2000 },
    );
  });
});

describe("the measured error on real answers", () => {
  test("the corpus: real pairs from every provider, sources named", () => {
    expect(estimateCorpus.length).toBeGreaterThan(1000);
    const apis = new Set(estimateCorpus.map((r) => `${r.api}${r.stream ? "-sse" : ""}`));
    for (const a of ["chat", "chat-sse", "responses", "responses-sse", "messages", "messages-sse", "gemini", "gemini-sse"]) expect(apis.has(a)).toBe(true);
    for (const r of estimateCorpus) expect(r.source).toMatch(/^test_[\w-]+\/.+\.yaml#\d+$/);
  });

  // The table docs/metering.md gives, computed here through the plugin's own estimate code
  // (usage.wasm: text_estimate.ts for the input, estimate.ts for the output) from the corpus.
  // UPDATE_METERING_TABLE=1 rewrites the document's table after a change to the estimate or corpus.
  // (The figures were pinned in this file before; the document is the pin now.)
  test("the table in docs/metering.md is the one the corpus gives", () => {
    const doc = readFileSync(METERING, "utf8");
    const start = doc.indexOf(TABLE_START);
    const end = doc.indexOf(TABLE_END);
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    const want = TABLE_START + "\n" + table(measure(m)) + TABLE_END;
    if (process.env.UPDATE_METERING_TABLE === "1") writeFileSync(METERING, doc.slice(0, start) + want + doc.slice(end + TABLE_END.length));
    expect(doc.slice(start, end + TABLE_END.length)).toBe(want);
  });

  // The output constants are the fit's (scripts/output-fit.ts at the 87th percentile), and the
  // figures docs/metering.md gives for the two halves are the plugin's own estimate's.
  test("the output constants are what scripts/output-fit.ts fits; its halves measured through the plugin", () => {
    const { rates, bases } = fitOutput(0.87);
    expect(K.output).toEqual(rates.map((r, g) => [r, bases[g]]));
    expect(measure(m, fitHalf).output).toMatchObject({ rows: 291, median: 1.6, below: 10.65 });
    expect(measure(m, heldOut).output).toMatchObject({ rows: 271, median: 1.54, below: 14.39 });
  });

  // The targets of issue 22: each one met, or listed in MISSED (and docs/metering.md says so). A
  // target met while listed, or missed while not listed, fails here.
  test("the targets: input median 1.0-1.5×, below ≤ 10%; output median 1.0-1.5×, below ≤ 15%", () => {
    const g = measure(m);
    const met = {
      inputBelow: g.input.below <= 10,
      inputMedian: g.input.median >= 1.0 && g.input.median <= 1.5,
      outputBelow: g.output.below <= 15,
      outputMedian: g.output.median >= 1.0 && g.output.median <= 1.5,
    };
    expect(met).toEqual({ inputBelow: !MISSED.has("inputBelow"), inputMedian: !MISSED.has("inputMedian"), outputBelow: !MISSED.has("outputBelow"), outputMedian: !MISSED.has("outputMedian") });
  });
});

const METERING = join(__dirname, "../../docs/metering.md");
const TABLE_START = "<!-- estimate-table: generated by tests/unit/estimate.test.ts -->";
const TABLE_END = "<!-- estimate-table end -->";

/** Targets docs/metering.md reports as missed (input median 1.75×; output median 1.57×, was 2.26× with 23% below). */
const MISSED = new Set(["inputMedian", "outputMedian"]);
