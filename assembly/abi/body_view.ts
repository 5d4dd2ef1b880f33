// A body chunk read in place. `proxy_get_buffer_bytes` has the host write the chunk into a block
// the plugin hands out from `proxy_on_memory_allocate`; the usual wrapper (bufferBytes) then copies
// that block into a managed buffer and frees it. A reader that only looks at the bytes once, as
// the usage scanner does for every response chunk, can read them where the host wrote them: no
// managed allocation, no copy, and the block is freed as soon as the reader is done.
import * as raw from "./imports";
import { BufferType, Status } from "./types";
import { RETURN_PTR, RETURN_SIZE } from "./memory";

/** As takeHostBytes: no chunk the plugin reads comes near this; a larger size is a broken host answer. */
const MAX_CHUNK_BYTES: usize = 256 << 20;

/** Whether [ptr, ptr + len) lies inside linear memory (no wrap-around). */
@inline
function inMemory(ptr: usize, len: usize): bool {
  return <u64>ptr + <u64>len <= (<u64>memory.size() << 16);
}

/**
 * Reads the first `size` bytes of the response body chunk the host holds for this callback and
 * passes them to `reader.feedBytes(ptr, len)` where the host wrote them; the block is freed when
 * the call returns, so the reader must not keep the pointer. Nothing is passed when the host has
 * no bytes, fails, or answers with a block that is not in memory (as bufferBytes, which then
 * returns an empty view). T is any class with `feedBytes(ptr: usize, len: usize): void`.
 */
export function readResponseBody<T>(size: u32, reader: T): void {
  if (size == 0) return;
  store<u32>(RETURN_PTR, 0);
  store<u32>(RETURN_SIZE, 0);
  if (raw.proxy_get_buffer_bytes(BufferType.HttpResponseBody, 0, size, RETURN_PTR, RETURN_SIZE) != Status.Ok) return;
  const ptr = <usize>load<u32>(RETURN_PTR);
  const len = <usize>load<u32>(RETURN_SIZE);
  if (ptr == 0 || !inMemory(ptr, 1)) return; // not a block of ours: nothing to read or free
  if (len > 0 && len <= MAX_CHUNK_BYTES && inMemory(ptr, len)) reader.feedBytes(ptr, len);
  heap.free(ptr);
}
