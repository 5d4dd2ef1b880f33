// Metered request bodies through the request body reader (build/test/request_body.wasm): bodies
// built as trees with the keys the reader looks for (stream, stream_options, output limits in
// every form the upstreams accept, n, best_of, generationConfig, model), written with escapes,
// case variants and any whitespace, between noise values (any JSON, deep nesting past the
// verified levels, long strings), split into chunks anywhere; and the same bodies broken
// (cut short, a byte changed). What must hold:
//   - no trap, no abort line, linear memory grown by at most 1 MiB while reading;
//   - for a valid body, the facts are the modelled ones (the rules of request/reader.ts, written
//     again here from the spec), and the bytes the upstream gets are exactly the input with the
//     modelled edits (streaming path: whatever the cuts; buffered path: the front edit), which
//     parse as JSON equal to the input plus stream_options.include_usage exactly where the rule
//     says so, and are the input's bytes otherwise;
//   - for a broken body: complete is false unless the bytes still parse.
import fc from "fast-check";
import { RequestBodyModule, loadRequestBody } from "../../tests/unit/request_body_module";
import { FuzzEnv } from "../env";
import { defineProperty, expectThat, sometimes, violated } from "../property";

// ---- trees ----

type Node =
  | { t: "obj"; entries: Entry[]; close: string }
  | { t: "arr"; items: Node[]; close: string }
  | { t: "lit"; raw: string };

interface Entry {
  key: string; // decoded
  raw: string; // as written, quotes included
  value: Node;
  ws: string; // before the key
}

interface RequestCase {
  lead: string;
  root: Node & { t: "obj" };
  trail: string;
  inject: boolean;
  cuts: number[];
  /** Break the body: cut it at this fraction, or change the byte there. */
  damage: { at: number; how: "cut" | "byte"; byte: number } | null;
}

const ws = fc.constantFrom("", "", "", " ", "\n", "\t ", "\r\n  ");
const lit = (raw: string): Node => ({ t: "lit", raw });

/** A key as written: plain, or its first character as a \u escape. */
const keyRaw = (key: string) => fc.boolean().map((esc) => (esc && key.length > 0 ? `"\\u${key.charCodeAt(0).toString(16).padStart(4, "0")}${JSON.stringify(key).slice(2)}` : JSON.stringify(key)));
const entry = (key: string, value: fc.Arbitrary<Node>): fc.Arbitrary<Entry> =>
  fc.record({ raw: keyRaw(key), value, ws }).map((e) => ({ key, ...e }));
const objOf = (entries: fc.Arbitrary<Entry[]>): fc.Arbitrary<Node> => fc.record({ entries, close: ws }).map((o) => ({ t: "obj" as const, ...o }));

/** Values with how pydantic reads them as a bool (1, 0) and as a limit (value, "u" unreadable, null not given). */
type Reading = { raw: string; flag: 0 | 1; limit: bigint | "u" | null };
const R = (raw: string, flag: 0 | 1, limit: bigint | "u" | null): Reading => ({ raw, flag, limit });
const READINGS: Reading[] = [
  R("true", 1, "u"), R("false", 0, "u"), R("null", 0, null), R('"true"', 1, "u"), R('"yes"', 1, "u"), R('"no"', 0, "u"), R('"x"', 0, "u"),
  R("1", 1, 1n), R("0", 0, "u"), R("1.0", 1, 1n), R("2", 0, 2n), R('"1"', 1, 1n), R("100", 0, 100n), R('"100"', 0, 100n), R("1e3", 0, 1000n),
  R("2500.0", 0, 2500n), R('" +4_096 "', 0, 4096n), R("1.5", 0, "u"), R("-5", 0, "u"), R("{}", 0, "u"), R("[]", 0, "u"), R("1e400", 0, "u"),
  R('"1e3"', 0, "u"), R("9007199254740992", 0, "u"), R('"\\u0037"', 0, 7n),
];
const reading = fc.constantFrom(...READINGS);
const readingNode = (r: Reading): Node => lit(r.raw);

const LIMIT_KEYS = ["max_tokens", "max_completion_tokens", "max_output_tokens", "MAX_TOKENS", "Max_Completion_Tokens"];
const noiseKey = fc.oneof(fc.constantFrom("messages", "temperature", "tools", "user", "Stream", "stream_option", "input", "x"), fc.string({ maxLength: 6 }).map((s) => "k" + s));

