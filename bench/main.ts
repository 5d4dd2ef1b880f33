// `npm run bench`: ai-quota against a no-op plugin built from the same ABI layer, both running in
// this process on the project's proxy-wasm host against a real redis-server. Prints a table and
// writes bench/results.json. Flags: see `usage` below; bench/README.md says what each figure means.
import { execSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LogLevel, PluginVm, PluginVmOptions, RedisClient, RedisServer, startRedis } from "../host";
import { MemoryFigures, SizeFigures, StartFigures, memorySoak, moduleSize, startTime } from "./footprint";
import { Census, Meter, Totals, instrumentTiming, timerOverheadNs } from "./instrument";
import { runRequest } from "./run";
import { ADMIN, CONSUMER, Scenario, adminQuery, bodyBytes, chatJson, chatSse, passThrough } from "./scenarios";
import { halfRangePct, median, quantile, round } from "./stats";
import { FrontKind, ThroughputFigures, defaultFront, measureThroughput } from "./throughput";

const ROOT = path.resolve(__dirname, "..");

const usage = `usage: npm run bench -- [flags]
  --rounds N            interleaved rounds per scenario (default 9)
  --scale X             multiply the requests per round (default 1)
  --soak N              requests in the memory run (default 100000; 0 skips it)
  --throughput-seconds N  each load-generator run (default 4; 0 skips throughput)
  --connections N       load-generator connections (default 64)
  --front gateway|bench the HTTP front for throughput (default: the gateway when there is one)
  --only a,b            only these scenarios (names as in the table)
  --plugin PATH         plugin module (default build/ai-quota.wasm)
  --noop PATH           baseline module (default build/noop.wasm)
  --out PATH            results file (default bench/results.json; "-" writes none)`;

interface Args {
  rounds: number;
  scale: number;
  soak: number;
  throughputSeconds: number;
  front: FrontKind;
  connections: number;
  only: string[] | null;
  plugin: string;
  noop: string;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    rounds: 9, scale: 1, soak: 100_000, throughputSeconds: 4, front: defaultFront(ROOT), connections: 64, only: null,
    plugin: path.join(ROOT, "build/ai-quota.wasm"), noop: path.join(ROOT, "build/noop.wasm"), out: path.join(ROOT, "bench/results.json"),
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
      case "--connections": a.connections = Math.max(1, Math.floor(num())); break;
      case "--front": {
        const f = value();
        if (f !== "gateway" && f !== "bench") throw new Error(`--front must be gateway or bench\n${usage}`);
        a.front = f;
        break;
      }
      case "--plugin": a.plugin = path.resolve(value()); break;
      case "--noop": a.noop = path.resolve(value()); break;
      case "--out": a.out = value(); break;
      case "-h": case "--help": console.log(usage); process.exit(0); break;
      default: throw new Error(`unknown flag ${flag}\n${usage}`);
    }
  }
  return a;
}

const BASE_CONFIG = { admin_consumer: ADMIN, redis: { service_name: "redis.static", service_port: 6379 } };
const PLUGIN_CONFIG = JSON.stringify(BASE_CONFIG);
/** The plugin's configurations: Higress-compatible defaults, and the opt-in atomic reservation. */
type Variant = "default" | "reservation";
const CONFIGS: Record<Variant, string> = {
  default: PLUGIN_CONFIG,
  reservation: JSON.stringify({ ...BASE_CONFIG, reservation: { mode: "max_tokens" } }),
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
  key: "plugin" | "noop";
  path: string;
  vm: PluginVm;
  meter: Meter;
}

/** Requests per module per round, at scale 1. */
interface Planned {
  scenario: Scenario;
  perRound: number;
  warmup: number;
  /** The plugin's configuration for this scenario (the no-op ignores it). */
  variant: Variant;
}

function variantOf<T extends Omit<Planned, "variant"> & { variant?: Variant }>(p: T): Planned {
  return { ...p, variant: p.variant ?? "default" };
}

function renamed(s: Scenario, name: string, title: string): Scenario {
  return { ...s, name, title };
}

