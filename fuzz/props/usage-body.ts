// Model answers of every shape, against a real redis-server: SSE and plain JSON bodies split at
// any byte, cut short or reset mid-stream, with invalid UTF-8, junk, nesting of any depth (read past: it cannot hide usage),
// numbers beyond 64 bits, negative, fractional and exponent counts, keys written with escapes,
// usage at the wrong depth, and ai-statistics' ai_log filter state valid or not. The bodies are
// built as trees (model/usage.ts), so the exact usage the plugin may read is known:
// the consumer is charged exactly that (0 when there is none), the client gets the body
// unchanged, and nothing traps.
import fc from "fast-check";
import { PluginVm } from "../../host";
import { FuzzEnv } from "../env";
import { CHAT_PATH, KEY_PREFIX, requestHeaders } from "../http";
import { J, Serialized, Usage, commit, emptyUsage, fromJs, lit, obj, serialize, sidesOf } from "../model/usage";
import { I64_MAX, atoi, saturatingAdd, utf8 } from "../model/text";
import { defineProperty, expectNoTrap, expectThat, sometimes, violated } from "../property";

const CONSUMER = "u1";
const BALANCE = 10n ** 15n;
/** The most one settlement charges (MAX_AMOUNT in assembly/quota/scripts.ts): a larger usage is capped. */
const MAX_CHARGE = 2n ** 50n;
// Exactly the usage read: no estimate when there is none (missing_usage "none", Higress's behaviour;
// the estimate has its own tests and the "response" property), and a request that asks for usage
// itself, so the plugin adds nothing and hides nothing (the body reaches the client unchanged).
const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static" }, missing_usage: "none" };

// ---- trees ----

/** Bytes no JSON text may hold in any state (outside or inside a string), never CR or LF. */
export const ALWAYS_INVALID = [0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x0e, 0x1f, 0xc0, 0xc1, 0xf5, 0xfe, 0xff];

export const junk: fc.Arbitrary<J> = fc.oneof(
  // Literals JSON does not allow where a value goes.
  fc.constantFrom("007", "+5", ".5", "1.", "-", "--1", "NaN", "Infinity", "0x10", "1_000", "tru", "nul", "'a'", "1e", "1e+", "\"\\x\"", "\"\\u12G4\"").map((bytes): J => ({ t: "junk", bytes })),
  // Strings with invalid UTF-8.
  fc.constantFrom("\"a\xffb\"", "\"\xc3\x28\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "\"\xc0\xaf\"", "\"\x80\"").map((bytes): J => ({ t: "junk", bytes })),
  // A byte that is never valid, then anything but a line end.
  fc.tuple(fc.constantFrom(...ALWAYS_INVALID), fc.uint8Array({ maxLength: 6 })).map(([b, rest]): J => ({
    t: "junk",
    bytes: String.fromCharCode(b, ...[...rest].filter((x) => x !== 0x0a && x !== 0x0d)),
  })),
);

const countLit: fc.Arbitrary<J> = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt(0n, 1_000_000n).map((n) => lit(String(n))) },
  { weight: 1, arbitrary: fc.constantFrom("0", "9223372036854775807", "9223372036854775806", "4611686018427387904").map(lit) },
  // Valid JSON, but not a count: ignored.
  { weight: 3, arbitrary: fc.constantFrom("-5", "-0", "1.5", "1e3", "1E+2", "0.0", "5.0", "12345678901234567890123", "9223372036854775808", "\"12\"", "null", "true", "{}", "[]", "[7]", "{\"value\":7}", "-9223372036854775808", "1" + "0".repeat(600)).map(lit) },
  { weight: 1, arbitrary: junk },
);

