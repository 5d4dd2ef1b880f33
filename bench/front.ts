// A minimal HTTP front for the throughput run, in its own process: every request becomes a
// stream on one VM running the given module, and requests the plugin lets through are answered
// by an in-process mock upstream (no second network hop), chosen by the `x-bench-response`
// request header: `json` (a chat completion) or `sse-<n>` (a stream of n chunks).
//   tsx bench/front.ts --wasm <file> --redis <port> [--port <n>]; prints "listening <port>".
// Loopback only.
import * as http from "node:http";
import { HeaderPairs, LogLevel, PluginVm } from "../host";
import { ADMIN, Scenario, chatJson, chatSse } from "./scenarios";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

const answers = new Map<string, Scenario>();
function answerFor(kind: string): Scenario {
  let s = answers.get(kind);
  if (s === undefined) {
    const m = /^sse-(\d{1,5})$/.exec(kind);
    s = m !== null ? chatSse(Math.max(2, Number(m[1]))) : chatJson();
    answers.set(kind, s);
  }
  return s;
}

async function main(): Promise<void> {
  const wasmPath = arg("--wasm");
  const redisPort = Number(arg("--redis"));
  if (wasmPath === undefined || !Number.isInteger(redisPort)) throw new Error("usage: front.ts --wasm <file> --redis <port> [--port <n>]");
  const vm = await PluginVm.load({
    wasmPath,
    redis: { resolve: (name) => (name.endsWith("||redis.static") ? { host: "127.0.0.1", port: redisPort } : undefined) },
    logLevel: LogLevel.Info,
    historyLimit: 1000,
  });
  const config = JSON.stringify({ admin_consumer: ADMIN, redis: { service_name: "redis.static", service_port: 6379 } });
  if (!(await vm.start("", config))) throw new Error(`refused config:\n${vm.logText()}`);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: HeaderPairs = [[":method", req.method ?? "GET"], [":path", req.url ?? "/"], [":authority", req.headers.host ?? "localhost"], [":scheme", "http"]];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i].toLowerCase();
        if (k !== "host" && k !== "connection") headers.push([k, req.rawHeaders[i + 1]]);
      }
      const kind = String(req.headers["x-bench-response"] ?? "json");
      const body = Buffer.concat(chunks);
      const stream = vm.newStream({
        record: false,
        onDownstream: (part) => {
          switch (part.kind) {
            case "headers": {
              const status = Number(part.headers.find(([k]) => k === ":status")?.[1] ?? 502);
              // Node takes raw headers as one flat list: name, value, name, value…
              const out = part.headers.filter(([k]) => !k.startsWith(":") && k !== "content-length").flat();
              res.writeHead(status, out);
              if (part.endOfStream) res.end();
              break;
            }
            case "data":
              if (part.data.length > 0) res.write(part.data);
              if (part.endOfStream) res.end();
              break;
            case "trailers":
              res.end();
              break;
            default:
              res.destroy();
          }
        },
      });
      const answer = answerFor(kind).response!;
      stream.run({
        request: { headers, body: body.length > 0 ? body : undefined },
        response: () => ({ headers: answer.headers, body: answer.chunks }),
      }).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(Number(arg("--port") ?? 0), "127.0.0.1", () => {
    const a = server.address();
    process.stdout.write(`listening ${typeof a === "object" && a !== null ? a.port : 0}\n`);
  });
  process.on("SIGTERM", () => {
    server.close();
    void vm.close().then(() => process.exit(0));
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
