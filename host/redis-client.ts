// A tiny promise Redis client for tests (seeding keys, reading what the plugin wrote), so that
// the project needs no Redis package. One connection, commands pipelined, replies in order;
// every command is bounded by a timeout.
import * as net from "node:net";
import { RespError, RespFramer, RespValue, decodeValue, encodeCommand } from "./resp";

interface Pending {
  resolve(value: RespValue): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class RedisClient {
  private readonly framer = new RespFramer();
  private readonly pending: Pending[] = [];
  private closedReason: string | null = null;

  private constructor(private readonly socket: net.Socket, private readonly timeoutMs: number) {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
      for (const reply of this.framer.push(chunk)) {
        const p = this.pending.shift();
        if (p === undefined) continue;
        clearTimeout(p.timer);
        const { value } = decodeValue(reply);
        if (value instanceof RespError) p.reject(value);
        else p.resolve(value);
      }
    });
    const fail = (reason: string) => {
      this.closedReason ??= reason;
      for (const p of this.pending.splice(0)) {
        clearTimeout(p.timer);
        p.reject(new Error(`redis connection ${reason}`));
      }
    };
    socket.on("error", (err) => fail(`error: ${err.message}`));
    socket.on("close", () => fail("closed"));
  }

  static connect(port: number, options: { host?: string; password?: string; db?: number; timeoutMs?: number } = {}): Promise<RedisClient> {
    const timeoutMs = options.timeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ host: options.host ?? "127.0.0.1", port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to redis on port ${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once("connect", async () => {
        clearTimeout(timer);
        const client = new RedisClient(socket, timeoutMs);
        try {
          if (options.password !== undefined) await client.command("AUTH", options.password);
          if (options.db) await client.command("SELECT", options.db);
          resolve(client);
        } catch (err) {
          client.close();
          reject(err);
        }
      });
    });
  }

  /** Resolves with the decoded reply; an error reply rejects with a RespError. */
  command(...args: Array<string | number | Buffer>): Promise<RespValue> {
    if (this.closedReason !== null) return Promise.reject(new Error(`redis connection ${this.closedReason}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`redis ${String(args[0])}: no reply within ${this.timeoutMs} ms`));
        this.socket.destroy();
      }, this.timeoutMs);
      this.pending.push({ resolve, reject, timer });
      this.socket.write(encodeCommand(args));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One command on a fresh connection. */
export async function redisCommand(port: number, ...args: Array<string | number | Buffer>): Promise<RespValue> {
  const client = await RedisClient.connect(port);
  try {
    return await client.command(...args);
  } finally {
    client.close();
  }
}
