// Test-only entry: exposes the parsers to jest over bytes. The caller writes its input into the
// buffer returned by `input_alloc(size)`, calls a `run_*` function with the input length, and reads
// the returned number of bytes at `output_ptr()`. Results are JSON text unless said otherwise.
import "../abi/abort";
export { input_alloc, output_ptr } from "./_io";
import { input, clamp, emit, emitBytes, inputText, inputView } from "./_io";
import { addChecked, parseInt64Bytes, subChecked } from "../util/int64";
import { parseQuery, splitPath } from "../util/urlencoded";
import { decodeUtf8 } from "../util/utf8";
import { RespType, RespValue, decodeReply, encodeCommand } from "../redis/resp";
import { JsonDomBuilder, JsonTokenizer, JsonType, parseJson, quoteJsonString } from "../json";
import { TokenUsage, UsageScanner, usageFromAiLog } from "../usage";


/** Splits the input at its first NUL byte: [before, after]. */
function splitAtNul(len: i32): Array<string> {
  const n = clamp(len);
  let i = 0;
  while (i < n && input[i] != 0) i++;
  const out = new Array<string>(2);
  out[0] = decodeUtf8(input.dataStart, i);
  out[1] = i < n ? decodeUtf8(input.dataStart + <usize>i + 1, n - i - 1) : "";
  return out;
}

// ---- int64 ----

/** `{"ok":true,"value":"N"}` or `{"ok":false}`. */
export function run_atoi(len: i32): i32 {
  const r = parseInt64Bytes(input, 0, clamp(len));
  return emit(r.ok ? `{"ok":true,"value":"${r.value.toString()}"}` : `{"ok":false}`);
}

/** parseInt64Bytes(input, start, end) with caller-chosen (possibly bad) bounds. */
export function run_atoi_range(len: i32, start: i32, end: i32): i32 {
  const r = parseInt64Bytes(inputView(len), start, end);
  return emit(r.ok ? `{"ok":true,"value":"${r.value.toString()}"}` : `{"ok":false}`);
}

export function run_add(a: i64, b: i64): i32 {
  const r = addChecked(a, b);
  return emit(r.ok ? `{"ok":true,"value":"${r.value.toString()}"}` : `{"ok":false}`);
}

export function run_sub(a: i64, b: i64): i32 {
  const r = subChecked(a, b);
  return emit(r.ok ? `{"ok":true,"value":"${r.value.toString()}"}` : `{"ok":false}`);
}

// ---- urlencoded ----

/** `{"count":N,"pairs":[[k,v],...]}`. */
export function run_parse_query(len: i32, maxPairs: i32): i32 {
  const f = parseQuery(inputText(len), maxPairs);
  let s = `{"count":${f.count.toString()},"pairs":[`;
  for (let i = 0; i < f.count; i++) {
    if (i > 0) s += ",";
    s += "[" + quoteJsonString(f.keyAt(i)) + "," + quoteJsonString(f.valueAt(i)) + "]";
  }
  return emit(s + "]}");
}

/** Input "key\0query": `{"has":bool,"first":string|null}`. */
export function run_query_first(len: i32): i32 {
  const parts = splitAtNul(len);
  const f = parseQuery(parts[1]);
  const first = f.first(parts[0]);
  return emit(`{"has":${f.has(parts[0]) ? "true" : "false"},"first":${first === null ? "null" : quoteJsonString(first)}}`);
}

/** `{"path":..,"rawQuery":..}`. */
export function run_split_path(len: i32): i32 {
  const r = splitPath(inputText(len));
  return emit(`{"path":${quoteJsonString(r.path)},"rawQuery":${quoteJsonString(r.rawQuery)}}`);
}

// ---- RESP ----

