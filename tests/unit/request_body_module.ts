// Loads build/test/request_body.wasm (from assembly/testing/request_body.ts) for the request body
// tests, the fuzz property and the bench. The module imports only env.proxy_log (the abort handler
// writes there before trapping); the stub records every line. Run `npm run build` first.
import { join } from "node:path";
import { loadParsers } from "./parsers_module";

export const REQUEST_BODY_WASM = join(__dirname, "..", "..", "build", "test", "request_body.wasm");

export interface Facts {
  stream: number;
  usageAsked: boolean;
  hasStreamOptions: boolean;
  model: string;
  outputLimit: string;
  outputLimitUnreadable: boolean;
  choices: string;
  background: boolean;
  complete: boolean;
  bytes: string;
  injected: boolean;
  /** Why the body cannot be read as every upstream will (request/verdict.ts); 0: it can. */
  unreadable: number;
  stateful: boolean;
}

export interface Limits {
  outputLimit: string;
  outputUnbounded: boolean;
  outputLimitUnreadable: boolean;
  choices: string;
  /** The estimate bound: limit × choices, "-1" none. */
  allowed: string;
  /** The max_tokens reservation (fallback as given, cap 2^40). */
  reservation: string;
  complete: boolean;
}

export interface Rewritten extends Facts {
  /** Indexes of the chunks the reader replaced. */
  changed: number[];
  /** What the upstream receives. */
  body: Buffer;
}

export interface Buffered extends Facts {
  /** Bytes drained from the front (-1: no edit). */
  drain: number;
  body: Buffer;
}

export interface RequestBodyModule {
  /** The streaming path; cuts: ascending offsets, or "bytes" for one chunk per byte. */
  rewrite(input: Uint8Array | string, inject: boolean, cuts?: number[] | "bytes"): Rewritten;
  /** The streaming path whole, split in two at every byte, and byte by byte. */
  allSplits(input: Uint8Array | string, inject: boolean): { result: Rewritten; mismatch: number | null };
  /** The buffered path, and the front edit applied. */
  read(input: Uint8Array | string, inject: boolean, cuts?: number[] | "bytes"): Buffered;
  /** Linear memory grown while reading (bytes). */
  memory(input: Uint8Array, inject: boolean, chunk: number, buffered: boolean): { grown: number; facts: Facts };
  estimate(input: Uint8Array | string, fallback: bigint, cap: bigint): { reservation: string; sameWhole: boolean; input: string; output: string; atCap: boolean };
  /** Read with family `limits` (0 OpenAI-style, every field; 1 /generate; 2 llama.cpp; 3 Ollama; 4 Converse; 5 chat; 6 completions; 7 Responses; 8 max_tokens APIs; 9 Gemini). */
  limits(input: Uint8Array | string, limits: number, cuts?: number[] | "bytes", fallback?: bigint): Limits;
  integralNumber(text: string): string;
  integralString(text: string | Uint8Array): string;
  /** Writes input and returns its length (for bench_read). */
  write(input: Uint8Array): number;
  logs: string[];
  exports: Record<string, any>;
}

export function loadRequestBody(path = REQUEST_BODY_WASM): RequestBodyModule {
  const m = loadParsers("request_body", path);
  const ex = m.exports;
  const memory = ex.memory as { buffer: ArrayBuffer };
  const write = (input: Uint8Array | string): number => m.write(input);
  const writeCuts = (cuts: number[] | "bytes" | undefined): number => {
    if (cuts === "bytes") return -1;
    if (cuts === undefined || cuts.length === 0) return 0;
    const ptr = ex.cuts_alloc(cuts.length) >>> 0;
    new Int32Array(memory.buffer, ptr, cuts.length).set(cuts);
    return cuts.length;
  };
  const text = (len: number): string => m.output(len).toString("utf8");
  const result = (len: number): any => JSON.parse(text(len));
  const body = (): Buffer => m.bytesAt(ex.body_ptr(), ex.body_len());

  return {
    logs: m.logs,
    exports: ex,
    write,
    rewrite(input, inject, cuts) {
      const len = write(input);
      const n = writeCuts(cuts);
      const r = result(ex.run_rewrite(len, inject ? 1 : 0, n));
      return { ...r, body: body() };
    },
    allSplits(input, inject) {
      const len = write(input);
      const r = result(ex.run_rewrite_all_splits(len, inject ? 1 : 0));
      return { result: { ...r.result, body: body() }, mismatch: r.mismatch };
    },
    read(input, inject, cuts) {
      const len = write(input);
      const n = writeCuts(cuts);
      const r = result(ex.run_read(len, inject ? 1 : 0, n));
      return { ...r, body: body() };
    },
    limits(input, limits, cuts, fallback = 16n) {
      const len = write(input);
      const n = writeCuts(cuts);
      return result(ex.run_limits(len, limits, n, fallback));
    },
    memory(input, inject, chunk, buffered) {
      const len = write(input);
      return result(ex.run_memory(len, inject ? 1 : 0, chunk, buffered ? 1 : 0));
    },
    estimate(input, fallback, cap) {
      const len = write(input);
      return result(ex.run_estimate(len, fallback, cap));
    },
    integralNumber(t) {
      return text(ex.run_integral_number(write(t)));
    },
    integralString(t) {
      return text(ex.run_integral_string(write(t)));
    },
  };
}
