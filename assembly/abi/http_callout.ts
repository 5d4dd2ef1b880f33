// The answer of a `proxy_http_call`, read inside `proxy_on_http_call_response` (the only time the
// host lets a plugin see it): the status, and the body up to a size the caller chooses.
import { BufferType, MapType } from "./types";
import { getBufferBytes, getHeader } from "./hostcalls";

/** The answer's `:status` as a number; -1 when there is none or it is not 3 digits. */
export function httpCallResponseStatus(): i32 {
  const s = getHeader(MapType.HttpCallResponseHeaders, ":status");
  if (s === null || s.length != 3) return -1;
  let n = 0;
  for (let i = 0; i < 3; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** The answer's body, `size` bytes at most; empty when there is none; null when the host refused. */
export function httpCallResponseBody(size: u32): Uint8Array | null {
  if (size == 0) return new Uint8Array(0);
  const b = getBufferBytes(BufferType.HttpCallResponseBody, 0, size);
  if (b === null) return null;
  return Uint8Array.wrap(b);
}
