// The few parts of the WebAssembly JS API the host uses, typed here: the project's tsconfig has
// no DOM lib (where TypeScript declares WebAssembly), and a local view avoids adding a global
// declaration that would clash with it if it ever came in.

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

interface WasmApi {
  instantiate(bytes: Uint8Array, imports: Record<string, Record<string, unknown>>): Promise<{ instance: { exports: Record<string, unknown> } }>;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  RuntimeError: new (message?: string) => Error;
}

export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