const USAGE_KEYS = ["prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "total_tokens", "prompt_tokens_details"];
const GEMINI_KEYS = ["promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount", "totalTokenCount"];
// The self-hosted servers' (Ollama, llama.cpp at the root; TGI details; SGLang meta_info), with their neighbours.
const ROOT_COUNT_KEYS = ["prompt_eval_count", "eval_count", "tokens_evaluated", "tokens_predicted", "tokens_cached", "total_duration"];
const DETAILS_KEYS = ["generated_tokens", "prompt_tokens", "seed", "input_length"];
const META_INFO_KEYS = ["prompt_tokens", "completion_tokens", "cached_tokens"];

/** A key, sometimes written with escapes (the plugin must read it decoded). */
function keyEntry(keys: string[]): fc.Arbitrary<{ key: string; raw: string }> {
  return fc.tuple(fc.constantFrom(...keys), fc.nat(9)).map(([key, mode]) => ({
    key,
    raw: mode === 9 ? `"\\u${key.charCodeAt(0).toString(16).padStart(4, "0")}${key.slice(1)}"` : JSON.stringify(key),
  }));
}

const countObject = (keys: string[]) =>
  fc.array(fc.tuple(keyEntry(keys), countLit), { minLength: 1, maxLength: 5 }).map((es) => obj(es.map(([k, value]) => ({ ...k, value }))));

const bigNoise: fc.Arbitrary<J> = fc.oneof(
  // Nesting: read past at any depth (the limit bounds memory, not what is read).
  fc.constantFrom(50, 1000, 1030, 3000, 100_000).map((depth): J => ({ t: "deep", depth })),
  fc.constantFrom(600, 70_000, 1 << 20).map((n) => lit(JSON.stringify("x".repeat(n)))),
  fc.constantFrom("1e400", "-1e-400", "123456789012345678901234567890", "0.000000000000000000000000001").map(lit),
);

const noiseValue: fc.Arbitrary<J> = fc.oneof(
  { weight: 24, arbitrary: fc.jsonValue({ maxDepth: 2 }).map(fromJs) },
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2, stringUnit: "binary" }).map(fromJs) },
  { weight: 1, arbitrary: bigNoise },
  { weight: 1, arbitrary: junk },
);

const noiseKey = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("id", "object", "model", "choices", "created", "system_fingerprint", "type", "delta", "candidates", "modelVersion") },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const noiseEntries = fc.array(fc.tuple(noiseKey, noiseValue), { maxLength: 3 });

/** Where the usage sits in a root object. */
const usagePlacement: fc.Arbitrary<Array<[string, J]>> = fc.oneof(
  { weight: 6, arbitrary: countObject(USAGE_KEYS).map((u): Array<[string, J]> => [["usage", u]]) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom("response", "message"), countObject(USAGE_KEYS)).map(([w, u]): Array<[string, J]> => [[w, obj([["model", lit('"m"')], ["usage", u]])]]) },
  { weight: 2, arbitrary: countObject(GEMINI_KEYS).map((u): Array<[string, J]> => [["usageMetadata", u]]) },
  { weight: 2, arbitrary: fc.array(fc.tuple(keyEntry(ROOT_COUNT_KEYS), countLit), { minLength: 1, maxLength: 4 }).map((es): Array<[string, J]> => es.map(([k, v]) => [k.key, v])) },
  { weight: 1, arbitrary: countObject(DETAILS_KEYS).map((u): Array<[string, J]> => [["details", u]]) },
  { weight: 1, arbitrary: countObject(META_INFO_KEYS).map((u): Array<[string, J]> => [["meta_info", u]]) },
  // Self-hosted counts at the wrong depth or in client text: must not count.
  { weight: 1, arbitrary: countObject(ROOT_COUNT_KEYS).map((u): Array<[string, J]> => [["message", obj([["content", lit(JSON.stringify('"eval_count":5'))], ["options", u]])], ["generation_settings", u]]) },
  // At the wrong depth: must not count.
  { weight: 1, arbitrary: countObject(USAGE_KEYS).map((u): Array<[string, J]> => [["choices", { t: "arr", items: [obj([["usage", u]])] }]]) },
  { weight: 1, arbitrary: countObject(USAGE_KEYS).map((u): Array<[string, J]> => [["data", obj([["usage", u]])]]) },
  // Not an object: ignored.
  { weight: 1, arbitrary: fc.constantFrom<Array<[string, J]>>([["usage", lit("null")]], [["usage", { t: "arr", items: [lit("5")] }]], [["usage", lit("7")]]) },
);

const rootObject: fc.Arbitrary<J> = fc.tuple(noiseEntries, fc.option(usagePlacement, { freq: 4 }), noiseEntries).map(([a, u, b]) =>
  obj([...a, ...(u ?? []), ...b]));

// ---- bodies ----

type Eol = "\n" | "\r\n" | "\r";

type SseEvent =
  | { kind: "json"; doc: J; truncate: number | null; dataPrefix: string; before: string[] }
  | { kind: "line"; text: string };

