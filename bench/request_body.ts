// Micro-bench of the request body reader alone (no host, no ABI, no Redis): bodies fed in chunks to
// a fresh reader of build/test/request_body.wasm (bench_read), streaming path (rewriteChunk, the
// usage edit included) and buffered path (read/finish). Reports time per MiB: the lowest of the
// rounds' medians. The body is written into wasm memory once per case, outside the timing.
//
//   npx tsx bench/request_body.ts [--wasm PATH] [--rounds N] [--ms N]
import { loadRequestBody, REQUEST_BODY_WASM } from "../tests/unit/request_body_module";

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const wasm = flag("--wasm", REQUEST_BODY_WASM);
const rounds = Number(flag("--rounds", "5"));
const msPerRun = Number(flag("--ms", "300"));
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

const cases: Array<{ name: string; body: Buffer }> = [
  { name: "chat 32 KiB", body: chatBody(32 * 1024) },
  { name: "chat 1 MiB", body: chatBody(MiB) },
  { name: "chat 8 MiB", body: chatBody(8 * MiB) },
  { name: "one 8 MiB string", body: Buffer.from(`{"stream":true,"prompt":"${"x".repeat(8 * MiB - 40)}"}`) },
  { name: "token ids 1 MiB", body: Buffer.from(`{"stream":true,"prompt":[${Array.from({ length: MiB / 6 }, (_, i) => 10000 + (i % 90000)).join(",")}]}`) },
  { name: "4 Mi levels", body: Buffer.from(`{"a":${"[".repeat(4 * MiB - 8)}${"]".repeat(4 * MiB - 8)}}`) },
];

const m = loadRequestBody(wasm);
const rows: Array<Record<string, string>> = [];
for (const c of cases) {
  const len = m.write(c.body);
  const mib = c.body.length / MiB;
  const row: Record<string, string> = { case: c.name, bytes: String(c.body.length) };
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
    row[`${label} ms/MiB`] = `${(best / 1e6 / mib).toFixed(2)} (cpu ${(bestCpu / 1e6 / mib).toFixed(2)})`;
  }
  const mem = m.memory(c.body, true, 65536, false);
  row["grown KiB"] = String(mem.grown / 1024);
  rows.push(row);
}
console.table(rows);
