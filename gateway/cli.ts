// The command line: `npm start -- [--config <file.yaml>] [--port <n>] [--host <addr>]
// [--redis <host:port>] [--redis-cluster] [--data <dir>] [--log-level <level>]`. Every mistake is a ConfigError (exit code 2).
import { parseArgs } from "node:util";
import { ConfigError } from "./errors";

export type PluginLogLevel = "trace" | "debug" | "info" | "warn" | "error" | "critical";
const LOG_LEVELS: readonly PluginLogLevel[] = ["trace", "debug", "info", "warn", "error", "critical"];

export interface CliOptions {
  configPath: string;
  port: number;
  host: string;
  /** An external Redis; when absent the gateway starts its own redis-server. */
  redis: { host: string; port: number } | null;
  /** Redis is a Redis Cluster: started by the gateway, or the one `redis` names a node of (absent: no). */
  redisCluster?: true;
  /** Where the gateway's own redis-server keeps its data (an append-only file), so balances survive a restart (absent: nowhere). */
  dataDir?: string;
  /** The plugin's log level (what proxy_get_log_level answers) and what gets printed. */
  logLevel: PluginLogLevel;
  help: boolean;
}

export const DEFAULT_CONFIG = "examples/local.yaml";
export const DEFAULT_PORT = 8080;

export const USAGE = [
  "usage: npm start -- [options]   or   bash scripts/start.sh [options]",
  "  options: [--config <file.yaml>] [--port <n>] [--host <addr>] [--redis <host:port>] [--redis-cluster] [--data <dir>] [--log-level <level>]",
  `  --config     the gateway config (default ${DEFAULT_CONFIG})`,
  `  --port       the port to listen on, 0 for any free one (default ${DEFAULT_PORT})`,
  "  --host       the address to listen on (default 127.0.0.1)",
  "  --redis      use this Redis instead of starting a redis-server",
  "  --redis-cluster  a Redis Cluster: start one (three masters), or with --redis, a node of yours",
  "  --data       keep the started redis-server's data (append-only file) in this folder, so balances",
  "               survive a restart (default: nowhere; every balance is lost when the gateway stops)",
  `  --log-level  the plugin's log level: ${LOG_LEVELS.join(", ")} (default info)`,
].join("\n");

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new ConfigError(`${what} must be a port number (0-65535), got "${text}"`);
  return Number(text);
}

/** `host:port`, `[v6]:port`, or a bare port (on 127.0.0.1). */
export function parseRedisAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  if (m === null) throw new ConfigError(`--redis must be host:port, got "${text}"`);
  const port = parsePort(m[3], "--redis port");
  if (port === 0) throw new ConfigError(`--redis port must not be 0`);
  return { host: m[1] || m[2] || "127.0.0.1", port };
}

export function parseCli(argv: string[]): CliOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        port: { type: "string", short: "p" },
        host: { type: "string" },
        redis: { type: "string" },
        "redis-cluster": { type: "boolean" },
        data: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message.split("\n")[0]} (see --help)`);
  }
  const level = (values["log-level"] as string | undefined) ?? "info";
  if (!LOG_LEVELS.includes(level as PluginLogLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
  const host = (values.host as string | undefined) ?? "127.0.0.1";
  if (host === "") throw new ConfigError("--host must not be empty");
  const dataDir = values.data as string | undefined;
  if (dataDir !== undefined) {
    if (dataDir === "") throw new ConfigError("--data must name a folder");
    if (values.redis !== undefined) throw new ConfigError("--data keeps the gateway's own redis-server's data: an external Redis (--redis) keeps its own");
    if (values["redis-cluster"] === true) throw new ConfigError("--data is not supported with --redis-cluster");
  }
  return {
    configPath: (values.config as string | undefined) ?? DEFAULT_CONFIG,
    port: values.port === undefined ? DEFAULT_PORT : parsePort(values.port as string, "--port"),
    host,
    redis: values.redis === undefined ? null : parseRedisAddress(values.redis as string),
    redisCluster: values["redis-cluster"] === true ? true : undefined,
    ...(dataDir !== undefined ? { dataDir } : {}),
    logLevel: level as PluginLogLevel,
    help: values.help === true,
  };
}
