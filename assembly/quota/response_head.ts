// What the plugin reads of an answer's headers before reading its body: `:status`, whether the
// content type says SSE, and whether a content-encoding makes the bytes unreadable. As Envoy's
// single-header lookup does, the first of repeated values counts. One walk over the map in place.
import { headerMapReader, nameBytes } from "../abi/headers";

const STATUS = nameBytes(":status");
const CONTENT_TYPE = nameBytes("content-type");
const CONTENT_ENCODING = nameBytes("content-encoding");

export class ResponseHead {
  status: i32 = 0;
  sse: bool = false;
  encoded: bool = false;
}

/** The answer of readResponseHead: one instance, refilled by each call (use it at once). */
const head = new ResponseHead();

/** Reads the response header map serialized at [block, block + len). */
export function readResponseHead(block: usize, len: usize): ResponseHead {
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
      }
    }
  }
  head.status = status;
  head.sse = sse;
  head.encoded = encoded;
  return head;
}

/** The status code's digits (3 of them, as Envoy writes it); 0 when it is not a number. */
function parseStatus(p: usize, n: usize): i32 {
  if (n == 0 || n > 9) return 0;
  let v = 0;
  for (let i: usize = 0; i < n; i++) {
    const d = <i32>load<u8>(p + i) - 0x30;
    if (d < 0 || d > 9) return 0;
    v = v * 10 + d;
  }
  return v;
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
