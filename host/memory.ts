// The plugin's linear memory as the host sees it. Every pointer the plugin hands over is checked
// here, so a bad one becomes a status code (InvalidMemoryAccess), never a host exception.
// A view is re-made whenever the buffer changed: an allocation in the plugin may grow (and detach)
// memory.
import { Wasm, WasmMemory } from "./wasm-api";

export class GuestMemory {
  private memory: WasmMemory = new Wasm.Memory({ initial: 0 });
  /** The module's `proxy_on_memory_allocate`; it may trap, which the running callback reports. */
  private allocate: (size: number) => number = () => 0;
  private view: DataView | null = null;

  /** A DataView of the current buffer (one per buffer, not one per access). */
  private dataView(): DataView {
    const buffer = this.memory.buffer;
    let v = this.view;
    if (v === null || v.buffer !== buffer) {
      v = new DataView(buffer);
      this.view = v;
    }
    return v;
  }

  /** Binds the instance's memory and allocator (the host functions exist before the instance). */
  attach(memory: WasmMemory, allocate: (size: number) => number): void {
    this.memory = memory;
    this.allocate = allocate;
  }

  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  private inBounds(ptr: number, size: number): boolean {
    return ptr >= 0 && size >= 0 && ptr + size <= this.memory.buffer.byteLength;
  }

  /** A copy of [ptr, ptr+size), or null when any of it lies outside memory. */
  read(ptr: number, size: number): Buffer | null {
    if (!this.inBounds(ptr, size)) return null;
    return Buffer.from(new Uint8Array(this.memory.buffer, ptr, size));
  }

  /** Copies `data` to [ptr, ...); false when it does not fit. */
  write(ptr: number, data: Uint8Array): boolean {
    if (!this.inBounds(ptr, data.length)) return false;
    new Uint8Array(this.memory.buffer, ptr, data.length).set(data);
    return true;
  }

  /** A block from the plugin's allocator (tests use it to place arguments for host calls). */
  alloc(size: number): number {
    return this.allocate(size) >>> 0;
  }

  writeU32(ptr: number, value: number): boolean {
    if (!this.inBounds(ptr, 4)) return false;
    this.dataView().setUint32(ptr, value >>> 0, true);
    return true;
  }

  writeU64(ptr: number, value: bigint): boolean {
    if (!this.inBounds(ptr, 8)) return false;
    this.dataView().setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  readU32(ptr: number): number | null {
    if (!this.inBounds(ptr, 4)) return null;
    return this.dataView().getUint32(ptr, true);
  }

  /**
   * Envoy's copyToPointerSize: copies `data` into a block the plugin allocates and writes the
   * block's address and size to the two out-pointers. Empty data allocates nothing and writes 0, 0.
   * False when the allocation fails or any pointer is out of bounds.
   */
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    let ptr = 0;
    if (data.length > 0) {
      ptr = this.allocate(data.length) >>> 0;
      if (ptr === 0 || !this.inBounds(ptr, data.length)) return false;
      new Uint8Array(this.memory.buffer, ptr, data.length).set(data);
    }
    return this.writeU32(ptrPtr, ptr) && this.writeU32(sizePtr, data.length);
  }
}
