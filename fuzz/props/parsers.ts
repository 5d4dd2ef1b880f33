// The parsers on their own, through the parsers test module (build/test/parsers.wasm), for inputs
// the plugin's host cannot deliver whole (a RESP reply the host cannot frame never reaches the
// decoder) and for volume: the same code as in the plugin, compared value for value with the
// independent models (model/resp.ts, model/form.ts, model/usage.ts):
//   resp  — any bytes: the decoder's value or failure equals the reference decoder's;
//   query — any bytes: url.ParseQuery's pairs, in order;
//   path  — any bytes: url.Parse's Path and RawQuery;
//   usage — a generated model answer: the same result whole, cut in two anywhere, and byte by
//           byte, and that result is the modelled usage.
// No input may trap the module.
import fc from "fast-check";
import { ParsersModule, loadParsers } from "../../tests/unit/parsers_module";
import { FuzzEnv } from "../env";
import { parseQuery, splitPath } from "../model/form";
import { RefValue, refDecode } from "../model/resp";
import { decodeUtf8 } from "../model/text";
import { defineProperty, expectThat, violated } from "../property";
import { UsageCase, predict, usageCaseArb } from "./usage-body";
import { respBytesArb } from "./resp-reply";

export type ParsersCase =
  | { kind: "resp"; bytes: Uint8Array }
  | { kind: "query"; bytes: Uint8Array }
  | { kind: "path"; bytes: Uint8Array }
  | { kind: "usage"; c: UsageCase };

let instance: ParsersModule | null = null;

function parsers(): ParsersModule {
  instance ??= loadParsers();
  return instance;
}

/** Runs one call; a trap (RuntimeError) or an abort line is a failure, and the instance is replaced. */
function call<T>(fn: (m: ParsersModule) => T, what: string): T {
  const m = parsers();
  try {
    const out = fn(m);
    if (m.logs.length > 0) violated(`${what}: the parsers module logged ${m.logs.join(" | ")}`);
    return out;
  } catch (err) {
    instance = null;
    throw err;
  }
}

function refJson(v: RefValue): unknown {
  switch (v.type) {
    case "simple": return { simple: v.text };
    case "error": return { error: v.text };
    case "integer": return { integer: v.value.toString() };
    case "bulk": return { bulk: v.text };
    case "null": return null;
    case "array": return v.items.map(refJson);
  }
}

const textBytes = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }).map((s) => new Uint8Array(Buffer.from(s, "utf8"))),
  fc.array(fc.constantFrom("consumer", "quota", "=", "&", ";", "%", "%4", "%41", "%zz", "%FF", "%C3%A9", "+", "?", "#", "/", "//", "http:", "a", "\u00e9", "%2F", "%00"), { maxLength: 12 })
    .map((parts) => new Uint8Array(Buffer.from(parts.join(""), "utf8"))),
);

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export const parsersProperty = defineProperty<ParsersCase>({
  name: "parsers",
  description: "RESP, form, path and usage parsers in the parsers module: equal to the reference models, never trap",
  arbitrary: () => fc.oneof(
    { weight: 3, arbitrary: respBytesArb.map((bytes): ParsersCase => ({ kind: "resp", bytes })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): ParsersCase => ({ kind: "resp", bytes })) },
    { weight: 2, arbitrary: textBytes.map((bytes): ParsersCase => ({ kind: "query", bytes })) },
    { weight: 2, arbitrary: textBytes.map((bytes): ParsersCase => ({ kind: "path", bytes })) },
    { weight: 2, arbitrary: usageCaseArb.map((c): ParsersCase => ({ kind: "usage", c: { ...c, stop: null, aiLog: null } })) },
  ),
  async check(_env: FuzzEnv, c: ParsersCase): Promise<void> {
    switch (c.kind) {
      case "resp": {
        const got = call((m) => m.json("resp_decode", c.bytes, 8, 4096), "resp_decode");
        const want = refDecode(c.bytes);
        if (want.ok) expectThat("value" in got && same(got.value, refJson(want.value)), () => `resp_decode gave ${JSON.stringify(got).slice(0, 300)}, the reference ${JSON.stringify(refJson(want.value)).slice(0, 300)}`);
        else expectThat("fail" in got, () => `resp_decode accepted ${JSON.stringify(got).slice(0, 300)}; the reference refuses it (${want.why})`);
        return;
      }
      case "query": {
        const got = call((m) => m.json("parse_query", c.bytes, 1000), "parse_query");
        const want = parseQuery(decodeUtf8(c.bytes));
        expectThat(same(got.pairs, want), () => `parse_query gave ${JSON.stringify(got.pairs)}, the reference ${JSON.stringify(want)}`);
        return;
      }
      case "path": {
        const got = call((m) => m.json("split_path", c.bytes), "split_path");
        const want = splitPath(decodeUtf8(c.bytes));
        expectThat(same(got, want), () => `split_path gave ${JSON.stringify(got)}, the reference ${JSON.stringify(want)}`);
        return;
      }
      case "usage": {
        const { body, expected, sse } = predict(c.c);
        if (body.length > 2048 || expected < 0n) return; // every split is quadratic; keep it small
        const hint = c.c.contentType !== null && c.c.contentType.toLowerCase().includes("text/event-stream");
        const got = call((m) => m.json("usage_all_splits", body, hint ? 1 : 0, 0), "usage_all_splits");
        expectThat(got.mismatch === null, () => `the usage differs when the body is cut at ${got.mismatch} (-1: byte by byte)`);
        const u = got.result.usage;
        const total = BigInt(u.total);
        const charge = u.found && total > 0n ? total : 0n;
        expectThat(got.result.sse === sse, () => `read as ${got.result.sse ? "SSE" : "JSON"}, the model says ${sse ? "SSE" : "JSON"}`);
        expectThat(charge === expected, () => `usage ${JSON.stringify(u)}: charge ${charge}, the model says ${expected}`);
        return;
      }
    }
  },
});
