// Loads build/test/parsers.wasm (from assembly/testing/parsers.ts) for the unit tests.
// The module imports only env.proxy_log (used by the abort handler); the stub records every line,
// so a test can assert that nothing aborted. Run `npm run build` first.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ParsersModule {
  /** Writes input, calls `run_<name>(len, ...args)`, returns the output bytes. */
  run(name: string, input: Uint8Array | string, ...args: Array<number | bigint>): Buffer;
  /** run() decoded as UTF-8. */
  text(name: string, input: Uint8Array | string, ...args: Array<number | bigint>): string;
  /** run() parsed as JSON. */
  json(name: string, input: Uint8Array | string, ...args: Array<number | bigint>): any;
  /** Calls an export with numeric arguments, returns the output it wrote (for run_* without input). */
  call(name: string, ...args: Array<number | bigint>): Buffer;
  /** Writes input at input_alloc and returns its length (for exports with their own arguments). */
  write(input: Uint8Array | string): number;
  /** The `len` bytes the last call left at output_ptr. */
  output(len: number): Buffer;
  /** A copy of linear memory [ptr, ptr + len). */
  bytesAt(ptr: number, len: number): Buffer;
  /** Lines the module logged through env.proxy_log (the abort handler writes here before trapping). */
  logs: string[];
  exports: Record<string, any>;
}

// tsconfig's lib (ES2022, no DOM) has no WebAssembly typings; Node has the global at run time.
const WA = (globalThis as any).WebAssembly;
const compiledModules = new Map<string, unknown>();

/**
 * Loads build/test/<name>.wasm (default: the parsers), or the module at `wasmPath`; every test
 * module speaks the same protocol (assembly/testing/_io.ts).
 */
export function loadParsers(name = "parsers", wasmPath = join(__dirname, "..", "..", "build", "test", `${name}.wasm`)): ParsersModule {
  let compiled = compiledModules.get(wasmPath);
  if (compiled === undefined) {
    compiled = new WA.Module(readFileSync(wasmPath));
    compiledModules.set(wasmPath, compiled);
  }
  const logs: string[] = [];
  let memory: { buffer: ArrayBuffer } | null = null;
  const env = {
    proxy_log(level: number, ptr: number, size: number): number {
      const bytes = new Uint8Array(memory!.buffer, ptr, size);
      logs.push(`[${level}] ${Buffer.from(bytes).toString("utf8")}`);
      return 0;
    },
  };
  const instance = new WA.Instance(compiled, { env });
  const ex = instance.exports as Record<string, any>;
  memory = ex.memory as { buffer: ArrayBuffer };
  if (typeof ex._initialize === "function") ex._initialize();

  const bytesAt = (ptr: number, len: number): Buffer => Buffer.from(new Uint8Array(memory!.buffer, ptr >>> 0, len >>> 0));
  const output = (len: number): Buffer => bytesAt(ex.output_ptr(), len);
  const write = (input: Uint8Array | string): number => {
    const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
    const ptr = ex.input_alloc(bytes.length) >>> 0;
    new Uint8Array(memory!.buffer, ptr, bytes.length).set(bytes);
    return bytes.length;
  };
  const mod: ParsersModule = {
    logs,
    exports: ex,
    write,
    output,
    bytesAt,
    run(name, input, ...args) {
      const len = write(input);
      return output(ex[`run_${name}`](len, ...args));
    },
    text(name, input, ...args) {
      return mod.run(name, input, ...args).toString("utf8");
    },
    json(name, input, ...args) {
      return JSON.parse(mod.text(name, input, ...args));
    },
    call(name, ...args) {
      return output(ex[name](...args));
    },
  };
  return mod;
}