const deep = fc.constantFrom(3, 40, 300, 17_000).map((d): Node => {
  let n: Node = lit('"deep"');
  for (let i = 0; i < d; i++) n = i % 2 === 0 ? { t: "arr", items: [n], close: "" } : { t: "obj", entries: [{ key: "a", raw: '"a"', value: n, ws: "" }], close: "" };
  return n;
});
const noiseValue: fc.Arbitrary<Node> = fc.oneof(
  { weight: 20, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => lit(JSON.stringify(v))) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }).map((s) => lit(JSON.stringify(s))) },
  // Keys the reader looks for, one level down: never the request's.
  { weight: 3, arbitrary: fc.constantFrom('{"stream":true}', '[{"max_tokens":5}]', '{"stream_options":{"include_usage":false}}', '{"n":0}').map(lit) },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: fc.constantFrom(5000, 70_000).map((n) => lit(JSON.stringify("y".repeat(n) + "}]\""))) },
);
const noiseEntry = fc.tuple(noiseKey, noiseValue, ws).map(([key, value, w]): Entry => ({ key, raw: JSON.stringify(key), value, ws: w }));

const streamOptions: fc.Arbitrary<Node> = fc.oneof(
  { weight: 6, arbitrary: objOf(fc.array(fc.oneof({ weight: 3, arbitrary: entry("include_usage", reading.map(readingNode)) }, { weight: 1, arbitrary: entry("continuous_usage_stats", fc.constant(lit("true"))) }, { weight: 1, arbitrary: noiseEntry }), { maxLength: 3 })) },
  { weight: 2, arbitrary: fc.constantFrom("null", "[]", '"x"', "true").map(lit) },
);
const generationConfig: fc.Arbitrary<Node> = objOf(fc.array(fc.oneof(
  entry("maxOutputTokens", reading.map(readingNode)),
  entry("max_output_tokens", reading.map(readingNode)),
  entry("candidateCount", reading.map(readingNode)),
  noiseEntry,
), { maxLength: 3 }));

const specialEntry: fc.Arbitrary<Entry> = fc.oneof(
  { weight: 6, arbitrary: entry("stream", reading.map(readingNode)) },
  { weight: 5, arbitrary: entry("stream_options", streamOptions) },
  { weight: 4, arbitrary: fc.constantFrom(...LIMIT_KEYS).chain((k) => entry(k, reading.map(readingNode))) },
  { weight: 2, arbitrary: fc.constantFrom("n", "best_of", "N").chain((k) => entry(k, reading.map(readingNode))) },
  { weight: 2, arbitrary: entry("generationConfig", generationConfig) },
  { weight: 2, arbitrary: entry("model", fc.oneof(fc.string({ unit: "grapheme", maxLength: 20 }).map((s) => lit(JSON.stringify(s))), fc.constantFrom(lit("5"), lit(JSON.stringify("m".repeat(257)))))) },
  { weight: 1, arbitrary: entry("background", reading.map(readingNode)) },
);

export const requestCaseArb: fc.Arbitrary<RequestCase> = fc.record({
  lead: fc.constantFrom("", "", "", " ", "\ufeff", "\ufeff\n ", " ".repeat(70)),
  root: objOf(fc.array(fc.oneof({ weight: 3, arbitrary: specialEntry }, { weight: 2, arbitrary: noiseEntry }), { maxLength: 8 })) as fc.Arbitrary<Node & { t: "obj" }>,
  trail: ws,
  inject: fc.boolean(),
  cuts: fc.array(fc.nat(), { maxLength: 5 }),
  damage: sometimes(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), how: fc.constantFrom<"cut" | "byte">("cut", "byte"), byte: fc.constantFrom(0x00, 0x22, 0x2c, 0x5d, 0x7d, 0xff, 0x31, 0x20) }), 6),
});

// ---- the model ----

const INCLUDE = '"stream_options":{"include_usage":true}';
const MAX_EDITS = 16;
const KIND_LEVELS = 16384;

interface Plan {
  /** Literal nodes to replace, and objects to add the member to. */
  replace: Map<Node, string>;
  member: Set<Node>;
  root: boolean;
}

interface Expected {
  stream: number;
  usageAsked: boolean;
  hasStreamOptions: boolean;
  injected: boolean;
  model: string;
  outputLimit: string;
  outputLimitUnreadable: boolean;
  choices: string;
  background: boolean;
  plan: Plan;
  depth: number;
}

