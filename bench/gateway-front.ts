// The local gateway (gateway/server.ts) in a process of its own for the throughput run, with the
// .wasm chosen here: the gateway's CLI has no flag for it, its startGateway() has. Key-auth off
// (x-mse-consumer comes from the client), the built-in mock upstream, the bench's Redis, no
// access log. Loopback only. Prints "listening <port>".
//   tsx bench/gateway-front.ts --wasm <file> --redis <port>
import { startGateway } from "../gateway/server";
import { ADMIN } from "./scenarios";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function main(): Promise<void> {
  const wasmPath = arg("--wasm");
  const redisPort = Number(arg("--redis"));
  if (wasmPath === undefined || !Number.isInteger(redisPort)) throw new Error("usage: gateway-front.ts --wasm <file> --redis <port>");
  const gateway = await startGateway({
    config: {
      consumers: [],
      auth: false,
      plugin: { admin_consumer: ADMIN, redis: { service_name: "redis.static", service_port: 6379 } },
      upstream: { kind: "mock" },
    },
    host: "127.0.0.1",
    port: 0,
    redis: { host: "127.0.0.1", port: redisPort },
    logLevel: "info",
    // No access log, but lines about failures (a note in parentheses, e.g. an upstream reset) go
    // to stderr, where the bench shows them.
    print: (line) => {
      // (Cut requests at the end of each load run are expected.)
      if (/ \(.+\)$/.test(line) && !line.startsWith("[plugin") && !line.endsWith("(client disconnected)")) process.stderr.write(`gateway: ${line}\n`);
    },
    warn: (line) => process.stderr.write(line + "\n"),
    wasmPath,
  });
  process.stdout.write(`listening ${gateway.port}\n`);
  process.on("SIGTERM", () => {
    void gateway.close().then(() => process.exit(0), () => process.exit(1));
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
