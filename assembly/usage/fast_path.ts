// A quick read of one whole JSON document (an SSE event's data, or a JSON body that arrived in one
// piece) of the shape nearly every answer has — a root object whose only members the extractor
// acts on are `choices` (generated content counted), `usage` (null, or an object of counts) and,
// when no weights need it, `model` — in one pass over bytes held in memory, eight at a time in
// strings. What it finds is exactly what the tokenizer and extractor would find (validity, content
// bytes, counts, the usage flags); anything else (invalid JSON, another member the extractor reads,
// an escaped or non-ASCII root key, deep nesting) makes it answer false before anything is
// changed, and the document then goes the usual way (scanner.ts, tokenizer.ts, extractor.ts).
import { plainEnd } from "../json/plain";
import { hexDigit } from "../util/hex";
import { AUDIO_DATA, ROOT_CHOICES, ROOT_MODEL, ROOT_READ, ROOT_USAGE, countedKey, rootKey } from "./fast_keys";
import { SLOT_CACHE_CREATION, SLOT_CACHE_READ, SLOT_INPUT, SLOT_OUTPUT } from "./slots";

// The keys it tells apart are in fast_keys.ts.

/** Nesting followed here; deeper documents go the usual way. */
const MAX_DEPTH: i32 = 64;
/** Model names longer than the tokenizer keeps (its maxTokenBytes for scanners) are dropped the usual way. */
const MAX_TEXT_BYTES: usize = 512;

// What the last usage member at the root was.
export const USAGE_ABSENT: u8 = 0;
export const USAGE_NULL: u8 = 1;
export const USAGE_OBJECT: u8 = 2;
/** Another value (a number, string, bool or array): no flag, no count. */
export const USAGE_OTHER: u8 = 3;

/** What a document read quickly held (valid until the next read). */
export class QuickRead {
  /** Generated content's decoded UTF-8 bytes (what countedBytes would grow by). */
  counted: i64 = 0;
  /** Of those, the bytes of 3- and 4-byte characters (what countedWide would grow by). */
  wide: i64 = 0;
  usage: u8 = USAGE_ABSENT;
  /** A root `choices` was read, and the last one was `[]`. */
  choicesSeen: bool = false;
  choicesEmpty: bool = false;
  /** Counts of every usage object, in order: slot and value. */
  countSlots: StaticArray<i32> = new StaticArray<i32>(64);
  countValues: StaticArray<i64> = new StaticArray<i64>(64);
  counts: i32 = 0;
  /** Where each usage object closed: index into the counts (its counts are those before it). */
  usageCloses: StaticArray<i32> = new StaticArray<i32>(16);
  usageCloseAt: StaticArray<i64> = new StaticArray<i64>(16);
  usages: i32 = 0;
  /**
   * The root `usage` members seen, and for the last one: the `{` or `,` before it, its key's opening
   * quote, and the end of its value (what the hider cuts when it is null).
   */
  usageMembers: i32 = 0;
  usageSep: usize = 0;
  usageKeyAt: usize = 0;
  usageValueEnd: usize = 0;
  /** The last root model name that is a string (its bytes, valid UTF-8 without escapes), 0: none. */
  modelAt: usize = 0;
  modelLen: usize = 0;
}

export const quick = new QuickRead();

/** The quick path is on (tests turn it off to compare it with the usual way). */
let enabled = true;

export function setQuickReads(on: bool): void {
  enabled = on;
}

/** Documents read quickly so far (for tests). */
export let quickReads: u32 = 0;

// The read in progress.
let counted: i64 = 0;
let wide: i64 = 0;
let afterHigh = false;
let failed = false;

/**
 * Reads the JSON document [p, end) (nothing else but whitespace after it); false when it is not
 * one this path reads (then nothing was changed). `wantModel`: a root `model` must be read (the
 * usual way).
 */
export function readQuickly(p: usize, end: usize, wantModel: bool): bool {
  wsBits = JSON_WS;
  p = readRoot(p, end, wantModel);
  if (p == 0) return false;
  p = ws(p, end);
  if (p != end) return false;
  quickReads++;
  return true;
}

/**
 * Reads the JSON document that starts an SSE data line at p (LF and CR end the line, so they are
 * not whitespace in it): the position after it and any spaces or tabs, or 0 when it is not one
 * this path reads (nothing was changed). The caller checks what ends the line, then counts the
 * read with quickReadTaken().
 */