const readingOf = (n: Node): Reading | null => (n.t === "lit" ? READINGS.find((r) => r.raw === n.raw) ?? null : null);
const fold = (k: string) => k.toLowerCase();

function depthOf(n: Node): number {
  // Iterative: the deep noise is 17000 levels.
  let max = 0;
  const stack: Array<[Node, number]> = [[n, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x.t === "lit") {
      // A JSON value as text: its bracket depth.
      let cur = 0;
      let inStr = false;
      for (let i = 0; i < x.raw.length; i++) {
        const c = x.raw[i];
        if (inStr) { if (c === "\\") i++; else if (c === '"') inStr = false; continue; }
        if (c === '"') inStr = true;
        else if (c === "[" || c === "{") max = Math.max(max, d + ++cur);
        else if (c === "]" || c === "}") cur--;
      }
      continue;
    }
    max = Math.max(max, d + 1);
    if (x.t === "arr") for (const it of x.items) stack.push([it, d + 1]);
    else for (const e of x.entries) stack.push([e.value, d + 1]);
  }
  return max;
}

function model(c: RequestCase): Expected {
  const plan: Plan = { replace: new Map(), member: new Set(), root: false };
  let stream = -1;
  let hasSO = false;
  let outcome: "none" | "asked" | "fixed" | "unfixed" = "none";
  let edits = 0;
  let limit: bigint | null = null;
  let unreadable = false;
  const mult = { n: 1n, best_of: 1n, cand: 1n };
  let modelName = "";
  let background = false;
  const canEdit = () => c.inject && edits < MAX_EDITS;
  const takeLimit = (r: Reading | null) => {
    if (r === null || r.limit === "u") { unreadable = true; return; }
    if (r.limit !== null && (limit === null || r.limit > limit)) limit = r.limit;
  };
  const takeMult = (which: "n" | "best_of" | "cand", r: Reading | null) => {
    if (r === null || r.limit === "u") { unreadable = true; return; }
    if (r.limit !== null && r.limit > mult[which]) mult[which] = r.limit;
  };
  for (const e of c.root.entries) {
    const k = e.key;
    const v = e.value;
    if (k === "stream") {
      stream = readingOf(v)!.flag;
    } else if (k === "background") {
      background = readingOf(v)!.flag === 1;
    } else if (k === "model") {
      const s = v.t === "lit" && v.raw.startsWith('"') ? (JSON.parse(v.raw) as string) : null;
      modelName = s !== null && Buffer.byteLength(s) <= 256 ? s : "";
    } else if (k === "stream_options") {
      hasSO = true;
      if (v.t === "obj") {
        let usage: "absent" | "asked" | "fixed" | "unfixed" = "absent";
        for (const m of v.entries) {
          if (m.key !== "include_usage") continue;
          const r = readingOf(m.value)!;
          if (r.raw === "false" || r.raw === "null") {
            if (canEdit()) { edits++; plan.replace.set(m.value, r.raw === "false" ? "true " : "true"); usage = "fixed"; } else usage = "unfixed";
          } else usage = r.flag === 1 ? "asked" : "unfixed";
        }
        if (usage === "absent") {
          if (canEdit() && (v.entries.length > 0 || stream === 1)) { edits++; plan.member.add(v); usage = "fixed"; } else usage = "unfixed";
        }
        outcome = usage;
      } else if (v.t === "lit" && v.raw === "null" && canEdit() && stream === 1) {
        edits++;
        plan.replace.set(v, '{"include_usage":true}');
        outcome = "fixed";
      } else {
        outcome = "unfixed";
      }
    } else if (LIMIT_KEYS.map(fold).includes(fold(k))) {
      takeLimit(readingOf(v));
    } else if (fold(k) === "n" || k === "best_of") {
      takeMult(fold(k) === "n" ? "n" : "best_of", readingOf(v));
    } else if (k === "generationConfig" && v.t === "obj") {
      for (const m of v.entries) {
        if (m.key === "maxOutputTokens" || m.key === "max_output_tokens") takeLimit(readingOf(m.value));
        else if (m.key === "candidateCount") takeMult("cand", readingOf(m.value));
      }
    }
  }
  if (stream === 1 && !hasSO && canEdit()) {
    plan.root = true;
    outcome = "fixed";
  }
  const satMul = (a: bigint, b: bigint) => (a * b > 9223372036854775807n ? 9223372036854775807n : a * b);
  return {
    stream,
    usageAsked: outcome === "asked",
    hasStreamOptions: hasSO,
    injected: stream === 1 && outcome === "fixed",
    model: modelName,
    outputLimit: String(limit ?? -1n),
    outputLimitUnreadable: unreadable,
    choices: String(satMul(satMul(mult.n, mult.best_of), mult.cand)),
    background,
    plan,
    depth: depthOf(c.root),
  };
}

