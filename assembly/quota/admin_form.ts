// The body of an admin refresh or delta, a form of a few dozen bytes, gathered as its chunks arrive
// (a held body shows each chunk once) up to a cap, so a large body costs at most the cap.
/** An admin form body, collected chunk by chunk up to its cap (the buffer grows as it comes). */
export class FormCollector {
  private buffer: Uint8Array = new Uint8Array(256);
  private length: i32 = 0;
  constructor(public cap: u32) {}
  feedBytes(ptr: usize, len: usize): void {
    const n = min<i32>(<i32>len, <i32>this.cap - this.length);
    if (n <= 0) return;
    const need = this.length + n;
    if (need > this.buffer.length) {
      const grown = new Uint8Array(min<i32>(max<i32>(need, this.buffer.length << 1), <i32>this.cap));
      memory.copy(grown.dataStart, this.buffer.dataStart, <usize>this.length);
      this.buffer = grown;
    }
    memory.copy(this.buffer.dataStart + <usize>this.length, ptr, <usize>n);
    this.length = need;
  }
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}
