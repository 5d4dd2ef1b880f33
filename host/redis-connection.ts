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
  timer?: NodeJS.Timeout;
}

export class RedisConnection {
  private readonly socket: net.Socket;
  private readonly framer = new RespFramer();
  private readonly waiting: Waiting[] = [];
  private dead = false;

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
    const w: Waiting = { settle };
    w.timer = setTimeout(() => this.fail(`no reply within ${timeoutMs} ms`), timeoutMs);
    this.waiting.push(w);
    this.socket.write(query);
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
      if (w.timer) clearTimeout(w.timer);
      w.settle({ ok: true, reply: Buffer.from(reply) });
    }
  }

  private fail(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    for (const w of this.waiting.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.settle({ ok: false, reason });
    }
    this.onDead(reason);
  }

  close(): void {
    this.fail("closed by host");
  }
}
