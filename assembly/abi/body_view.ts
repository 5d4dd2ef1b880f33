// Body bytes read in place, and rewritten, with linear memory bounded by a window whatever the
// body's size.
//
// `proxy_get_buffer_bytes` has the host write bytes into a block the plugin hands out from
// `proxy_on_memory_allocate`; the usual wrapper (bufferBytes) then copies that block into a managed
// buffer. A reader that looks at the bytes once (usage scanning, the request-body reader) reads them
// where the host wrote them, a window at a time: no managed allocation, no copy, and the block is
// freed as soon as the reader is done with it. Windows keep memory flat: a 10 MiB chunk costs a
// 64 KiB block, not a 10 MiB one (linear memory never shrinks once grown).
//
// Writing follows Envoy's Buffer::copyFrom (source/extensions/common/wasm/context.cc): start 0 drains
// `length` bytes from the front then prepends the data; a start at or past the end appends; nothing
// else. A rewrite therefore either replaces a small chunk whole, or "rotates" a large one: each
// window is read from the front, drained, and appended (rewritten or not) at the back, so after one
// pass the chunk holds the new bytes in order and never more than one window was in our memory.
import * as raw from "./imports";
import { BufferType, Status } from "./types";
import { RETURN_PTR, RETURN_SIZE } from "./memory";

/** The most bytes of a body held in linear memory at once. */
export const BODY_WINDOW: u32 = 64 * 1024;

/** Whether [ptr, ptr + len) lies inside linear memory (no wrap-around). */
@inline
function inMemory(ptr: usize, len: usize): bool {
  return <u64>ptr + <u64>len <= (<u64>memory.size() << 16);
}

/** Reads body bytes; T has `feedBytes(ptr: usize, len: usize): void` (the pointer is not kept). */
export class BodyWindowReader {
  feedBytes(ptr: usize, len: usize): void {}
}

/**
 * Rewrites body bytes window by window: `rewrite` sees each window (`last` on the final one of a
 * body that ends here) and answers the bytes to put in its place, or null to keep them.
 */
export class BodyRewriter {
  rewrite(ptr: usize, len: usize, last: bool): Uint8Array | null { return null; }
}

/** Asks the host for [start, start + len) of a buffer; the block's pointer (0: none) and length. */
@inline
function hostBytes(type: BufferType, start: u32, len: u32): usize {
  store<u32>(RETURN_PTR, 0);
  store<u32>(RETURN_SIZE, 0);
  if (raw.proxy_get_buffer_bytes(type, start, len, RETURN_PTR, RETURN_SIZE) != Status.Ok) return 0;
  const ptr = <usize>load<u32>(RETURN_PTR);
  return ptr != 0 && inMemory(ptr, 1) ? ptr : 0; // not a block of ours: nothing to read or free
}

/** How many bytes the block from hostBytes holds, 0 when it does not fit what was asked or memory. */
@inline
function hostLength(ptr: usize, asked: u32): u32 {
  const n = <usize>load<u32>(RETURN_SIZE);
  return n > 0 && n <= <usize>asked && inMemory(ptr, n) ? <u32>n : 0;
}

/** Feeds one window [start, start + len) to `reader`; answers the bytes fed (0: none). */
function readWindow<T>(type: BufferType, start: u32, len: u32, reader: T): u32 {
  const ptr = hostBytes(type, start, len);
  if (ptr == 0) return 0;
  const n = hostLength(ptr, len);
  if (n > 0) reader.feedBytes(ptr, <usize>n);
  heap.free(ptr);
  return n;
}

/** Takes the first `len` bytes off the front of the buffer and appends them, rewritten, at the back. */
function rotateWindow<T>(type: BufferType, len: u32, last: bool, rewriter: T): u32 {
  const ptr = hostBytes(type, 0, len);
  if (ptr == 0) return 0;
  const n = hostLength(ptr, len);
  if (n > 0) {
    const out: Uint8Array | null = rewriter.rewrite(ptr, <usize>n, last);
    raw.proxy_set_buffer_bytes(type, 0, n, 0, 0);
    if (out === null) raw.proxy_set_buffer_bytes(type, 0xffffffff, 0, ptr, <usize>n);
    else raw.proxy_set_buffer_bytes(type, 0xffffffff, 0, out.dataStart, <usize>out.length);
  }
  heap.free(ptr);
  return n;
}

/** Feeds bytes [start, start + len) of a body buffer to `reader`, a window at a time. */
function readBody<T>(type: BufferType, start: u32, len: u32, reader: T): void {
  let at = start;
  const end = <u64>start + <u64>len;
  while (<u64>at < end) {
    const n = <u32>min<u64>(<u64>BODY_WINDOW, end - <u64>at);
    const got = readWindow<T>(type, at, n, reader);
    if (got == 0) return;
    at += got;
  }
}

/**
 * Rewrites the first `size` bytes the host holds for this callback (all of the buffer, as Envoy
 * reports it). A chunk within one window is replaced whole, only when something changed; a larger
 * one is rotated window by window (see the top of this file).
 */
function rewriteBody<T>(type: BufferType, size: u32, end: bool, rewriter: T): void {
  if (size == 0) {
    // An empty last chunk still ends the body: the rewriter may have bytes left to add.
    const out: Uint8Array | null = rewriter.rewrite(0, 0, end);
    if (out !== null && out.length > 0) raw.proxy_set_buffer_bytes(type, 0, 0, out.dataStart, <usize>out.length);
    return;
  }
  if (size <= BODY_WINDOW) {
    const ptr = hostBytes(type, 0, size);
    if (ptr == 0) return;
    const n = hostLength(ptr, size);
    if (n > 0) {
      const out: Uint8Array | null = rewriter.rewrite(ptr, <usize>n, end);
      if (out !== null) raw.proxy_set_buffer_bytes(type, 0, n, out.dataStart, <usize>out.length);
    }
    heap.free(ptr);
    return;
  }
  let left = size;
  while (left > 0) {
    const n = min<u32>(BODY_WINDOW, left);
    const got = rotateWindow<T>(type, n, end && left == n, rewriter);
    if (got == 0) return;
    left -= got;
  }
}

/** The request body bytes [start, start + len) the host holds, to `reader` (see readBody). */
export function readRequestBody<T>(start: u32, len: u32, reader: T): void {
  readBody<T>(BufferType.HttpRequestBody, start, len, reader);
}

/** The response body chunk the host holds for this callback, to `reader`. */
export function readResponseBody<T>(size: u32, reader: T): void {
  readBody<T>(BufferType.HttpResponseBody, 0, size, reader);
}

export function rewriteRequestBody<T>(size: u32, end: bool, rewriter: T): void {
  rewriteBody<T>(BufferType.HttpRequestBody, size, end, rewriter);
}

export function rewriteResponseBody<T>(size: u32, end: bool, rewriter: T): void {
  rewriteBody<T>(BufferType.HttpResponseBody, size, end, rewriter);
}

/** Drops `drain` bytes from the front of the held request body and puts `prepend` there instead. */
export function editRequestBodyFront(drain: u32, prepend: Uint8Array): bool {
  return raw.proxy_set_buffer_bytes(BufferType.HttpRequestBody, 0, drain, prepend.dataStart, <usize>prepend.length) == Status.Ok;
}
