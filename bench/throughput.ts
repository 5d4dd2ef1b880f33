// Throughput under a loopback load generator: the same HTTP front, one process per module, with
// the plugin and with the no-op module; autocannon in a third process; interleaved runs. The front
// is the local gateway (bench/gateway-front.ts starts gateway/server.ts with a chosen .wasm: the
// gateway's CLI has no flag for it) or, with `--front bench` or when there is no gateway, the
// bench's own minimal front (bench/front.ts, in-process mock upstream).
import { ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
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
  /** Answers by status code. */
  statusCodes: Record<string, number>;
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

export type FrontKind = "gateway" | "bench";

const FRONTS: Record<FrontKind, { script: string; description: string }> = {
  gateway: { script: "bench/gateway-front.ts", description: "the local gateway (gateway/server.ts: node:http, one VM, its mock upstream over loopback)" },
  bench: { script: "bench/front.ts", description: "bench/front.ts (node:http, one VM, in-process mock upstream)" },
};

export function defaultFront(root: string): FrontKind {
  return existsSync(path.join(root, "gateway/server.ts")) ? "gateway" : "bench";
}

function startFront(root: string, kind: FrontKind, wasm: string, redisPort: number): Promise<Front> {
  // TurboFan only, as Envoy runs wasm (proxy-wasm-cpp-host src/v8/v8.cc).
  const child = spawn(process.execPath, ["--no-liftoff", "--import", "tsx", path.join(root, FRONTS[kind].script), "--wasm", wasm, "--redis", String(redisPort)], {
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
        const statusCodes: Record<string, number> = {};
        for (const [code, v] of Object.entries((r.statusCodeStats ?? {}) as Record<string, { count: number }>)) statusCodes[code] = v.count;
        resolve({ rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, requests: r.requests.total, non2xx: r.non2xx, errors: r.errors + r.timeouts, statusCodes });
      } catch (e) {
        reject(new Error(`bench: cannot read autocannon's output: ${(e as Error).message}\n${out}\n${err}`));
      }
    });
  });
}

export async function measureThroughput(o: { root: string; front: FrontKind; plugin: string; noop: string; redis: RedisServer; seconds: number; log: (s: string) => void; rounds?: number; connections?: number }): Promise<ThroughputFigures> {
  const rounds = o.rounds ?? 5;
  const connections = o.connections ?? 16;
  // The gateway's mock answers `stream: true` with role + max_tokens words + stop + usage + [DONE]
  // events (20 with 16 tokens); the bench front picks its answer from x-bench-response.
  const messages = [{ role: "user", content: "Say hello to the benchmark." }];
  const loads: Load[] = [
    { name: "chat-json", method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", "x-mse-consumer": "bench", "x-bench-response": "json" }, body: JSON.stringify({ model: "gpt-4o", max_tokens: 16, messages }) },
    { name: "chat-sse-20", method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", "x-mse-consumer": "bench", "x-bench-response": "sse-20" }, body: JSON.stringify({ model: "gpt-4o", max_tokens: 16, stream: true, stream_options: { include_usage: true }, messages }) },
  ];
  const fronts = { plugin: await startFront(o.root, o.front, o.plugin, o.redis.port), noop: await startFront(o.root, o.front, o.noop, o.redis.port) };
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
          results[key].push(res);
          o.log(`  ${load.name} ${key}: ${res.rps.toFixed(0)} req/s${res.non2xx + res.errors > 0 ? `, ${res.non2xx} non-2xx ${JSON.stringify(res.statusCodes)}, ${res.errors} errors` : ""}`);
        }
      }
      const pick = (list: LoadResult[]): LoadResult => {
        const statusCodes: Record<string, number> = {};
        for (const x of list) for (const [k, v] of Object.entries(x.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + v;
        return {
          rps: median(list.map((x) => x.rps)), p50Ms: median(list.map((x) => x.p50Ms)), p99Ms: median(list.map((x) => x.p99Ms)),
          requests: list.reduce((n, x) => n + x.requests, 0), non2xx: list.reduce((n, x) => n + x.non2xx, 0), errors: list.reduce((n, x) => n + x.errors, 0), statusCodes,
        };
      };
      const ratios = results.plugin.map((p, i) => p.rps / results.noop[i].rps);
      runs.push({ scenario: load.name, plugin: pick(results.plugin), noop: pick(results.noop), ratio: median(ratios), ratiosPerRound: ratios });
    }
    return {
      front: FRONTS[o.front].description,
      loadGenerator: `autocannon 9.0.0, ${connections} connections, ${o.seconds} s per run, ${rounds} interleaved rounds`,
      connections, secondsPerRun: o.seconds, rounds, runs,
    };
  } finally {
    await stopFront(fronts.plugin);
    await stopFront(fronts.noop);
  }
}
