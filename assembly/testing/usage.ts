// Test-only entry for the response side (tests/unit/response*.test.ts, fuzz/props/response.ts):
// ResponseReader fed chunk by chunk from JS, the estimate, and the hider's member removal.
// The caller writes input into `input_alloc(size)`; results are written at `output_ptr()`.
import "../abi/abort";
export { input_alloc, output_ptr } from "./_io";
import { input, clamp, emit, emitView } from "./_io";
import { quoteJsonString } from "../json";
import { ResponseReader, TokenUsage, UsageScanner, estimateUsage } from "../usage";
import { removeNullUsage } from "../usage/hider";
import { API_CHAT, TEXT_CLASSES, TextCounts, inputTokens } from "../usage/text_estimate";
import { quickReads, readQuickly, setQuickReads } from "../usage/fast_path";
import { keySetsAgree } from "../usage/fast_keys";

/** readQuickly over input[0, len), `times` times (a micro-bench); answers how many succeeded. */
export function usage_quick_bench(len: i32, times: i32, wantModel: i32): i32 {
  let ok = 0;
  const p = input.dataStart;
  for (let i = 0; i < times; i++) if (readQuickly(p, p + <usize>clamp(len), wantModel != 0)) ok++;
  return ok;
}

/** Whether the quick path tells input[0, len) apart as the extractor's key sets do (1) or not (0). */
export function usage_key_sets_agree(len: i32): i32 {
  return keySetsAgree(input.dataStart, <usize>clamp(len)) ? 1 : 0;
}

// A bare UsageScanner with a chosen maxEventBytes (the reader passes 0: no limit), so that tests
// can compare the quick path with the usual way on events past that limit.
let scanner: UsageScanner | null = null;

export function scanner_new(sse: i32, maxEventBytes: i32, noModel: i32): void {
  const s = new UsageScanner(sse != 0, maxEventBytes);
  s.setWantModel(noModel == 0);
  scanner = s;
}

/** Feeds input[0, len) to the scanner. */
export function scanner_feed(len: i32): void {
  const s = scanner;
  if (s !== null) s.feedBytes(input.dataStart, <usize>clamp(len));
}

/** finish(), then the scanner's state as JSON. */
export function scanner_finish(): i32 {
  const s = scanner;
  if (s === null) return emit("null");
  s.finish();
  return emit(`{"usage":${usageJson(s.usage)},"contentBytes":"${s.contentBytes.toString()}","contentAfterOutput":"${s.contentAfterOutput.toString()}","events":${s.events.toString()},"malformed":${s.malformedEvents.toString()},"oversized":${s.oversizedEvents.toString()},"done":${s.sawDone ? "true" : "false"},"jsonFailed":${s.jsonFailed ? "true" : "false"},"sse":${s.isSse ? "true" : "false"}}`);
}

/** How many documents the quick path has read. */
export function usage_quick_reads(): u32 {
  return quickReads;
}

/** Turns the quick path of whole documents (usage/fast_path.ts) on or off, to compare the two. */
export function usage_quick(on: i32): void {
  setQuickReads(on != 0);
}
import { bytesInputEstimate, contentEstimate, estimateFrom, outputConstants, ENCODED_JSON_BYTES_PER_TOKEN, ENCODED_SSE_BYTES_PER_TOKEN, REQUEST_BYTES_PER_TOKEN } from "../usage/estimate";


function usageJson(u: TokenUsage): string {
  return `{"found":${u.found ? "true" : "false"},"input":"${u.input.toString()}","output":"${u.output.toString()}","hasInput":${u.hasInput ? "true" : "false"},"hasOutput":${u.hasOutput ? "true" : "false"},${u.provisionalOutput ? '"provisional":true,' : ""}"model":${quoteJsonString(u.model)}}`;
}

let reader: ResponseReader | null = null;

/** noModel != 0: the model's name is not read (as takeResponseReader when no weights need it). */
export function reader_new(sse: i32, hide: i32, noModel: i32): void {
  const r = new ResponseReader(sse != 0, hide != 0);
  // 0 (also when a caller leaves it out) keeps the constructor's default: the model is read.
  if (noModel != 0) r.scan.setWantModel(false);
  reader = r;
}

/** Feeds input[0, len): -1 when the chunk goes out unchanged, else the length of what goes instead (at output_ptr). */
export function reader_feed(len: i32, end: i32): i32 {
  const r = reader;
  if (r === null) return -1;
  const out = r.feed(input.dataStart, <usize>clamp(len), end != 0);
  if (out === null) return -1;
  return emitView(out);
}

/** finish(), then what takeHeld() gives: -1 for null, else its length (at output_ptr). */
export function reader_finish(): i32 {
  const r = reader;
  if (r === null) return -1;
  r.finish();
  const held = r.takeHeld();
  if (held === null) return -1;
  return emitView(held);
}

