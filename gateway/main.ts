// `npm start -- --config <file.yaml> --port <n> [--redis host:port]`: a local AI gateway running
// the real plugin. A bad command line or config file is one line on stderr and exit code 2; a
// failure to start is one line and exit code 1; SIGINT/SIGTERM stop everything and exit 0.
import { USAGE, parseCli } from "./cli";
import { loadConfig } from "./config";
import { GatewayError } from "./errors";
import { Gateway, startGateway } from "./server";

const NAME = "ai-quota gateway";
const STOP_BOUND_MS = 1500;

function print(line: string): void {
  process.stdout.write(line + "\n");
}

function warn(line: string): void {
  process.stderr.write(line + "\n");
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  if (cli.help) {
    print(USAGE);
    return;
  }
  const config = loadConfig(cli.configPath);
  const gateway: Gateway = await startGateway({ config, host: cli.host, port: cli.port, redis: cli.redis, redisCluster: cli.redisCluster, dataDir: cli.dataDir, logLevel: cli.logLevel, print, warn, configPath: cli.configPath });

  let stopping = false;
  const stop = (why: string, code: number) => {
    if (stopping) {
      // A second Ctrl-C: the user does not want to wait (the redis-server gets its PDEATHSIG).
      if (why.startsWith("SIG")) process.exit(code === 0 ? 1 : code);
      return;
    }
    stopping = true;
    print(`${NAME} stopping (${why})`);
    // Supervisors wait a few seconds before SIGKILL: never hang on a stuck close.
    setTimeout(() => {
      warn(`${NAME}: did not stop within ${STOP_BOUND_MS} ms, exiting`);
      process.exit(code === 0 ? 1 : code);
    }, STOP_BOUND_MS).unref();
    gateway.close().then(
      () => process.exit(code),
      () => process.exit(code === 0 ? 1 : code),
    );
  };
  process.on("SIGINT", () => stop("SIGINT", 0));
  process.on("SIGTERM", () => stop("SIGTERM", 0));
  process.on("SIGHUP", () => stop("SIGHUP", 0));
  process.on("uncaughtException", (err) => {
    warn(`${NAME}: internal error: ${err.stack ?? err.message}`);
    stop("internal error", 1);
  });

  const kind = gateway.redis.cluster ? "a Redis Cluster node" : "redis-server";
  print(`redis: ${gateway.redis.host}:${gateway.redis.port} (${gateway.redis.owned ? `${kind} started by the gateway` : `external${gateway.redis.cluster ? ", Redis Cluster" : ""}`})`);
  if (gateway.redis.owned) print(cli.dataDir !== undefined ? `balances: kept in ${cli.dataDir} (append-only file)` : "balances: not kept (lost when the gateway stops; --data <dir> keeps them)");
  print(`upstream: ${gateway.upstream}`);
  print(`auth: ${config.auth ? `key-auth, ${config.consumers.length} consumer(s)` : "off (x-mse-consumer is taken from the client)"}`);
  print(`metrics: ${gateway.url}/stats/prometheus`);
  print(`${NAME} listening on ${gateway.url}`);
}

main().catch((err: unknown) => {
  if (err instanceof GatewayError) {
    warn(`${NAME}: ${err.message}`);
    process.exit(err.exitCode);
  }
  warn(`${NAME}: internal error: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