export function readQuicklyLine(p: usize, end: usize, wantModel: bool): usize {
  wsBits = LINE_WS;
  p = readRoot(p, end, wantModel);
  return p == 0 ? 0 : ws(p, end);
}

/** A read by readQuicklyLine was used (for tests). */
export function quickReadTaken(): void {
  quickReads++;
}

function readRoot(p: usize, end: usize, wantModel: bool): usize {
  const q = quick;
  q.usage = USAGE_ABSENT;
  q.choicesSeen = false;
  q.choicesEmpty = false;
  q.counts = 0;
  q.usages = 0;
  q.usageMembers = 0;
  q.modelAt = 0;
  q.modelLen = 0;
  counted = 0;
  wide = 0;
  afterHigh = false;
  failed = false;
  if (!enabled) return 0;
  p = ws(p, end);
  if (p >= end || load<u8>(p) != 0x7b) return 0;
  p = rootObject(p + 1, end, wantModel);
  if (p == 0 || failed) return 0;
  q.counted = counted;
  q.wide = wide;
  return p;
}

/** JSON's whitespace: space, tab, LF, CR, as bits. */
const JSON_WS: u64 = (<u64>1 << 0x20) | (<u64>1 << 0x09) | (<u64>1 << 0x0a) | (<u64>1 << 0x0d);
/** On an SSE data line LF and CR end the line, so they are not whitespace inside it. */
const LINE_WS: u64 = (<u64>1 << 0x20) | (<u64>1 << 0x09);
let wsBits: u64 = JSON_WS;

@inline
function isWs(c: u32): bool {
  return c <= 0x20 && ((wsBits >> <u64>c) & 1) != 0;
}

@inline
function ws(p: usize, end: usize): usize {
  while (p < end && isWs(<u32>load<u8>(p))) p++;
  return p;
}

/** After a key's closing quote at q: whitespace, ':', whitespace: where the value starts, or 0. */
@inline
function valueAfterKey(q: usize, end: usize): usize {
  let p = ws(q, end);
  if (p >= end || load<u8>(p) != 0x3a) return 0;
  p = ws(p + 1, end);
  return p < end ? p : 0;
}

/** After a value at p: whitespace, then ',' or the container's `close`: that byte's position, or 0. */
@inline
function separatorAfter(p: usize, end: usize, close: u8): usize {
  p = ws(p, end);
  if (p >= end) return 0;
  const c = load<u8>(p);
  return c == close || c == 0x2c ? p : 0;
}

/** The root object's members from p (after `{`): the position after its `}`, or 0. */
function rootObject(p: usize, end: usize, wantModel: bool): usize {
  let sep = p - 1; // the '{', then each ','
  p = ws(p, end);
  if (p < end && load<u8>(p) == 0x7d) return p + 1;
  for (;;) {
    if (p >= end || load<u8>(p) != 0x22) return 0;
    const k = p + 1;
    const ke = plainKey(k, end);
    if (ke == 0) return 0; // escaped, non-ASCII or unclosed: the extractor decodes such keys
    const klen = ke - k;
    p = valueAfterKey(ke + 1, end);
    if (p == 0) return 0;
    const kind = rootKey(k, klen);
    if (kind == ROOT_USAGE) {
      p = usageValue(p, end);
      const q = quick;
      q.usageMembers++;
      q.usageSep = sep;
      q.usageKeyAt = k - 1;
      q.usageValueEnd = p;
    } else if (kind == ROOT_MODEL) {
      p = wantModel ? modelValue(p, end) : value(p, end, 1, false, false);
    } else if (kind == ROOT_READ) {
      return 0; // read by the extractor: the usual way
    } else if (kind == ROOT_CHOICES) {
      const q = quick;
      q.choicesSeen = true;
      q.choicesEmpty = isEmptyArray(p, end);
      p = value(p, end, 1, true, false);
    } else {
      p = value(p, end, 1, false, false);
    }
    if (p == 0) return 0;
    p = separatorAfter(p, end, 0x7d);
    if (p == 0) return 0;
    if (load<u8>(p) == 0x7d) return p + 1;
    sep = p;
    p = ws(p + 1, end);
  }
  return 0; // (not reached)
}

