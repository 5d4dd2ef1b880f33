// Throughput under a loopback load generator: the same HTTP front (bench/front.ts, one process per
// module) with the plugin and with the no-op module, autocannon in a third process, interleaved
// runs. The local gateway (gateway/main.ts) cannot be pointed at another .wasm yet, so the front
// stands in for it; see bench/README.md.
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { RedisServer } from "../host";
import { median } from "./stats";

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface ThroughputFigures {
  front: string;
  loadGenerator: string;
  connections: number;
  secondsPerRun: number;
  rounds: number;
  runs: Array<{ scenario: string; plugin: LoadResult; noop: LoadResult; ratio: number; ratiosPerRound: number[] }>;
  note?: string;
}

interface Front {
  port: number;
  child: ChildProcess;
}

function startFront(root: string, wasm: string, redisPort: number): Promise<Front> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/front.ts"), "--wasm", wasm, "--redis", String(redisPort)], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("bench: the HTTP front did not start within 20 s")), 20_000);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`bench: the HTTP front exited (${code})`));
    });
  });
}

function stopFront(f: Front): Promise<void> {
  return new Promise((resolve) => {
    if (f.child.exitCode !== null) return resolve();
    const timer = setTimeout(() => f.child.kill("SIGKILL"), 5_000);
    f.child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    f.child.kill("SIGTERM");
  });
}

interface Load {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function autocannon(root: string, url: string, load: Load, connections: number, seconds: number): Promise<LoadResult> {
  const args = [path.join(root, "node_modules/autocannon/autocannon.js"), "-c", String(connections), "-d", String(seconds), "-m", load.method, "-j"];
  for (const [k, v] of Object.entries(load.headers)) args.push("-H", `${k}=${v}`);
  if (load.body !== undefined) args.push("-b", load.body);
  args.push(url + load.path);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`bench: autocannon exited ${code}: ${err}`));
      try {
        const r = JSON.parse(out);
        resolve({ rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, requests: r.requests.total, non2xx: r.non2xx, errors: r.errors + r.timeouts });
      } catch (e) {
        reject(new Error(`bench: cannot read autocannon's output: ${(e as Error).message}\n${out}\n${err}`));
      }
    });
  });
}

export async function measureThroughput(o: { root: string; plugin: string; noop: string; redis: RedisServer; seconds: number; log: (s: string) => void; rounds?: number; connections?: number }): Promise<ThroughputFigures> {
  const rounds = o.rounds ?? 3;
  const connections = o.connections ?? 16;
  const chatBody = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "Say hello to the benchmark." }] });
  const loads: Load[] = [
    { name: "chat-json", method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", "x-mse-consumer": "bench", "x-bench-response": "json" }, body: chatBody },
    { name: "chat-sse-20", method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", "x-mse-consumer": "bench", "x-bench-response": "sse-20" }, body: chatBody },
  ];
  const fronts = { plugin: await startFront(o.root, o.plugin, o.redis.port), noop: await startFront(o.root, o.noop, o.redis.port) };
  try {
    const url = (f: Front) => `http://127.0.0.1:${f.port}`;
    // Warm both fronts (JIT tiers, connections to Redis).
    for (const load of loads) for (const f of [fronts.noop, fronts.plugin]) await autocannon(o.root, url(f), load, connections, 2);
    const runs: ThroughputFigures["runs"] = [];
    for (const load of loads) {
      const results = { plugin: [] as LoadResult[], noop: [] as LoadResult[] };
      for (let r = 0; r < rounds; r++) {
        const order: Array<"plugin" | "noop"> = r % 2 === 0 ? ["noop", "plugin"] : ["plugin", "noop"];
        for (const key of order) {
          const res = await autocannon(o.root, url(fronts[key]), load, connections, o.seconds);
          if (res.non2xx > 0 || res.errors > 0) throw new Error(`bench: ${load.name} on ${key}: ${res.non2xx} non-2xx answers, ${res.errors} errors`);
          results[key].push(res);
          o.log(`  ${load.name} ${key}: ${res.rps.toFixed(0)} req/s`);
        }
      }
      const pick = (list: LoadResult[]): LoadResult => ({
        rps: median(list.map((x) => x.rps)), p50Ms: median(list.map((x) => x.p50Ms)), p99Ms: median(list.map((x) => x.p99Ms)),
        requests: list.reduce((n, x) => n + x.requests, 0), non2xx: 0, errors: 0,
      });
      const ratios = results.plugin.map((p, i) => p.rps / results.noop[i].rps);
      runs.push({ scenario: load.name, plugin: pick(results.plugin), noop: pick(results.noop), ratio: median(ratios), ratiosPerRound: ratios });
    }
    return {
      front: "bench/front.ts (node:http, one VM, in-process mock upstream)",
      loadGenerator: `autocannon 9.0.0, ${connections} connections, ${o.seconds} s per run, ${rounds} interleaved rounds`,
      connections, secondsPerRun: o.seconds, rounds, runs,
      note: "gateway/main.ts has no flag to choose the .wasm, so the bench's own front stands in for it",
    };
  } finally {
    await stopFront(fronts.plugin);
    await stopFront(fronts.noop);
  }
}
