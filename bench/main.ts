// `npm run bench`: ai-quota against the floor (the least a metering plugin must do, assembly/floor.ts)
// and the no-op (assembly/noop.ts), all three from the same ABI layer, running in this process on
// the project's proxy-wasm host against a real redis-server. Prints a table and writes
// bench/results.json. Flags: see `usage` below; bench/README.md says what each figure means.
import { execSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LogLevel, PluginVm, PluginVmOptions, RedisClient, RedisServer, startRedis } from "../host";
import { MemoryFigures, SizeFigures, StartFigures, memorySoak, moduleSize, startTime } from "./footprint";
import { Census, Meter, TimerCosts, Totals, countersSince, isCountingBuild, loadTimed, readCounters, timerCosts } from "./instrument";
import { ENVOY_COSTS, projectedEnvoyUs } from "./envoy-model";
import { runRequest } from "./run";
import { ADMIN, CONSUMER, Scenario, adminQuery, bodyBytes, chatJson, chatSse, chatSseInject, largeChatBody, passThrough, requestBytes } from "./scenarios";
import { halfRangePct, median, quantile, round } from "./stats";
import { FrontKind, ThroughputFigures, defaultFront, measureThroughput } from "./throughput";
import { ReaderFigures, measureReader } from "./request_body";

const ROOT = path.resolve(__dirname, "..");

const usage = `usage: npm run bench -- [flags]
  --rounds N            interleaved rounds per scenario (default 9)
  --scale X             multiply the requests per round (default 1)
  --soak N              requests in the memory run (default 100000; 0 skips it)
  --throughput-seconds N  each load-generator run (default 4; 0 skips throughput)
  --connections N       load-generator connections (default 64)
  --front gateway|bench the HTTP front for throughput (default: the gateway when there is one)
  --only a,b            only these scenarios (names as in the table)
  --no-reader           skip the request-body reader alone (build/test/request_body.wasm)
  --plugin PATH         plugin module (default build/ai-quota.wasm)
  --floor PATH          floor module (default build/floor.wasm)
  --noop PATH           no-op module (default build/noop.wasm)
  --counting DIR        counting builds of the three (default build/bench; npm run bench builds them)
  --out PATH            results file (default bench/results.json; "-" writes none)`;

type Key = "plugin" | "floor" | "noop";
const KEYS: Key[] = ["plugin", "floor", "noop"];

interface Args {
  rounds: number;
  scale: number;
  soak: number;
  throughputSeconds: number;
  front: FrontKind;
  connections: number;
  only: string[] | null;
  reader: boolean;
  paths: Record<Key, string>;
  counting: string;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    rounds: 9, scale: 1, soak: 100_000, throughputSeconds: 4, front: defaultFront(ROOT), connections: 64, only: null, reader: true,
    paths: { plugin: path.join(ROOT, "build/ai-quota.wasm"), floor: path.join(ROOT, "build/floor.wasm"), noop: path.join(ROOT, "build/noop.wasm") },
    counting: path.join(ROOT, "build/bench"), out: path.join(ROOT, "bench/results.json"),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${usage}`);
      return v;
    };
    const num = (): number => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number\n${usage}`);
      return v;
    };
    switch (flag) {
      case "--rounds": a.rounds = Math.max(1, Math.floor(num())); break;
      case "--scale": a.scale = num(); break;
      case "--soak": a.soak = Math.floor(num()); break;
      case "--throughput-seconds": a.throughputSeconds = num(); break;
      case "--only": a.only = value().split(","); break;
      case "--no-reader": a.reader = false; break;
      case "--connections": a.connections = Math.max(1, Math.floor(num())); break;
      case "--front": {
        const f = value();
        if (f !== "gateway" && f !== "bench") throw new Error(`--front must be gateway or bench\n${usage}`);
        a.front = f;
        break;
      }
      case "--plugin": a.paths.plugin = path.resolve(value()); break;
      case "--floor": a.paths.floor = path.resolve(value()); break;
      case "--noop": a.paths.noop = path.resolve(value()); break;
      case "--counting": a.counting = path.resolve(value()); break;
      case "--out": a.out = value(); break;
      case "-h": case "--help": console.log(usage); process.exit(0); break;
      default: throw new Error(`unknown flag ${flag}\n${usage}`);
    }
  }
  return a;
}

const BASE_CONFIG = { admin_consumer: ADMIN, redis: { service_name: "redis.static", service_port: 6379 } };
const PLUGIN_CONFIG = JSON.stringify(BASE_CONFIG);
/** The plugin's configurations: Higress-compatible defaults, the opt-in atomic reservation, and spend history on. */
type Variant = "default" | "reservation" | "history";
const CONFIGS: Record<Variant, string> = {
  default: PLUGIN_CONFIG,
  reservation: JSON.stringify({ ...BASE_CONFIG, reservation: { mode: "max_tokens" } }),
  history: JSON.stringify({ ...BASE_CONFIG, spend_history: { ttl_days: 90 } }),
};

function vmOptions(redis: RedisServer): Partial<PluginVmOptions> {
  return {
    redis: { resolve: (name) => (name.endsWith("||redis.static") ? { host: redis.host, port: redis.port } : undefined) },
    // Envoy's default log level: the plugin formats no debug lines.
    logLevel: LogLevel.Info,
    // A long run keeps only recent log lines and callout records.
    historyLimit: 1000,
  };
}

interface Module {
  key: Key;
  vm: PluginVm;
  meter: Meter;
}

const MiB = 1 << 20;

/** Requests per module per round, at scale 1. */
interface Planned {
  scenario: Scenario;
  perRound: number;
  warmup: number;
  /** The plugin's configuration for this scenario (the floor and the no-op ignore it). */
  variant: Variant;
  /** The floor does this scenario's work (not so for the admin API). */
  floorComparable: boolean;
}