/** `[` then `]`, whitespace aside. */
function isEmptyArray(p: usize, end: usize): bool {
  if (p >= end || load<u8>(p) != 0x5b) return false;
  p = ws(p + 1, end);
  return p < end && load<u8>(p) == 0x5d;
}

/**
 * A root `model` (or `modelVersion`) when its value must be read: a string (kept, as the extractor
 * keeps the last one), anything else passed over. An escaped or long name goes the usual way.
 */
function modelValue(p: usize, end: usize): usize {
  if (load<u8>(p) != 0x22) return value(p, end, 1, false, false);
  const e = stringBody(p + 1, end, false);
  if (e == 0) return 0;
  const n = e - 1 - (p + 1);
  if (n > MAX_TEXT_BYTES) return 0; // the tokenizer would cut it and the extractor drop it
  for (let i = p + 1; i < e - 1; i++) if (load<u8>(i) == 0x5c) return 0; // escaped: decoded the usual way
  quick.modelAt = p + 1;
  quick.modelLen = n;
  return e;
}

/** The value of a root `usage` member. */
function usageValue(p: usize, end: usize): usize {
  const q = quick;
  const c = load<u8>(p);
  if (c == 0x6e) {
    q.usage = USAGE_NULL;
    return literal(p, end);
  }
  if (c != 0x7b) {
    q.usage = USAGE_OTHER;
    return value(p, end, 1, false, false);
  }
  q.usage = USAGE_OBJECT;
  // The counts: members whose keys name one and whose values are integer literals.
  p = ws(p + 1, end);
  if (p < end && load<u8>(p) == 0x7d) return closeUsage(p + 1);
  for (;;) {
    if (p >= end || load<u8>(p) != 0x22) return 0;
    const k = p + 1;
    const ke = plainKey(k, end);
    // A key the extractor would compare decoded (escaped, or not ASCII) goes the usual way.
    if (ke == 0) return 0;
    const slot = usageSlot(k, ke - k);
    p = valueAfterKey(ke + 1, end);
    if (p == 0) return 0;
    const v = load<u8>(p);
    if (slot >= 0 && (v == 0x2d || (v >= 0x30 && v <= 0x39))) {
      const ne = number(p, end);
      if (ne == 0) return 0;
      count(slot, p, ne);
      p = ne;
    } else {
      p = value(p, end, 2, false, false);
    }
    if (p == 0) return 0;
    p = separatorAfter(p, end, 0x7d);
    if (p == 0) return 0;
    if (load<u8>(p) == 0x7d) return closeUsage(p + 1);
    p = ws(p + 1, end);
  }
  return 0; // (not reached)
}

function closeUsage(p: usize): usize {
  const q = quick;
  const i = q.usages;
  if (i >= q.usageCloses.length) {
    failed = true;
    return p;
  }
  unchecked(q.usageCloses[i] = q.counts);
  unchecked(q.usageCloseAt[i] = counted);
  q.usages = i + 1;
  return p;
}

/** The slot a usage key counts into, or -1. */
function usageSlot(k: usize, n: usize): i32 {
  switch (<i32>n) {
    case 12: return bytesAre(k, n, INPUT_TOKENS) ? SLOT_INPUT : -1;
    case 13:
      if (bytesAre(k, n, PROMPT_TOKENS)) return SLOT_INPUT;
      if (bytesAre(k, n, OUTPUT_TOKENS)) return SLOT_OUTPUT;
      return -1;
    case 17: return bytesAre(k, n, COMPLETION_TOKENS) ? SLOT_OUTPUT : -1;
    case 23: return bytesAre(k, n, CACHE_READ) ? SLOT_CACHE_READ : -1;
    case 27: return bytesAre(k, n, CACHE_CREATION) ? SLOT_CACHE_CREATION : -1;
    default: return -1;
  }
}

const INPUT_TOKENS = String.UTF8.encode("input_tokens");
const PROMPT_TOKENS = String.UTF8.encode("prompt_tokens");
const OUTPUT_TOKENS = String.UTF8.encode("output_tokens");
const COMPLETION_TOKENS = String.UTF8.encode("completion_tokens");
const CACHE_READ = String.UTF8.encode("cache_read_input_tokens");
const CACHE_CREATION = String.UTF8.encode("cache_creation_input_tokens");