function respJson(v: RespValue): string {
  switch (v.type) {
    case RespType.SimpleString: return `{"simple":${quoteJsonString(v.text)}}`;
    case RespType.Error: return `{"error":${quoteJsonString(v.text)}}`;
    case RespType.Integer: return `{"integer":"${v.integer.toString()}"}`;
    case RespType.BulkString: return `{"bulk":${quoteJsonString(v.text)}}`;
    case RespType.Null: return `null`;
    default: {
      let s = "[";
      for (let i = 0; i < v.items.length; i++) {
        if (i > 0) s += ",";
        s += respJson(v.items[i]);
      }
      return s + "]";
    }
  }
}

/** `{"value":<tree>}` or `{"fail":"message"}`. */
export function run_resp_decode(len: i32, maxDepth: i32, maxElements: i32): i32 {
  const r = decodeReply(inputView(len), maxDepth, maxElements);
  const v = r.value;
  if (v === null) return emit(`{"fail":${quoteJsonString(r.error)}}`);
  return emit(`{"value":${respJson(v)}}`);
}

/** RespValue.toInteger() of a decoded reply: `{"ok":true,"value":"N"}`, `{"ok":false}`, or `{"fail":..}`. */
export function run_resp_integer(len: i32): i32 {
  const r = decodeReply(inputView(len));
  const v = r.value;
  if (v === null) return emit(`{"fail":${quoteJsonString(r.error)}}`);
  const n = v.toInteger();
  return emit(n.ok ? `{"ok":true,"value":"${n.value.toString()}"}` : `{"ok":false}`);
}

/** Input: the arguments separated by NUL bytes. Output: the raw RESP bytes. */
export function run_resp_encode(len: i32): i32 {
  const n = clamp(len);
  const args = new Array<string>();
  let from = 0;
  for (let i = 0; i <= n; i++) {
    if (i == n || input[i] == 0) {
      args.push(decodeUtf8(input.dataStart + <usize>from, i - from));
      from = i + 1;
    }
  }
  return emitBytes(encodeCommand(args));
}

// ---- JSON ----

/** "V:" + compact JSON of the parsed value, or "E:" + the error. */
export function run_json_parse(len: i32, maxDepth: i32): i32 {
  const r = parseJson(inputView(len), maxDepth);
  const v = r.value;
  return emit(v === null ? "E:" + r.error : "V:" + v.toString());
}

/**
 * The same through the push tokenizer fed in pieces: cut at `split` (two pieces) when split >= 0,
 * or one byte at a time when split < 0.
 */
export function run_json_pieces(len: i32, maxDepth: i32, split: i32): i32 {
  const data = inputView(len);
  const b = new JsonDomBuilder();
  const tok = new JsonTokenizer(b, maxDepth);
  if (split >= 0) {
    const cut = split > data.length ? data.length : split;
    tok.feed(data, 0, cut);
    tok.feed(data, cut, data.length);
  } else {
    for (let i = 0; i < data.length; i++) tok.feed(data, i, i + 1);
  }
  const ok = tok.finish();
  const root = b.root;
  if (!ok || root === null) return emit("E:" + tok.error);
  return emit("V:" + root.toString());
}

/** Parses with maxDepth and follows first elements down without recursion: "depth N" or "E:...". */
export function run_json_depth(len: i32, maxDepth: i32): i32 {
  const r = parseJson(inputView(len), maxDepth);
  let v = r.value;
  if (v === null) return emit("E:" + r.error);
  let depth = 0;
  while (v !== null && v.type == JsonType.Array) {
    depth++;
    v = v.items.length > 0 ? v.items[0] : null;
  }
  return emit("depth " + depth.toString());
}

/** For a top-level number: `{"isInteger":b,"i64":"N","f64bits":"B"}`; else "E:...". */
export function run_json_number(len: i32): i32 {
  const r = parseJson(inputView(len));
  const v = r.value;
  if (v === null) return emit("E:" + r.error);
  if (v.type != JsonType.Number) return emit("E:not a number");
  return emit(`{"isInteger":${v.isInteger() ? "true" : "false"},"i64":"${v.asI64().toString()}","f64bits":"${reinterpret<i64>(v.asF64()).toString()}"}`);
}

