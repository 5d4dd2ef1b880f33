// assembly/usage/fast_path.ts (the quick read of whole SSE events and whole JSON bodies) against the
// usual way (tokenizer.ts + extractor.ts), through build/test/usage.wasm: the same bytes fed with
// the quick path on and off must give the same usage, content counts, events, malformed counts,
// hidden events and the same bytes to the client, whatever the chunking, format, hiding and
// wantModel. A difference is a billing bug, so documents are generated at the edges the quick path
// decides on (escaped and near-miss keys, duplicates, odd counts, surrogates, invalid UTF-8, depth,
// line ends) and the corpora are replayed.
import fc from "fast-check";
import { ResponseModule, ReaderRun } from "./response_module";
import { corpus, openaiChat, openaiChatStream } from "./usage_corpus";

const m = new ResponseModule();
afterEach(() => expect(m.logs).toEqual([]));
afterAll(() => m.ex.usage_quick(1));

/** Text as its UTF-8 bytes, one char per byte (documents are built as such "binary" strings so that invalid UTF-8 can be written). */
const B = (s: string) => Buffer.from(s, "utf8").toString("latin1");
const buf = (bin: string) => Buffer.from(bin, "latin1");

const reads = (): number => m.ex.usage_quick_reads() >>> 0;

type Cuts = number[] | "bytes";

/** What a run gives that the client or the bill can see. */
function seen(r: ReaderRun) {
  return { result: r.result, out: r.out.toString("hex"), unchanged: r.unchanged };
}

/** One run with the quick path on and one with it off; they must agree. Returns how many documents were read quickly. */
function same(body: Buffer, sse: boolean, hide: boolean, wantModel: boolean, cuts: Cuts, finish: boolean, label: string): number {
  m.ex.usage_quick(1);
  const before = reads();
  const quick = m.run(body, sse, hide, cuts, finish, wantModel);
  const took = reads() - before;
  m.ex.usage_quick(0);
  const usual = m.run(body, sse, hide, cuts, finish, wantModel);
  m.ex.usage_quick(1);
  const how = { label, sse, hide, wantModel, finish, cuts: cuts === "bytes" ? "bytes" : cuts.join(","), body: body.toString("latin1").slice(0, 2000) };
  const a = seen(quick);
  const b = seen(usual);
  if (JSON.stringify(a) !== JSON.stringify(b)) expect({ how, ...a }).toEqual({ how, ...b });
  return took;
}

/** Offsets right after each blank line (LF LF, CR LF CR LF, CR CR): one event per chunk. */
function eventCuts(bin: string): number[] {
  const out: number[] = [];
  const re = /(\r\n|\n|\r)(\r\n|\n|\r)/g;
  let x: RegExpExecArray | null;
  while ((x = re.exec(bin)) !== null) out.push(x.index + x[0].length);
  return out;
}

