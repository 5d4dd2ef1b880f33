// Loads build/test/usage.wasm (assembly/testing/usage.ts): the ResponseReader fed chunk by chunk,
// the estimate, and the hider's member removal. Build it first (npm run build, or asc on the entry).
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ReaderUsage { found: boolean; input: string; output: string; hasInput: boolean; hasOutput: boolean; model: string; /** Only an Anthropic message_start output count so far (present only when true). */ provisional?: boolean }
export interface ReaderResult {
  usage: ReaderUsage;
  contentBytes: string;
  contentAfterOutput: string;
  audioBytes: string;
  contentWide: string;
  bodyBytes: string;
  hiddenEvents: number;
  hiddenNulls: number;
  events: number;
  malformed: number;
  sse: boolean;
}
export interface ReaderRun {
  /** What the client receives: each chunk, or what feed() returned instead. */
  out: Buffer;
  result: ReaderResult;
  /** How many feeds returned null (the chunk unchanged). */
  unchanged: number;
  feeds: number;
}

const WASM = join(__dirname, "..", "..", "build", "test", "usage.wasm");
const WA = (globalThis as any).WebAssembly;
let compiled: unknown = null;

export class ResponseModule {
  readonly logs: string[] = [];
  readonly ex: Record<string, any>;
  private readonly memory: { buffer: ArrayBuffer };

  constructor() {
    if (compiled === null) compiled = new WA.Module(readFileSync(WASM));
    let memory: { buffer: ArrayBuffer } | null = null;
    const logs = this.logs;
    const env = {
      proxy_log(level: number, ptr: number, size: number): number {
        logs.push(`[${level}] ${Buffer.from(new Uint8Array(memory!.buffer, ptr, size)).toString("utf8")}`);
        return 0;
      },
    };
    const instance = new WA.Instance(compiled, { env });
    this.ex = instance.exports as Record<string, any>;
    memory = this.ex.memory as { buffer: ArrayBuffer };
    this.memory = memory;
    if (typeof this.ex._initialize === "function") this.ex._initialize();
  }

  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  write(bytes: Uint8Array): number {
    const ptr = this.ex.input_alloc(bytes.length) >>> 0;
    new Uint8Array(this.memory.buffer, ptr, bytes.length).set(bytes);
    return bytes.length;
  }

  output(len: number): Buffer {
    return Buffer.from(new Uint8Array(this.memory.buffer, this.ex.output_ptr() >>> 0, len >>> 0));
  }

  json(fn: string, ...args: Array<number | bigint>): any {
    return JSON.parse(this.output(this.ex[fn](...args)).toString("utf8"));
  }

  /** A fresh reader; wantModel false: the model's name is not read (no weights need it). */
  start(sse: boolean, hide: boolean, wantModel = true): void {
    this.ex.reader_new(sse ? 1 : 0, hide ? 1 : 0, wantModel ? 0 : 1);
  }

  /** One chunk; returns what the client gets for it. */
  feed(chunk: Uint8Array, end: boolean): { bytes: Buffer; unchanged: boolean } {
    const n = this.ex.reader_feed(this.write(chunk), end ? 1 : 0);
    if (n < 0) return { bytes: Buffer.from(chunk), unchanged: true };
    return { bytes: this.output(n), unchanged: false };
  }

  result(): ReaderResult {
    return this.json("reader_result");
  }

  /**
   * The body through a fresh reader in the chunks given (cut points, or "bytes" for one byte each);
   * the last chunk carries end of stream unless `finish` (then finish() is called after it, and
   * what takeHeld() gives is added to the output).
   */
  run(body: Uint8Array | string, sse: boolean, hide: boolean, cuts: number[] | "bytes" = [], finish = false, wantModel = true): ReaderRun {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
    const chunks = splitAt(bytes, cuts);
    this.start(sse, hide, wantModel);
    const outs: Buffer[] = [];
    let unchanged = 0;
    chunks.forEach((c, i) => {
      const r = this.feed(c, !finish && i === chunks.length - 1);
      outs.push(r.bytes);
      if (r.unchanged) unchanged++;
    });
    if (chunks.length === 0 && !finish) outs.push(this.feed(new Uint8Array(0), true).bytes);
    if (finish) {
      const n = this.ex.reader_finish();
      if (n >= 0) outs.push(this.output(n)); // takeHeld(): what a host could still send
    }
    return { out: Buffer.concat(outs), result: this.result(), unchanged, feeds: chunks.length };
  }