/** Input "key\0json": compact JSON of get(key), "absent", or "E:...". */
export function run_json_get(len: i32): i32 {
  const n = clamp(len);
  let i = 0;
  while (i < n && input[i] != 0) i++;
  const key = decodeUtf8(input.dataStart, i);
  const r = parseJson(input.subarray(i < n ? i + 1 : n, n));
  const v = r.value;
  if (v === null) return emit("E:" + r.error);
  const got = v.get(key);
  return emit(got === null ? "absent" : got.toString());
}

/** quoteJsonString of the input read as UTF-16LE (so lone surrogates can be tested). */
export function run_json_quote16(len: i32): i32 {
  const n = clamp(len) & ~1;
  return emit(quoteJsonString(String.UTF16.decodeUnsafe(input.dataStart, <usize>n)));
}

// ---- usage ----

function usageJson(u: TokenUsage): string {
  return `{"found":${u.found ? "true" : "false"},"input":"${u.input.toString()}","output":"${u.output.toString()}","total":"${u.total().toString()}","model":${quoteJsonString(u.model)}}`;
}

function scannerJson(sc: UsageScanner): string {
  return `{"usage":${usageJson(sc.usage)},"events":${sc.events.toString()},"malformed":${sc.malformedEvents.toString()},"oversized":${sc.oversizedEvents.toString()},"done":${sc.sawDone ? "true" : "false"},"sse":${sc.isSse ? "true" : "false"},"jsonFailed":${sc.jsonFailed ? "true" : "false"}}`;
}

/** Scans the input fed whole (split == -2), byte by byte (-1), or in two pieces cut at split. */
function scan(data: Uint8Array, sse: bool, maxEventBytes: i32, split: i32): UsageScanner {
  const sc = new UsageScanner(sse, maxEventBytes);
  if (split == -2) {
    sc.feed(data);
  } else if (split == -1) {
    for (let i = 0; i < data.length; i++) sc.feed(data.subarray(i, i + 1));
  } else {
    const cut = split > data.length ? data.length : split;
    sc.feed(data.subarray(0, cut));
    sc.feed(data.subarray(cut));
  }
  sc.finish();
  return sc;
}

/** One scan: the scanner's result as JSON. */
export function run_usage(len: i32, sse: i32, maxEventBytes: i32, split: i32): i32 {
  return emit(scannerJson(scan(inputView(len), sse != 0, maxEventBytes, split)));
}

/**
 * The scan fed whole, then cut in two at every byte boundary, then byte by byte:
 * `{"result":<whole>,"mismatch":null}` or the first split whose result differs (-1 = byte by byte).
 */
export function run_usage_all_splits(len: i32, sse: i32, maxEventBytes: i32): i32 {
  const data = inputView(len);
  const whole = scannerJson(scan(data, sse != 0, maxEventBytes, -2));
  let mismatch = "null";
  for (let i = 0; i <= data.length; i++) {
    if (scannerJson(scan(data, sse != 0, maxEventBytes, i)) != whole) { mismatch = i.toString(); break; }
  }
  if (mismatch == "null" && scannerJson(scan(data, sse != 0, maxEventBytes, -1)) != whole) mismatch = "-1";
  return emit(`{"result":${whole},"mismatch":${mismatch}}`);
}

/** usageFromAiLog: the usage as JSON, or "null". */
export function run_ailog(len: i32): i32 {
  const u = usageFromAiLog(inputView(len));
  return emit(u === null ? "null" : usageJson(u));
}

// A scanner kept across calls, for tests that feed many chunks (memory and speed checks).
let current: UsageScanner | null = null;

export function usage_new(sse: i32, maxEventBytes: i32): void {
  current = new UsageScanner(sse != 0, maxEventBytes);
}

/** Feeds input[0, len) to the current scanner. */
export function usage_feed(len: i32): void {
  const sc = current;
  if (sc !== null) sc.feed(inputView(len));
}

/** Ends the current scanner's body and writes its result; returns the output length. */
export function usage_finish(): i32 {
  const sc = current;
  if (sc === null) return emit("null");
  sc.finish();
  return emit(scannerJson(sc));
}