export interface UsageCase {
  /** The upstream's :status (a failed answer that reports usage is still charged it). */
  status: string;
  sse: boolean;
  contentType: string | null;
  /** SSE */
  events: SseEvent[];
  eol: Eol;
  terminateLast: boolean;
  /** JSON */
  docs: J[];
  arrayOfRoots: boolean;
  prefix: string;
  /** Delivery: cut points for the chunks, and where (if anywhere) the stream is cut. */
  cuts: number[];
  stop: { at: number; how: "reset" | "end" } | null;
  aiLog: { kind: "json"; doc: J } | { kind: "bytes"; bytes: Uint8Array } | null;
}

const sseEvent: fc.Arbitrary<SseEvent> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      doc: rootObject,
      truncate: sometimes(fc.nat(), 8),
      dataPrefix: fc.constantFrom("data: ", "data: ", "data:"),
      before: fc.array(fc.constantFrom("event: message", ": keep-alive", "id: 7", "retry: 100", "event:", ":"), { maxLength: 2 }),
    }).map((e): SseEvent => ({ kind: "json", ...e })),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom("data: [DONE]", "data: hello", "data:", "data", ": comment", "event: ping", "id: 1", "data: 5", 'data: "x"', "data: {", "data: }", "retry: x", "DATA: {}", "data : {}").map((text): SseEvent => ({ kind: "line", text })),
  },
);

const aiLogArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(
      fc.option(fc.oneof(countLit, fc.constantFrom('"12"', '"+7"', '"-3"', '""', '"abc"', '"\\u0031\\u0032"', '" 5"', '"' + "1".repeat(300) + '"', "false").map(lit))),
      fc.option(fc.oneof(countLit, fc.constantFrom('"8"', '"0"', '"9223372036854775808"', "null").map(lit))),
      noiseEntries,
      fc.boolean(),
    ).map(([input, output, noise, repeat]) => {
      const entries: Array<[string, J]> = [["model", lit('"qwen"')], ...noise];
      if (input !== null) entries.push(["input_token", input]);
      if (output !== null) entries.push(["output_token", output]);
      if (repeat && input !== null) entries.push(["input_token", lit("1")]);
      return { kind: "json" as const, doc: obj(entries) };
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom("[]", "5", "null", '"x"', "{}").map((t) => ({ kind: "json" as const, doc: lit(t) })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ALWAYS_INVALID), fc.uint8Array({ maxLength: 20 })).map(([b, rest]) => ({ kind: "bytes" as const, bytes: Uint8Array.from([b, ...rest]) })) },
);

export const usageCaseArb: fc.Arbitrary<UsageCase> = fc.record({
  status: fc.constantFrom("200", "200", "200", "200", "201", "400", "429", "500", "503", "abc", "", "99999999999", "-1", "2OO"),
  sse: fc.boolean(),
  contentType: fc.constantFrom<string | null>("text/event-stream", "text/event-stream; charset=utf-8", "TEXT/EVENT-STREAM", "application/json", "text/plain", null),
  events: fc.array(sseEvent, { maxLength: 6 }),
  eol: fc.constantFrom<Eol>("\n", "\n", "\r\n", "\r"),
  terminateLast: fc.boolean(),
  docs: fc.array(rootObject, { minLength: 1, maxLength: 3 }),
  arrayOfRoots: fc.boolean(),
  prefix: fc.constantFrom("", "", "", " \n", "\ufeff"),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  stop: sometimes(fc.record({ at: fc.nat(), how: fc.constantFrom<"reset" | "end">("reset", "end") }), 4),
  aiLog: sometimes(aiLogArb, 5),
});

// ---- the model ----

interface Built {
  body: Buffer;
  /** The usage the plugin may read from the body, given where the stream stops. */
  usage(fed: number): Usage;
}