/** Where the first top-level object or array ends (-1: it does not): a JSON body's first chunk can hold exactly it, and more come after. */
function firstValueEnd(bin: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bin.length; i++) {
    const c = bin[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * The body in every setting: SSE hint on/off, hide on/off, wantModel on/off; whole, one event per
 * chunk, at the given random cuts, byte by byte when small; and once without end of stream.
 */
function compareAll(bin: string, randomCuts: number[] = [], label = ""): number {
  const body = buf(bin);
  const chunkings: Cuts[] = [[], eventCuts(bin), randomCuts.map((c) => c % (body.length + 1)), [firstValueEnd(bin)]];
  if (body.length <= 400) chunkings.push("bytes");
  let took = 0;
  for (const sse of [true, false]) {
    for (const hide of [false, true]) {
      for (const wantModel of [true, false]) {
        for (const cuts of chunkings) took += same(body, sse, hide, wantModel, cuts, false, label);
        took += same(body, sse, hide, wantModel, [], true, label);
      }
    }
  }
  return took;
}

// ---- generators ----

/** Keys the extractor reads at the root, the one it counts under, content keys, count keys. */
const ROOT_NAMES = ["usage", "model", "modelVersion", "choices", "delta", "message", "content", "output", "response", "candidates", "usageMetadata"];
const CONTENT_NAMES = ["content", "reasoning_content", "reasoning", "refusal", "arguments", "text"];
const COUNT_NAMES = ["prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"];
const OTHER_NAMES = ["id", "object", "created", "system_fingerprint", "type", "index", "total_tokens", "promptTokenCount", "tool_calls", "function", "role", "finish_reason", "logprobs", "x"];

/** A key one byte off (same length): a bit or the case flipped. */
function nearMiss(k: string, i: number, flip: number): string {
  const at = i % k.length;
  const c = k.charCodeAt(at) ^ flip;
  // (a flip that would give a quote, a backslash or a control character gives another letter)
  const ch = c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f ? (k[at] === "_" ? "-" : "_") : String.fromCharCode(c);
  return k.slice(0, at) + ch + k.slice(at + 1);
}

/** The name with one character written as a \u escape (the usual way decodes it). */
function escapedKey(k: string, i: number, upper: boolean): string {
  const at = i % k.length;
  const hex = k.charCodeAt(at).toString(16).padStart(4, "0");
  return `${k.slice(0, at)}\\u${upper ? hex.toUpperCase() : hex}${k.slice(at + 1)}`;
}

const plain = fc.string({ maxLength: 16 }).map((s) => s.replace(/[\u0000-\u001f"\\\u007f-\uffff]/g, "_"));
const wide = fc.string({ unit: "grapheme", maxLength: 4 }).map((s) => B(s.replace(/[\u0000-\u001f"\\]/g, "_")));
/** Escapes the tokenizer decodes: each a byte count the quick path must match (pairs, lone surrogates). */
const escapes = fc.constantFrom(
  "\\n", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\t", "\\u0041", "\\u00e9", "\\u07ff", "\\u0800", "\\u4f60", "\\uFFFF", "\\u0000",
  "\\ud83d\\ude00", "\\uD83D\\uDE00", "\\udbff\\udfff", "\\ud800", "\\udc00", "\\ud800\\ud800", "\\udc00\\ud800", "\\ud800a", "\\ud800" + B("é"), "\\ud800\\n",
  B("é"), B("你"), B("😀"), "\x7f", B("\u07ff"), B("\uffff"), B("\u{10ffff}"),
);
/** Bytes that make a string invalid (bad escapes, invalid UTF-8, control characters). */
const broken = fc.constantFrom("\\x", "\\u12", "\\u12g4", "\\U0041", "\xff", "\xc0\x80", "\xc1\xbf", "\xc2", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\x80", "\xe4\xbd", "\xf0\x9f\x98", "\x01", "\t", "\x1f", "\n", "\r");

const goodNumber = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 100000 }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 1n << 66n }).map(String) },
  { weight: 3, arbitrary: fc.constantFrom(
    "0", "-0", "-1", "-5", "1.5", "0.0", "5.0", "1e3", "1E+2", "2e-1", "0e0", "1.0e0", "-0.5", "10", "100",
    "9223372036854775807", "9223372036854775808", "18446744073709551615", "99999999999999999999999", "1" + "0".repeat(510), "1" + "0".repeat(600),
  ) },
);
/** Not JSON numbers: leading zeros, no digits. */
const badNumber = fc.constantFrom("00", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "-", "0x1", "1_0", "-a");
const badLiteral = fc.constantFrom("nul", "tru", "nulll", "falsey", "None");
const bareWs = fc.oneof({ weight: 12, arbitrary: fc.constant("") }, { weight: 4, arbitrary: fc.constant(" ") }, { weight: 1, arbitrary: fc.constantFrom("\t", "  ", " \t ") });
/** Whitespace between tokens; `lines`: also line ends (which end an SSE data line). */
const anyWs = fc.oneof({ weight: 12, arbitrary: bareWs }, { weight: 1, arbitrary: fc.constantFrom("\n", "\r\n", " \r ", "\r") });

/**
 * The generators, `clean` or not: clean documents are valid JSON whose root and usage keys are
 * plain ASCII and whose root has no member the extractor reads other than usage, model and choices
 * (the shapes the quick path accepts, so that its answers get compared); the others mix in
 * everything that makes it fall back (and what the usual way then does differently).
 */
function generators(clean: boolean) {
  const w = (weight: number, arbitrary: fc.Arbitrary<string>) => ({ weight: clean ? 0 : weight, arbitrary });
  const ws = clean ? bareWs : anyWs;

  /** A key as written in JSON (quotes included): mostly names that matter, some one byte off; `plainOnly`: no escape, nothing past ASCII. */
  const keyOf = (names: string[], plainOnly: boolean): fc.Arbitrary<string> => {
    const name = fc.constantFrom(...names);
    const odd = plainOnly && clean ? 0 : 1;
    return fc.oneof(
      { weight: 8, arbitrary: name.map((k) => `"${k}"`) },
      { weight: 2, arbitrary: fc.constantFrom(...OTHER_NAMES).map((k) => `"${k}"`) },
      { weight: 2, arbitrary: fc.tuple(name, fc.nat(), fc.constantFrom(1, 2, 0x20)).map(([k, i, f]) => `"${nearMiss(k, i, f)}"`) },
      { weight: 1, arbitrary: fc.tuple(name, fc.constantFrom("s", "_", "0")).map(([k, s]) => `"${k}${s}"`) },
      { weight: odd, arbitrary: fc.tuple(name, fc.nat(), fc.boolean()).map(([k, i, upper]) => `"${escapedKey(k, i, upper)}"`) },
      { weight: odd, arbitrary: fc.tuple(name, fc.constantFrom(B("é"), B("\u00a0"), "\\n", "\\\"")).map(([k, s]) => `"${k}${s}"`) },
    );
  };

  const strBody = fc.array(fc.oneof({ weight: 8, arbitrary: plain }, { weight: 2, arbitrary: wide }, { weight: 4, arbitrary: escapes }, w(1, broken)), { maxLength: 5 }).map((a) => a.join(""));
  const str = strBody.map((b) => `"${b}"`);
  const num = fc.oneof({ weight: 12, arbitrary: goodNumber }, w(1, badNumber));
  const literal = fc.oneof({ weight: 12, arbitrary: fc.constantFrom("true", "false", "null") }, w(1, badLiteral));

  /** Brackets n deep around `inner` (near the quick path's 64 and the tokenizer's 1024). */
  const deep = fc.tuple(
    clean ? fc.constantFrom(1, 2, 5, 30, 58, 59, 60, 61, 62, 63, 64) : fc.constantFrom(1, 2, 60, 61, 62, 63, 64, 65, 66, 70, 1020, 1022, 1023, 1024, 1025, 1030),
    fc.boolean(),
    fc.constantFrom("", "1", '"t"', '{"text":"abc"}', '{"content":"\\u00e9x"}', '{"usage":{"prompt_tokens":1}}'),
  ).map(([n, obj, inner]) => obj ? '{"content":'.repeat(n) + (inner === "" ? "1" : inner) + "}".repeat(n) : "[".repeat(n) + inner + "]".repeat(n));

  const objectOf = (member: fc.Arbitrary<string>, max = 4): fc.Arbitrary<string> =>
    fc.tuple(fc.array(member, { maxLength: max }), ws).map(([ms, s]) => `{${s}${ms.join(`${s},${s}`)}${s}}`);

  const { value } = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
    value: fc.oneof({ depthSize: "small", withCrossShrink: true }, str, num, literal, tie("object"), tie("array"), deep),
    object: objectOf(fc.tuple(keyOf([...CONTENT_NAMES, ...COUNT_NAMES, ...ROOT_NAMES], false), ws, tie("value")).map(([k, s, v]) => `${k}${s}:${s}${v}`)),
    array: fc.tuple(fc.array(tie("value"), { maxLength: 4 }), ws).map(([vs, s]) => `[${s}${vs.join(`${s},${s}`)}${s}]`),
  }));

  /** A usage object: counts (of every form) under count keys, and other members. */
  const usageObject = objectOf(fc.tuple(keyOf([...COUNT_NAMES, "total_tokens", "prompt_tokens_details"], true), ws, fc.oneof({ weight: 5, arbitrary: num }, { weight: 1, arbitrary: value })).map(([k, s, v]) => `${k}${s}:${s}${v}`), 6);
  const usageValue = fc.oneof(
    { weight: 6, arbitrary: usageObject },
    { weight: 3, arbitrary: fc.constant("null") },
    { weight: 1, arbitrary: fc.constantFrom("0", "5", "[]", "[1]", '"x"', "true", "{}", '{"prompt_tokens":[1]}', '{"prompt_tokens":{"a":1}}') },
    { weight: 1, arbitrary: value },
  );

  /** Members of a choice: content keys with strings, delta/message objects of them, tool calls. */
  const contentMember = fc.tuple(keyOf(CONTENT_NAMES, false), ws, fc.oneof({ weight: 6, arbitrary: str }, { weight: 1, arbitrary: value }, { weight: 1, arbitrary: fc.constant("null") })).map(([k, s, v]) => `${k}${s}:${s}${v}`);
  const choice = objectOf(fc.oneof(
    { weight: 3, arbitrary: objectOf(contentMember).map((o) => `"delta":${o}`) },
    { weight: 2, arbitrary: objectOf(contentMember).map((o) => `"message":${o}`) },
    { weight: 2, arbitrary: contentMember },
    { weight: 1, arbitrary: str.map((s) => `"tool_calls":[{"index":0,"function":{"name":"f","arguments":${s}}}]`) },
    { weight: 1, arbitrary: fc.constantFrom('"index":0', '"finish_reason":null', '"logprobs":null', '"finish_reason":"stop"') },
    { weight: 1, arbitrary: deep.map((d) => `"logprobs":${d}`) },
  ));
  const choicesValue = fc.oneof(
    { weight: 6, arbitrary: fc.array(choice, { minLength: 1, maxLength: 2 }).map((a) => `[${a.join(",")}]`) },
    { weight: 3, arbitrary: fc.constantFrom("[]", "[ ]", "[\t]", "{}", "null", '"x"', "[[]]", "[{}]", "0", '["content"]', '[{"content":"a"}]', '{"content":"a"}') },
    { weight: 1, arbitrary: value },
  );

  const modelValue = fc.oneof({ weight: 5, arbitrary: str }, { weight: 1, arbitrary: value }, { weight: 1, arbitrary: fc.constantFrom('"' + "m".repeat(512) + '"', '"' + "m".repeat(513) + '"', '"' + B("é").repeat(256) + '"', '"' + B("é").repeat(257) + '"', '"gpt-4o"', '"gpt-4o "') });
  const rootMember = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(keyOf(["usage"], true), usageValue).map(([k, v]) => `${k}:${v}`) },
    { weight: 4, arbitrary: fc.tuple(keyOf(["choices"], true), choicesValue).map(([k, v]) => `${k}:${v}`) },
    { weight: 3, arbitrary: fc.tuple(keyOf(["model", "modelVersion"], true), modelValue).map(([k, v]) => `${k}:${v}`) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...OTHER_NAMES), fc.oneof(str, num, value)).map(([k, v]) => `"${k}":${v}`) },
    // members the extractor reads (the quick path falls back on these)
    w(1, fc.tuple(keyOf(ROOT_NAMES, false), value).map(([k, v]) => `${k}:${v}`)),
  );

  /** A root object: mostly the OpenAI chunk's order, with generated members mixed in. */
  const rootObject = fc.tuple(fc.array(rootMember, { maxLength: 6 }), fc.boolean(), ws, fc.array(fc.tuple(fc.nat(), rootMember), { maxLength: 2 })).map(([ms, openai, s, extra]) => {
    const members = openai ? ['"id":"chatcmpl-1"', '"object":"chat.completion.chunk"', '"created":1694268190', ...ms] : [...ms];
    for (const [at, x] of extra) members.splice(at % (members.length + 1), 0, x);
    return `{${s}${members.join(`${s},${s}`)}${s}}`;
  });

  /** A document: a root object (sometimes cut short or followed by more), or another JSON value. */
  const doc = fc.oneof(
    { weight: 20, arbitrary: fc.tuple(bareWs, rootObject, clean ? bareWs : fc.constantFrom("", "", " ", "\t", " x", "}", "{}", " 1", ",", "\x00", "]")).map(([a, o, t]) => a + o + t) },
    w(2, fc.tuple(rootObject, fc.nat()).map(([o, n]) => o.slice(0, n % o.length))),
    w(2, fc.oneof(value, fc.constantFrom("[DONE]", "", " ", "5", "-1", "1e5", '"s"', "[]", '[{"usage":{"prompt_tokens":3}}]'))),
  );
  return { doc };
}

