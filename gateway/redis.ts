// The gateway's Redis: one it starts itself (a redis-server on a free loopback port, stopped with
// the gateway), or the one given with --redis (checked to be reachable, never stopped). With
// --redis-cluster it is a Redis Cluster (three masters started by the gateway, or the cluster the
// --redis node belongs to) and the plugin's commands are routed by slot.
import * as net from "node:net";
import { startRedis } from "../host";
import { startRedisCluster } from "../host/redis-cluster";
import { GatewayError, firstLine } from "./errors";

export interface GatewayRedis {
  host: string;
  port: number;
  /** Started by the gateway (and stopped by it). */
  owned: boolean;
  /** A Redis Cluster (host:port is a node to discover it from). */
  cluster: boolean;
  stop(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 2000;

function reachable(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (problem: string | null) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(`no answer within ${CONNECT_TIMEOUT_MS} ms`));
    socket.once("connect", () => done(null));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** `dataDir`: where the gateway's own redis-server keeps an append-only file (absent: nowhere). */
export async function openRedis(external: { host: string; port: number } | null, cluster = false, dataDir?: string): Promise<GatewayRedis> {
  if (external !== null) {
    const problem = await reachable(external.host, external.port);
    if (problem !== null) throw new GatewayError(`cannot reach Redis at ${external.host}:${external.port}: ${problem}`);
    return { ...external, owned: false, cluster, stop: async () => {} };
  }
  if (cluster) {
    try {
      const c = await startRedisCluster();
      return { ...c.seed, owned: true, cluster: true, stop: () => c.stop() };
    } catch (err) {
      throw new GatewayError(`cannot start a Redis Cluster: ${firstLine(err)}`);
    }
  }
  try {
    const server = await startRedis(dataDir !== undefined ? { dataDir } : {});
    let stopped: Promise<void> | null = null;
    return { host: server.host, port: server.port, owned: true, cluster: false, stop: () => (stopped ??= server.stop()) };
  } catch (err) {
    throw new GatewayError(`cannot start redis-server: ${firstLine(err)}`);
  }
}
