// proxy_redis_call against a Redis Cluster, routed the way Envoy's cluster-aware Redis client
// does it (envoyproxy/envoy, read in the higress-group/envoy fork, branch envoy-1.27):
//
// - Topology: CLUSTER SLOTS from a seed node, each slot mapped to its master
//   (source/extensions/clusters/redis/redis_cluster.cc, RedisDiscoverySession::onResponse).
// - Routing: EVAL/EVALSHA by their first key, every other command by its first argument
//   (source/extensions/filters/network/redis_proxy/command_splitter_impl.cc, EvalRequest::create and
//   SimpleRequest); the slot is CRC16 of the key's hash tag, or of the whole key when it has none
//   (source/extensions/clusters/redis/redis_cluster_lb.cc, RedisLoadBalancerContextImpl::hashtag,
//   and crc16.cc), and the request goes to that slot's master (RedisClusterLoadBalancer::chooseHost).
//   MGET is split per key by Envoy (MGETRequest); the plugin's MGET keys share one slot, so sending
//   it whole to that slot's master is the same.
// - Redirects: an error reply of exactly three words `MOVED <slot> <host:port>` or `ASK …`
//   (source/extensions/filters/network/common/redis/client_impl.cc, ClientImpl::onRespValue) is
//   sent again to that address; for ASK an `ASKING` goes first on the same connection and its
//   reply is dropped (source/extensions/filters/network/redis_proxy/conn_pool_impl.cc,
//   PendingRequest::doRedirection). A MOVED also asks for a new topology
//   (refresh_manager_->onRedirection; here: every MOVED, Envoy's redirect_refresh_threshold 1).
//   Envoy bounds nothing here; this bridge stops after MAX_REDIRECTS hops and hands over the
//   last reply.
// - CLUSTERDOWN is a failure, not a reply (ClientImpl::onRespValue). Every other reply, TRYAGAIN
//   included, goes to the caller as it is.
// - One connection per node, with Envoy's client timing (one op timer per connection, writes
//   buffered for buffer_flush_timeout) and AUTH on connect (redis-connection.ts, as for a single Redis).
//
// Not Higress: Higress's own proxy_redis_call client (source/common/redis/async_client_impl.cc,
// AsyncClientImpl::send) picks a host with a load-balancer context that has no hash key and has
// redirection off (ConfigImpl::enableRedirection() false), so it is not slot-aware. What this
// bridge models is the cluster-aware Redis proxy a Higress deployment puts in front of a cluster
// (see docs/redis.md, "Redis Cluster").
import type { RedisClusterSettings } from "./redis-bridge";
import { higressRedisTiming, RedisConnection, RedisOutcome } from "./redis-connection";
import { CLUSTER_SLOTS, keySlot, parseRedirect, routingKey } from "./redis-cluster";
import { decodeCommand, decodeValue, encodeCommand } from "./resp";

/** How far a command follows MOVED/ASK before its last reply is handed over. */
const MAX_REDIRECTS = 5;
const ASKING = encodeCommand(["ASKING"]);
const CLUSTER_SLOTS_COMMAND = encodeCommand(["CLUSTER", "SLOTS"]);

/** What a test may watch: each command's hops. */
export interface ClusterRouting {
  onRoute?(event: ClusterRouteEvent): void;
}

export interface ClusterRouteEvent {
  command: string[];
  /** Where it went, and why: "slot" (by the slot map), "moved", "ask", or "any" (no key). */
  via: "slot" | "moved" | "ask" | "any";
  address: string;
  slot: number | null;
}

export class ClusterRouter {
  private slots: Array<string | undefined> = new Array(CLUSTER_SLOTS);
  private mapped = false;
  private discovery: Promise<void> | null = null;
  private readonly connections = new Map<string, RedisConnection>();
  private closed = false;

  constructor(
    private readonly settings: RedisClusterSettings,
    private readonly routing: ClusterRouting,
    private readonly note: (text: string) => void,
  ) {}

  /** Sends one command (as RedisConnection.send does); `settle` is called exactly once, asynchronously. */
  send(query: Buffer, settle: (outcome: RedisOutcome) => void): void {
    const command = decodeCommand(query) ?? [];
    if (this.mapped) {
      this.dispatch(query, command, settle, null, false, 0);
      return;
    }
    this.discover().then(
      () => this.dispatch(query, command, settle, null, false, 0),
      (err: Error) => settle({ ok: false, reason: `cluster discovery failed: ${err.message}` }),
    );
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }

  private dispatch(query: Buffer, command: string[], settle: (o: RedisOutcome) => void, to: string | null, ask: boolean, hops: number): void {
    if (this.closed) {
      setImmediate(() => settle({ ok: false, reason: "closed by host" }));
      return;
    }
    const key = routingKey(command);
    const slot = key === null ? null : keySlot(key);
    const address = to ?? (slot === null ? this.anyNode() : this.slots[slot]);
    if (address === undefined) {
      setImmediate(() => settle({ ok: false, reason: `no master serves slot ${slot}` }));
      return;
    }
    this.routing.onRoute?.({ command, via: to === null ? (slot === null ? "any" : "slot") : ask ? "ask" : "moved", address, slot });
    const conn = this.connection(address);
    if (ask) conn.send(ASKING, () => undefined);
    conn.send(query, (outcome) => {
      if (!outcome.ok) {
        settle(outcome);
        return;
      }
      const error = outcome.reply[0] === 0x2d /* '-' */ ? outcome.reply.toString("utf8", 1).replace(/\r\n$/, "") : null;
      const redirect = error === null ? null : parseRedirect(error);
      if (redirect !== null && hops < MAX_REDIRECTS) {
        if (!redirect.ask) this.refresh();
        this.dispatch(query, command, settle, this.absolute(redirect.address, address), redirect.ask, hops + 1);
        return;
      }
      if (error !== null && error.split(" ")[0] === "CLUSTERDOWN") {
        settle({ ok: false, reason: error });
        return;
      }
      settle(outcome);
    });
  }

  /** `:port` (a node that does not know its own address) means the host just asked. */
  private absolute(address: string, current: string): string {
    return address.startsWith(":") ? current.slice(0, current.lastIndexOf(":")) + address : address;
  }

  private anyNode(): string | undefined {
    return this.slots.find((a) => a !== undefined);
  }

  private connection(address: string): RedisConnection {
    const existing = this.connections.get(address);
    if (existing?.alive) return existing;
    const colon = address.lastIndexOf(":");
    const endpoint = { ...this.settings, host: address.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(address.slice(colon + 1)) };
    const conn = new RedisConnection(
      endpoint,
      higressRedisTiming(this.settings.timeoutMs),
      (reason) => {
        this.note(`${address}: ${reason}`);
        if (this.connections.get(address) === conn) this.connections.delete(address);
      },
      (text) => this.note(`${address}: ${text}`),
    );
    this.connections.set(address, conn);
    return conn;
  }

  /** A new slot map in the background (after a MOVED); commands keep the old one meanwhile. */
  private refresh(): void {
    this.discover().catch((err: Error) => this.note(`cluster refresh failed: ${err.message}`));
  }

  /** CLUSTER SLOTS from the seed (or, when it fails, from any node known). */
  private discover(): Promise<void> {
    if (this.discovery !== null) return this.discovery;
    const seed = `${this.settings.host}:${this.settings.port}`;
    const candidates = [seed, ...new Set(this.slots.filter((a): a is string => a !== undefined && a !== seed))];
    const attempt = (i: number): Promise<void> => {
      if (i >= candidates.length) return Promise.reject(new Error("no node answered CLUSTER SLOTS"));
      return new Promise<RedisOutcome>((resolve) => this.connection(candidates[i]).send(CLUSTER_SLOTS_COMMAND, resolve))
        .then((outcome) => (outcome.ok && this.load(outcome.reply, candidates[i]) ? undefined : attempt(i + 1)));
    };
    const p = attempt(0).finally(() => {
      if (this.discovery === p) this.discovery = null;
    });
    this.discovery = p;
    return p;
  }

  /** Reads a CLUSTER SLOTS reply: [[start, end, [host, port, id], replicas…], …]. */
  private load(reply: Buffer, from: string): boolean {
    let value;
    try {
      value = decodeValue(reply).value;
    } catch {
      return false;
    }
    if (!Array.isArray(value)) return false;
    const slots: Array<string | undefined> = new Array(CLUSTER_SLOTS);
    const fromHost = from.slice(0, from.lastIndexOf(":"));
    for (const entry of value) {
      if (!Array.isArray(entry) || !Array.isArray(entry[2])) continue;
      const host = String(entry[2][0]) || fromHost;
      const address = `${host.includes(":") ? `[${host}]` : host}:${Number(entry[2][1])}`;
      for (let s = Number(entry[0]); s <= Number(entry[1]) && s < CLUSTER_SLOTS; s++) slots[s] = address;
    }
    if (!slots.some((a) => a !== undefined)) return false;
    this.slots = slots;
    this.mapped = true;
    return true;
  }
}