const cleanDoc = generators(true).doc;
const anyDoc = generators(false).doc;
/** Bytes put into a clean document (mostly inside a string: strings are most of its bytes) to make it just barely wrong, or right in another way. */
const fault = fc.oneof(broken, badNumber, fc.constantFrom("\xed\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xe0\xa0\x80", "\xc2\x80", "\xdf\xbf", "\x20", "\x7f", "\\", "\"", ",", ":", "}", "]", "{", "[", "0", "-", "e", ".", " ", "\\u", "\\ud800", "\\udfff"));
/** A clean document with one fault put in, or one byte replaced. */
const faultyDoc = fc.tuple(cleanDoc, fc.nat(), fault, fc.boolean()).map(([d, at, f, replace]) => {
  const i = at % (d.length + 1);
  return d.slice(0, i) + f + d.slice(replace ? i + 1 : i);
});
const doc = fc.oneof({ weight: 4, arbitrary: cleanDoc }, { weight: 2, arbitrary: faultyDoc }, { weight: 2, arbitrary: anyDoc });

/** An SSE event around a document: `data:` with or without its space, one or two data lines, comments and other fields, each line end. */
const event = fc.record({
  doc,
  data: fc.constantFrom("data: ", "data: ", "data:", "data:  ", "data:\t"),
  eol: fc.oneof({ weight: 6, arbitrary: fc.constant("\n") }, { weight: 1, arbitrary: fc.constantFrom("\r\n", "\r") }),
  end: fc.oneof({ weight: 8, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom("\r\n", "\n", "\r") }), // the blank line's own end, when not the eol (e.g. LF then CRLF)
  before: fc.constantFrom("", "", "", "", "", "", "", "", ": ping", "event: completion", "id: 7", "retry: 10", "data", "dat: x", ":"),
  splitAt: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }), // two data lines, rarely
}).map(({ doc, data, eol, end, before, splitAt }) => {
  const lines: string[] = [];
  if (before !== "") lines.push(before);
  if (splitAt !== null && doc.length > 1) {
    const at = splitAt % doc.length;
    lines.push(data + doc.slice(0, at), data + doc.slice(at));
  } else {
    lines.push(data + doc);
  }
  return lines.join(eol) + eol + (end === "" ? eol : end);
});

