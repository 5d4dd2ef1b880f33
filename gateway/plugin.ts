// The one plugin VM of a gateway process (Node runs one worker thread, as an Envoy with
// --concurrency 1): the real build/ai-quota.wasm, every Redis cluster it names mapped to the
// gateway's Redis, its log lines printed at the chosen level.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { LogEntry, LogLevel, MetricType, PluginVm } from "../host";
import type { PluginLogLevel } from "./cli";
import { ConfigError, GatewayError } from "./errors";

export const PLUGIN_WASM = path.resolve(__dirname, "../build/ai-quota.wasm");

const LEVELS: Record<PluginLogLevel, LogLevel> = {
  trace: LogLevel.Trace, debug: LogLevel.Debug, info: LogLevel.Info, warn: LogLevel.Warn, error: LogLevel.Error, critical: LogLevel.Critical,
};

export interface PluginOptions {
  /** The ai-quota config (the `plugin:` mapping of the gateway config). */
  config: Record<string, unknown>;
  redis: { host: string; port: number };
  logLevel: PluginLogLevel;
  print: (line: string) => void;
  wasmPath?: string;
  /** Names the config in messages (the gateway config file). */
  source?: string;
}

export interface Plugin {
  readonly vm: PluginVm;
  /** The type of each metric the plugin defined, by name (the host's snapshot has values only). */
  readonly metricTypes: ReadonlyMap<string, MetricType>;
  /** Says once, through `warn`, that the VM failed (a trap): from then on every request gets 503. */
  noticeFailure(warn: (line: string) => void): void;
  close(): Promise<void>;
}

export function formatLog(entry: LogEntry): string {
  return `[plugin ${LogLevel[entry.level].toLowerCase()}] ${entry.message}`;
}

export async function startPlugin(options: PluginOptions): Promise<Plugin> {
  const wasmPath = options.wasmPath ?? PLUGIN_WASM;
  if (!existsSync(wasmPath)) throw new GatewayError(`${wasmPath} not found: run npm run build`);
  const metricTypes = new Map<string, MetricType>();
  let starting = true;
  let vmRef: PluginVm | null = null;
  let vm: PluginVm;
  try {
    vm = await PluginVm.load({
      wasmPath,
      redis: { resolve: () => options.redis },
      logLevel: LEVELS[options.logLevel],
      // The host keeps recent log lines and Redis calls for tests; a gateway needs few.
      historyLimit: 200,
      // The plugin's tick sends again the settlements Redis could not be reached for.
      tickTimer: true,
      logSink: (entry) => {
        if (!starting) options.print(formatLog(entry));
      },
      onHostCall: (name, args, result) => {
        if (name !== "proxy_define_metric" || result !== 0 || vmRef === null) return;
        const text = vmRef.memory.read(Number(args[1]), Number(args[2]));
        if (text !== null) metricTypes.set(text.toString("utf8"), Number(args[0]) as MetricType);
      },
    });
  } catch (err) {
    throw new GatewayError(`cannot load ${wasmPath}: ${(err as Error).message}`);
  }
  vmRef = vm;
  const configured = await vm.start("", JSON.stringify(options.config));
  starting = false;
  if (vm.trapped !== null) {
    await vm.close();
    throw new GatewayError(`the plugin failed while starting: ${vm.trapped.message}`);
  }
  if (!configured) {
    const errors = vm.logs.filter((l) => l.level >= LogLevel.Error);
    const reason = errors.length > 0 ? formatLog(errors[errors.length - 1]) : "proxy_on_configure returned false";
    await vm.close();
    throw new ConfigError(`${options.source !== undefined ? `${options.source}: ` : ""}plugin: the plugin refused its config: ${reason}`);
  }
  for (const entry of vm.logs) if (entry.level >= LEVELS[options.logLevel]) options.print(formatLog(entry));
  let failureReported = false;
  return {
    vm,
    metricTypes,
    noticeFailure(warn) {
      if (vm.trapped === null || failureReported) return;
      failureReported = true;
      warn(`ai-quota gateway: the plugin VM failed, every request is answered 503 until a restart: ${vm.trapped.message}`);
    },
    close: () => vm.close(),
  };
}