function plan(): Planned[] {
  return [
    { scenario: chatJson(), perRound: 600, warmup: 1000 },
    { scenario: chatSse(20), perRound: 300, warmup: 500 },
    { scenario: chatSse(200), perRound: 100, warmup: 100 },
    { scenario: chatSse(2000), perRound: 12, warmup: 10 },
    { scenario: adminQuery(), perRound: 600, warmup: 1000 },
    { scenario: passThrough(), perRound: 600, warmup: 1000 },
    // For the scaling factors: twice the chunks, and chunks twice the size, of chat-sse-200.
    { scenario: chatSse(400, 8, "chat-sse-400", "scaling: 400 chunks"), perRound: 50, warmup: 50 },
    // Each delta's text grows by one chunk's length: every chunk but the last is twice as long.
    { scenario: chatSse(200, 8 + chatSse(2).response!.chunks[0].length, "chat-sse-200-2x", "scaling: 200 chunks, 2x size"), perRound: 100, warmup: 100 },
    // The opt-in atomic reservation (reservation.mode max_tokens): a Lua script on the request
    // path, a settlement script after the response.
    { scenario: renamed(chatJson(), "chat-json-reserve", "chat, non-streaming, reservation max_tokens"), perRound: 600, warmup: 1000, variant: "reservation" as const },
    { scenario: renamed(chatSse(200), "chat-sse-200-reserve", "chat, streaming 200 chunks, reservation max_tokens"), perRound: 60, warmup: 100, variant: "reservation" as const },
  ].map(variantOf);
}

interface CensusFigures {
  /** Round trips of the first request after Redis forgot the plugin's scripts (SCRIPT FLUSH). */
  redisColdRoundTripsOnRequestPath?: number;
  redisColdOnRequestPath?: string[];
  callbacks: number;
  hostCalls: Record<string, number>;
  redisOnRequestPath: string[];
  redisRoundTripsOnRequestPath: number;
  redisAfterResponse: string[];
  bytesIntoVm: number;
  responseBodyBytesIntoVm: number;
  responseBytes: number;
  bytesIntoVmPerResponseByte: number | null;
  responseBodyCopiesPerResponseByte: number | null;
}