const stream = fc.tuple(fc.array(event, { minLength: 1, maxLength: 5 }), fc.constantFrom("", "", "data: [DONE]\n\n", "data: [DONE]", "data: {\"usage\":{\"prompt_tokens\":1}}", ": bye\n")).map(([es, tail]) => es.join("") + tail);

// ---- tests ----

describe("the quick path is taken (so that the comparisons below compare something)", () => {
  test("every OpenAI chunk of an LF stream, and a whole JSON answer, are read quickly; none when it is off", () => {
    const events = openaiChatStream.split("\n\n").filter((e) => e.startsWith("data: {")).length;
    expect(events).toBeGreaterThan(3);
    for (const wantModel of [true, false]) {
      for (const hide of [false, true]) {
        const before = reads();
        m.run(openaiChatStream, true, hide, [], false, wantModel);
        expect(reads() - before).toBe(events);
      }
      const before = reads();
      m.run(openaiChat, false, false, [], false, wantModel);
      expect(reads() - before).toBe(1);
    }
    m.ex.usage_quick(0);
    const before = reads();
    m.run(openaiChatStream, true, false);
    m.run(openaiChat, false, false);
    expect(reads()).toBe(before);
    m.ex.usage_quick(1);
  });

  test("wantModel decides whether the model is read, on both paths", () => {
    for (const on of [1, 0]) {
      m.ex.usage_quick(on);
      expect(m.run(openaiChat, false, false, [], false, true).result.usage.model).toBe("gpt-4.1-2025-04-14");
      expect(m.run(openaiChat, false, false, [], false, false).result.usage.model).toBe("");
    }
    m.ex.usage_quick(1);
  });
});