function buildSse(c: UsageCase): Built {
  const parts: Buffer[] = [];
  let offset = 0;
  const put = (s: string | Buffer) => {
    const b = typeof s === "string" ? Buffer.from(s, "utf8") : s;
    parts.push(b);
    offset += b.length;
  };
  // Per JSON event: its picks, whether its data is valid JSON, and the offset of its last data byte.
  const events: Array<{ ser: Serialized; valid: boolean; last: number }> = [];
  const eol = c.eol;
  c.events.forEach((e, i) => {
    const terminate = i < c.events.length - 1 || c.terminateLast;
    if (e.kind === "line") {
      put(e.text + eol);
      if (terminate) put(eol);
      return;
    }
    for (const line of e.before) put(line + eol);
    // (no depth limit: the scanner reads past any nesting in values it passes over)
    const ser = serialize([e.doc], { maxDepth: Infinity, ws: (k) => (k % 7 === 3 ? "\n" : k % 5 === 1 ? " " : "") });
    let data = ser.bytes;
    const truncated = e.truncate !== null && data.length > 1;
    if (truncated) data = data.subarray(0, 1 + (e.truncate! % (data.length - 1)));
    // Each "\n" in the JSON text starts another data line; the scanner joins them back with "\n".
    const lines: Buffer[] = [];
    let from = 0;
    for (let k = 0; k <= data.length; k++) {
      if (k === data.length || data[k] === 0x0a) {
        lines.push(data.subarray(from, k));
        from = k + 1;
      }
    }
    let last = -1;
    lines.forEach((l) => {
      put(e.dataPrefix);
      // "data:" without a space keeps a leading space of the data; add one so the text is intact.
      if (e.dataPrefix === "data:" && l[0] === 0x20) put(" ");
      put(l);
      last = offset - 1;
      put(eol);
    });
    if (terminate) put(eol);
    events.push({ ser, valid: !truncated && ser.errorAt < 0, last });
  });
  const body = Buffer.concat(parts);
  return {
    body,
    usage(fed: number): Usage {
      const u = emptyUsage();
      for (const e of events) if (e.valid && e.last < fed) commit(u, e.ser.picks);
      return u;
    },
  };
}

function buildJson(c: UsageCase): Built {
  const docs: J[] = c.arrayOfRoots ? [{ t: "arr", items: c.docs }] : c.docs;
  const ser = serialize(docs, { gap: "\n", maxDepth: Infinity, ws: (k) => (k % 4 === 2 ? " " : k % 9 === 5 ? "\n" : "") });
  const prefix = Buffer.from(c.prefix, "utf8");
  const body = Buffer.concat([prefix, ser.bytes]);
  return {
    body,
    usage(fed: number): Usage {
      const u = emptyUsage();
      const stopAt = Math.min(fed - prefix.length, ser.errorAt < 0 ? Infinity : ser.errorAt);
      commit(u, ser.picks.filter((p) => p.commitAt < stopAt));
      return u;
    },
  };
}

/** Sniffing: the content type is a hint; '{' or '[' first means JSON, a byte no JSON starts with means SSE. */
function readAsSse(contentType: string | null, body: Buffer): boolean {
  const hint = contentType !== null && contentType.toLowerCase().includes("text/event-stream");
  for (const c of body) {
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0xef || c === 0xbb || c === 0xbf) continue;
    if (hint) return !(c === 0x7b || c === 0x5b);
    const startsJson = c === 0x7b || c === 0x5b || c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e;
    return !startsJson;
  }
  return hint;
}

/**
 * ai-statistics' ai_log: the counts it gives, or null when it says nothing (a side of 0 is no
 * report: wasm-go writes 0 for "usage" without counts); the plugin charges per side the larger of
 * these and the body's.
 */
function aiLogUsage(a: UsageCase["aiLog"]): { input: bigint; output: bigint } | null {
  if (a === null || a.kind === "bytes") return null;
  const doc = a.doc;
  if (doc.t !== "obj") return null;
  if (serialize([doc], { maxDepth: 64 }).errorAt >= 0) return null;
  const state: Record<"input" | "output", { valid: boolean; value: bigint } | null> = { input: null, output: null };
  for (const e of doc.entries) {
    const field = e.key === "input_token" ? "input" : e.key === "output_token" ? "output" : null;
    if (field === null) continue;
    const v = e.value;
    let value: bigint | null = null;
    if (v.t === "lit" && v.text.startsWith('"')) {
      const s = JSON.parse(v.text) as string;
      if (utf8(s).length <= 256 && !s.startsWith("-")) value = atoi(s);
    } else if (v.t === "lit" && /^-?[0-9]/.test(v.text) && !/[.eE]/.test(v.text)) {
      value = v.text.startsWith("-") ? null : atoi(v.text);
    }
    state[field] = value === null ? { valid: false, value: 0n } : { valid: true, value };
  }
  if (state.input?.valid === false || state.output?.valid === false) return null;
  if (state.input === null && state.output === null) return null;
  const input = state.input?.value ?? 0n;
  const output = state.output?.value ?? 0n;
  if (input === 0n && output === 0n) return null;
  return { input, output };
}

