// The request body reader alone (no host, no ABI, no Redis): bodies fed in chunks to a fresh reader
// of build/test/request_body.wasm (bench_read), streaming path (rewriteChunk, the usage edit
// included) and buffered path (read/finish). Time per MiB: the lowest of the rounds' medians, wall
// and CPU. The body is written into wasm memory once per case, outside the timing. `npm run bench`
// runs it (bench/main.ts, "reader alone"); on its own:
//
//   npx tsx bench/request_body.ts [--wasm PATH] [--rounds N] [--ms N]
import { loadRequestBody, REQUEST_BODY_WASM } from "../tests/unit/request_body_module";

const MiB = 1 << 20;

/** A chat request of about `bytes` bytes: many ordinary messages, stream true, the limit last. */
function chatBody(bytes: number): Buffer {
  const messages: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes - 100; i++) {
    const m = `{"role":"${i % 2 === 0 ? "user" : "assistant"}","content":"Message ${i}: an ordinary sentence of English text, with \\"quotes\\", a newline\\n and an \\u00e9 or two."}`;
    messages.push(m);
    size += m.length + 1;
  }
  return Buffer.from(`{"model":"gpt-4o","stream":true,"messages":[${messages.join(",")}],"max_tokens":"1024"}`);
}

export interface ReaderFigures {
  wasm: string;
  rows: Array<{ case: string; bytes: number; msPerMiB: Record<string, number>; cpuMsPerMiB: Record<string, number>; grownKiB: number }>;
}

export function measureReader(o: { wasm?: string; rounds?: number; msPerRun?: number; all?: boolean } = {}): ReaderFigures {
  const wasm = o.wasm ?? REQUEST_BODY_WASM;
  const rounds = o.rounds ?? 5;
  const msPerRun = o.msPerRun ?? 300;
  const cases: Array<{ name: string; body: () => Buffer }> = [
    { name: "chat 32 KiB", body: () => chatBody(32 * 1024) },
    { name: "chat 1 MiB", body: () => chatBody(MiB) },
  ];
  if (o.all) {
    cases.push(
      { name: "chat 8 MiB", body: () => chatBody(8 * MiB) },
      { name: "one 8 MiB string", body: () => Buffer.from(`{"stream":true,"prompt":"${"x".repeat(8 * MiB - 40)}"}`) },
      { name: "token ids 1 MiB", body: () => Buffer.from(`{"stream":true,"prompt":[${Array.from({ length: MiB / 6 }, (_, i) => 10000 + (i % 90000)).join(",")}]}`) },
      { name: "4 Mi levels", body: () => Buffer.from(`{"a":${"[".repeat(4 * MiB - 8)}${"]".repeat(4 * MiB - 8)}}`) },
    );
  }
  const m = loadRequestBody(wasm);
  const rows: ReaderFigures["rows"] = [];
  for (const c of cases) {
    const body = c.body();
    const len = m.write(body);
    const mib = body.length / MiB;
    const msPerMiB: Record<string, number> = {};
    const cpuMsPerMiB: Record<string, number> = {};
    for (const [label, chunk, streaming] of [["stream 16K", 16384, 1], ["stream 64K", 65536, 1], ["buffered 64K", 65536, 0]] as Array<[string, number, number]>) {
      let best = Infinity;
      let bestCpu = Infinity;
      for (let r = 0; r < rounds; r++) {
        const samples: number[] = [];
        const until = Date.now() + msPerRun;
        const cpu0 = process.cpuUsage();
        while (Date.now() < until || samples.length < 3) {
          const t0 = process.hrtime.bigint();
          m.exports.bench_read(len, chunk, streaming);
          samples.push(Number(process.hrtime.bigint() - t0));
        }
        const cpu = process.cpuUsage(cpu0);
        samples.sort((a, b) => a - b);
        best = Math.min(best, samples[samples.length >> 1]);
        bestCpu = Math.min(bestCpu, ((cpu.user + cpu.system) * 1000) / samples.length);
      }
      // Wall time (median of a round, best round) and CPU time (mean of a round, best round): on a
      // loaded machine the CPU figure is the steadier one.
      msPerMiB[label] = best / 1e6 / mib;
      cpuMsPerMiB[label] = bestCpu / 1e6 / mib;
    }
    const mem = m.memory(body, true, 65536, false);
    rows.push({ case: c.name, bytes: body.length, msPerMiB, cpuMsPerMiB, grownKiB: mem.grown / 1024 });
  }
  return { wasm, rows };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const flag = (name: string, def: string): string => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
  };
  const figures = measureReader({ wasm: flag("--wasm", REQUEST_BODY_WASM), rounds: Number(flag("--rounds", "5")), msPerRun: Number(flag("--ms", "300")), all: true });
  console.table(figures.rows.map((r) => ({
    case: r.case,
    bytes: String(r.bytes),
    ...Object.fromEntries(Object.keys(r.msPerMiB).map((k) => [`${k} ms/MiB`, `${r.msPerMiB[k].toFixed(2)} (cpu ${r.cpuMsPerMiB[k].toFixed(2)})`])),
    "grown KiB": String(r.grownKiB),
  })));
}
