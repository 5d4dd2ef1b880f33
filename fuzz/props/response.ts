// ResponseReader (assembly/usage/response_reader.ts) in the test module build/test/usage.wasm, over streams
// built from every kind of event (OpenAI chunks with and without the usage include_usage adds,
// Anthropic, Responses and Gemini events, comments, junk, nesting thousands deep), cut anywhere,
// with and without hiding, ended or reset:
//   - nothing traps, and memory stays under a fixed bound whatever the stream;
//   - the same result and output whole, cut in pieces, and byte by byte;
//   - hiding changes nothing but what it must: the output is the input with the blocks that a
//     reference reading (JSON.parse of each SSE block's data) calls usage-only events taken out,
//     and `"usage":null` taken out of the one-line blocks that have it at the top (the edited data
//     parses to the same object without `usage`); without hiding, feed() never returns bytes;
//   - the estimate is never below what was reported (and equals it for a complete answer).
import fc from "fast-check";
import { ResponseModule, ReaderRun } from "../../tests/unit/response_module";
import { FuzzEnv } from "../env";
import { defineProperty, expectThat, violated } from "../property";

/** The module's memory may grow to this and no further (the bodies here are < 200 KiB). */
const MEMORY_CAP = 8 * 1024 * 1024;

export interface ResponseCase {
  events: string[];
  eol: "\n" | "\r\n" | "\r";
  terminateLast: boolean;
  hide: boolean;
  sseHint: boolean;
  cuts: number[];
  finish: boolean;
  requestBytes: number;
  encoded: boolean;
  cut: boolean;
}

const base = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o" };
const text = fc.string({ maxLength: 12, unit: fc.constantFrom("a", " ", "\u00e9", "\u4f60", "\ud83d\ude00", '"', "\\", "\n", "{", "]") });
const deepText = fc.constantFrom(50, 1100, 3000).map((n) => "[".repeat(n) + "]".repeat(n));

/** One SSE event's data (JSON text, or not JSON at all). */
const eventData: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(text, fc.boolean()).map(([t, nul]) => JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: t }, finish_reason: null }], ...(nul ? { usage: null } : {}) })) },
  { weight: 2, arbitrary: fc.tuple(fc.nat(1000), fc.nat(1000)).map(([p, c]) => JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: p, completion_tokens: c } })) },
  { weight: 1, arbitrary: fc.constantFrom('{"usage":null,"choices":[]}', '{ "choices" : [ ] , "usage" : { "prompt_tokens" : 3 } }', '{"choices":[1],"choices":[],"usage":{}}', '{"usage":null , "a":1}') },
  { weight: 2, arbitrary: fc.tuple(text, fc.nat(50)).map(([t, n]) => JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t }, usage: { output_tokens: n } })) },
  { weight: 1, arbitrary: fc.nat(99).map((n) => JSON.stringify({ type: "message_start", message: { usage: { input_tokens: n, output_tokens: 1 } } })) },
  { weight: 1, arbitrary: text.map((t) => JSON.stringify({ type: "response.output_text.delta", delta: t })) },
  { weight: 1, arbitrary: fc.tuple(text, fc.nat(99)).map(([t, n]) => JSON.stringify({ candidates: [{ content: { parts: [{ text: t }] } }], usageMetadata: { promptTokenCount: n } })) },
  { weight: 1, arbitrary: deepText.map((d) => `{"choices":[],"x":${d},"usage":{"prompt_tokens":2}}`) },
  { weight: 1, arbitrary: deepText.map((d) => `{"choices":[{"delta":{"content":"a"},"x":${d}}],"usage":null}`) },
  { weight: 1, arbitrary: fc.constantFrom("[DONE]", "", "{", '{"choices":[],"usage":{"prompt_tokens":1}', "not json", '{"a":1} x', "[1,2]", '"usage"') },
);