function renamed(s: Scenario, name: string, title: string): Scenario {
  return { ...s, name, title };
}

function plan(): Planned[] {
  const big = largeChatBody(MiB, 64 * 1024);
  const p = (scenario: Scenario, perRound: number, warmup: number, variant: Variant = "default", floorComparable = true): Planned =>
    ({ scenario, perRound, warmup, variant, floorComparable });
  return [
    p(chatJson(), 600, 1000),
    p(chatSse(20), 300, 500),
    p(chatSse(200), 100, 100),
    p(chatSse(2000), 12, 10),
    // The common case: a stream whose client did not ask for usage (request body rewritten, the
    // usage chunk and every "usage":null hidden).
    p(chatSseInject(200), 100, 100),
    p(adminQuery(), 600, 1000, "default", false),
    p(passThrough(), 600, 1000),
    // For the per-chunk cost and the scaling factors: twice the chunks, and chunks twice the size.
    p(chatSse(400, 8, "chat-sse-400", "scaling: 400 chunks"), 50, 50),
    p(chatSseInject(400), 50, 50),
    // Each delta's text grows by one chunk's length: every chunk but the last is twice as long.
    p(chatSse(200, 8 + chatSse(2).response!.chunks[0].length, "chat-sse-200-2x", "scaling: 200 chunks, 2x size"), 100, 100),
    // The opt-in atomic reservation (reservation.mode max_tokens): the body is held and read before
    // a Lua script admits the request, a settlement script after the response.
    p(renamed(chatJson(), "chat-json-reserve", "chat, non-streaming, reservation max_tokens"), 600, 1000, "reservation"),
    p(renamed(chatSse(200), "chat-sse-200-reserve", "chat, streaming 200 chunks, reservation max_tokens"), 60, 100, "reservation"),
    // Spend history (issue 24): the settlement is a script that also records the day's and month's usage.
    p(renamed(chatJson(), "chat-json-history", "chat, non-streaming, spend_history on"), 600, 1000, "history"),
    // Reading metered request bodies: 1 MiB in 64 KiB chunks, as it streams (default) and held
    // until complete (reservation max_tokens).
    p(chatJson(big, "chat-json-1m", "chat, 1 MiB request body (read as it streams)"), 20, 20),
    p(chatJson(big, "chat-json-reserve-1m", "chat, 1 MiB request body, reservation max_tokens (held)"), 20, 20, "reservation"),
  ];
}

interface CensusFigures {
  /** Requests the per-request figures are averaged over. */
  requests: number;
  callbacks: number;
  hostCalls: number;
  hostCallsByName: Record<string, number>;
  /** proxy_on_memory_allocate calls (host calls returning data). */
  allocateCallbacks: number;
  /** Managed objects allocated (the runtime's __new) and resized (__renew). */
  allocations: number;
  reallocations: number;
  /** Wasm operations executed (Binaryen IR nodes, scripts/counting-build.mjs). */
  ops: number;
  bytesIntoVm: number;
  responseBodyBytesIntoVm: number;
  redisOnRequestPath: string[];
  redisRoundTripsOnRequestPath: number;
  redisAfterResponse: string[];
  /** The first request after Redis forgot the plugin's scripts (SCRIPT FLUSH). */
  redisColdRoundTripsOnRequestPath: number;
  redisColdOnRequestPath: string[];
}

async function takeCensus(wasmPath: string, options: Partial<PluginVmOptions>, config: string, scenarios: Planned[], client: RedisClient, scale: number): Promise<Map<string, CensusFigures>> {
  const { vm, census } = await Census.load(wasmPath, options);
  const out = new Map<string, CensusFigures>();
  if (!isCountingBuild(vm)) throw new Error(`bench: ${wasmPath} is not a counting build (node scripts/build.mjs --bench)`);
  try {
    if (!(await vm.start("", config))) throw new Error(`bench: ${wasmPath} refused its config:\n${vm.logText()}`);
    for (const p of scenarios) {
      const s = p.scenario;
      // A cold request first: Redis has no script cached (EVALSHA answers NOSCRIPT).
      await client.command("SCRIPT", "FLUSH");
      census.reset();
      await runRequest(vm, s, () => { census.phase = "after"; });
      const cold = census.redis.filter((r) => r.phase === "request");
      for (let i = 0; i < 3; i++) await runRequest(vm, s);
      // One request for its Redis commands, then enough for steady averages (garbage collections
      // fall into some requests, not others).
      census.reset();
      let outcome = await runRequest(vm, s, () => { census.phase = "after"; });
      const request = census.redis.filter((r) => r.phase === "request");
      const after = census.redis.filter((r) => r.phase === "after");
      const n = Math.max(5, Math.round(Math.min(50, p.perRound / 4) * Math.max(scale, 0.2)));
      census.reset();
      const before = readCounters(vm);
      for (let i = 0; i < n; i++) {
        outcome = await runRequest(vm, s);
        if (outcome.status !== s.expectStatus) throw new Error(`bench: ${s.name} answered ${outcome.status} in the census run`);
      }
      const counted = countersSince(vm, before);
      const commands = (list: typeof census.redis) => list.map((r) => r.command.slice(0, 1).concat(r.command[0]?.toUpperCase().startsWith("EVAL") ? [] : r.command.slice(1, 2)).join(" "));
      const hostCallsByName = Object.fromEntries([...census.hostCalls.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / n]));
      out.set(s.name, {
        requests: n,
        callbacks: [...census.callbacks.values()].reduce((a, b) => a + b, 0) / n,
        hostCalls: [...census.hostCalls.values()].reduce((a, b) => a + b, 0) / n,
        hostCallsByName,
        allocateCallbacks: census.allocateCalls / n,
        allocations: counted.allocations / n,
        reallocations: counted.reallocations / n,
        ops: counted.ops / n,
        bytesIntoVm: census.bytesIn / n,
        responseBodyBytesIntoVm: census.responseBodyBytesIn / n,
        redisOnRequestPath: commands(request),
        redisRoundTripsOnRequestPath: new Set(request.map((r) => r.callbackSeq)).size,
        redisAfterResponse: commands(after),
        redisColdRoundTripsOnRequestPath: new Set(cold.map((r) => r.callbackSeq)).size,
        redisColdOnRequestPath: commands(cold),
      });
    }
  } finally {
    await vm.close();
  }
  return out;
}