  /** estimateUsage over the reader; family: API family (0 chat/other, 1 Anthropic, 2 Responses, 3 Gemini); tools: the request declared tools. */
  estimate(requestBytes: number, encoded: boolean, cut: boolean, noReader = false, family = 0, tools = false): ReaderUsage {
    return this.json("reader_estimate", BigInt(requestBytes), encoded ? 1 : 0, cut ? 1 : 0, noReader ? 1 : 0, family, tools ? 1 : 0);
  }

  /** estimateFrom with numbers: reported sides are given as numbers (null: not reported). */
  estimateNumbers(o: { requestBytes: number; contentBytes: number; contentAfterOutput?: number; bodyBytes: number; sse: boolean; encoded: boolean; cut: boolean; input: number | null; output: number | null; family?: number; tools?: boolean; audioBytes?: number; contentWide?: number }): ReaderUsage {
    return this.json("estimate_numbers", BigInt(o.requestBytes), BigInt(o.contentBytes), BigInt(o.contentAfterOutput ?? o.contentBytes), BigInt(o.bodyBytes), o.sse ? 1 : 0, o.encoded ? 1 : 0, o.cut ? 1 : 0,
      o.input === null ? 0 : 1, BigInt(o.input ?? 0), o.output === null ? 0 : 1, BigInt(o.output ?? 0), o.family ?? 0, o.tools ? 1 : 0, BigInt(o.audioBytes ?? 0), BigInt(o.contentWide ?? 0));
  }

  /** The estimate's constants; output: per group (family × 2 + tools) its [milli-tokens per content byte, base]. */
  constants(): { request: number; encodedSse: number; encodedJson: number; output: Array<[number, number]> } {
    const [request, encodedSse, encodedJson, output] = this.json("estimate_constants") as [number, number, number, Array<[number, number]>];
    return { request, encodedSse, encodedJson, output };
  }

  /** The output estimate for content bytes, `wide` of them of 3- and 4-byte characters (usage/estimate.ts contentEstimate). */
  outputEstimate(bytes: number, family = 0, tools = false, wide = 0): number {
    return Number(this.ex.output_estimate(BigInt(bytes), family, tools ? 1 : 0, BigInt(wide)));
  }

  /** A request body's text by class (usage/text_estimate.ts), fed in the chunks given; the last counts and tokens. */
  textCounts(chunks: Array<Uint8Array | string>): { counts: number[]; tools: boolean; tokens: number } {
    this.ex.text_reset();
    let r = { counts: [] as number[], tools: false, tokens: 0 };
    for (const c of chunks.length === 0 ? [""] : chunks) r = this.json("text_add", this.write(typeof c === "string" ? Buffer.from(c, "utf8") : c));
    return r;
  }

  /** The input estimate for class counts (as the corpus keeps them), tools declared or not, for an API family (0 chat, 1 messages, 2 responses, 3 gemini). */
  textTokens(counts: number[], tools: boolean, api: number): number {
    return Number(this.ex.text_tokens(...counts.map((n) => BigInt(n)), tools ? 1 : 0, api));
  }

  removeNullUsage(block: string): string | null {
    const n = this.ex.run_remove_null_usage(this.write(Buffer.from(block, "latin1")));
    const out = this.output(n).toString("latin1");
    return out === "-1" ? null : out;
  }
}

/** Cuts bytes at the given offsets (sorted, deduplicated, inside the body), or into single bytes. */
export function splitAt(bytes: Buffer, cuts: number[] | "bytes"): Buffer[] {
  if (cuts === "bytes") return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  const points = [...new Set(cuts)].filter((x) => x > 0 && x < bytes.length).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  if (from < bytes.length || out.length === 0) out.push(bytes.subarray(from));
  return out;
}

let shared: ResponseModule | null = null;

/**
 * The plugin's input estimate for a request body (usage/text_estimate.ts through usage.wasm), for
 * tests that check a charge: API family 0 chat/completions/other, 1 Anthropic, 2 Responses, 3 Gemini.
 */
export function inputEstimateOf(body: string | Buffer, family = 0): number {
  shared ??= new ResponseModule();
  const t = shared.textCounts([typeof body === "string" ? Buffer.from(body, "utf8") : body]);
  return shared.textTokens(t.counts, t.tools, family);
}

/**
 * The plugin's output estimate for generated content bytes no count covers (usage/estimate.ts
 * through usage.wasm), for tests that check a charge: family as inputEstimateOf; tools: the request
 * declared tools; wide: of the bytes, those of 3- and 4-byte UTF-8 characters.
 */
export function outputEstimateOf(contentBytes: number, family = 0, tools = false, wide = 0): number {
  shared ??= new ResponseModule();
  return shared.outputEstimate(contentBytes, family, tools, wide);
}