/** One SSE block: optional other lines, data (sometimes on two lines), or only a comment. */
const block: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.array(fc.constantFrom("event: x", ": ping", "id: 7"), { maxLength: 1 }), eventData, fc.boolean()).map(([pre, d, split]) => {
    const points = Array.from(d); // (cut between code points)
    const cut = split && points.length > 2 ? Math.floor(points.length / 2) : -1;
    return [...pre, ...(cut > 0 ? [`data: ${points.slice(0, cut).join("")}`, `data: ${points.slice(cut).join("")}`] : [`data: ${d}`])];
  }) },
  { weight: 1, arbitrary: fc.constantFrom<string[]>([": keep-alive"], ["retry: 10"], []) },
);

export const responseCaseArb: fc.Arbitrary<ResponseCase> = fc.record({
  events: fc.array(block, { maxLength: 8 }).map((bs) => bs.map((lines) => lines.join("\u0000"))),
  eol: fc.constantFrom<ResponseCase["eol"]>("\n", "\r\n", "\r"),
  terminateLast: fc.boolean(),
  hide: fc.boolean(),
  sseHint: fc.boolean(),
  cuts: fc.array(fc.nat(4000), { maxLength: 6 }),
  finish: fc.boolean(),
  requestBytes: fc.nat(100_000),
  encoded: fc.boolean(),
  cut: fc.boolean(),
});

export function bodyOf(c: ResponseCase): string {
  return c.events.map((e, i) => e.split("\u0000").join(c.eol) + c.eol + (i < c.events.length - 1 || c.terminateLast ? c.eol : "")).join("");
}

/** SSE blocks of a body as the spec splits lines (CR, LF, CR LF): [text of the block, its data lines]. */
export function blocksOf(body: string): Array<{ text: string; data: string[] }> {
  const out: Array<{ text: string; data: string[] }> = [];
  let start = 0;
  let data: string[] = [];
  let i = 0;
  while (i < body.length) {
    let j = i;
    while (j < body.length && body[j] !== "\n" && body[j] !== "\r") j++;
    const line = body.slice(i, j);
    let next = j;
    if (j < body.length) next = body[j] === "\r" && body[j + 1] === "\n" ? j + 2 : j + 1;
    if (line === "" && j < body.length) {
      out.push({ text: body.slice(start, next), data });
      start = next;
      data = [];
    } else if (line === "data" || line.startsWith("data:")) {
      data.push(line.startsWith("data: ") ? line.slice(6) : line.slice(5));
    }
    i = next;
  }
  if (start < body.length) out.push({ text: body.slice(start), data });
  return out;
}

