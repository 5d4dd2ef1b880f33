// Memory the host writes into: `proxy_on_memory_allocate` hands out unmanaged blocks, which the
// wrapper that asked for them copies into a managed ArrayBuffer and frees at once.

export function allocateForHost(size: usize): usize {
  // A zero-size request still gets a distinct, freeable block.
  return heap.alloc(size == 0 ? 1 : size);
}

/** Two u32 out-parameters for host calls returning (pointer, size); a call never nests. */
export const RETURN_PTR: usize = memory.data(8);
export const RETURN_SIZE: usize = RETURN_PTR + 4;

const MAX_HOST_BYTES: usize = 256 << 20;

/** Takes ownership of a host-written block: copies it out and frees it. */
export function takeHostBytes(ptr: usize, size: usize): ArrayBuffer {
  // No buffer the plugin reads comes near this; a larger size is a broken host answer, not data.
  if (size > MAX_HOST_BYTES) {
    if (ptr != 0) heap.free(ptr);
    return new ArrayBuffer(0);
  }
  const out = new ArrayBuffer(<i32>size);
  if (size > 0 && ptr != 0) memory.copy(changetype<usize>(out), ptr, size);
  if (ptr != 0) heap.free(ptr);
  return out;
}
