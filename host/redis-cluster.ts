// A throwaway Redis Cluster for tests and the local gateway: N masters (`redis-server
// --cluster-enabled yes`, no replicas) on free loopback ports, each with its own folder, joined
// with `redis-cli --cluster create … --cluster-yes` and ready once every node says
// `cluster_state:ok` and serves the same complete slot map. `stop()` stops every server.
//
// Also: a small cluster-aware client for tests (routes by slot, follows MOVED and ASK, runs
// keyless commands on every master), and a slot migration done step by step the way
// `redis-cli --cluster reshard` does it (https://redis.io/docs/latest/commands/cluster-setslot/):
// SETSLOT IMPORTING on the target, SETSLOT MIGRATING on the source, MIGRATE the keys, then
// SETSLOT NODE on every master.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { RedisClient } from "./redis-client";
import { REDIS_MISSING, spawnRedisServer, waitForExit } from "./redis-server";
import { RespError, RespValue } from "./resp";

const HOST = "127.0.0.1";
/** Redis Cluster's hash slots. */
export const CLUSTER_SLOTS = 16384;
/** A node's cluster bus listens on its port + 10000 (Redis's default bus port offset). */
const BUS_OFFSET = 10000;

export interface RedisClusterOptions {
  /** Masters (default 3, at least 3: what `redis-cli --cluster create` accepts). */
  masters?: number;
  binary?: string;
  /** Bound for each server's start and for the cluster to agree (default 20 s). */
  readyTimeoutMs?: number;
}

export interface ClusterNode {
  readonly host: string;
  readonly port: number;
  /** The node's cluster id (CLUSTER MYID). */
  readonly id: string;
}

export interface RedisCluster {
  readonly host: string;
  /** The masters, in port order of creation. */
  readonly nodes: readonly ClusterNode[];
  /** A node to start discovery from (what a resolver hands the bridge). */
  readonly seed: { host: string; port: number };
  /** A new cluster-aware test client (close it). */
  client(): Promise<ClusterClient>;
  /** The master serving `slot` now, by CLUSTER SLOTS of the first node. */
  ownerOf(slot: number): Promise<ClusterNode>;
  /** A migration of `slot` to `target`, run step by step. */
  migration(slot: number, target: ClusterNode): SlotMigration;
  /** Stops every server and removes their folders. */
  stop(): Promise<void>;
}

/** Redis Cluster's slot of a key (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/, "Hash tags"). */
export function keySlot(key: string | Buffer): number {
  const b = Buffer.isBuffer(key) ? key : Buffer.from(key, "utf8");
  const open = b.indexOf(0x7b);
  if (open >= 0) {
    const close = b.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(b.subarray(open + 1, close)) % CLUSTER_SLOTS;
  }
  return crc16(b) % CLUSTER_SLOTS;
}

/** CRC16-CCITT, XMODEM variant (polynomial 0x1021, initial 0): the cluster spec's key hash. */
export function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The key a command is routed by: EVAL/EVALSHA's first key, else the first argument (null: none). */
export function routingKey(command: readonly string[]): string | null {
  const name = (command[0] ?? "").toUpperCase();
  if (name === "EVAL" || name === "EVALSHA") return Number(command[2]) > 0 && command.length > 3 ? command[3] : null;
  return command.length > 1 ? command[1] : null;
}

function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** A free port whose bus port (port + 10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * (65535 - BUS_OFFSET - 20000));
    if (taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if ((await listenable(port)) && (await listenable(port + BUS_OFFSET))) return port;
  }
  throw new Error("no free port pair (port, port + 10000) found for a cluster node");
}

function launchNode(binary: string, port: number, dir: string, timeoutMs: number): Promise<ChildProcess> {
  const args = [
    "--port", String(port), "--bind", HOST, "--dir", dir, "--daemonize", "no", "--save", "", "--appendonly", "no",
    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
  ];
  return spawnRedisServer(binary, args, `cluster node on port ${port}`, timeoutMs);
}

function runCli(args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("redis-cli", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === "ENOENT" ? new Error("redis-cli is not installed: apt-get install redis-tools") : err);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`redis-cli ${args.join(" ")} failed (${signal ?? `code ${code}`}):\n${output}`));
    });
  });
}

/** Slot ranges of CLUSTER SLOTS as [start, end, port] of each master. */
function slotRanges(reply: RespValue): Array<[number, number, string, number]> {
  if (!Array.isArray(reply)) return [];
  const out: Array<[number, number, string, number]> = [];
  for (const entry of reply) {
    if (!Array.isArray(entry) || !Array.isArray(entry[2])) continue;
    out.push([Number(entry[0]), Number(entry[1]), String(entry[2][0]), Number(entry[2][1])]);
  }
  return out;
}