/** The reader's state as JSON. */
export function reader_result(): i32 {
  const r = reader;
  if (r === null) return emit("null");
  const s = r.scan;
  return emit(`{"usage":${usageJson(r.usage)},"contentBytes":"${r.contentBytes.toString()}","contentAfterOutput":"${r.contentAfterOutput.toString()}","audioBytes":"${r.audioBytes.toString()}","contentWide":"${r.contentWide.toString()}","bodyBytes":"${r.bodyBytes.toString()}","hiddenEvents":${r.hiddenEvents.toString()},"hiddenNulls":${r.hiddenNulls.toString()},"events":${s.events.toString()},"malformed":${s.malformedEvents.toString()},"sse":${r.isSse ? "true" : "false"}}`);
}

/** estimateUsage over the current reader (none when noReader != 0). */
export function reader_estimate(requestBytes: i64, encoded: i32, cut: i32, noReader: i32, family: i32, tools: i32): i32 {
  return emit(usageJson(estimateUsage(bytesInputEstimate(requestBytes), noReader != 0 ? null : reader, encoded != 0, cut != 0, family, tools != 0)));
}

/** The estimate's constants: [request, encoded SSE, encoded JSON] bytes per token, then each output group's [rate, base]. */
export function estimate_constants(): i32 {
  let groups = "";
  for (let g = 0; g < 8; g++) {
    const c = outputConstants(g);
    groups += (g > 0 ? "," : "") + "[" + c[0].toString() + "," + c[1].toString() + "]";
  }
  return emit(`[${REQUEST_BYTES_PER_TOKEN.toString()},${ENCODED_SSE_BYTES_PER_TOKEN.toString()},${ENCODED_JSON_BYTES_PER_TOKEN.toString()},[${groups}]]`);
}

/** The output estimate for content bytes (usage/estimate.ts contentEstimate). */
export function output_estimate(bytes: i64, family: i32, tools: i32, wide: i64): i64 {
  return contentEstimate(bytes, wide, family, tools != 0);
}

/** removeNullUsage on a copy of the input: the block after removal, or "-1" as text when nothing was removed. */
export function run_remove_null_usage(len: i32): i32 {
  const n = clamp(len);
  const copy = new Uint8Array(n);
  memory.copy(copy.dataStart, input.dataStart, <usize>n);
  const kept = removeNullUsage(copy.dataStart, n);
  if (kept < 0) return emit("-1");
  return emitView(copy.subarray(0, kept));
}

/** estimateFrom with the reported usage given as numbers (a side is reported when its has* != 0). */
export function estimate_numbers(requestBytes: i64, contentBytes: i64, contentAfterOutput: i64, bodyBytes: i64, sse: i32, encoded: i32, cut: i32, hasInput: i32, input: i64, hasOutput: i32, output: i64, family: i32, tools: i32, audioBytes: i64, contentWide: i64): i32 {
  const r = new TokenUsage();
  r.hasInput = hasInput != 0;
  r.hasOutput = hasOutput != 0;
  r.found = r.hasInput || r.hasOutput;
  if (r.hasInput) r.input = input;
  if (r.hasOutput) r.output = output;
  return emit(usageJson(estimateFrom(bytesInputEstimate(requestBytes), r, contentBytes, contentAfterOutput, bodyBytes, sse != 0, encoded != 0, cut != 0, family, tools != 0, audioBytes, contentWide)));
}

// The input estimate from a request's text (usage/text_estimate.ts): counts kept across chunks.
let textCounts = new TextCounts();

export function text_reset(): void {
  textCounts = new TextCounts();
}

/** Counts input[0, len) after what was counted so far; answers the class counts and the tokens. */
export function text_add(len: i32): i32 {
  textCounts.add(input.dataStart, <usize>clamp(len));
  let out = "{\"counts\":[";
  for (let i = 0; i < TEXT_CLASSES; i++) out += (i > 0 ? "," : "") + textCounts.counts[i].toString();
  return emit(out + "],\"tools\":" + (textCounts.tools ? "true" : "false") + ",\"tokens\":" + textCounts.tokens(API_CHAT).toString() + "}");
}

/** The tokens for class counts given as numbers (the corpus keeps counts, not text). */
export function text_tokens(c0: i64, c1: i64, c2: i64, c3: i64, c4: i64, c5: i64, c6: i64, c7: i64, c8: i64, tools: i32, api: i32): i64 {
  const c = new StaticArray<i64>(TEXT_CLASSES);
  c[0] = c0; c[1] = c1; c[2] = c2; c[3] = c3; c[4] = c4; c[5] = c5; c[6] = c6; c[7] = c7; c[8] = c8;
  return inputTokens(c, tools != 0, api);
}