/** The body as written; with a plan, as the upstream should get it. */
function write(c: RequestCase, plan: Plan | null): string {
  const out: string[] = [c.lead];
  // Iterative writer (deep noise): a stack of pending pieces.
  type Item = { n: Node; top: boolean } | string;
  const stack: Item[] = [c.trail, { n: c.root, top: true }];
  while (stack.length > 0) {
    const it = stack.pop()!;
    if (typeof it === "string") { out.push(it); continue; }
    const n = it.n;
    if (n.t === "lit") { out.push(plan?.replace.get(n) ?? n.raw); continue; }
    if (n.t === "arr") {
      out.push("[");
      const pieces: Item[] = [];
      n.items.forEach((x, i) => { if (i > 0) pieces.push(","); pieces.push({ n: x, top: false }); });
      pieces.push(n.close + "]");
      for (let i = pieces.length - 1; i >= 0; i--) stack.push(pieces[i]);
      continue;
    }
    out.push("{");
    const pieces: Item[] = [];
    n.entries.forEach((e, i) => { pieces.push(`${i > 0 ? "," : ""}${e.ws}${e.raw}:`); pieces.push({ n: e.value, top: false }); });
    let add = "";
    if (plan !== null && plan.member.has(n)) add = (n.entries.length > 0 ? "," : "") + '"include_usage":true';
    if (plan !== null && it.top && plan.root) add = (n.entries.length > 0 ? "," : "") + INCLUDE;
    pieces.push(n.close + add + "}");
    for (let i = pieces.length - 1; i >= 0; i--) stack.push(pieces[i]);
  }
  return out.join("");
}

// ---- the check ----

let instance: RequestBodyModule | null = null;
function reader(): RequestBodyModule {
  instance ??= loadRequestBody();
  return instance;
}

function guarded<T>(fn: (m: RequestBodyModule) => T, what: string): T {
  const m = reader();
  try {
    const out = fn(m);
    if (m.logs.length > 0) violated(`${what}: the module logged ${m.logs.join(" | ")}`);
    return out;
  } catch (err) {
    instance = null; // a trap leaves the instance unusable
    throw err;
  }
}

const parses = (b: Buffer): boolean => {
  try {
    JSON.parse(b.toString("utf8").replace(/^\ufeff/, ""));
    return true;
  } catch {
    return false;
  }
};

