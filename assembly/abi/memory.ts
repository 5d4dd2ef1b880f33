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

/** The size of the block takeHostBlock() last answered. */
let hostBlockSize: usize = 0;

/**
 * The block a host call wrote its (pointer, size) answer for, to be read in place: its pointer, or
 * 0 when there is none (empty, absent, not inside linear memory, or past MAX_HOST_BYTES; such a
 * block is freed here). The caller frees a non-zero answer with heap.free once done; its size is
 * hostBlockBytes(). Saves the copy into a managed buffer that takeHostBytes makes.
 */
export function takeHostBlock(): usize {
  const ptr = <usize>load<u32>(RETURN_PTR);
  const size = <usize>load<u32>(RETURN_SIZE);
  hostBlockSize = 0;
  if (ptr == 0) return 0;
  const inMemory = <u64>ptr + <u64>size <= (<u64>memory.size() << 16);
  if (!inMemory) return 0; // not a block of ours: nothing to read or free
  if (size == 0 || size > MAX_HOST_BYTES) {
    heap.free(ptr);
    return 0;
  }
  hostBlockSize = size;
  return ptr;
}

export function hostBlockBytes(): usize {
  return hostBlockSize;
}