@inline
function bytesAre(k: usize, n: usize, b: ArrayBuffer): bool {
  return memory.compare(k, changetype<usize>(b), n) == 0;
}

/**
 * A count as extractor.number takes it: an integer literal, not negative, that fits an i64 (so
 * shorter than the tokenizer's maxTokenBytes). [p, e) is a valid JSON number.
 */
function count(slot: i32, p: usize, e: usize): void {
  let v: i64 = 0;
  for (let i = p; i < e; i++) {
    const d = <i64>load<u8>(i) - 0x30;
    if (d < 0 || d > 9) return; // a sign, a fraction or an exponent: not a count
    if (v > (i64.MAX_VALUE - d) / 10) return;
    v = v * 10 + d;
  }
  const q = quick;
  const i = q.counts;
  if (i >= q.countSlots.length) {
    failed = true;
    return;
  }
  unchecked(q.countSlots[i] = slot);
  unchecked(q.countValues[i] = v);
  q.counts = i + 1;
}

/**
 * Any value from p (its first byte): the position after it, or 0. `counting`: inside `choices`,
 * where strings under the content keys are counted; `countThis`: this value is such a string's.
 */
function value(p: usize, end: usize, depth: i32, counting: bool, countThis: bool): usize {
  const c = load<u8>(p);
  if (c == 0x22) return stringBody(p + 1, end, countThis);
  if (c == 0x7b) return object(p + 1, end, depth + 1, counting);
  if (c == 0x5b) return array(p + 1, end, depth + 1, counting);
  if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return number(p, end);
  return literal(p, end);
}

function object(p: usize, end: usize, depth: i32, counting: bool): usize {
  if (depth > MAX_DEPTH) return 0;
  p = ws(p, end);
  if (p < end && load<u8>(p) == 0x7d) return p + 1;
  for (;;) {
    if (p >= end || load<u8>(p) != 0x22) return 0;
    // The key: counted values follow a plain ASCII key of the set (as skim() judges it).
    const k = p + 1;
    const ke = plainKey(k, end);
    let countNext = false;
    if (ke != 0) {
      countNext = counting && countedKey(k, ke - k);
      if (countNext && ke - k == 4 && load<u32>(k) == AUDIO_DATA) return 0; // audio: the tokenizer counts it apart
      p = ke + 1;
    } else {
      p = stringBody(k, end, false);
      if (p == 0) return 0;
    }
    p = valueAfterKey(p, end);
    if (p == 0) return 0;
    p = value(p, end, depth, counting, countNext && load<u8>(p) == 0x22);
    if (p == 0) return 0;
    p = separatorAfter(p, end, 0x7d);
    if (p == 0) return 0;
    if (load<u8>(p) == 0x7d) return p + 1;
    p = ws(p + 1, end);
  }
  return 0; // (not reached)
}

function array(p: usize, end: usize, depth: i32, counting: bool): usize {
  if (depth > MAX_DEPTH) return 0;
  p = ws(p, end);
  if (p < end && load<u8>(p) == 0x5d) return p + 1;
  for (;;) {
    if (p >= end) return 0;
    p = value(p, end, depth, counting, false);
    if (p == 0) return 0;
    p = separatorAfter(p, end, 0x5d);
    if (p == 0) return 0;
    if (load<u8>(p) == 0x5d) return p + 1;
    p = ws(p + 1, end);
  }
  return 0; // (not reached)
}

/** A key's body from p: printable ASCII without a backslash, closed: the closing quote's position; else 0. */
function plainKey(p: usize, end: usize): usize {
  p = plainEnd(p, end);
  return p < end && load<u8>(p) == 0x22 ? p : 0;
}

/**
 * A string's body from p (after the opening quote), validated as the tokenizer does (UTF-8 by
 * RFC 3629, escapes, no control characters): the position after the closing quote, or 0. `count`:
 * its decoded UTF-8 bytes are added to the content, as skim() counts them.
 */