function chunk(b: Buffer, cuts: number[]): Buffer[] {
  if (b.length === 0) return [];
  const points = [...new Set(cuts.map((x) => x % b.length))].filter((x) => x > 0).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(b.subarray(from, p));
    from = p;
  }
  out.push(b.subarray(from));
  return out;
}

async function exchange(vm: PluginVm, c: UsageCase, fed: Buffer): Promise<Buffer> {
  const filterState: Record<string, Uint8Array> = {};
  if (c.aiLog !== null) filterState["wasm.ai_log"] = c.aiLog.kind === "bytes" ? c.aiLog.bytes : serialize([c.aiLog.doc]).bytes;
  const s = vm.newStream({ filterState });
  s.requestHeaders(requestHeaders("POST", CHAT_PATH, CONSUMER, [["content-type", "application/json"]]), false);
  s.requestBody('{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}', true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null || s.finished, "the request to go upstream");
  if (s.localResponse !== null || !s.upstream.ended) violated(`the chat request did not go upstream: ${s.describe()}`);
  const headers: Array<[string, string]> = [[":status", c.status]];
  if (c.contentType !== null) headers.push(["content-type", c.contentType]);
  const reset = c.stop !== null && c.stop.how === "reset";
  const pieces = chunk(fed, c.cuts);
  s.responseHeaders(headers, pieces.length === 0 && !reset);
  pieces.forEach((p, i) => s.responseBody(p, i === pieces.length - 1 && !reset));
  if (reset) s.finish("upstream reset");
  await s.waitFor(() => s.finished, "the stream to end");
  return s.downstream.body;
}

/** The body, the part of it the upstream sends, and the charge expected (-1: only bounded). */
export function predict(c: UsageCase): { body: Buffer; fed: Buffer; expected: bigint; sse: boolean; fromLog: boolean } {
  const built = c.sse ? buildSse(c) : buildJson(c);
  const body = built.body;
  const fedLength = c.stop === null ? body.length : c.stop.at % (body.length + 1);
  const fed = body.subarray(0, fedLength);
  // Which format the plugin reads is decided by sniffing; a body built as one format and read as
  // the other is not modelled (only bounds are checked then).
  const sse = readAsSse(c.contentType, fed);
  const log = aiLogUsage(c.aiLog);
  let expected: bigint;
  if (sse !== c.sse && fed.length > 0) expected = -1n;
  else {
    const own = sidesOf(built.usage(fedLength));
    const input = log !== null && log.input > own.input ? log.input : own.input;
    const output = log !== null && log.output > own.output ? log.output : own.output;
    expected = saturatingAdd(input, output);
  }
  return { body, fed, expected, sse, fromLog: log !== null };
}

export const usageBody = defineProperty<UsageCase>({
  name: "usage-body",
  description: "SSE/JSON answers of any shape, split and cut anywhere: the charge is exactly the valid usage (or 0)",
  arbitrary: () => usageCaseArb,
  async check(env: FuzzEnv, c: UsageCase): Promise<void> {
    const { client } = await env.redis();
    await client.command("SET", KEY_PREFIX + CONSUMER, BALANCE.toString());
    const predicted = predict(c);
    const { body, fed, sse, fromLog } = predicted;
    const expected = predicted.expected > MAX_CHARGE ? MAX_CHARGE : predicted.expected;
    const fedLength = fed.length;
    const vm = await env.sharedVm("usage-body", CONFIG, "real");
    const downstream = await exchange(vm, c, fed);
    await vm.idle();
    expectNoTrap(vm);
    const after = BigInt(String(await client.command("GET", KEY_PREFIX + CONSUMER)));
    const charged = BALANCE - after;
    if (expected >= 0n) {
      expectThat(charged === expected, () => `charged ${charged}, expected ${expected} (read as ${sse ? "SSE" : "JSON"}, ${fedLength} of ${body.length} bytes${c.stop ? `, then ${c.stop.how}` : ""}${fromLog ? ", from ai_log" : ""})`);
    } else {
      expectThat(charged >= 0n && charged <= I64_MAX, () => `charged ${charged}`);
    }
    if (c.stop === null || c.stop.how === "end") {
      expectThat(downstream.equals(fed), () => `the client got ${downstream.length} bytes, not the ${fed.length} the upstream sent`);
    }
  },
});