export const requestBody = defineProperty<RequestCase>({
  name: "request-body",
  description: "request bodies read and rewritten chunk by chunk: modelled facts, exact edits, bounded memory, never trap",
  arbitrary: () => requestCaseArb,
  async check(_env: FuzzEnv, c: RequestCase): Promise<void> {
    const text = write(c, null);
    let body = Buffer.from(text, "utf8");
    const cuts = [...c.cuts].map((x) => x % (body.length + 1)).sort((a, b) => a - b);
    const mem = guarded((m) => m.memory(body, c.inject, 4096, false), "memory");
    expectThat(mem.grown <= 1 << 20, () => `reading grew linear memory by ${mem.grown} bytes`);

    if (c.damage !== null) {
      const at = Math.floor(c.damage.at * body.length);
      body = c.damage.how === "cut" ? body.subarray(0, at) : Buffer.concat([body.subarray(0, at), Buffer.from([c.damage.byte]), body.subarray(at + 1)]);
      const r = guarded((m) => m.rewrite(body, c.inject, cuts.filter((x) => x <= body.length)), "rewrite (damaged)");
      const b = guarded((m) => m.read(body, c.inject, cuts.filter((x) => x <= body.length)), "read (damaged)");
      if (r.complete) expectThat(parses(body), () => "a body JSON.parse refuses was read as complete");
      expectThat(r.complete === b.complete, () => "the streaming and buffered paths disagree on complete");
      if (!r.complete) expectThat(!r.injected && b.drain === -1, () => "an incomplete body was reported injected, or edited at the front");
      return;
    }

    const want = model(c);
    const verified = want.depth <= KIND_LEVELS;
    const r = guarded((m) => m.rewrite(body, c.inject, cuts), "rewrite");
    const facts = {
      stream: r.stream, usageAsked: r.usageAsked, hasStreamOptions: r.hasStreamOptions, model: r.model, outputLimit: r.outputLimit,
      outputLimitUnreadable: r.outputLimitUnreadable, choices: r.choices, background: r.background, complete: r.complete, bytes: r.bytes,
    };
    const wantFacts = {
      stream: want.stream, usageAsked: want.usageAsked, hasStreamOptions: want.hasStreamOptions, model: want.model, outputLimit: want.outputLimit,
      outputLimitUnreadable: want.outputLimitUnreadable, choices: want.choices, background: want.background, complete: verified, bytes: String(body.length),
    };
    expectThat(JSON.stringify(facts) === JSON.stringify(wantFacts), () => `facts ${JSON.stringify(facts)}\n  model ${JSON.stringify(wantFacts)}`);
    expectThat(r.injected === (want.injected && verified), () => `injected ${r.injected}, the model says ${want.injected && verified}`);

    // The streaming path: exactly the planned edits, wherever the chunks are cut.
    const expected = Buffer.from(write(c, want.plan), "utf8");
    expectThat(r.body.equals(expected), () => `rewritten body differs from the model's:\n  got  ${r.body.toString().slice(0, 400)}\n  want ${expected.toString().slice(0, 400)}`);
    const edited = !expected.equals(body);
    if (!edited) expectThat(r.changed.length === 0, () => `chunks ${r.changed} replaced by identical bytes`);
    if (verified && body.length < 200_000) {
      expectThat(parses(r.body), () => "the rewritten body does not parse");
      const before = JSON.parse(text.replace(/^\ufeff/, ""));
      const after = JSON.parse(r.body.toString("utf8").replace(/^\ufeff/, ""));
      if (want.injected) {
        const so = before.stream_options;
        before.stream_options = so !== null && typeof so === "object" && !Array.isArray(so) ? { ...so, include_usage: true } : { include_usage: true };
      } else if (edited && before.stream_options !== null && typeof before.stream_options === "object" && !Array.isArray(before.stream_options)) {
        // Not streaming, or an earlier duplicate: an edit only ever sets include_usage.
        if (after.stream_options?.include_usage === true) before.stream_options.include_usage = true;
      } else if (edited && before.stream_options === null && JSON.stringify(after.stream_options) === '{"include_usage":true}') {
        // A null stream_options edited while "stream" read true, and a later duplicate "stream" that is
        // no boolean (every upstream refuses the body): the edit still only set include_usage.
        before.stream_options = { include_usage: true };
      }
      expectThat(JSON.stringify(sortKeys(after)) === JSON.stringify(sortKeys(before)), () => "the rewritten body is not the input plus include_usage");
    }
    if (body.length <= 1500) {
      const all = guarded((m) => m.allSplits(body, c.inject), "all splits");
      expectThat(all.mismatch === null, () => `the result differs when the body is cut at ${all.mismatch} (-1: byte by byte)`);
    }

    // The buffered path: the front edit, only with no stream_options at all.
    const b = guarded((m) => m.read(body, c.inject, cuts), "read");
    const leadBytes = Buffer.byteLength(c.lead);
    const front = c.inject && verified && want.stream === 1 && !want.hasStreamOptions && leadBytes < 64;
    expectThat(b.drain === (front ? leadBytes + 1 : -1), () => `front edit drains ${b.drain}, the model says ${front ? leadBytes + 1 : -1}`);
    expectThat(b.injected === front, () => `buffered injected ${b.injected}, the model says ${front}`);
    const frontWant = front ? Buffer.concat([body.subarray(0, leadBytes + 1), Buffer.from(INCLUDE + (c.root.entries.length > 0 ? "," : "")), body.subarray(leadBytes + 1)]) : body;
    expectThat(b.body.equals(frontWant), () => `buffered body differs:\n  got  ${b.body.toString().slice(0, 300)}\n  want ${frontWant.toString().slice(0, 300)}`);
    expectThat(b.usageAsked === want.usageAsked, () => `buffered usageAsked ${b.usageAsked}, the model says ${want.usageAsked}`);
  },
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) o[k] = sortKeys((v as Record<string, unknown>)[k]);
    return o;
  }
  return v;
}