interface Series {
  /** Per round: every request's figures. */
  rounds: Totals[][];
  /** Per callback: total ns and calls over all timed requests. */
  byCallback: Map<string, { ns: number; calls: number }>;
}

/** Per request, with the timers' own cost taken out: all wasm time, own wasm time, host calls. */
function corrected(t: Totals, c: TimerCosts): { wasmNs: number; ownNs: number; hostCallNs: number } {
  const ownNs = t.wasmNs - t.hostCallNs - t.hostCalls * c.hostOuterNs - t.callbacks * c.callbackNs;
  const hostCallNs = t.hostCallNs - t.hostCalls * c.hostInnerNs;
  return { wasmNs: ownNs + hostCallNs, ownNs, hostCallNs };
}

interface Stat {
  median: number;
  spreadPct: number;
  roundMedians: number[];
}

function stat(rounds: Totals[][], pick: (t: Totals) => number): Stat {
  const perRound = rounds.map((r) => median(r.map(pick)));
  return { median: median(perRound), spreadPct: halfRangePct(perRound), roundMedians: perRound.map((v) => round(v, 2)) };
}

interface TimingFigures {
  requests: number;
  /** µs in the module's callbacks, host calls included (this host's). */
  wasmUs: Stat & { p10: number; p90: number };
  /** µs of the module's own code: host calls excluded. */
  ownUs: Stat;
  /** µs in this host's host functions. */
  hostCallUs: Stat;
  /** µs in the host's synchronous Redis send (part of hostCallUs). */
  redisSendUs: number;
  /** All synchronous host work for the request (vm.drive), callbacks included. */
  hostUs: Stat;
  callbacksPerRequest: number;
  perCallbackUs: Record<string, { usPerRequest: number; callsPerRequest: number }>;
}

function summarize(series: Series, c: TimerCosts): TimingFigures {
  const all = series.rounds.flat();
  const us = (f: (t: Totals) => number) => (t: Totals) => f(t) / 1000;
  const wasm = stat(series.rounds, us((t) => corrected(t, c).wasmNs));
  const wasmAll = all.map(us((t) => corrected(t, c).wasmNs));
  return {
    requests: all.length,
    wasmUs: { ...wasm, p10: quantile(wasmAll, 0.1), p90: quantile(wasmAll, 0.9) },
    ownUs: stat(series.rounds, us((t) => corrected(t, c).ownNs)),
    hostCallUs: stat(series.rounds, us((t) => corrected(t, c).hostCallNs)),
    redisSendUs: median(all.map((t) => t.redisSendNs / 1000)),
    hostUs: stat(series.rounds, us((t) => t.hostNs)),
    callbacksPerRequest: median(all.map((t) => t.callbacks)),
    perCallbackUs: Object.fromEntries([...series.byCallback.entries()]
      .sort((a, b) => b[1].ns - a[1].ns)
      .map(([name, v]) => [name, { usPerRequest: v.ns / 1000 / all.length, callsPerRequest: v.calls / all.length }])),
  };
}

interface Ratio {
  median: number;
  spreadPct: number;
  perRound: number[];
}

/** a / b per round (each round's medians), then the median of rounds. */
function ratioOf(a: Series, b: Series, pick: (t: Totals) => number): Ratio {
  const perRound = a.rounds.map((r, i) => median(r.map(pick)) / median(b.rounds[i].map(pick)));
  return { median: median(perRound), spreadPct: halfRangePct(perRound), perRound: perRound.map((v) => round(v, 3)) };
}

function log(s: string): void {
  process.stderr.write(s + "\n");
}

function machine(): Record<string, string | number> {
  const cpu = (() => {
    try {
      const info = execSync("cat /proc/cpuinfo", { encoding: "utf8" });
      return /model name\s*:\s*(.*)/.exec(info)?.[1] ?? os.cpus()[0]?.model ?? "unknown";
    } catch {
      return os.cpus()[0]?.model ?? "unknown";
    }
  })();
  return { nproc: os.availableParallelism(), cpu, node: process.version, v8: process.versions.v8, v8Flags: process.execArgv.join(" "), platform: `${os.platform()} ${os.release()}`, memoryGiB: round(os.totalmem() / 2 ** 30, 1) };
}