describe("key sets: fast_path.ts (fast_keys.ts) tells keys apart as the extractor's sets do", () => {
  const keys = [...ROOT_NAMES, ...CONTENT_NAMES, ...COUNT_NAMES, ...OTHER_NAMES, "thinking", "partial_json", "summary", "parts", "functionCall", "args", "input", "promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount"];
  const variants = new Set<string>();
  for (const k of keys) {
    variants.add(k);
    variants.add(k.slice(0, -1));
    variants.add(k + "s");
    variants.add(k + "\x00");
    variants.add(k.slice(0, 8));
    variants.add("x" + k.slice(1));
    for (let i = 0; i < k.length; i++) {
      for (const flip of [1, 2, 0x20, 0x40, 0x80]) variants.add(k.slice(0, i) + String.fromCharCode(k.charCodeAt(i) ^ flip) + k.slice(i + 1));
    }
  }
  test(`${variants.size} names and near misses`, () => {
    const disagree: string[] = [];
    for (const v of variants) {
      const n = m.write(Buffer.from(v, "latin1"));
      if (m.ex.usage_key_sets_agree(n) !== 1) disagree.push(JSON.stringify(v));
    }
    expect(disagree).toEqual([]);
  });
});

describe("names and near misses where they are read: as root keys, usage keys and content keys", () => {
  const variantsOf = (k: string): string[] => {
    const out = new Set<string>([k, k.slice(0, -1), k + "s", escapedKey(k, 0, false), escapedKey(k, k.length - 1, true)]);
    for (let i = 0; i < k.length; i++) for (const flip of [1, 0x20]) out.add(nearMiss(k, i, flip));
    return [...out];
  };
  const docs: string[] = [];
  for (const k of [...ROOT_NAMES, ...OTHER_NAMES]) for (const v of variantsOf(k)) docs.push(`{"${v}":{"prompt_tokens":3,"completion_tokens":4},"choices":[{"delta":{"content":"ab"}}],"${v}":"m"}`);
  for (const k of [...COUNT_NAMES, "total_tokens", "promptTokenCount"]) for (const v of variantsOf(k)) docs.push(`{"usage":{"${v}":7,"${v}":8},"choices":[]}`);
  for (const k of [...CONTENT_NAMES, "thinking", "partial_json"]) for (const v of variantsOf(k)) docs.push(`{"choices":[{"delta":{"${v}":"\\u00e9abc"},"${v}":["x"],"message":{"${v}" : "xyz"}}]}`);
  test(`${docs.length} documents, SSE and JSON`, () => {
    for (const d of docs) {
      for (const wantModel of [true, false]) {
        same(buf(`data: ${d}\n\n`), true, true, wantModel, [], false, "near miss");
        same(buf(d), false, false, wantModel, [], false, "near miss");
      }
    }
  });
});

