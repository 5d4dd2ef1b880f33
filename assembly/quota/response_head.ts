// What the plugin reads of an answer's headers before reading its body: `:status`, whether the
// content type says SSE, and whether a content-encoding makes the bytes unreadable. As Envoy's
// single-header lookup does, the first of repeated values counts. One walk over the map in place.
// For Bedrock's InvokeModel, whose body is the model's own JSON (which may carry no counts), the
// token counts Bedrock puts in the response headers are read too.
import { headerMapReader, nameBytes } from "../abi/headers";
import { TokenUsage } from "../usage/token_usage";

const STATUS = nameBytes(":status");
const CONTENT_TYPE = nameBytes("content-type");
const CONTENT_ENCODING = nameBytes("content-encoding");
// Bedrock runtime InvokeModel (AWS API reference, InvokeModel response elements; its cache counts apart).
const BEDROCK_INPUT = nameBytes("x-amzn-bedrock-input-token-count");
const BEDROCK_OUTPUT = nameBytes("x-amzn-bedrock-output-token-count");
const BEDROCK_CACHE_READ = nameBytes("x-amzn-bedrock-cache-read-input-token-count");
const BEDROCK_CACHE_WRITE = nameBytes("x-amzn-bedrock-cache-write-input-token-count");
/** A count of more digits than this is not one (and cannot overflow). */
const MAX_COUNT_DIGITS: usize = 15;

export class ResponseHead {
  status: i32 = 0;
  sse: bool = false;
  encoded: bool = false;
  /** Bedrock's header counts (-1: absent or not a count), read only when asked. */
  input: i64 = -1;
  output: i64 = -1;
  cacheRead: i64 = -1;
  cacheWrite: i64 = -1;
}

/** The answer of readResponseHead: one instance, refilled by each call (use it at once). */
const head = new ResponseHead();

/** Reads the response header map serialized at [block, block + len); `bedrockCounts`: Bedrock's token counts too. */
export function readResponseHead(block: usize, len: usize, bedrockCounts: bool = false): ResponseHead {
  head.input = -1;
  head.output = -1;
  head.cacheRead = -1;
  head.cacheWrite = -1;
  seenCounts = 0;
  let status: i32 = 0;
  let sse = false;
  let encoded = false;
  let seenStatus = false;
  let seenType = false;
  let seenEncoding = false;
  const r = headerMapReader;
  if (r.reset(block, len)) {
    while (r.next()) {
      if (!seenStatus && r.nameIs(STATUS)) {
        seenStatus = true;
        status = parseStatus(r.value, r.valueLen);
      } else if (!seenType && r.nameIs(CONTENT_TYPE)) {
        seenType = true;
        sse = containsEventStream(r.value, r.valueLen);
      } else if (!seenEncoding && r.nameIs(CONTENT_ENCODING)) {
        seenEncoding = true;
        encoded = r.valueLen > 0 && !isIdentity(r.value, r.valueLen);
      } else if (bedrockCounts) {
        readBedrockCount(r.value, r.valueLen, r.nameIs(BEDROCK_INPUT), r.nameIs(BEDROCK_OUTPUT), r.nameIs(BEDROCK_CACHE_READ), r.nameIs(BEDROCK_CACHE_WRITE));
      }
    }
  }
  head.status = status;
  head.sse = sse;
  head.encoded = encoded;
  return head;
}

/** Bedrock's header counts as a usage: input with the cache reads and writes (apart, as in Converse's usage). */
export function bedrockHeaderUsage(h: ResponseHead): TokenUsage {
  const u = new TokenUsage();
  u.found = true;
  u.hasInput = h.input >= 0;
  u.hasOutput = h.output >= 0;
  u.input = (h.input > 0 ? h.input : 0) + (h.cacheRead > 0 ? h.cacheRead : 0) + (h.cacheWrite > 0 ? h.cacheWrite : 0);
  u.output = h.output > 0 ? h.output : 0;
  return u;
}

/** The first value of each Bedrock count header, when it is a plain decimal count. */
function readBedrockCount(p: usize, n: usize, input: bool, output: bool, cacheRead: bool, cacheWrite: bool): void {
  const bit: u32 = input ? 1 : output ? 2 : cacheRead ? 4 : cacheWrite ? 8 : 0;
  if (bit == 0 || (seenCounts & bit) != 0) return;
  seenCounts |= bit;
  const v = parseDigits(p, n, MAX_COUNT_DIGITS);
  if (input) head.input = v;
  else if (output) head.output = v;
  else if (cacheRead) head.cacheRead = v;
  else head.cacheWrite = v;
}

/** Which Bedrock count headers were seen (bits as readBedrockCount sets them): later values are ignored. */
let seenCounts: u32 = 0;

/** ASCII digits only, at most `maxDigits` of them (so no overflow); -1 otherwise. */
function parseDigits(p: usize, n: usize, maxDigits: usize): i64 {
  if (n == 0 || n > maxDigits) return -1;
  let v: i64 = 0;
  for (let i: usize = 0; i < n; i++) {
    const d = <i64>load<u8>(p + i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** The status code's digits (3 of them, as Envoy writes it); 0 when it is not a number. */
function parseStatus(p: usize, n: usize): i32 {
  const v = parseDigits(p, n, 9);
  return v < 0 ? 0 : <i32>v;
}

/** ASCII case-insensitively, `text/event-stream` anywhere in the value. */
function containsEventStream(p: usize, n: usize): bool {
  const m = <usize>EVENT_STREAM.byteLength;
  if (n < m) return false;
  const e = changetype<usize>(EVENT_STREAM);
  for (let i: usize = 0; i + m <= n; i++) {
    let k: usize = 0;
    while (k < m && lowerAscii(load<u8>(p + i + k)) == load<u8>(e + k)) k++;
    if (k == m) return true;
  }
  return false;
}

/** The value is `identity`, ASCII case-insensitively. */
function isIdentity(p: usize, n: usize): bool {
  const m = <usize>IDENTITY.byteLength;
  if (n != m) return false;
  const e = changetype<usize>(IDENTITY);
  for (let k: usize = 0; k < m; k++) if (lowerAscii(load<u8>(p + k)) != load<u8>(e + k)) return false;
  return true;
}

@inline
function lowerAscii(c: u8): u8 {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

const EVENT_STREAM = nameBytes("text/event-stream");
const IDENTITY = nameBytes("identity");
