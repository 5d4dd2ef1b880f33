// Test-only entry for the request body reader (quota/request_body.ts) and the reservation estimate
// (quota/estimate.ts). The caller writes the body at `input_alloc(size)` and, for chunked runs, the
// cut points (ascending byte offsets, as i32) at `cuts_alloc(n)`; a `run_*` call returns the length
// of a JSON result at `output_ptr()`, and leaves the body the upstream would get (the rewritten
// chunks joined, or the buffered edit applied) at `body_ptr()`, `body_len()` bytes.
import "../abi/abort";
export { input_alloc, output_ptr } from "./_io";
import { input, clamp, emit } from "./_io";
import { quoteJsonString } from "../json";
import { RequestBodyReader } from "../request/reader";
import { RequestFacts } from "../request/facts";
import { integralNumber, integralString } from "../request/lax";
import { ReservationEstimate, estimateFor, reservationFor, reservationForBody, reservationForFacts } from "../quota/estimate";
import { outputAllowed } from "../quota/estimate_bounds";

let cuts = new Int32Array(0);
let lastCannotAskUsage = false;

/** After a run_rewrite: the reader's cannotAskUsage (a stream the plugin refuses, request_verdict.ts). */
export function last_cannot_ask_usage(): i32 {
  return lastCannotAskUsage ? 1 : 0;
}
let body = new Uint8Array(0);
let bodyLen = 0;

/** Room for `n` cut points. */
export function cuts_alloc(n: i32): usize {
  if (n > cuts.length) cuts = new Int32Array(n);
  return cuts.dataStart;
}

export function body_ptr(): usize {
  return body.dataStart;
}

export function body_len(): i32 {
  return bodyLen;
}

function bodyReset(): void {
  bodyLen = 0;
}

function bodyAppend(p: usize, n: i32): void {
  if (n <= 0) return;
  if (bodyLen + n > body.length) {
    let size = body.length * 2;
    if (size < bodyLen + n) size = bodyLen + n;
    const grown = new Uint8Array(size);
    memory.copy(grown.dataStart, body.dataStart, <usize>bodyLen);
    body = grown;
  }
  memory.copy(body.dataStart + <usize>bodyLen, p, <usize>n);
  bodyLen += n;
}

function factsJson(f: RequestFacts, injected: bool): string {
  return `{"stream":${f.stream},"usageAsked":${f.usageAsked},"hasStreamOptions":${f.hasStreamOptions},"model":${quoteJsonString(f.model)},` +
    `"outputLimit":"${f.outputLimit}","outputLimitUnreadable":${f.outputLimitUnreadable},"choices":"${f.choices}",` +
    `"background":${f.background},"complete":${f.complete},"bytes":"${f.bytes}","injected":${injected},"unreadable":${f.unreadable},"stateful":${f.stateful}`;
}

/**
 * The streaming path over input[0, len) cut at the `ncuts` points (-1: byte by byte); the rewritten
 * body goes to body_ptr(). Returns the facts and which chunks changed (indexes).
 */
function rewrite(len: i32, inject: bool, ncuts: i32): string {
  const n = clamp(len);
  const r = new RequestBodyReader(inject);
  bodyReset();
  let changed = "";
  let from = 0;
  const count = chunkCount(ncuts, n);
  for (let k = 0; k < count; k++) {
    const to = boundary(k, count, ncuts, n, from);
    const out = r.rewriteChunk(input.dataStart + <usize>from, <usize>(to - from), k == count - 1);
    if (out === null) {
      bodyAppend(input.dataStart + <usize>from, to - from);
    } else {
      bodyAppend(out.dataStart, out.length);
      changed += (changed.length > 0 ? "," : "") + k.toString();
    }
    from = to;
  }
  lastCannotAskUsage = r.cannotAskUsage;
  return factsJson(r.facts, r.injected) + `,"changed":[${changed}]}`;
}

/** Chunks for `ncuts` cut points (-1: one per byte, at least one). */
function chunkCount(ncuts: i32, n: i32): i32 {
  if (ncuts < 0) return n > 0 ? n : 1;
  return ncuts + 1;
}

/** Where chunk k ends (cut points out of order or range are clamped: chunks may be empty). */
function boundary(k: i32, count: i32, ncuts: i32, n: i32, from: i32): i32 {
  if (k == count - 1) return n;
  let to = ncuts < 0 ? k + 1 : cuts[k];
  if (to < from) to = from;
  if (to > n) to = n;
  return to;
}

export function run_rewrite(len: i32, inject: i32, ncuts: i32): i32 {
  return emit(rewrite(len, inject != 0, ncuts));
}

/**
 * The streaming path whole, then cut in two at every byte, then byte by byte: the facts and the
 * rewritten body must not depend on the cuts. Returns {"result": <whole>, "mismatch": null | cut | -1}.
 */
export function run_rewrite_all_splits(len: i32, inject: i32): i32 {
  const n = clamp(len);
  const whole = rewrite(n, inject != 0, 0);
  const wholeBody = body.slice(0, bodyLen);
  const saved = cuts.length > 0 ? cuts[0] : 0;
  cuts_alloc(1);
  let mismatch = "null";
  for (let i = 0; i <= n && mismatch == "null"; i++) {
    cuts[0] = i;
    const got = rewrite(n, inject != 0, 1);
    if (!sameFacts(got, whole) || !sameBody(wholeBody)) mismatch = i.toString();
  }
  if (mismatch == "null") {
    const got = rewrite(n, inject != 0, -1);
    if (!sameFacts(got, whole) || !sameBody(wholeBody)) mismatch = "-1";
  }
  cuts[0] = saved;
  // Leave the whole run's body for the caller.
  bodyReset();
  bodyAppend(wholeBody.dataStart, wholeBody.length);
  return emit(`{"result":${whole},"mismatch":${mismatch}}`);
}

