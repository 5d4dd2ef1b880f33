// assembly/usage/text_estimate.ts through build/test/usage.wasm: the request's text counted by class
// while its body streams, and the input estimate from it. Attacks first: no field hides text, no
// split point changes a count, structure costs nothing.
import fc from "fast-check";
import { ResponseModule } from "./response_module";

const m = new ResponseModule();
afterEach(() => expect(m.logs).toEqual([]));

// letters, digits, spaces, other ASCII, 2-, 3-, 4-byte characters, continuation bytes, objects
const counts = (body: string | Buffer) => m.textCounts([typeof body === "string" ? Buffer.from(body, "utf8") : body]);

describe("what is counted", () => {
  test("string bytes by class, keys included; structure outside strings costs nothing", () => {
    expect(counts('{"a": "Hi 42!", "b" : [1, true]}').counts).toEqual([1 + 2 + 1 + 4, 2 + 1, 1, 1, 0, 0, 0, 0, 1]);
    expect(counts("  {\n\t}  ").counts).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  test("scripts: Cyrillic 2 bytes, CJK 3, emoji 4, each character once", () => {
    expect(counts(JSON.stringify({ t: "привет" })).counts.slice(4, 7)).toEqual([6, 0, 0]);
    expect(counts(JSON.stringify({ t: "你好世界" })).counts.slice(4, 7)).toEqual([0, 4, 0]);
    expect(counts(JSON.stringify({ t: "😀😀" })).counts.slice(4, 7)).toEqual([0, 0, 2]);
    // a CJK character costs more than an ASCII letter; the same text escaped never costs less
    const plain = counts(JSON.stringify({ t: "你好" })).tokens;
    const escaped = counts('{"t":"\\u4f60\\u597d"}').tokens;
    expect(escaped).toBeGreaterThanOrEqual(plain);
  });

  test("quotes and backslashes inside strings do not end them", () => {
    expect(counts('{"t":"a\\"b:c,d{e"}').counts).toEqual([1 + 5, 0, 0, 5, 0, 0, 0, 0, 1]); // \ " : , {
  });

  test("a tools key is seen in any spelling of case, anywhere, across chunks; a tools value is not a key", () => {
    expect(counts('{"tools":[]}').tools).toBe(true);
    expect(counts('{"x":{"TOOLS" : 1}}').tools).toBe(true);
    expect(counts('{"x":"tools"}').tools).toBe(false);
    expect(counts('{"toolsx":1,"xtools":2}').tools).toBe(false);
    const body = Buffer.from('{"messages":[],"tools":[{"type":"function"}]}');
    for (let cut = 0; cut <= body.length; cut++) expect(m.textCounts([body.subarray(0, cut), body.subarray(cut)]).tools).toBe(true);
  });

  test("property: the counts never depend on where the body is split", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.array(fc.nat(), { maxLength: 5 }), (v, cuts) => {
        const body = Buffer.from(JSON.stringify({ v }), "utf8");
        const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
        const parts: Buffer[] = [];
        let from = 0;
        for (const p of points) { parts.push(body.subarray(from, p)); from = p; }
        parts.push(body.subarray(from));
        expect(m.textCounts(parts)).toEqual(counts(body));
      }),
      { seed: 22, numRuns: 300 },
    );
  });

  test("property (attack): moving text into another field, or nesting it, never lowers the estimate", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.constantFrom("content", "x", "input", "system", "parts", "metadata"), (text, key) => {
        const asMessage = counts(JSON.stringify({ messages: [{ role: "user", content: text }] })).tokens;
        const elsewhere = counts(JSON.stringify({ messages: [], [key]: { a: [text] } })).tokens;
        // the same text costs the same wherever it is, up to the framing of its container
        expect(Math.abs(elsewhere - asMessage)).toBeLessThanOrEqual(4);
      }),
      { seed: 23, numRuns: 200 },
    );
  });
});

describe("the estimate", () => {
  test("text by its script: CJK costs a token a character, English about a token per 4.4 letters", () => {
    const api = 0;
    const english = counts(JSON.stringify({ messages: [{ role: "user", content: "hello world ".repeat(100) }] }));
    expect(m.textTokens(english.counts, false, api)).toBe(english.tokens);
    // 1000 letters, 100 spaces (the last trailing), keys and role: about 225 + 5 + framing 64
    expect(english.tokens).toBeGreaterThan(250);
    expect(english.tokens).toBeLessThan(320);
    const cjk = counts(JSON.stringify({ messages: [{ role: "user", content: "你好".repeat(200) }] }));
    expect(cjk.tokens).toBeGreaterThanOrEqual(400);
  });

  test("tools add the upstream's tool prompt, per API family", () => {
    const c = counts('{"messages":[]}').counts;
    const base = m.textTokens(c, false, 1);
    expect(m.textTokens(c, true, 1) - base).toBe(665 - 145);
    expect(m.textTokens(c, false, 3)).toBe(m.textTokens(c, false, 0) - 64);
    // an unknown family is read as chat
    expect(m.textTokens(c, true, 99)).toBe(m.textTokens(c, true, 0));
  });

  test("never below 0, and no overflow on absurd counts", () => {
    expect(m.textTokens([0, 0, 0, 0, 0, 0, 0, 0, 0], false, 3)).toBe(0);
    expect(m.textTokens([-5, 0, 0, 0, 0, 0, 0, 0, 0], false, 3)).toBe(0);
    const big = 2 ** 52;
    expect(m.textTokens([big, big, big, big, big, big, big, big, big], true, 0)).toBeGreaterThan(0);
  });
});
