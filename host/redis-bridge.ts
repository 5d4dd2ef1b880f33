// Higress's Redis host calls over real TCP. proxy_redis_init names a cluster the way Higress's
// wrapper builds it (`outbound|6379||redis.static?db=1&buffer_flush_timeout=3&...`): the part
// before `?` is the cluster, the rest are options, of which `db` selects the database. The
// cluster is mapped to an address by the test's resolver. proxy_redis_call answers at once with a
// callout id; the reply (or a failure: status 1, no bytes) is delivered later, asynchronously.
import { Status } from "./abi-types";
import { higressRedisTiming, RedisConnection, RedisEndpoint } from "./redis-connection";
import { decodeCommand, isPlainCommand } from "./resp";
import { pushBounded } from "./history";
import { ClusterRouter, ClusterRouting } from "./redis-cluster-bridge";

export interface RedisResolver {
  /**
   * The address of a cluster (name without options), or nothing when the cluster is unknown.
   * With `cluster`, the address is a seed of a Redis Cluster and commands are routed by slot
   * (redis-cluster-bridge.ts); `true` or an object watching the routing.
   */
  resolve(cluster: string): { host: string; port: number; cluster?: boolean | ClusterRouting } | null | undefined;
}

export interface RedisClusterSettings extends RedisEndpoint {
  cluster: string;
  timeoutMs: number;
  options: Record<string, string>;
  /** Set when the address is a Redis Cluster seed. */
  routing?: ClusterRouting;
}

export interface RedisCallRecord {
  calloutId: number;
  cluster: string;
  /** The context that was current (or effective) when the plugin made the call. */
  contextId: number;
  query: Buffer;
  /** The command's arguments as strings. */
  command: string[];
  /** 0 = reply received, 1 = failure; absent while in flight. */
  status?: number;
  reply?: Buffer;
  failure?: string;
}

/** Redis's timeout when the plugin passes 0: Higress's own default. */
const DEFAULT_TIMEOUT_MS = 1000;

/** Cluster names by the full name the plugin passes (it passes the same few on every call). */
const clusterOfName = new Map<string, string>();
const CLUSTER_NAMES_KEPT = 256;

/** The cluster part of a full name, without parsing the options on every call. */
function clusterOf(full: string): string {
  let cluster = clusterOfName.get(full);
  if (cluster === undefined) {
    cluster = parseClusterName(full).cluster;
    if (clusterOfName.size >= CLUSTER_NAMES_KEPT) clusterOfName.clear();
    clusterOfName.set(full, cluster);
  }
  return cluster;
}

export function parseClusterName(full: string): { cluster: string; options: Record<string, string> } {
  const q = full.indexOf("?");
  if (q < 0) return { cluster: full, options: {} };
  const options: Record<string, string> = {};
  for (const part of full.slice(q + 1).split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    options[eq < 0 ? part : part.slice(0, eq)] = eq < 0 ? "" : part.slice(eq + 1);
  }
  return { cluster: full.slice(0, q), options };
}

/** A call's record; its arguments are decoded when someone looks (tests, tools), not on every call. */
class CallRecord implements RedisCallRecord {
  status?: number;
  reply?: Buffer;
  failure?: string;
  private decoded: string[] | null = null;

  constructor(readonly calloutId: number, readonly cluster: string, readonly contextId: number, readonly query: Buffer) {}

  get command(): string[] {
    if (this.decoded === null) this.decoded = decodeCommand(this.query) ?? [];
    return this.decoded;
  }
}

function sameEndpoint(a: RedisClusterSettings, b: RedisClusterSettings): boolean {
  return a.host === b.host && a.port === b.port && a.username === b.username && a.password === b.password && a.db === b.db &&
    // The op timeout belongs to the connection (Envoy's connect_or_op_timer_), so a new one needs a new connection.
    a.timeoutMs === b.timeoutMs &&
    (a.routing === undefined) === (b.routing === undefined);
}

export class RedisBridge {
  readonly calls: RedisCallRecord[] = [];
  /** Connection events worth seeing in a failing test (refused AUTH, dropped connections). */
  readonly notes: string[] = [];
  readonly clusters = new Map<string, RedisClusterSettings>();
  private readonly connections = new Map<string, RedisConnection>();
  private readonly routers = new Map<string, ClusterRouter>();
  private closed = false;