/** Documents each of which once showed (or guards) a place where the two paths could part. */
const REGRESSIONS: string[] = [
  // root keys escaped, not ASCII, one byte off
  'data: {"us\\u0061ge":{"prompt_tokens":5,"completion_tokens":7},"choices":[]}\n\n',
  'data: {"ch\\u006fices":[{"delta":{"content":"abc"}}]}\n\n',
  'data: {"mod\\u0065l":"m1","usage":{"prompt_tokens":1}}\n\n',
  'data: {"usagf":{"prompt_tokens":5},"choicet":[{"delta":{"content":"abc"}}]}\n\n',
  'data: {"' + B("usagé") + '":{"prompt_tokens":5}}\n\n',
  // usage keys escaped or one byte off
  'data: {"usage":{"prompt\\u005ftokens":5,"completion_tokens":7}}\n\n',
  'data: {"usage":{"prompt_tokenz":5,"completion_tokens":7}}\n\n',
  // duplicates
  'data: {"usage":{"prompt_tokens":5},"usage":null,"choices":[]}\n\n',
  'data: {"usage":null,"usage":{"prompt_tokens":5},"choices":[],"choices":[{"delta":{"content":"x"}}]}\n\n',
  'data: {"choices":[{"delta":{"content":"x"}}],"usage":{"completion_tokens":2},"choices":[]}\n\n',
  'data: {"model":"a","model":5,"modelVersion":"b","model":{"x":1}}\n\n',
  // usage of other kinds
  'data: {"usage":5}\n\ndata: {"usage":[1,2]}\n\ndata: {"usage":"x"}\n\ndata: {"usage":{}}\n\n',
  // counts in every form
  'data: {"usage":{"prompt_tokens":1.5,"completion_tokens":1e3,"input_tokens":-1,"output_tokens":-0}}\n\n',
  'data: {"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775808}}\n\n',
  'data: {"usage":{"prompt_tokens":01}}\n\n',
  'data: {"usage":{"prompt_tokens":0,"cache_read_input_tokens":3,"cache_creation_input_tokens":4,"output_tokens":2}}\n\n',
  // content: escapes, surrogates, invalid UTF-8, control characters
  'data: {"choices":[{"delta":{"content":"\\ud83d\\ude00 \\ud800 \\udc00 \\ud800\\ud800 \\u00e9\\n"}}]}\n\n',
  'data: {"choices":[{"delta":{"content":"\\ud800"},"x":{"content":"\\udc00"}}]}\n\n',
  'data: {"choices":[{"delta":{"content":"a\xffb"}}]}\n\n',
  'data: {"choices":[{"delta":{"content":"a\x01b"}}]}\n\n',
  'data: {"choices":[{"delta":{"content" : "spaced", "text":["not", "counted"]}}]}\n\n',
  'data: {"choices":[{"delta":{"t\\u0065xt":"escaped key"}}]}\n\n',
  // depth
  'data: {"choices":[' + "[".repeat(62) + '{"text":"abc"}' + "]".repeat(62) + "]}\n\n",
  'data: {"choices":[' + "[".repeat(63) + '{"text":"abc"}' + "]".repeat(63) + "]}\n\n",
  'data: {"choices":[' + "[".repeat(1100) + '{"text":"abc"}' + "]".repeat(1100) + '],"usage":{"prompt_tokens":2}}\n\n',
  // line ends, data: forms, several data lines, comments; a usage-only event (hidden) before each kind of blank line
  'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\r\ndata: {"choices":[],"usage":{"prompt_tokens":2}}\n\rdata: {"choices":[],"usage":{"prompt_tokens":3}}\r\n\r\n',
  'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\r\n',
  'data: {"choices":[],"usage":null}\n\r\n',
  '\xef\xbb\xbf\n\ndata: {"choices":[],"usage":{"prompt_tokens":1}}\n\n',
  // line ends, data: forms, several data lines, comments
  'data:{"usage":{"prompt_tokens":1}}\r\n\r\ndata:{"usage":{"prompt_tokens":2}}\r\rdata:{"usage":{"prompt_tokens":3}}\n\r\n',
  'data: {"usage":\ndata: {"prompt_tokens":4}}\n\n',
  ': comment\ndata: {"usage":{"prompt_tokens":5}}\n\n',
  'data: {"usage":{"prompt_tokens":5}} x\n\ndata: {"usage":{"prompt_tokens":6}} \n\n',
  // the end of the document: numbers, trailing bytes
  '{"usage":{"prompt_tokens":5}} 7',
  '{"usage":{"prompt_tokens":5}}{"usage":{"completion_tokens":6}}',
  '{"usage":{"prompt_tokens":5}}}',
  '{"usage":{"prompt_tokens":5}}\n',
  // invalid UTF-8 that decodes to a surrogate (ED A0 80), overlong forms, the last code point
  'data: {"choices":[{"delta":{"content":"a\xed\xa0\x80b"}}]}\n\ndata: {"x":"\xed\xa0\x80"}\n\ndata: {"x":"\xe0\x80\xaf"}\n\ndata: {"x":"\xf4\x8f\xbf\xbf\xed\x9f\xbf"}\n\n',
  // more usage objects and counts than the quick path keeps (16 and 64): it falls back
  'data: {' + Array.from({ length: 16 }, (_, i) => `"usage":{"prompt_tokens":${i},"completion_tokens":1,"input_tokens":2,"output_tokens":3}`).join(",") + '}\n\n',
  'data: {' + Array.from({ length: 17 }, (_, i) => `"usage":{"prompt_tokens":${i}}`).join(",") + '}\n\n',
  'data: {"usage":{' + Array.from({ length: 65 }, (_, i) => `"prompt_tokens":${i}`).join(",") + '}}\n\n',
  // keys the extractor reads at the root
  'data: {"delta":"abc","usage":{"prompt_tokens":1}}\n\ndata: {"message":{"usage":{"input_tokens":3}}}\n\ndata: {"response":{"usage":{"input_tokens":3}}}\n\n',
  '{"candidates":[{"content":{"parts":[{"text":"hi"}]}}],"usageMetadata":{"promptTokenCount":3},"modelVersion":"g"}',
];