function pad(s: string, n: number, left = false): string {
  return left ? s.padStart(n) : s.padEnd(n);
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i], i > 0)).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const fmt = (n: number | null | undefined, d = 1) => (n !== null && n !== undefined && Number.isFinite(n) ? n.toFixed(d) : "-");
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  // Other work on the machine skews every figure: the load average is kept with the results.
  const loadAtStart = os.loadavg();
  // Envoy runs wasm with TurboFan only (proxy-wasm-cpp-host src/v8/v8.cc: --no-liftoff); so should
  // the bench, or a callback's first thousand calls run baseline code and tier up mid-run.
  if (!process.execArgv.includes("--no-liftoff")) log("bench: WARNING: node was started without --no-liftoff (npm run bench passes it); times include baseline-tier code");
  log(`bench: plugin ${path.relative(ROOT, args.paths.plugin)}, floor ${path.relative(ROOT, args.paths.floor)}, no-op ${path.relative(ROOT, args.paths.noop)}, ${args.rounds} rounds, scale ${args.scale}`);
  const counting: Record<Key, string> = {
    plugin: path.join(args.counting, "ai-quota.counting.wasm"),
    floor: path.join(args.counting, "floor.counting.wasm"),
    noop: path.join(args.counting, "noop.counting.wasm"),
  };
  for (const p of Object.values(counting)) if (!existsSync(p)) throw new Error(`bench: ${p} is missing: run node scripts/build.mjs --bench`);

  const redis = await startRedis();
  const client = await RedisClient.connect(redis.port);
  const modules: Module[] = [];
  try {
    await client.command("SET", "chat_quota:" + CONSUMER, "900000000000000");
    const options = vmOptions(redis);

    // ---- footprint: size and start time ----
    const envoyBuild = path.join(path.dirname(args.paths.plugin), "ai-quota-envoy.wasm");
    const sizes: Record<string, SizeFigures> = { plugin: moduleSize(args.paths.plugin), floor: moduleSize(args.paths.floor), noop: moduleSize(args.paths.noop) };
    if (existsSync(envoyBuild)) sizes.pluginEnvoy = moduleSize(envoyBuild);
    log("bench: VM start + configure");
    const start = {} as Record<Key, StartFigures>;
    for (const k of KEYS) start[k] = await startTime(args.paths[k], options, PLUGIN_CONFIG, 15);

    // ---- per-request census (a separate, counting VM per module) ----
    const planned = plan().filter((p) => args.only === null || args.only.includes(p.scenario.name));
    log("bench: census (host calls, allocations, wasm operations, Redis commands, bytes copied)");
    const census = { plugin: new Map<string, CensusFigures>(), floor: new Map<string, CensusFigures>(), noop: new Map<string, CensusFigures>() };
    for (const k of ["floor", "noop"] as const) census[k] = await takeCensus(counting[k], options, PLUGIN_CONFIG, planned, client, args.scale);
    for (const variant of Object.keys(CONFIGS) as Variant[]) {
      const mine = planned.filter((p) => p.variant === variant);
      if (mine.length === 0) continue;
      for (const [k, v] of await takeCensus(counting.plugin, options, CONFIGS[variant], mine, client, args.scale)) census.plugin.set(k, v);
    }

    // ---- timing: the modules in this process, interleaved ----
    const load = async (key: Key, config: string): Promise<Module> => {
      const { vm, meter } = await loadTimed({ ...options, wasmPath: args.paths[key] });
      if (!(await vm.start("", config))) throw new Error(`bench: ${args.paths[key]} refused its config:\n${vm.logText()}`);
      const m = { key, vm, meter };
      modules.push(m);
      return m;
    };
    const noopModule = await load("noop", PLUGIN_CONFIG);
    const floorModule = await load("floor", PLUGIN_CONFIG);
    const pluginModules = new Map<Variant, Module>();
    for (const variant of new Set(planned.map((p) => p.variant))) pluginModules.set(variant, await load("plugin", CONFIGS[variant]));
    const trio = (p: Planned): Module[] => [noopModule, floorModule, pluginModules.get(p.variant)!];
    const costs = timerCosts();
    log(`bench: timer costs: ${costs.callbackNs.toFixed(0)} ns per timed callback, ${(costs.hostInnerNs + costs.hostOuterNs).toFixed(0)} ns per timed host call (taken out)`);
    log("bench: warm-up");
    for (const p of planned) {
      for (const m of trio(p)) {
        for (let i = 0; i < Math.ceil(p.warmup * Math.max(args.scale, 0.2)); i++) {
          const r = await runRequest(m.vm, p.scenario);
          if (r.status !== p.scenario.expectStatus) throw new Error(`bench: ${p.scenario.name} on ${m.key} answered ${r.status}, expected ${p.scenario.expectStatus}\n${m.vm.logText(LogLevel.Info)}`);
        }
      }
    }
    const series = new Map<string, Record<Key, Series>>();
    for (const p of planned) series.set(p.scenario.name, { plugin: { rounds: [], byCallback: new Map() }, floor: { rounds: [], byCallback: new Map() }, noop: { rounds: [], byCallback: new Map() } });
    const t0 = Date.now();
    for (let r = 0; r < args.rounds; r++) {
      for (const [pi, p] of planned.entries()) {
        // Each module goes first, second and third in turn.
        const list = trio(p);
        const shift = (r + pi) % list.length;
        const order = [...list.slice(shift), ...list.slice(0, shift)];
        for (const m of order) {
          const samples: Totals[] = [];
          const n = Math.max(1, Math.round(p.perRound * args.scale));
          m.meter.resetBreakdown();
          for (let i = 0; i < n; i++) {
            const before = m.meter.snapshot();
            await runRequest(m.vm, p.scenario);
            samples.push(m.meter.since(before));
          }
          const target = series.get(p.scenario.name)![m.key];
          target.rounds.push(samples);
          for (const [name, v] of m.meter.byCallback) {
            const acc = target.byCallback.get(name) ?? { ns: 0, calls: 0 };
            acc.ns += v.ns;
            acc.calls += v.calls;
            target.byCallback.set(name, acc);
          }
        }
      }
      log(`bench: round ${r + 1}/${args.rounds} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    for (const m of modules) if (m.vm.failed) throw new Error(`bench: ${m.key} VM failed: ${m.vm.trapped?.message}`);

    const wasmNs = (t: Totals) => Math.max(1, corrected(t, costs).wasmNs);
    const ownNs = (t: Totals) => Math.max(1, corrected(t, costs).ownNs);
    const results = planned.map((p) => {
      const s = series.get(p.scenario.name)!;
      const timing = { plugin: summarize(s.plugin, costs), floor: summarize(s.floor, costs), noop: summarize(s.noop, costs) };
      const c = { plugin: census.plugin.get(p.scenario.name)!, floor: census.floor.get(p.scenario.name)!, noop: census.noop.get(p.scenario.name)! };
      const projected = {} as Record<Key, number>;
      for (const k of KEYS) projected[k] = projectedEnvoyUs(timing[k].ownUs.median, c[k].hostCalls, c[k].allocateCallbacks);
      const vsFloor = p.floorComparable ? {
        wasm: ratioOf(s.plugin, s.floor, wasmNs),
        own: ratioOf(s.plugin, s.floor, ownNs),
        ops: round(c.plugin.ops / c.floor.ops, 3),
        projectedEnvoy: round(projected.plugin / projected.floor, 3),
      } : null;
      return {
        name: p.scenario.name,
        title: p.scenario.title,
        variant: p.variant,
        requestBytes: requestBytes(p.scenario),
        responseBytes: bodyBytes(p.scenario),
        chunks: p.scenario.response?.chunks.length ?? 0,
        timing,
        census: c,
        projectedEnvoyUs: projected,
        vsFloor,
        vsNoop: { wasm: ratioOf(s.plugin, s.noop, wasmNs), own: ratioOf(s.plugin, s.noop, ownNs) },
      };
    });
    const byName = new Map(results.map((r) => [r.name, r]));

    // ---- per chunk: what one more chunk costs (400 chunks minus 200, over 200) ----
    const perChunk = (from: string, to: string) => {
      const x = byName.get(from);
      const y = byName.get(to);
      const sx = series.get(from);
      const sy = series.get(to);
      if (x === undefined || y === undefined || sx === undefined || sy === undefined) return null;
      const chunks = y.chunks - x.chunks;
      const per = (k: Key, pick: (t: Totals) => number) => {
        const perRound = sx[k].rounds.map((_, i) => (median(sy[k].rounds[i].map(pick)) - median(sx[k].rounds[i].map(pick))) / chunks / 1000);
        return { median: median(perRound), spreadPct: halfRangePct(perRound), perRound: perRound.map((v) => round(v, 4)) };
      };
      const figures = {} as Record<Key, { ownUs: Stat; wasmUs: Stat; ops: number; allocations: number; hostCalls: number; projectedEnvoyUs: number }>;
      for (const k of KEYS) {
        const ops = (y.census[k].ops - x.census[k].ops) / chunks;
        const hostCalls = (y.census[k].hostCalls - x.census[k].hostCalls) / chunks;
        const allocs = (y.census[k].allocateCallbacks - x.census[k].allocateCallbacks) / chunks;
        const own = per(k, ownNs);
        figures[k] = {
          ownUs: { median: own.median, spreadPct: own.spreadPct, roundMedians: own.perRound },
          wasmUs: (() => { const w = per(k, wasmNs); return { median: w.median, spreadPct: w.spreadPct, roundMedians: w.perRound }; })(),
          ops, allocations: (y.census[k].allocations - x.census[k].allocations) / chunks, hostCalls,
          projectedEnvoyUs: projectedEnvoyUs(own.median, hostCalls, allocs),
        };
      }
      // plugin / floor per round, on own time.
      const ratioRounds = sx.plugin.rounds.map((_, i) => {
        const d = (k: Key) => median(sy[k].rounds[i].map(ownNs)) - median(sx[k].rounds[i].map(ownNs));
        return d("plugin") / d("floor");
      });
      return {
        from, to, chunks, figures,
        ownRatio: { median: median(ratioRounds), spreadPct: halfRangePct(ratioRounds), perRound: ratioRounds.map((v) => round(v, 3)) },
        opsRatio: round(figures.plugin.ops / figures.floor.ops, 3),
        projectedRatio: round(figures.plugin.projectedEnvoyUs / figures.floor.projectedEnvoyUs, 3),
      };
    };
    const chunkCost = { usageAsked: perChunk("chat-sse-200", "chat-sse-400"), usageAdded: perChunk("chat-sse-200-inject", "chat-sse-400-inject") };

    // ---- scaling (plugin wasm time) ----
    const factor = (a: string, b: string) => {
      const x = byName.get(a);
      const y = byName.get(b);
      const sx = series.get(a);
      const sy = series.get(b);
      if (x === undefined || y === undefined || sx === undefined || sy === undefined) return null;
      const perRound = sx.plugin.rounds.map((_, i) => median(sy.plugin.rounds[i].map(wasmNs)) / median(sx.plugin.rounds[i].map(wasmNs)));
      const f = median(perRound);
      return {
        from: a, to: b,
        bytesRatio: round(y.responseBytes / x.responseBytes, 3),
        chunksRatio: round(y.chunks / x.chunks, 3),
        pluginWasmFactor: round(f, 3),
        spreadPct: round(halfRangePct(perRound), 1),
        perRound: perRound.map((v) => round(v, 3)),
        met: f <= 2,
      };
    };
    const scaling = {
      chunkCount: factor("chat-sse-200", "chat-sse-400"),
      chunkCountLarge: factor("chat-sse-200", "chat-sse-2000"),
      chunkSize: factor("chat-sse-200", "chat-sse-200-2x"),
    };

    // ---- reading metered request bodies: per MiB ----
    const perMiB = (small: string, large: string) => {
      const x = byName.get(small);
      const y = byName.get(large);
      const sx = series.get(small);
      const sy = series.get(large);
      if (x === undefined || y === undefined || sx === undefined || sy === undefined) return null;
      const mib = (y.requestBytes - x.requestBytes) / MiB;
      const rounds = sx.plugin.rounds.map((_, i) => (median(sy.plugin.rounds[i].map(ownNs)) - median(sx.plugin.rounds[i].map(ownNs))) / 1e6 / mib);
      return {
        from: small, to: large, mib: round(mib, 3),
        ownMsPerMiB: { median: round(median(rounds), 3), spreadPct: round(halfRangePct(rounds), 1) },
        opsPerByte: round((y.census.plugin.ops - x.census.plugin.ops) / (y.requestBytes - x.requestBytes), 2),
        hostCallsPerMiB: round((y.census.plugin.hostCalls - x.census.plugin.hostCalls) / mib, 1),
        allocationsPerMiB: round((y.census.plugin.allocations - x.census.plugin.allocations) / mib, 1),
      };
    };
    const requestBody = { streamed: perMiB("chat-json", "chat-json-1m"), held: perMiB("chat-json-reserve", "chat-json-reserve-1m") };
    let reader: ReaderFigures | null = null;
    if (args.reader && (args.only === null || args.only.includes("reader"))) {
      log("bench: the request-body reader alone (build/test/request_body.wasm)");
      reader = measureReader({ rounds: 3, msPerRun: 200 });
    }

    // ---- memory over a long run ----
    let memory: MemoryFigures | null = null;
    if (args.soak > 0) {
      log(`bench: memory run, ${args.soak} requests`);
      const vm = await PluginVm.load({ ...options, wasmPath: args.paths.plugin });
      try {
        if (!(await vm.start("", PLUGIN_CONFIG))) throw new Error("bench: plugin refused its config");
        const mix = [chatJson(), chatSse(20), adminQuery(), passThrough(), chatJson(), chatSseInject(20), chatSse(200), passThrough()];
        memory = await memorySoak(vm, mix, 5_000, args.soak, 16, log);
      } finally {
        await vm.close();
      }
    }

    // ---- throughput ----
    let throughput: ThroughputFigures | null = null;
    if (args.throughputSeconds > 0) {
      log("bench: throughput");
      throughput = await measureThroughput({ root: ROOT, front: args.front, connections: args.connections, plugin: args.paths.plugin, noop: args.paths.noop, redis, seconds: args.throughputSeconds, log });
    }

    // ---- targets (issue 17) ----
    type Target = { target: string; value: string; met: boolean };
    const targets: Target[] = [];
    const floorTarget = (name: string, limit: number, what: string) => {
      const r = byName.get(name);
      if (r === undefined || r.vsFloor === null) return;
      const f = r.vsFloor;
      targets.push({
        target: `plugin/floor ≤ ${limit} for ${what} (projected in-Envoy cost)`,
        value: `${fmt(f.projectedEnvoy, 2)} (own wasm time ${fmt(f.own.median, 2)} ±${fmt(f.own.spreadPct, 0)}%, wasm operations ${fmt(f.ops, 2)}, in this host ${fmt(f.wasm.median, 2)}; ${fmt(r.projectedEnvoyUs.plugin, 2)} vs ${fmt(r.projectedEnvoyUs.floor, 2)} µs)`,
        met: f.projectedEnvoy <= limit,
      });
    };
    floorTarget("chat-json", 1.4, "a non-streaming chat");
    floorTarget("chat-sse-200", 1.15, "a 200-chunk stream");
    floorTarget("chat-sse-200-inject", 1.15, "a 200-chunk stream whose client did not ask for usage (not a target of issue 17: shown beside it)");
    floorTarget("pass-through", 1.25, "a pass-through request");
    {
      // Issue 24: the cost of a chat with spend history on, against the same chat without it.
      const on = byName.get("chat-json-history");
      const off = byName.get("chat-json");
      if (on !== undefined && off !== undefined) {
        const ratio = on.projectedEnvoyUs.plugin / off.projectedEnvoyUs.plugin;
        const ops = on.census.plugin.ops / off.census.plugin.ops;
        targets.push({
          target: "a chat with spend_history on ≤ 1.1x the same chat without it (projected in-Envoy plugin cost; Redis's own time not included)",
          value: `${fmt(ratio, 2)} (${fmt(on.projectedEnvoyUs.plugin, 2)} vs ${fmt(off.projectedEnvoyUs.plugin, 2)} µs; wasm operations ${fmt(ops, 2)}; after the answer ${on.census.plugin.redisAfterResponse.join("; ")} vs ${off.census.plugin.redisAfterResponse.join("; ")})`,
          met: ratio <= 1.1,
        });
      }
    }
    for (const name of ["chat-json", "chat-sse-200", "chat-sse-200-inject"]) {
      const c = byName.get(name)?.census.plugin;
      if (c !== undefined) targets.push({ target: `≤ 40 managed allocations per chat request (${name})`, value: `${fmt(c.allocations, 1)} (+ ${fmt(c.reallocations, 1)} resized)`, met: c.allocations <= 40 });
    }
    for (const [label, pc] of [["usage asked", chunkCost.usageAsked], ["usage added and hidden", chunkCost.usageAdded]] as const) {
      if (pc === null) continue;
      targets.push({
        target: `per chunk without usage ≤ 1.1x the floor's (${label}; projected in-Envoy cost)`,
        value: `${fmt(pc.projectedRatio, 2)} (own ${fmt(pc.ownRatio.median, 2)} ±${fmt(pc.ownRatio.spreadPct, 0)}%, operations ${fmt(pc.opsRatio, 2)}; plugin ${fmt(pc.figures.plugin.projectedEnvoyUs * 1000, 0)} ns, floor ${fmt(pc.figures.floor.projectedEnvoyUs * 1000, 0)} ns)`,
        met: pc.projectedRatio <= 1.1,
      });
    }
    for (const [name, s] of [["ai-quota.wasm", sizes.plugin], ["ai-quota-envoy.wasm", sizes.pluginEnvoy]] as const) {
      if (s !== undefined) targets.push({ target: `release ${name} ≤ 150 KB`, value: `${s.rawBytes} bytes (${kb(s.rawBytes)}), gzip ${s.gzipBytes}`, met: s.rawBytes <= 150_000 });
    }
    if (memory) targets.push({ target: `linear memory flat over ${memory.requests} requests`, value: `${memory.afterWarmupBytes} -> ${memory.afterRunBytes} bytes`, met: memory.flat });
    const jsonRun = throughput?.runs.find((t) => t.scenario === "chat-json");
    if (jsonRun) targets.push({ target: "local gateway JSON throughput ≥ 0.8 of the no-op's", value: `${fmt(jsonRun.ratio, 2)} (${fmt(jsonRun.plugin.rps, 0)} vs ${fmt(jsonRun.noop.rps, 0)} req/s)`, met: jsonRun.ratio >= 0.8 });
    for (const r of results.filter((x) => x.name === "chat-json" || x.name === "chat-json-reserve")) {
      const c = r.census.plugin;
      targets.push({ target: `one Redis round trip on the request path (${r.name})`, value: `${c.redisRoundTripsOnRequestPath} (${c.redisOnRequestPath.join("; ")}); first request after SCRIPT FLUSH: ${c.redisColdRoundTripsOnRequestPath} (${c.redisColdOnRequestPath.join("; ")})`, met: c.redisRoundTripsOnRequestPath <= 1 });
    }
    if (scaling.chunkCount) targets.push({ target: "doubling the chunk count at most doubles the cost", value: `${scaling.chunkCount.pluginWasmFactor}x`, met: scaling.chunkCount.met });
    if (scaling.chunkSize) targets.push({ target: "doubling the chunk size at most doubles the cost", value: `${scaling.chunkSize.pluginWasmFactor}x`, met: scaling.chunkSize.met });

    // ---- report ----
    const pct = (s: Stat) => `±${fmt(s.spreadPct, 0)}%`;
    const rows = results.map((r) => [
      r.name,
      `${fmt(r.timing.plugin.ownUs.median)} ${pct(r.timing.plugin.ownUs)}`,
      r.vsFloor ? `${fmt(r.timing.floor.ownUs.median)} ${pct(r.timing.floor.ownUs)}` : "-",
      r.vsFloor ? `${fmt(r.vsFloor.own.median, 2)} ±${fmt(r.vsFloor.own.spreadPct, 0)}%` : "-",
      r.vsFloor ? fmt(r.vsFloor.ops, 2) : "-",
      `${fmt(r.census.plugin.hostCalls, 0)} / ${fmt(r.census.floor.hostCalls, 0)}`,
      `${fmt(r.projectedEnvoyUs.plugin, 1)} / ${r.vsFloor ? fmt(r.projectedEnvoyUs.floor, 1) : "-"}`,
      r.vsFloor ? fmt(r.vsFloor.projectedEnvoy, 2) : "-",
      `${fmt(r.timing.plugin.wasmUs.median)} / ${r.vsFloor ? fmt(r.timing.floor.wasmUs.median) : "-"} / ${fmt(r.timing.noop.wasmUs.median)}`,
      r.vsFloor ? fmt(r.vsFloor.wasm.median, 2) : "-",
      `${fmt(r.census.plugin.allocations, 0)}${r.census.plugin.reallocations >= 0.5 ? `+${fmt(r.census.plugin.reallocations, 0)}` : ""} / ${fmt(r.census.floor.allocations, 0)}`,
      `${r.census.plugin.redisOnRequestPath.length} / ${r.census.plugin.redisRoundTripsOnRequestPath}`,
    ]);
    const out: string[] = [];
    out.push(`ai-quota bench, ${startedAt.toISOString()}: ${machine().cpu}, ${os.availableParallelism()} CPUs, node ${process.version} ${process.execArgv.join(" ")}, load average ${loadAtStart.map((v) => v.toFixed(1)).join(" ")}`);
    out.push(`${args.rounds} interleaved rounds; times are medians of per-round medians, ± half the round-to-round range; timer costs (${fmt(costs.callbackNs, 0)} ns per callback, ${fmt(costs.hostInnerNs + costs.hostOuterNs, 0)} ns per host call) taken out`);
    out.push("");
    out.push(table(
      ["scenario", "plugin own µs", "floor own µs", "own ratio", "ops ratio", "host calls p/f", "Envoy µs p/f", "Envoy ratio", "this host µs p/f/noop", "ratio", "allocs p/f", "redis cmds/RTT"],
      rows,
    ));
    out.push("");
    out.push("own: the module's code (host calls excluded); ops: wasm operations executed (counting build, deterministic);");
    out.push(`Envoy: own + host calls x ${ENVOY_COSTS.hostCallNs} ns + allocator callbacks x ${ENVOY_COSTS.allocateCallbackNs} ns (bench/envoy-model.ts); this host: own + this host's host calls`);
    out.push("");
    out.push("where the plugin's wasm time goes (µs per request, by callback, host calls included):");
    for (const r of results) {
      const parts = Object.entries(r.timing.plugin.perCallbackUs).filter(([, v]) => v.usPerRequest >= 0.05).map(([k, v]) => `${k.replace(/^proxy_on_/, "")} ${fmt(v.usPerRequest)}${v.callsPerRequest > 1.5 ? ` (${fmt(v.callsPerRequest, 0)} calls)` : ""}`);
      out.push(`  ${pad(r.name, 22)} ${parts.join(", ")}`);
    }
    out.push("");
    out.push("per chunk (400 chunks minus 200, over 200):");
    for (const [label, pc] of Object.entries(chunkCost)) {
      if (pc === null) continue;
      const f = pc.figures;
      out.push(`  ${label}: own ${fmt(f.plugin.ownUs.median * 1000, 0)} ns vs floor ${fmt(f.floor.ownUs.median * 1000, 0)} ns (ratio ${fmt(pc.ownRatio.median, 2)} ±${fmt(pc.ownRatio.spreadPct, 0)}%); ops ${fmt(f.plugin.ops, 0)} vs ${fmt(f.floor.ops, 0)}; host calls ${fmt(f.plugin.hostCalls, 2)} vs ${fmt(f.floor.hostCalls, 2)}; allocations ${fmt(f.plugin.allocations, 2)}; Envoy ${fmt(f.plugin.projectedEnvoyUs * 1000, 0)} vs ${fmt(f.floor.projectedEnvoyUs * 1000, 0)} ns (${fmt(pc.projectedRatio, 2)})`);
    }
    out.push("");
    out.push("reading metered request bodies (plugin own time, 1 MiB body minus the small one):");
    for (const [label, b] of Object.entries(requestBody)) {
      if (b === null) continue;
      out.push(`  ${label}: ${fmt(b.ownMsPerMiB.median, 2)} ms/MiB ±${fmt(b.ownMsPerMiB.spreadPct, 0)}%; ${fmt(b.opsPerByte, 1)} ops/byte, ${fmt(b.hostCallsPerMiB, 0)} host calls/MiB, ${fmt(b.allocationsPerMiB, 0)} allocations/MiB`);
    }
    if (reader) for (const row of reader.rows) out.push(`  reader alone, ${row.case}: ${Object.entries(row.cpuMsPerMiB).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(", ")} ms/MiB (CPU time)`);
    out.push("");
    out.push("scaling (plugin wasm time):");
    for (const [k, f] of Object.entries(scaling)) {
      if (f === null) continue;
      out.push(`  ${k}: ${f.from} -> ${f.to} (chunks x${f.chunksRatio}, bytes x${f.bytesRatio}): cost x${f.pluginWasmFactor} ±${fmt(f.spreadPct, 0)}%`);
    }
    out.push("");
    out.push("footprint:");
    out.push(`  ai-quota.wasm ${sizes.plugin.rawBytes} B (${kb(sizes.plugin.rawBytes)}), gzip ${sizes.plugin.gzipBytes} B${sizes.pluginEnvoy ? `; ai-quota-envoy.wasm ${sizes.pluginEnvoy.rawBytes} B (${kb(sizes.pluginEnvoy.rawBytes)})` : ""}; floor ${sizes.floor.rawBytes} B; no-op ${sizes.noop.rawBytes} B`);
    out.push(`  VM load + start/configure: plugin ${fmt(start.plugin.loadMs, 2)} + ${fmt(start.plugin.startConfigureMs, 2)} ms, floor ${fmt(start.floor.totalMs, 2)} ms, no-op ${fmt(start.noop.totalMs, 2)} ms`);
    if (memory) out.push(`  linear memory: ${memory.afterWarmupBytes} B after ${memory.warmupRequests} warm-up requests, ${memory.afterRunBytes} B after ${memory.requests} more (${memory.concurrency} in flight, ${fmt(memory.seconds, 0)} s, ${memory.failures} unexpected answers)`);
    if (throughput) {
      out.push("");
      out.push(`throughput (${throughput.front}, ${throughput.loadGenerator}):`);
      for (const t of throughput.runs) {
        out.push(`  ${t.scenario}: plugin ${fmt(t.plugin.rps, 0)} req/s, no-op ${fmt(t.noop.rps, 0)} req/s, ratio ${fmt(t.ratio, 2)} (rounds ${t.ratiosPerRound.map((r) => fmt(r, 2)).join(", ")}); p50 latency ${fmt(t.plugin.p50Ms, 0)} / ${fmt(t.noop.p50Ms, 0)} ms`);
        for (const [key, r] of [["plugin", t.plugin], ["no-op", t.noop]] as const) {
          if (r.non2xx + r.errors > 0) out.push(`    ${key}: ${r.non2xx} of ${r.requests} answers not 2xx ${JSON.stringify(r.statusCodes)}, ${r.errors} errors/timeouts`);
        }
      }
      if (throughput.note) out.push(`  ${throughput.note}`);
    }
    out.push("");
    out.push("targets:");
    for (const t of targets) out.push(`  [${t.met ? "met" : "MISSED"}] ${t.target}: ${t.value}`);
    console.log(out.join("\n"));

    if (args.out !== "-") {
      const json = {
        startedAt: startedAt.toISOString(),
        machine: { ...machine(), loadAverageAtStart: loadAtStart.map((v) => round(v, 2)), loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)) },
        modules: Object.fromEntries(KEYS.map((k) => [k, path.relative(ROOT, args.paths[k])])),
        settings: { rounds: args.rounds, scale: args.scale, timerCosts: costs },
        envoyModel: ENVOY_COSTS,
        scenarios: results,
        perChunk: chunkCost,
        requestBody: { ...requestBody, reader },
        scaling,
        footprint: { size: sizes, start, memory },
        throughput,
        targets,
      };
      writeFileSync(args.out, JSON.stringify(json, (_k, v) => (typeof v === "number" ? round(v, 3) : v), 2) + "\n");
      log(`bench: wrote ${path.relative(process.cwd(), path.resolve(args.out))}`);
    }
  } finally {
    for (const m of modules) await m.vm.close();
    client.close();
    await redis.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