/**
 * Polls `check` until it holds. The cluster's gossip has no event to wait on, so this polls,
 * every `everyMs`, and gives up after `timeoutMs` with what it was waiting for.
 */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`redis cluster: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function withClient<T>(port: number, fn: (c: RedisClient) => Promise<T>): Promise<T> {
  const c = await RedisClient.connect(port);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const count = options.masters ?? 3;
  if (count < 3) throw new Error("a Redis Cluster needs at least 3 masters");
  const binary = options.binary ?? "redis-server";
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ai-quota-cluster-"));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(children.map((c) => waitForExit(c, 5_000)));
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    for (let i = 0; i < count; i++) {
      // A port can be taken between the probe and the launch: try a few.
      for (let attempt = 0; ; attempt++) {
        const port = await freeClusterPort(taken);
        const dir = path.join(root, String(port));
        fs.mkdirSync(dir, { recursive: true });
        try {
          children.push(await launchNode(binary, port, dir, timeoutMs));
          ports.push(port);
          taken.add(port).add(port + BUS_OFFSET);
          break;
        } catch (err) {
          if (attempt >= 2 || (err as Error).message === REDIS_MISSING) throw err;
        }
      }
    }
    await runCli(["--cluster", "create", ...ports.map((p) => `${HOST}:${p}`), "--cluster-replicas", "0", "--cluster-yes"], timeoutMs);
    // Every node must have the whole map and agree on it before the first command.
    await until("cluster_state:ok on every node with one complete slot map", async () => {
      let reference = "";
      for (const port of ports) {
        const ok = await withClient(port, async (c) => {
          const info = String(await c.command("CLUSTER", "INFO"));
          if (!info.includes("cluster_state:ok")) return false;
          const ranges = slotRanges(await c.command("CLUSTER", "SLOTS")).sort((a, b) => a[0] - b[0]);
          const covered = ranges.reduce((n, r) => n + r[1] - r[0] + 1, 0);
          const text = JSON.stringify(ranges.map((r) => [r[0], r[1], r[3]]));
          if (reference === "") reference = text;
          return covered === CLUSTER_SLOTS && text === reference;
        });
        if (!ok) return false;
      }
      return true;
    }, timeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes: ClusterNode[] = [];
  for (const port of ports) nodes.push({ host: HOST, port, id: String(await withClient(port, (c) => c.command("CLUSTER", "MYID"))) });
  const byPort = new Map(nodes.map((n) => [n.port, n]));
  let stopped: Promise<void> | null = null;
  return {
    host: HOST,
    nodes,
    seed: { host: HOST, port: ports[0] },
    client: () => Promise.resolve(new ClusterClient(HOST, ports[0])),
    ownerOf: async (slot) => {
      const ranges = slotRanges(await withClient(ports[0], (c) => c.command("CLUSTER", "SLOTS")));
      const r = ranges.find(([start, end]) => slot >= start && slot <= end);
      const node = r === undefined ? undefined : byPort.get(r[3]);
      if (node === undefined) throw new Error(`no master serves slot ${slot}`);
      return node;
    },
    migration: (slot, target) => new SlotMigration(nodes, slot, target),
    stop: () => (stopped ??= stop()),
  };
}

/**
 * Moving one slot from its master to `target`, in the steps Redis documents, so a test can run
 * traffic between them: `begin()` (IMPORTING on the target, MIGRATING on the source),
 * `moveKeys()` (MIGRATE what the source still holds), `finish()` (SETSLOT NODE everywhere).
 */
export class SlotMigration {
  private source: ClusterNode | null = null;

  constructor(private readonly nodes: readonly ClusterNode[], readonly slot: number, readonly target: ClusterNode) {}

  async begin(): Promise<ClusterNode> {
    const owner = await this.owner();
    if (owner.id === this.target.id) throw new Error(`slot ${this.slot} is on the target already`);
    this.source = owner;
    await withClient(this.target.port, (c) => c.command("CLUSTER", "SETSLOT", this.slot, "IMPORTING", owner.id));
    await withClient(owner.port, (c) => c.command("CLUSTER", "SETSLOT", this.slot, "MIGRATING", this.target.id));
    return owner;
  }

  /** MIGRATEs up to `batch` keys at a time until the source holds none of the slot; returns how many moved. */
  async moveKeys(batch = 100): Promise<number> {
    const source = this.source;
    if (source === null) throw new Error("moveKeys() before begin()");
    let total = 0;
    await withClient(source.port, async (c) => {
      for (;;) {
        const keys = (await c.command("CLUSTER", "GETKEYSINSLOT", this.slot, batch)) as string[];
        if (keys.length === 0) return;
        await c.command("MIGRATE", this.target.host, this.target.port, "", 0, 5000, "KEYS", ...keys);
        total += keys.length;
      }
    });
    return total;
  }

  /** Assigns the slot to the target on every master (target first, as redis-cli does). */
  async finish(): Promise<void> {
    const order = [this.target, ...this.nodes.filter((n) => n.id !== this.target.id)];
    for (const n of order) await withClient(n.port, (c) => c.command("CLUSTER", "SETSLOT", this.slot, "NODE", this.target.id));
  }

  /** All three steps. */
  async run(): Promise<void> {
    await this.begin();
    await this.moveKeys();
    await this.finish();
  }

  private async owner(): Promise<ClusterNode> {
    const ranges = slotRanges(await withClient(this.nodes[0].port, (c) => c.command("CLUSTER", "SLOTS")));
    const r = ranges.find(([start, end]) => this.slot >= start && this.slot <= end);
    const node = this.nodes.find((n) => r !== undefined && n.port === r[3]);
    if (node === undefined) throw new Error(`no master serves slot ${this.slot}`);
    return node;
  }
}

/** A redirect in an error reply: `MOVED <slot> <host:port>` or `ASK <slot> <host:port>`. */
export function parseRedirect(message: string): { ask: boolean; slot: number; address: string } | null {
  const parts = message.split(" ");
  if (parts.length !== 3 || (parts[0] !== "MOVED" && parts[0] !== "ASK")) return null;
  return { ask: parts[0] === "ASK", slot: Number(parts[1]), address: parts[2] };
}

/**
 * A test's view of the cluster: one connection per node, commands routed by their key's slot,
 * MOVED and ASK followed (at most 5 hops), keyless commands run on every master with `all`.
 */
export class ClusterClient {
  private readonly clients = new Map<string, Promise<RedisClient>>();
  private slots: Array<string | undefined> = new Array(CLUSTER_SLOTS);

  constructor(private readonly seedHost: string, private readonly seedPort: number) {}

  private node(address: string): Promise<RedisClient> {
    let c = this.clients.get(address);
    if (c === undefined) {
      const colon = address.lastIndexOf(":");
      const host = address.slice(0, colon) || this.seedHost;
      c = RedisClient.connect(Number(address.slice(colon + 1)), { host });
      this.clients.set(address, c);
    }
    return c;
  }

  /** Reloads the slot map from the seed node. */
  async refresh(): Promise<void> {
    const seed = await this.node(`${this.seedHost}:${this.seedPort}`);
    const slots: Array<string | undefined> = new Array(CLUSTER_SLOTS);
    for (const [start, end, host, port] of slotRanges(await seed.command("CLUSTER", "SLOTS"))) {
      for (let s = start; s <= end; s++) slots[s] = `${host || this.seedHost}:${port}`;
    }
    this.slots = slots;
  }

  /** The masters' addresses, from the slot map. */
  async masters(): Promise<string[]> {
    await this.refresh();
    return [...new Set(this.slots.filter((a): a is string => a !== undefined))];
  }

  /** One command, routed by its key; an error reply rejects with a RespError. */
  async command(...args: Array<string | number>): Promise<RespValue> {
    const command = args.map(String);
    const key = routingKey(command);
    if (this.slots[0] === undefined) await this.refresh();
    let address = key === null ? this.slots[0]! : this.slots[keySlot(key)];
    if (address === undefined) {
      await this.refresh();
      address = this.slots[keySlot(key!)]!;
    }
    let asking = false;
    for (let hop = 0; ; hop++) {
      const c = await this.node(address);
      try {
        if (asking) {
          const [, reply] = await Promise.all([c.command("ASKING"), c.command(...command)]);
          return reply;
        }
        return await c.command(...command);
      } catch (err) {
        const redirect = err instanceof RespError ? parseRedirect(err.message) : null;
        if (redirect === null || hop >= 5) throw err;
        if (!redirect.ask) await this.refresh();
        address = redirect.address;
        asking = redirect.ask;
      }
    }
  }

  /** A keyless command (FLUSHALL, SCRIPT FLUSH, KEYS, DBSIZE…) on every master; their replies. */
  async all(...args: Array<string | number>): Promise<RespValue[]> {
    const out: RespValue[] = [];
    for (const address of await this.masters()) out.push(await (await this.node(address)).command(...args));
    return out;
  }

  /** KEYS on every master, merged and sorted. */
  async keys(pattern: string): Promise<string[]> {
    return ((await this.all("KEYS", pattern)) as string[][]).flat().sort();
  }

  close(): void {
    for (const c of this.clients.values()) c.then((client) => client.close(), () => undefined);
    this.clients.clear();
  }
}