async function takeCensus(wasmPath: string, options: Partial<PluginVmOptions>, config: string, scenarios: Scenario[], client: RedisClient): Promise<Map<string, CensusFigures>> {
  const { vm, census } = await Census.load(wasmPath, options);
  const out = new Map<string, CensusFigures>();
  try {
    if (!(await vm.start("", config))) throw new Error(`bench: ${wasmPath} refused its config:\n${vm.logText()}`);
    for (const s of scenarios) {
      // A cold request first: Redis has no script cached (EVALSHA answers NOSCRIPT).
      await client.command("SCRIPT", "FLUSH");
      census.reset();
      await runRequest(vm, s, () => { census.phase = "after"; });
      const cold = census.redis.filter((r) => r.phase === "request");
      for (let i = 0; i < 3; i++) await runRequest(vm, s);
      census.reset();
      const outcome = await runRequest(vm, s, () => { census.phase = "after"; });
      if (outcome.status !== s.expectStatus) throw new Error(`bench: ${s.name} answered ${outcome.status} in the census run`);
      const request = census.redis.filter((r) => r.phase === "request");
      const responseBytes = bodyBytes(s);
      const commands = (list: typeof census.redis) => list.map((r) => r.command.slice(0, 1).concat(r.command[0]?.toUpperCase().startsWith("EVAL") ? [] : r.command.slice(1, 2)).join(" "));
      out.set(s.name, {
        redisColdRoundTripsOnRequestPath: new Set(cold.map((r) => r.callbackSeq)).size,
        redisColdOnRequestPath: commands(cold),
        callbacks: [...census.callbacks.values()].reduce((a, b) => a + b, 0),
        hostCalls: Object.fromEntries([...census.hostCalls.entries()].sort((a, b) => b[1] - a[1])),
        redisOnRequestPath: commands(request),
        redisRoundTripsOnRequestPath: new Set(request.map((r) => r.callbackSeq)).size,
        redisAfterResponse: commands(census.redis.filter((r) => r.phase === "after")),
        bytesIntoVm: census.bytesIn,
        responseBodyBytesIntoVm: census.responseBodyBytesIn,
        responseBytes,
        bytesIntoVmPerResponseByte: responseBytes > 0 ? census.bytesIn / responseBytes : null,
        responseBodyCopiesPerResponseByte: responseBytes > 0 ? census.responseBodyBytesIn / responseBytes : null,
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

interface TimingFigures {
  requests: number;
  wasmUs: { median: number; p10: number; p90: number; roundMedians: number[]; spreadPct: number };
  /** The wasm time less the host's synchronous Redis socket write. */
  wasmExclRedisSendUs: { median: number; spreadPct: number };
  redisSendUs: number;
  hostUs: { median: number; roundMedians: number[]; spreadPct: number };
  callbacksPerRequest: number;
  /** Mean µs per request in each callback (host calls included), largest first. */
  perCallbackUs: Record<string, { usPerRequest: number; callsPerRequest: number }>;
}

function summarize(series: Series): TimingFigures {
  const all = series.rounds.flat();
  const wasmRound = series.rounds.map((r) => median(r.map((t) => t.wasmNs / 1000)));
  const hostRound = series.rounds.map((r) => median(r.map((t) => t.hostNs / 1000)));
  const exclRound = series.rounds.map((r) => median(r.map((t) => (t.wasmNs - t.redisSendNs) / 1000)));
  const wasmAll = all.map((t) => t.wasmNs / 1000);
  const perCallbackUs = Object.fromEntries([...series.byCallback.entries()]
    .sort((a, b) => b[1].ns - a[1].ns)
    .map(([name, v]) => [name, { usPerRequest: v.ns / 1000 / all.length, callsPerRequest: v.calls / all.length }]));
  return {
    requests: all.length,
    wasmUs: { median: median(wasmRound), p10: quantile(wasmAll, 0.1), p90: quantile(wasmAll, 0.9), roundMedians: wasmRound.map((v) => round(v, 2)), spreadPct: halfRangePct(wasmRound) },
    wasmExclRedisSendUs: { median: median(exclRound), spreadPct: halfRangePct(exclRound) },
    redisSendUs: median(all.map((t) => t.redisSendNs / 1000)),
    hostUs: { median: median(hostRound), roundMedians: hostRound.map((v) => round(v, 2)), spreadPct: halfRangePct(hostRound) },
    callbacksPerRequest: median(all.map((t) => t.callbacks)),
    perCallbackUs,
  };
}

function ratioOf(plugin: Series, noop: Series, pick: (t: Totals) => number): { median: number; spreadPct: number; perRound: number[] } {
  const perRound = plugin.rounds.map((r, i) => median(r.map(pick)) / median(noop.rounds[i].map(pick)));
  return { median: median(perRound), spreadPct: halfRangePct(perRound), perRound: perRound.map((v) => round(v, 2)) };
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
  return { nproc: os.availableParallelism(), cpu, node: process.version, v8: process.versions.v8, platform: `${os.platform()} ${os.release()}`, memoryGiB: round(os.totalmem() / 2 ** 30, 1) };
}

function pad(s: string, n: number, left = false): string {
  return left ? s.padStart(n) : s.padEnd(n);
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i], i > 0)).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "-");
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  // Other work on the machine skews every figure: the load average is kept with the results.
  const loadAtStart = os.loadavg();
  log(`bench: plugin ${path.relative(ROOT, args.plugin)}, baseline ${path.relative(ROOT, args.noop)}, ${args.rounds} rounds, scale ${args.scale}`);

  const redis = await startRedis();
  const client = await RedisClient.connect(redis.port);
  const modules: Module[] = [];
  try {
    await client.command("SET", "chat_quota:" + CONSUMER, "900000000000000");
    const options = vmOptions(redis);

    // ---- footprint: size and start time ----
    const sizes: Record<string, SizeFigures> = { plugin: moduleSize(args.plugin), noop: moduleSize(args.noop) };
    log("bench: VM start + configure");
    const start: Record<string, StartFigures> = {
      plugin: await startTime(args.plugin, options, PLUGIN_CONFIG, 15),
      noop: await startTime(args.noop, options, PLUGIN_CONFIG, 15),
    };

    // ---- per-request census (a separate, counting VM per module) ----
    const planned = plan().filter((p) => args.only === null || args.only.includes(p.scenario.name));
    const scenarios = planned.map((p) => p.scenario);
    log("bench: census (host calls, Redis commands, bytes copied)");
    const census = { plugin: new Map<string, CensusFigures>(), noop: await takeCensus(args.noop, options, PLUGIN_CONFIG, scenarios, client) };
    for (const variant of Object.keys(CONFIGS) as Variant[]) {
      const mine = planned.filter((p) => p.variant === variant).map((p) => p.scenario);
      if (mine.length === 0) continue;
      for (const [k, v] of await takeCensus(args.plugin, options, CONFIGS[variant], mine, client)) census.plugin.set(k, v);
    }

    // ---- timing: the modules in this process, interleaved ----
    const load = async (key: "plugin" | "noop", wasmPath: string, config: string): Promise<Module> => {
      const vm = await PluginVm.load({ ...options, wasmPath });
      const meter = instrumentTiming(vm);
      if (!(await vm.start("", config))) throw new Error(`bench: ${wasmPath} refused its config:\n${vm.logText()}`);
      const m = { key, path: wasmPath, vm, meter };
      modules.push(m);
      return m;
    };
    const noopModule = await load("noop", args.noop, PLUGIN_CONFIG);
    const pluginModules = new Map<Variant, Module>();
    for (const variant of new Set(planned.map((p) => p.variant))) pluginModules.set(variant, await load("plugin", args.plugin, CONFIGS[variant]));
    const pair = (p: Planned): Module[] => [noopModule, pluginModules.get(p.variant)!];
    const overheadNs = timerOverheadNs();
    log(`bench: timer overhead ${overheadNs.toFixed(0)} ns per timed callback`);
    log("bench: warm-up");
    for (const p of planned) {
      for (const m of pair(p)) {
        for (let i = 0; i < Math.ceil(p.warmup * Math.max(args.scale, 0.2)); i++) {
          const r = await runRequest(m.vm, p.scenario);
          if (r.status !== p.scenario.expectStatus) throw new Error(`bench: ${p.scenario.name} on ${m.key} answered ${r.status}, expected ${p.scenario.expectStatus}\n${m.vm.logText(LogLevel.Info)}`);
        }
      }
    }
    const series = new Map<string, Record<"plugin" | "noop", Series>>();
    for (const p of planned) series.set(p.scenario.name, { plugin: { rounds: [], byCallback: new Map() }, noop: { rounds: [], byCallback: new Map() } });
    const t0 = Date.now();
    for (let r = 0; r < args.rounds; r++) {
      for (const [pi, p] of planned.entries()) {
        const order = (r + pi) % 2 === 0 ? pair(p) : pair(p).reverse();
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

    const results = planned.map((p) => {
      const s = series.get(p.scenario.name)!;
      const plugin = summarize(s.plugin);
      const noop = summarize(s.noop);
      const c = census.plugin.get(p.scenario.name)!;
      return {
        name: p.scenario.name,
        title: p.scenario.title,
        responseBytes: bodyBytes(p.scenario),
        chunks: p.scenario.response?.chunks.length ?? 0,
        plugin,
        noop,
        wasmRatio: ratioOf(s.plugin, s.noop, (t) => t.wasmNs),
        /** With the timer's own cost taken out of both sides. */
        wasmRatioNet: ratioOf(s.plugin, s.noop, (t) => Math.max(1, t.wasmNs - t.callbacks * overheadNs)),
        wasmRatioExclRedisSend: ratioOf(s.plugin, s.noop, (t) => t.wasmNs - t.redisSendNs),
        hostRatio: ratioOf(s.plugin, s.noop, (t) => t.hostNs),
        census: { plugin: c, noop: census.noop.get(p.scenario.name)! },
      };
    });
    const byName = new Map(results.map((r) => [r.name, r]));

    // ---- scaling ----
    // Factors are taken per round (both scenarios ran in the same round), then the median.
    const factor = (a: string, b: string) => {
      const x = byName.get(a);
      const y = byName.get(b);
      const sx = series.get(a);
      const sy = series.get(b);
      if (x === undefined || y === undefined || sx === undefined || sy === undefined) return null;
      const roundMedian = (rounds: Totals[][], i: number, noop?: Totals[][]) =>
        median(rounds[i].map((t) => t.wasmNs)) - (noop ? median(noop[i].map((t) => t.wasmNs)) : 0);
      const perRound = sx.plugin.rounds.map((_, i) => roundMedian(sy.plugin.rounds, i) / roundMedian(sx.plugin.rounds, i));
      const perRoundNet = sx.plugin.rounds.map((_, i) => roundMedian(sy.plugin.rounds, i, sy.noop.rounds) / roundMedian(sx.plugin.rounds, i, sx.noop.rounds));
      const f = median(perRound);
      return {
        from: a, to: b,
        bytesRatio: round(y.responseBytes / x.responseBytes, 3),
        chunksRatio: round(y.chunks / x.chunks, 3),
        pluginWasmFactor: round(f, 3),
        spreadPct: round(halfRangePct(perRound), 1),
        perRound: perRound.map((v) => round(v, 3)),
        pluginOverNoopFactor: round(median(perRoundNet), 3),
        usPerChunk: { from: round(x.plugin.wasmUs.median / x.chunks, 2), to: round(y.plugin.wasmUs.median / y.chunks, 2) },
        met: f <= 2,
      };
    };
    const scaling = {
      chunkCount: factor("chat-sse-200", "chat-sse-400"),
      chunkCountLarge: factor("chat-sse-200", "chat-sse-2000"),
      chunkSize: factor("chat-sse-200", "chat-sse-200-2x"),
    };

    // ---- memory over a long run ----
    let memory: MemoryFigures | null = null;
    if (args.soak > 0) {
      log(`bench: memory run, ${args.soak} requests`);
      const vm = await PluginVm.load({ ...options, wasmPath: args.plugin });
      try {
        if (!(await vm.start("", PLUGIN_CONFIG))) throw new Error("bench: plugin refused its config");
        const mix = [chatJson(), chatSse(20), adminQuery(), passThrough(), chatJson(), chatSse(20), chatSse(200), passThrough()];
        memory = await memorySoak(vm, mix, 5_000, args.soak, 16, log);
      } finally {
        await vm.close();
      }
    }

    // ---- throughput ----
    let throughput: ThroughputFigures | null = null;
    if (args.throughputSeconds > 0) {
      log("bench: throughput");
      throughput = await measureThroughput({ root: ROOT, front: args.front, connections: args.connections, plugin: args.plugin, noop: args.noop, redis, seconds: args.throughputSeconds, log });
    }

    // ---- targets ----
    const sse200 = byName.get("chat-sse-200");
    const json = byName.get("chat-json");
    const targets = [
      sse200 && { target: "streaming 200 chunks within 1.5x of the no-op (wasm time)", value: `${fmt(sse200.wasmRatio.median, 2)}x (${fmt(sse200.wasmRatioExclRedisSend.median, 2)}x without the host's Redis socket writes; ${fmt(sse200.plugin.wasmUs.median)} vs ${fmt(sse200.noop.wasmUs.median)} µs)`, met: sse200.wasmRatio.median <= 1.5 },
      json && { target: "non-streaming within 2x of the no-op (wasm time)", value: `${fmt(json.wasmRatio.median, 2)}x (${fmt(json.wasmRatioExclRedisSend.median, 2)}x without the host's Redis socket writes; ${fmt(json.plugin.wasmUs.median)} vs ${fmt(json.noop.wasmUs.median)} µs)`, met: json.wasmRatio.median <= 2 },
      ...results.filter((r) => r.name === "chat-json" || r.name === "chat-json-reserve").map((r) => ({
        target: `one Redis round trip on the request path (${r.name})`,
        value: `${r.census.plugin.redisRoundTripsOnRequestPath} (${r.census.plugin.redisOnRequestPath.join("; ")}); first request after SCRIPT FLUSH: ${r.census.plugin.redisColdRoundTripsOnRequestPath} (${(r.census.plugin.redisColdOnRequestPath ?? []).join("; ")})`,
        met: r.census.plugin.redisRoundTripsOnRequestPath <= 1,
      })),
      { target: "release .wasm under 150 KB", value: `${sizes.plugin.rawBytes} bytes (${kb(sizes.plugin.rawBytes)}), gzip ${sizes.plugin.gzipBytes}`, met: sizes.plugin.rawBytes < 150_000 },
      memory && { target: `linear memory flat over ${memory.requests} requests`, value: `${memory.afterWarmupBytes} -> ${memory.afterRunBytes} bytes`, met: memory.flat },
      scaling.chunkCount && { target: "doubling the chunk count at most doubles the cost", value: `${scaling.chunkCount.pluginWasmFactor}x`, met: scaling.chunkCount.met },
      scaling.chunkSize && { target: "doubling the chunk size at most doubles the cost", value: `${scaling.chunkSize.pluginWasmFactor}x`, met: scaling.chunkSize.met },
    ].filter((t): t is { target: string; value: string; met: boolean } => !!t);

    // ---- report ----
    const rows = results.map((r) => [
      r.name,
      String(r.responseBytes),
      `${fmt(r.plugin.wasmUs.median)} ±${fmt(r.plugin.wasmUs.spreadPct, 0)}%`,
      `${fmt(r.noop.wasmUs.median)} ±${fmt(r.noop.wasmUs.spreadPct, 0)}%`,
      `${fmt(r.wasmRatio.median, 2)}x`,
      `${fmt(r.plugin.redisSendUs)}`,
      `${fmt(r.wasmRatioExclRedisSend.median, 2)}x`,
      `${fmt(r.plugin.hostUs.median)} / ${fmt(r.noop.hostUs.median)}`,
      `${fmt(r.hostRatio.median, 2)}x`,
      `${r.census.plugin.redisOnRequestPath.length} / ${r.census.plugin.redisRoundTripsOnRequestPath}`,
      r.census.plugin.bytesIntoVmPerResponseByte === null ? "-" : fmt(r.census.plugin.bytesIntoVmPerResponseByte, 2),
    ]);
    const out: string[] = [];
    out.push(`ai-quota bench, ${startedAt.toISOString()}: ${machine().cpu}, ${os.availableParallelism()} CPUs, node ${process.version}, load average ${loadAtStart.map((v) => v.toFixed(1)).join(" ")}`);
    out.push(`${args.rounds} interleaved rounds; times are medians of per-round medians, ± half the round-to-round range; timer overhead ${overheadNs.toFixed(0)} ns per callback is included in both columns`);
    out.push("");
    out.push(table(
      ["scenario", "resp B", "plugin wasm µs", "no-op wasm µs", "ratio", "of which redis send µs", "ratio w/o send", "host µs plugin/no-op", "host ratio", "redis cmds/RTT", "bytes in/resp byte"],
      rows,
    ));
    out.push("");
    out.push("where the plugin's wasm time goes (µs per request, by callback, host calls included):");
    for (const r of results) {
      const parts = Object.entries(r.plugin.perCallbackUs).filter(([, v]) => v.usPerRequest >= 0.05).map(([k, v]) => `${k.replace(/^proxy_on_/, "")} ${fmt(v.usPerRequest)}${v.callsPerRequest > 1.5 ? ` (${fmt(v.callsPerRequest, 0)} calls)` : ""}`);
      out.push(`  ${pad(r.name, 16)} ${parts.join(", ")}`);
    }
    out.push("");
    out.push("scaling (plugin wasm time):");
    for (const [k, f] of Object.entries(scaling)) {
      if (f === null) continue;
      out.push(`  ${k}: ${f.from} -> ${f.to} (chunks x${f.chunksRatio}, bytes x${f.bytesRatio}): cost x${f.pluginWasmFactor} ±${fmt(f.spreadPct, 0)}% (plugin minus no-op x${f.pluginOverNoopFactor}); ${f.usPerChunk.from} -> ${f.usPerChunk.to} µs per chunk`);
    }
    out.push("");
    out.push("footprint:");
    out.push(`  ai-quota.wasm ${sizes.plugin.rawBytes} B raw (${kb(sizes.plugin.rawBytes)}), ${sizes.plugin.gzipBytes} B gzip; noop.wasm ${sizes.noop.rawBytes} B raw, ${sizes.noop.gzipBytes} B gzip`);
    out.push(`  VM load (compile+instantiate) ${fmt(start.plugin.loadMs, 2)} ms + start/configure ${fmt(start.plugin.startConfigureMs, 2)} ms = ${fmt(start.plugin.totalMs, 2)} ms (no-op: ${fmt(start.noop.totalMs, 2)} ms)`);
    if (memory) {
      out.push(`  linear memory: ${memory.afterWarmupBytes} B after ${memory.warmupRequests} warm-up requests, ${memory.afterRunBytes} B after ${memory.requests} more (${memory.concurrency} in flight, ${fmt(memory.seconds, 0)} s, ${memory.failures} unexpected answers)`);
    }
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
        modules: { plugin: path.relative(ROOT, args.plugin), noop: path.relative(ROOT, args.noop) },
        settings: { rounds: args.rounds, scale: args.scale, timerOverheadNsPerCallback: round(overheadNs, 1) },
        scenarios: results,
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
