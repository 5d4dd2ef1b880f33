// Test-only entry: exposes keys.ts (key layout, hash tags, slots) and the Lua scripts to jest.
// The caller writes its input into the buffer returned by `input_alloc(size)`, calls a function
// with the input length, and reads the returned number of bytes at `output_ptr()`.
import "../abi/abort";
export { input_alloc, output_ptr } from "./_io";
import { input, emit } from "./_io";
import { consumerKeys, anonymousKeys, crc16, keySlot, prefixProblem, tagForSlot } from "../quota/keys";
import { ADMIT_SCRIPT, ADMIT_SCRIPT_SHA, SETTLE_SCRIPT, SETTLE_SCRIPT_SHA, USAGE_SCRIPT, USAGE_SCRIPT_SHA, WINDOW_ADMIT_SCRIPT, WINDOW_ADMIT_SCRIPT_SHA } from "../quota/scripts";
import { quoteJsonString } from "../json/quote";
import { decodeUtf8 } from "../util/utf8";


function text(len: i32): string {
  return decodeUtf8(input.dataStart, len < 0 ? 0 : (len > input.length ? input.length : len));
}

/** CRC16 of the input bytes. */
export function run_crc16(len: i32): u32 {
  return crc16(input.dataStart, len < 0 ? 0 : (len > input.length ? input.length : len));
}

/** The Redis Cluster slot of the input, as a key. */
export function run_slot(len: i32): i32 {
  return keySlot(text(len));
}

/** The computed tag for a slot. */
export function tag_for_slot(slot: i32): i32 {
  return emit(tagForSlot(slot));
}

/**
 * Input "prefix\0name": `{"balance","window","marker"}` of a consumer (`anonymous` 0) or an
 * anonymous client (1), with window ("requests", "day", 1700000000) and marker id "id".
 */
export function run_keys(len: i32, anonymous: i32): i32 {
  const all = text(len);
  const nul = all.indexOf("\0");
  const prefix = nul < 0 ? all : all.substring(0, nul);
  const name = nul < 0 ? "" : all.substring(nul + 1);
  const k = anonymous != 0 ? anonymousKeys(prefix, name) : consumerKeys(prefix, name);
  return emit("{\"balance\":" + quoteJsonString(k.balance) + ",\"window\":" + quoteJsonString(k.window("requests", "day", 1700000000)) +
    ",\"marker\":" + quoteJsonString(k.marker("id")) + ",\"usageDay\":" + quoteJsonString(k.usageDay("2026-12-07")) +
    ",\"usageMonth\":" + quoteJsonString(k.usageMonth("2026-12")) + "}");
}

/** "" or why the input cannot be redis_key_prefix. */
export function run_prefix_problem(len: i32): i32 {
  return emit(prefixProblem(text(len)));
}

/** Script `n` (0 admission, 1 with windows, 2 settlement, 3 usage query) and, with `sha` 1, its SHA-1 constant. */
export function script(n: i32, sha: i32): i32 {
  if (n == 0) return emit(sha != 0 ? ADMIT_SCRIPT_SHA : ADMIT_SCRIPT);
  if (n == 1) return emit(sha != 0 ? WINDOW_ADMIT_SCRIPT_SHA : WINDOW_ADMIT_SCRIPT);
  if (n == 2) return emit(sha != 0 ? SETTLE_SCRIPT_SHA : SETTLE_SCRIPT);
  return emit(sha != 0 ? USAGE_SCRIPT_SHA : USAGE_SCRIPT);
}