  constructor(
    private readonly resolver: RedisResolver | undefined,
    private readonly deliver: (record: RedisCallRecord) => void,
    private readonly historyLimit: number,
    /** Higress envoy-1.36: the name's buffer options reach the client (higress-profile.ts). */
    private readonly readsBufferOptions = false,
  ) {}

  private settingsFor(cluster: string, options: Record<string, string>, username: string, password: string, timeoutMs: number): RedisClusterSettings | null {
    const address = this.resolver?.resolve(cluster);
    if (!address) return null;
    const db = options.db === undefined ? 0 : Number(options.db);
    if (!Number.isInteger(db) || db < 0) return null;
    const routing = address.cluster === true ? {} : address.cluster || undefined;
    return { cluster, host: address.host, port: address.port, username, password, db, options, timeoutMs: timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS, routing };
  }

  init(fullName: string, username: string, password: string, timeoutMs: number): Status {
    const { cluster, options } = parseClusterName(fullName);
    const settings = this.settingsFor(cluster, options, username, password, timeoutMs);
    if (settings === null) return Status.BadArgument;
    const previous = this.clusters.get(cluster);
    // Like Higress, re-initialising with the same settings keeps the live connection.
    if (previous !== undefined && !sameEndpoint(previous, settings)) this.dropConnection(cluster);
    this.clusters.set(cluster, settings);
    return Status.Ok;
  }

  call(fullName: string, query: Buffer, calloutId: number, contextId: number): Status {
    const cluster = clusterOf(fullName);
    let settings = this.clusters.get(cluster);
    if (settings === undefined) {
      // Never initialised: a known cluster still works, with no auth and database 0.
      const fresh = this.settingsFor(cluster, {}, "", "", 0);
      if (fresh === null) return Status.BadArgument;
      settings = fresh;
      this.clusters.set(cluster, settings);
    }
    // Exactly one command per call: Higress matches one reply per call, so a second command in
    // the same query would hand every later caller someone else's reply.
    if (!isPlainCommand(query) && decodeCommand(query) === null) return Status.BadArgument;
    const record: RedisCallRecord = new CallRecord(calloutId, cluster, contextId, query);
    pushBounded(this.calls, record, this.historyLimit);
    const sender = settings.routing !== undefined ? this.router(settings) : this.connection(settings);
    sender.send(query, (outcome) => {
      if (this.closed) return;
      record.status = outcome.ok ? 0 : 1;
      record.reply = outcome.ok ? outcome.reply : Buffer.alloc(0);
      if (!outcome.ok) record.failure = outcome.reason;
      // Always on a later turn: a failure can be settled from inside a host call (a re-init that
      // drops the connection), and the plugin must never be re-entered from its own host call.
      setImmediate(() => {
        if (!this.closed) this.deliver(record);
      });
    });
    return Status.Ok;
  }

  private connection(settings: RedisClusterSettings): RedisConnection {
    const existing = this.connections.get(settings.cluster);
    if (existing?.alive) return existing;
    const conn = new RedisConnection(
      settings,
      higressRedisTiming(settings.timeoutMs, this.readsBufferOptions ? settings.options : null),
      (reason) => {
        pushBounded(this.notes, `${settings.cluster}: ${reason}`, this.historyLimit);
        if (this.connections.get(settings.cluster) === conn) this.connections.delete(settings.cluster);
      },
      (note) => pushBounded(this.notes, `${settings.cluster}: ${note}`, this.historyLimit),
    );
    this.connections.set(settings.cluster, conn);
    return conn;
  }

  /** A Redis Cluster's router, one per cluster name (as a connection is for a single Redis). */
  private router(settings: RedisClusterSettings): ClusterRouter {
    let router = this.routers.get(settings.cluster);
    if (router === undefined) {
      router = new ClusterRouter(settings, settings.routing!, (note) => pushBounded(this.notes, `${settings.cluster}: ${note}`, this.historyLimit));
      this.routers.set(settings.cluster, router);
    }
    return router;
  }

  private dropConnection(cluster: string): void {
    this.routers.get(cluster)?.close();
    this.routers.delete(cluster);
    const conn = this.connections.get(cluster);
    this.connections.delete(cluster);
    conn?.close();
  }

  /** Closes every connection; replies still owed are dropped, not delivered. */
  close(): void {
    this.closed = true;
    for (const cluster of new Set([...this.connections.keys(), ...this.routers.keys()])) this.dropConnection(cluster);
  }
}
