// A whole gateway: its Redis, the plugin VM, the upstream (the built-in mock or a URL) and the
// HTTP server in front, with GET /stats/prometheus served by the gateway itself.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { KeyAuth } from "./auth";
import type { PluginLogLevel } from "./cli";
import type { GatewayConfig } from "./config";
import { GatewayError } from "./errors";
import { MockUpstream, startMockUpstream } from "./mock-upstream";
import { Plugin, startPlugin } from "./plugin";
import { CONTENT_TYPE, renderPrometheus } from "./prometheus";
import { ProxyContext, accessLine, handleRequest } from "./proxy";
import { GatewayRedis, openRedis } from "./redis";
import { UpstreamTarget } from "./upstream";

export const METRICS_PATH = "/stats/prometheus";

export interface GatewayOptions {
  config: GatewayConfig;
  host: string;
  port: number;
  redis: { host: string; port: number } | null;
  /** `redis` (or the one the gateway starts) is a Redis Cluster. */
  redisCluster?: boolean;
  /** The gateway's own redis-server keeps its data here (absent: nowhere). */
  dataDir?: string;
  logLevel: PluginLogLevel;
  /** Request lines and plugin logs. */
  print: (line: string) => void;
  /** Internal errors. */
  warn: (line: string) => void;
  wasmPath?: string;
  /** The config file's name, for messages. */
  configPath?: string;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly redis: { host: string; port: number; owned: boolean; cluster: boolean };
  /** "mock (http://…)" or the upstream URL. */
  readonly upstream: string;
  /** Stops serving, the plugin, the mock and the gateway's own redis-server. Idempotent. */
  close(): Promise<void>;
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "address already in use" : err.code === "EACCES" ? "permission denied" : err.code === "EADDRNOTAVAIL" ? "address not available" : err.message;
      reject(new GatewayError(`cannot listen on ${host}:${port}: ${why}`));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // keep closing the rest
      }
    }
  };
  try {
    const redis: GatewayRedis = await openRedis(options.redis, options.redisCluster ?? false, options.dataDir);
    cleanups.push(() => redis.stop());

    const plugin: Plugin = await startPlugin({
      config: options.config.plugin, redis, logLevel: options.logLevel, print: options.print, wasmPath: options.wasmPath, source: options.configPath,
    });
    cleanups.push(() => plugin.close());

    let mock: MockUpstream | null = null;
    let target: UpstreamTarget;
    if (options.config.upstream.kind === "mock") {
      mock = await startMockUpstream();
      const m = mock;
      cleanups.push(() => m.close());
      target = new UpstreamTarget(new URL(mock.url));
    } else {
      target = new UpstreamTarget(options.config.upstream.url);
    }
    cleanups.push(() => target.close());

    const ctx: ProxyContext = {
      plugin,
      auth: options.config.auth ? new KeyAuth(options.config.consumers) : null,
      upstream: target,
      log: options.print,
      warn: options.warn,
    };
    const server = http.createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path === METRICS_PATH && (req.method === "GET" || req.method === "HEAD")) {
        const text = renderPrometheus(plugin.vm.metrics(), plugin.metricTypes);
        res.writeHead(200, { "content-type": CONTENT_TYPE, "content-length": Buffer.byteLength(text) });
        res.end(req.method === "HEAD" ? undefined : text);
        options.print(accessLine(req.method, req.url ?? "/", 200, "-", null));
        return;
      }
      handleRequest(ctx, req, res);
    });
    const port = await listen(server, options.host, options.port);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const host = options.host.includes(":") ? `[${options.host}]` : options.host;
    return {
      url: `http://${host}:${port}`,
      port,
      redis: { host: redis.host, port: redis.port, owned: redis.owned, cluster: redis.cluster },
      upstream: mock !== null ? `mock (${mock.url})` : target.base.toString(),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