function stringBody(p: usize, end: usize, count: bool): usize {
  for (;;) {
    // Plain bytes, eight at a time while none is '"', '\', a control character or not ASCII.
    const start = p;
    p = plainEnd(p, end);
    if (count && p > start) {
      counted += <i64>(p - start);
      afterHigh = false;
    }
    if (p >= end) return 0;
    const c = <u32>load<u8>(p);
    if (c == 0x22) {
      if (count) afterHigh = false;
      return p + 1;
    }
    if (c == 0x5c) {
      if (p + 1 >= end) return 0;
      const e = <u32>load<u8>(p + 1);
      if (e == 0x75) {
        if (p + 6 > end) return 0;
        let u: u32 = 0;
        for (let i: usize = 2; i < 6; i++) {
          const h = hexDigit(<u32>load<u8>(p + i));
          if (h < 0) return 0;
          u = u << 4 | <u32>h;
        }
        if (count) {
          // As the tokenizer decodes: a pair is 4 bytes, a lone surrogate U+FFFD (3).
          if (u >= 0xd800 && u <= 0xdbff) { counted += 3; wide += 3; afterHigh = true; }
          else if (u >= 0xdc00 && u <= 0xdfff) { const m: i64 = afterHigh ? 1 : 3; counted += m; wide += m; afterHigh = false; }
          else { counted += u < 0x80 ? 1 : (u < 0x800 ? 2 : 3); if (u >= 0x800) wide += 3; afterHigh = false; }
        }
        p += 6;
        continue;
      }
      if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
        if (count) { counted++; afterHigh = false; }
        p += 2;
        continue;
      }
      return 0;
    }
    // A UTF-8 sequence: its lead and the range of the byte after it, then continuation bytes (a
    // control character is no lead: utf8Length rejects it).
    const n = utf8Length(p, end);
    if (n == 0) return 0;
    if (count) { counted += <i64>n; if (n >= 3) wide += <i64>n; afterHigh = false; }
    p += <usize>n;
  }
  return 0; // (not reached)
}

/** Length of the valid UTF-8 sequence at p (2..4), or 0. */
function utf8Length(p: usize, end: usize): i32 {
  const b0 = <u32>load<u8>(p);
  let need: i32;
  let lo: u32 = 0x80;
  let hi: u32 = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 == 0xe0) { need = 2; lo = 0xa0; }
  else if (b0 == 0xed) { need = 2; hi = 0x9f; }
  else if (b0 >= 0xe1 && b0 <= 0xef) need = 2;
  else if (b0 == 0xf0) { need = 3; lo = 0x90; }
  else if (b0 == 0xf4) { need = 3; hi = 0x8f; }
  else if (b0 >= 0xf1 && b0 <= 0xf3) need = 3;
  else return 0;
  if (p + <usize>need >= end) return 0;
  for (let k = 1; k <= need; k++) {
    const b = <u32>load<u8>(p + <usize>k);
    if (b < lo || b > hi) return 0;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

/**
 * A JSON number from p: the position after it, or 0. What follows it is the caller's to judge: a
 * digit after a leading 0, or the end of the document, is not a byte a value may be followed by.
 */
function number(p: usize, end: usize): usize {
  if (load<u8>(p) == 0x2d) p++;
  if (p >= end) return 0;
  let c = <u32>load<u8>(p);
  if (c == 0x30) {
    p++;
  } else if (c >= 0x31 && c <= 0x39) {
    p++;
    while (p < end && isDigit(<u32>load<u8>(p))) p++;
  } else {
    return 0;
  }
  if (p < end && load<u8>(p) == 0x2e) {
    p++;
    const f = p;
    while (p < end && isDigit(<u32>load<u8>(p))) p++;
    if (p == f) return 0;
  }
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    if (p < end && (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d)) p++;
    const f = p;
    while (p < end && isDigit(<u32>load<u8>(p))) p++;
    if (p == f) return 0;
  }
  return p;
}

@inline
function isDigit(c: u32): bool {
  return c - 0x30 <= 9;
}

/** true, false or null from p: the position after it, or 0. */
function literal(p: usize, end: usize): usize {
  const c = load<u8>(p);
  if (c == 0x74) return p + 4 <= end && load<u32>(p) == 0x65757274 ? p + 4 : 0;
  if (c == 0x6e) return p + 4 <= end && load<u32>(p) == 0x6c6c756e ? p + 4 : 0;
  if (c == 0x66) return p + 5 <= end && load<u32>(p) == 0x736c6166 && load<u8>(p + 4) == 0x65 ? p + 5 : 0;
  return 0;
}
