// One TCP connection to a Redis server, as Envoy's Redis client keeps per upstream host:
// connected on first use, AUTH and SELECT sent first, commands pipelined, replies matched to
// requests first-in first-out. Any failure (refused, closed, or an operation timing out, on
// which Envoy also closes the connection) fails everything still waiting, and the connection is
// dead: the owner dials a new one for the next command.
import * as net from "node:net";
import { RespFramer, encodeCommand } from "./resp";

export interface RedisEndpoint {
  host: string;
  port: number;
  username: string;
  password: string;
  db: number;
}

/** ok: the raw reply bytes; failed: the reason, for records. */
export type RedisOutcome = { ok: true; reply: Buffer } | { ok: false; reason: string };

interface Waiting {
  /** Set for the AUTH/SELECT the connection sends itself; their replies are only noted. */
  setup?: string;
  settle(outcome: RedisOutcome): void;
  /** When the command times out (Date.now() ms) and after how long; none for the setup commands. */
  deadline?: number;
  timeoutMs?: number;
}

export class RedisConnection {
  private readonly socket: net.Socket;
  private readonly framer = new RespFramer();
  private readonly waiting: Waiting[] = [];
  private dead = false;
  /** One timer for every command waiting, set for the earliest deadline (not a timer per command). */
  private watchdog: NodeJS.Timeout | null = null;
  /** Commands written in this turn of the event loop go out in one write after it (see send). */
  private corked = false;

  constructor(
    endpoint: RedisEndpoint,
    /** Called once when the connection dies, so the owner can forget it. */
    private readonly onDead: (reason: string) => void,
    /** Notes about the setup commands (e.g. a refused AUTH), for the records. */
    private readonly onNote: (note: string) => void,
  ) {
    this.socket = net.createConnection({ host: endpoint.host, port: endpoint.port });
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk) => this.onData(chunk));
    this.socket.on("error", (err) => this.fail(`connection error: ${err.message}`));
    this.socket.on("end", () => this.fail("connection closed by server"));
    this.socket.on("close", () => this.fail("connection closed"));
    // Writes made before the connect completes are queued by Node, in order.
    if (endpoint.password !== "") {
      const auth = endpoint.username !== "" ? ["AUTH", endpoint.username, endpoint.password] : ["AUTH", endpoint.password];
      this.sendSetup("AUTH", encodeCommand(auth));
    }
    if (endpoint.db !== 0) this.sendSetup("SELECT", encodeCommand(["SELECT", endpoint.db]));
  }

  get alive(): boolean {
    return !this.dead;
  }

  private sendSetup(name: string, query: Buffer): void {
    this.waiting.push({
      setup: name,
      settle: (o) => {
        if (!o.ok) return;
        if (o.reply[0] === 0x2d /* '-' */) this.onNote(`${name} refused: ${o.reply.toString("utf8").trim()}`);
      },
    });
    this.socket.write(query);
  }

  /** Sends one command; `settle` is called exactly once, asynchronously. */
  send(query: Buffer, timeoutMs: number, settle: (outcome: RedisOutcome) => void): void {
    if (this.dead) {
      setImmediate(() => settle({ ok: false, reason: "connection is dead" }));
      return;
    }
    this.waiting.push({ settle, deadline: Date.now() + timeoutMs, timeoutMs });
    if (this.watchdog === null) this.armWatchdog(timeoutMs);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      // Flushed after this turn of the event loop: the commands of every request handled in it go
      // out in one write, as Higress's client flushes its buffer every few milliseconds.
      setImmediate(() => {
        this.corked = false;
        if (!this.dead) this.socket.uncork();
      });
    }
    this.socket.write(query);
  }

  private armWatchdog(ms: number): void {
    this.watchdog = setTimeout(() => this.checkDeadlines(), Math.max(0, ms));
  }

  /** Fails the connection when any command is past its deadline, else waits for the earliest one. */
  private checkDeadlines(): void {
    this.watchdog = null;
    if (this.dead) return;
    const now = Date.now();
    let earliest = Infinity;
    for (const w of this.waiting) {
      if (w.deadline === undefined) continue;
      if (w.deadline <= now) {
        this.fail(`no reply within ${w.timeoutMs} ms`);
        return;
      }
      if (w.deadline < earliest) earliest = w.deadline;
    }
    if (earliest !== Infinity) this.armWatchdog(earliest - now);
  }

  private onData(chunk: Buffer): void {
    let replies: Buffer[];
    try {
      replies = this.framer.push(chunk);
    } catch (err) {
      this.fail(`unreadable reply: ${(err as Error).message}`);
      return;
    }
    for (const reply of replies) {
      const w = this.waiting.shift();
      if (w === undefined) {
        this.fail("reply without a request");
        return;
      }
      w.settle({ ok: true, reply: Buffer.from(reply) });
    }
  }

  private fail(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = null;
    for (const w of this.waiting.splice(0)) w.settle({ ok: false, reason });
    this.onDead(reason);
  }

  close(): void {
    this.fail("closed by host");
  }
}