function parsed(data: string[]): Record<string, unknown> | null {
  if (data.length === 0) return null;
  try {
    const v = JSON.parse(data.join("\n"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The hiding the reference expects of one block: "drop", "null" (the member goes) or "keep". */
export function verdict(b: { data: string[] }): "drop" | "null" | "keep" {
  const o = parsed(b.data);
  if (o === null) return "keep";
  if (Array.isArray(o.choices) && o.choices.length === 0 && o.usage !== null && typeof o.usage === "object" && !Array.isArray(o.usage)) return "drop";
  if ("usage" in o && o.usage === null && b.data.length === 1) return "null";
  return "keep";
}

let instance: ResponseModule | null = null;

function run(c: ResponseCase, body: Buffer, cuts: number[] | "bytes"): ReaderRun {
  instance ??= new ResponseModule();
  const m = instance;
  try {
    const r = m.run(body, c.sseHint, c.hide, cuts, c.finish);
    if (m.logs.length > 0) violated(`the module logged ${m.logs.join(" | ")}`);
    if (m.memoryBytes > MEMORY_CAP) violated(`memory grew to ${m.memoryBytes} bytes`);
    return r;
  } catch (err) {
    instance = null;
    throw err;
  }
}

export const responseProperty = defineProperty<ResponseCase>({
  name: "response",
  description: "ResponseReader: no trap, bounded memory, the same whole or cut, hiding removes only usage events and null members, estimate >= reported",
  arbitrary: () => responseCaseArb,
  async check(_env: FuzzEnv, c: ResponseCase): Promise<void> {
    const text = bodyOf(c);
    const body = Buffer.from(text, "utf8");
    const whole = run(c, body, []);
    const cut = run(c, body, c.cuts);
    const same = (a: ReaderRun, b: ReaderRun) => a.out.equals(b.out) && JSON.stringify(a.result) === JSON.stringify(b.result);
    expectThat(same(whole, cut), () => `cut at ${JSON.stringify(c.cuts)}: ${JSON.stringify(cut.result)} / ${JSON.stringify(whole.result)}`);
    if (body.length < 600) {
      const bytes = run(c, body, "bytes");
      expectThat(same(whole, bytes), () => `byte by byte: ${JSON.stringify(bytes.result)} / ${JSON.stringify(whole.result)}`);
    }
    const out = whole.out.toString("utf8");
    if (!c.hide || !whole.result.sse) {
      expectThat(out === text, () => "without hiding (or not SSE) the output differs from the input");
      if (!c.hide) expectThat(whole.unchanged === whole.feeds && cut.unchanged === cut.feeds, () => "feed() returned bytes without hiding");
    } else {
      // The reference: each block dropped, stripped of its null member, or kept.
      let rest = out;
      for (const b of blocksOf(text)) {
        const v = verdict(b);
        if (v === "drop") continue;
        if (v === "keep") {
          expectThat(rest.startsWith(b.text), () => `a block that must stay is changed: ${JSON.stringify(b.text)} (output from there: ${JSON.stringify(rest.slice(0, 200))})`);
          rest = rest.slice(b.text.length);
          continue;
        }
        // "null": the block with one span taken out of its data line, which then parses to the object without usage.
        const lineAt = b.text.search(/(^|[\r\n])data:/) + (/^data:/.test(b.text) ? 0 : 1);
        const prefix = b.text.startsWith("data: ", lineAt) ? 6 : 5;
        const lineEnd = b.text.slice(lineAt).search(/[\r\n]|$/) + lineAt;
        const head = b.text.slice(0, lineAt + prefix);
        const post = b.text.slice(lineEnd);
        const data = b.text.slice(lineAt + prefix, lineEnd);
        expectThat(rest.startsWith(head), () => `a block lost its start: ${JSON.stringify(b.text)} -> ${JSON.stringify(rest.slice(0, 200))}`);
        const after = rest.slice(head.length);
        const editedEnd = after.search(/[\r\n]|$/);
        const edited = after.slice(0, editedEnd);
        const cutLen = data.length - edited.length;
        let oneSpan = false;
        for (let i = 0; i <= edited.length && !oneSpan; i++) oneSpan = data.slice(0, i) === edited.slice(0, i) && data.slice(i + cutLen) === edited.slice(i);
        const o = parsed([data])!;
        delete o.usage;
        expectThat(oneSpan && cutLen > 0 && JSON.stringify(parsed([edited])) === JSON.stringify(o), () => `"usage":null not cleanly removed: ${JSON.stringify(data)} -> ${JSON.stringify(edited)}`);
        expectThat(after.slice(editedEnd).startsWith(post), () => `the end of a block changed: ${JSON.stringify(post)}`);
        rest = after.slice(editedEnd + post.length);
      }
      expectThat(rest === "", () => `output left over: ${JSON.stringify(rest.slice(0, 200))}`);
    }
    // The estimate, over the reader left by the last run (the byte-by-byte or cut one: same state).
    const m = instance!;
    const u = whole.result.usage;
    const e = m.estimate(c.requestBytes, c.encoded, c.cut);
    if (u.hasInput) expectThat(e.input === u.input, () => `estimate input ${e.input}, reported ${u.input}`);
    if (u.hasOutput) {
      expectThat(BigInt(e.output) >= BigInt(u.output), () => `estimate output ${e.output} below reported ${u.output}`);
      // (a provisional count — Anthropic message_start's — is not the answer's output: estimated on)
      if (!c.cut && !c.encoded && u.provisional !== true) expectThat(e.output === u.output, () => `a complete answer's reported output ${u.output} became ${e.output}`);
    }
    expectThat(BigInt(e.input) >= 0n && BigInt(e.output) >= 0n, () => `negative estimate ${JSON.stringify(e)}`);
  },
});
