// Micro-bench of the usage scanner alone (no host, no ABI, no Redis): the response bodies of
// bench/scenarios.ts fed chunk by chunk to the scanner of build/test/parsers.wasm (the test-only
// module, through its usage_new / usage_feed / usage_finish exports). Several modules given with
// --wasm a.wasm,b.wasm are measured in interleaved rounds (an A/B of two builds); each figure is the
// lowest of the rounds' medians. The JS side (writing each chunk into wasm memory, the call) is in
// every figure: the sse-comments row, the same bytes as SSE comment lines, is that floor.
//
//   npx tsx bench/scanner.ts [--wasm PATH[,PATH...]] [--rounds N] [--ms N] [--only name,name]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chatJson, chatSse } from "./scenarios";

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const wasmPaths = flag("--wasm", join(__dirname, "..", "build", "test", "parsers.wasm")).split(",");
const rounds = Number(flag("--rounds", "5"));
const msPerRun = Number(flag("--ms", "300"));
const only = flag("--only", "").split(",").filter((x) => x !== "");

// tsconfig's lib has no WebAssembly typings; Node has the global at run time.
const WA = (globalThis as any).WebAssembly;

interface Module {
  ex: Record<string, any>;
  memory: { buffer: ArrayBuffer };
}

function load(path: string): Module {
  const instance = new WA.Instance(new WA.Module(readFileSync(path)), { env: { proxy_log: () => 0 } });
  const ex = instance.exports as Record<string, any>;
  if (typeof ex._initialize === "function") ex._initialize();
  return { ex, memory: ex.memory };
}

interface Case {
  name: string;
  sse: boolean;
  chunks: Buffer[];
}

/** One body through a fresh scanner; returns the scanner's result (JSON text). */
function scanBody(m: Module, c: Case): string {
  const { ex, memory } = m;
  ex.usage_new(c.sse ? 1 : 0, 0);
  for (const chunk of c.chunks) {
    const ptr = ex.input_alloc(chunk.length) >>> 0;
    new Uint8Array(memory.buffer, ptr, chunk.length).set(chunk);
    ex.usage_feed(chunk.length);
  }
  const len = ex.usage_finish() >>> 0;
  return Buffer.from(new Uint8Array(memory.buffer, ex.output_ptr() >>> 0, len)).toString("utf8");
}

/** Median ns per body over msPerRun. */
function measure(m: Module, c: Case): number {
  for (let i = 0; i < 10; i++) scanBody(m, c);
  const samples: number[] = [];
  const until = Date.now() + msPerRun;
  while (Date.now() < until || samples.length < 5) {
    const t0 = process.hrtime.bigint();
    scanBody(m, c);
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

const sse200 = chatSse(200).response!.chunks;
const cases: Case[] = [
  // Each chunk's bytes as a comment line ("data" -> ":ata", inner LFs -> spaces): the line scan and the call, no JSON.
  { name: "sse-comments-200", sse: true, chunks: sse200.map((c) => Buffer.concat([Buffer.from(":"), Buffer.from(c.subarray(1, c.length - 2).map((b) => (b === 0x0a ? 0x20 : b))), Buffer.from("\n\n")])) },
  ...[chatSse(20), chatSse(200), chatSse(200, 240, "chat-sse-200-2x"), chatSse(2000)].map((s) => ({ name: s.name, sse: true, chunks: s.response!.chunks })),
  // The JSON answer 200 times as concatenated values (NDJSON) in one body: the scan without the
  // per-body work (a new scanner, its result as JSON), which this harness would add to one body.
  { name: "chat-json-x200", sse: false, chunks: Array.from({ length: 200 }, () => Buffer.concat([chatJson().response!.chunks[0], Buffer.from("\n")])) },
].filter((c) => only.length === 0 || only.includes(c.name));

const modules = wasmPaths.map(load);
for (const c of cases) {
  const results = modules.map((m) => scanBody(m, c));
  if (results.some((r) => r !== results[0])) throw new Error(`${c.name}: the modules disagree:\n${results.join("\n")}`);
}
const best = cases.map(() => modules.map(() => Infinity));
for (let r = 0; r < rounds; r++) {
  cases.forEach((c, ci) => modules.forEach((m, mi) => { best[ci][mi] = Math.min(best[ci][mi], measure(m, c)); }));
}

const col = (s: string) => s.padStart(22);
console.log("ns per chunk; lowest of " + rounds + " round medians");
console.log("case".padEnd(18) + wasmPaths.map((p) => col(p.split("/").slice(-2).join("/"))).join(""));
cases.forEach((c, ci) => {
  console.log(c.name.padEnd(18) + best[ci].map((ns) => col((ns / c.chunks.length).toFixed(0))).join(""));
});