/** The facts part (the "changed" list differs with the cuts by nature). */
function sameFacts(a: string, b: string): bool {
  const i = a.indexOf(`,"changed":`);
  const j = b.indexOf(`,"changed":`);
  return a.substring(0, i) == b.substring(0, j);
}

function sameBody(want: Uint8Array): bool {
  if (bodyLen != want.length) return false;
  return memory.compare(body.dataStart, want.dataStart, <usize>bodyLen) == 0;
}

/** The buffered path over input[0, len) cut at the points; the edited body goes to body_ptr(). */
export function run_read(len: i32, inject: i32, ncuts: i32): i32 {
  const n = clamp(len);
  const r = new RequestBodyReader(inject != 0);
  let from = 0;
  const count = chunkCount(ncuts, n);
  for (let k = 0; k < count; k++) {
    const to = boundary(k, count, ncuts, n, from);
    r.read(input.dataStart + <usize>from, <usize>(to - from));
    from = to;
  }
  r.finish();
  bodyReset();
  const e = r.frontEdit();
  let drain = -1;
  if (e !== null) {
    drain = e.drain;
    bodyAppend(e.prepend.dataStart, e.prepend.length);
    bodyAppend(input.dataStart + <usize>e.drain, n - e.drain);
  } else {
    bodyAppend(input.dataStart, n);
  }
  return emit(factsJson(r.facts, r.injected) + `,"drain":${drain}}`);
}

/**
 * Linear memory grown while one reader reads input[0, len) in `chunk`-byte pieces (streaming path
 * with the outputs dropped, or the buffered path): {"grown": bytes, "facts": …}.
 */
export function run_memory(len: i32, inject: i32, chunk: i32, buffered: i32): i32 {
  const n = clamp(len);
  const step = chunk > 0 ? chunk : 65536;
  const before = memory.size();
  const r = new RequestBodyReader(inject != 0);
  for (let from = 0; from < n; from += step) {
    const to = from + step < n ? from + step : n;
    if (buffered != 0) r.read(input.dataStart + <usize>from, <usize>(to - from));
    else r.rewriteChunk(input.dataStart + <usize>from, <usize>(to - from), to == n);
  }
  r.finish();
  const grown = (memory.size() - before) << 16;
  return emit(`{"grown":${grown},"facts":${factsJson(r.facts, r.injected)}}}`);
}

/** One read of input[0, len) in `chunk`-byte pieces, for the bench (nothing returned but `complete`). */
export function bench_read(len: i32, chunk: i32, streaming: i32): i32 {
  const n = clamp(len);
  const step = chunk > 0 ? chunk : 65536;
  const r = new RequestBodyReader(true);
  for (let from = 0; from < n; from += step) {
    const to = from + step < n ? from + step : n;
    if (streaming != 0) r.rewriteChunk(input.dataStart + <usize>from, <usize>(to - from), to == n);
    else r.read(input.dataStart + <usize>from, <usize>(to - from));
  }
  r.finish();
  return r.facts.complete ? 1 : 0;
}

/**
 * input[0, len) read with the limit fields of family `limits` (LIMITS_*), cut at the points (-1:
 * byte by byte): the output limit facts, the estimate bound (outputAllowed) and the reservation
 * with `fallback` (cap 2^40).
 */
export function run_limits(len: i32, limits: i32, ncuts: i32, fallback: i64): i32 {
  const n = clamp(len);
  const r = new RequestBodyReader(false, <u8>limits);
  let from = 0;
  const count = chunkCount(ncuts, n);
  for (let k = 0; k < count; k++) {
    const to = boundary(k, count, ncuts, n, from);
    r.read(input.dataStart + <usize>from, <usize>(to - from));
    from = to;
  }
  r.finish();
  const f = r.facts;
  const reservation = reservationForFacts(f, fallback, <i64>1 << 40);
  return emit(`{"outputLimit":"${f.outputLimit}","outputUnbounded":${f.outputUnbounded},"outputLimitUnreadable":${f.outputLimitUnreadable},` +
    `"choices":"${f.choices}","allowed":"${outputAllowed(f)}","reservation":"${reservation}","complete":${f.complete}}`);
}

/** The reservation for input[0, len): {"reservation", "input", "output", "atCap"}. */
export function run_estimate(len: i32, fallback: i64, cap: i64): i32 {
  const r = new RequestBodyReader(false);
  r.read(input.dataStart, <usize>clamp(len));
  r.finish();
  const e: ReservationEstimate = estimateFor(r.facts, fallback);
  const whole = reservationForBody(input.subarray(0, clamp(len)), fallback, cap);
  const viaFacts = reservationForFacts(r.facts, fallback, cap);
  if (reservationFor(r, fallback, cap) != viaFacts) return emit(`{"error":"reservationFor(reader) differs"}`);
  return emit(`{"reservation":"${viaFacts}","sameWhole":${whole == viaFacts},"input":"${e.input}","output":"${e.output}","atCap":${e.atCap}}`);
}

/** integralNumber / integralString over input[0, len): the value as a string ("-1": unreadable). */
export function run_integral_number(len: i32): i32 {
  return emit(integralNumber(input.dataStart, clamp(len)).toString());
}

export function run_integral_string(len: i32): i32 {
  return emit(integralString(input.dataStart, clamp(len)).toString());
}