describe("regressions and corpora", () => {
  test.each(REGRESSIONS.map((r, i) => [i, r]))("row %i", (_i, bin) => {
    compareAll(bin as string, [7, 23, 61]);
  });

  test.each(corpus.map((c) => [c.name, c.body]))("corpus: %s", (_name, body) => {
    const bin = B(body);
    // every cut into two, for the smaller ones: where a chunk ends decides what the quick path gets
    const cuts = Buffer.byteLength(body) <= 3000 ? Array.from({ length: Buffer.byteLength(body) }, (_, i) => i) : [];
    compareAll(bin, [13, 101, 977]);
    for (const c of cuts.filter((_, i) => i % 3 === 0)) same(buf(bin), true, true, true, [c], false, `cut at ${c}`);
  });
});

describe("generated documents", () => {
  // A fixed seed and a bounded number of runs (a few seconds); FAST_PATH_SEED / FAST_PATH_RUNS hunt further.
  const SEED = Number(process.env.FAST_PATH_SEED ?? 20250601);
  const RUNS = Number(process.env.FAST_PATH_RUNS ?? 400);

  test("SSE streams", () => {
    let took = 0;
    let samples = 0;
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 4 }), (bin, cuts) => {
        took += compareAll(bin, cuts, "stream");
        samples++;
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // many of the generated events are of the usual shape: the quick path was taken
    expect(took).toBeGreaterThan(samples);
  });

  test("JSON bodies", () => {
    let took = 0;
    let samples = 0;
    fc.assert(
      fc.property(doc, fc.array(fc.nat(), { maxLength: 3 }), (bin, cuts) => {
        took += compareAll(bin, cuts, "json");
        samples++;
      }),
      { seed: SEED + 1, numRuns: RUNS, endOnFailure: true },
    );
    expect(took).toBeGreaterThan(samples / 4);
  });

  test("events past the scanner's maxEventBytes", () => {
    // The reader sets no limit; a scanner with one drops events past it, quick or not.
    let samples = 0;
    const readsBefore = reads();
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 3 }), fc.integer({ min: -2, max: 2 }), fc.boolean(), (events, delta, wantModel) => {
        const bin = events.join("");
        // around the first event's data length
        const first = events[0].split(/\r\n|\n|\r/).find((l) => l.startsWith("data")) ?? "";
        const limit = Math.max(1, first.length - 6 + delta);
        const body = buf(bin);
        const results: string[] = [];
        for (const on of [1, 0]) {
          m.ex.usage_quick(on);
          m.ex.scanner_new(1, limit, wantModel ? 0 : 1);
          for (const part of [body.subarray(0, body.length >> 1), body.subarray(body.length >> 1)]) m.ex.scanner_feed(m.write(part));
          results.push(m.output(m.ex.scanner_finish()).toString("utf8"));
        }
        m.ex.usage_quick(1);
        expect({ limit, bin, r: results[0] }).toEqual({ limit, bin, r: results[1] });
        samples++;
      }),
      { seed: SEED + 2, numRuns: RUNS, endOnFailure: true },
    );
    expect(samples).toBe(RUNS);
    // the scanner with the quick path on did read events quickly (not only the usual way)
    expect(reads() - readsBefore).toBeGreaterThan(0);
  });
});
