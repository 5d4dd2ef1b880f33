// An Upstash-compatible Redis REST endpoint in front of a real redis-server, for the plain-Envoy
// build's HTTP store (tests and the local gateway). Loopback only.
//
//   POST <path>   body: ["CMD", "arg", …] (strings or numbers)   authorization: Bearer <token>
//   200 {"result": …}    integers as JSON numbers, bulk and simple strings as strings, nil as null,
//                        arrays as arrays
//   400 {"error": "…"}   Redis's error reply, text unchanged (NOSCRIPT, WRONGTYPE, …), or a body
//                        that is not a command
//   401 {"error": "Unauthorized"}                 wrong or missing token
//   503 {"error": "redis unavailable: …"}         Redis cannot be reached; the next request dials again
//   404 / 405 / 413 for another path, another method, a body over 1 MiB.
//
// One Redis connection, commands pipelined in arrival order, reconnected after it drops (a command
// is only written to a connection that is up, so a restart of Redis never fails a request twice).
import * as http from "node:http";
import * as net from "node:net";
import { timingSafeEqual } from "node:crypto";
import { RespError, RespFramer, RespValue, decodeValue, encodeCommand } from "./resp";

export interface RedisRestBridgeOptions {
  redisPort: number;
  redisHost?: string;
  /** Redis AUTH password, sent on every new connection. */
  redisPassword?: string;
  /** The bearer token clients must send; when absent, no token is checked. */
  token?: string;
  /** The path commands are POSTed to; default "/". */
  path?: string;
  /** Port to listen on (loopback); default: any free port. */
  port?: number;
  /** Bound on connecting to Redis and on each command; default 2000 ms. */
  redisTimeoutMs?: number;
}

export interface RedisRestBridge {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Every command received, in order, as the client sent it (after auth). */
  readonly commands: ReadonlyArray<Array<string | number>>;
  /** HTTP requests seen, whatever their outcome. */
  readonly requestCount: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

class RedisUnavailable extends Error {}

interface Waiter {
  resolve(value: RespValue): void;
  reject(err: Error): void;
}

/** One RESP connection; fails everything pending when it drops. */
class RedisLink {
  private readonly framer = new RespFramer();
  private readonly waiters: Waiter[] = [];
  down: string | null = null;

  private constructor(private readonly socket: net.Socket, private readonly timeoutMs: number) {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
      let frames: Buffer[];
      try {
        frames = this.framer.push(chunk);
      } catch (err) {
        this.fail(`bad reply: ${(err as Error).message}`);
        return;
      }
      for (const frame of frames) this.waiters.shift()?.resolve(decodeValue(frame).value);
    });
    socket.on("error", (err) => this.fail(err.message));
    socket.on("close", () => this.fail("connection closed"));
  }

  static open(host: string, port: number, password: string | undefined, timeoutMs: number): Promise<RedisLink> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RedisUnavailable(`no connection to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(new RedisUnavailable(err.message));
      });
      socket.once("connect", async () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        const link = new RedisLink(socket, timeoutMs);
        try {
          if (password !== undefined) {
            const ok = await link.send(["AUTH", password]);
            if (ok instanceof RespError) throw new RedisUnavailable(`AUTH refused: ${ok.message}`);
          }
          resolve(link);
        } catch (err) {
          link.close();
          reject(err instanceof RedisUnavailable ? err : new RedisUnavailable((err as Error).message));
        }
      });
    });
  }

  /** The reply (an error reply resolves as a RespError); rejects with RedisUnavailable. */
  send(args: Array<string | number>): Promise<RespValue> {
    if (this.down !== null) return Promise.reject(new RedisUnavailable(this.down));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`no reply within ${this.timeoutMs} ms`), this.timeoutMs);
      this.waiters.push({
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.socket.write(encodeCommand(args));
    });
  }

  close(): void {
    this.fail("closed by the bridge");
  }

  private fail(reason: string): void {
    this.down ??= reason;
    this.socket.destroy();
    for (const w of this.waiters.splice(0)) w.reject(new RedisUnavailable(reason));
  }
}

/** A reply as Upstash writes it; bigints keep every digit. */
function toJson(value: RespValue): string {
  if (value === null) return "null";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof RespError) return JSON.stringify({ error: value.message });
  return `[${value.map(toJson).join(",")}]`;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.*)$/.exec(header ?? "");
  if (m === null) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseCommand(body: Buffer): Array<string | number> | null {
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length === 0) return null;
  if (!v.every((x) => typeof x === "string" || (typeof x === "number" && Number.isFinite(x)))) return null;
  return v as Array<string | number>;
}

export async function startRedisRestBridge(options: RedisRestBridgeOptions): Promise<RedisRestBridge> {
  const redisHost = options.redisHost ?? "127.0.0.1";
  const path = options.path ?? "/";
  const timeoutMs = options.redisTimeoutMs ?? 2000;
  const commands: Array<Array<string | number>> = [];
  let requestCount = 0;
  let link: Promise<RedisLink> | null = null;
  let closed = false;

  /** The live connection, dialling a new one when there is none or it dropped. */
  const connection = async (): Promise<RedisLink> => {
    for (;;) {
      const pending = link;
      if (pending === null) break;
      const current = await pending.catch(() => null);
      if (current !== null && current.down === null) return current;
      // Dial only if nobody else started a new connection while this one was awaited.
      if (link === pending) break;
    }
    if (closed) throw new RedisUnavailable("the bridge is closed");
    const dialling = RedisLink.open(redisHost, options.redisPort, options.redisPassword, timeoutMs);
    link = dialling;
    dialling.catch(() => {
      if (link === dialling) link = null;
    });
    return dialling;
  };

  const answer = (res: http.ServerResponse, status: number, json: string) => {
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
    res.end(json);
  };

  const server = http.createServer((req, res) => {
    requestCount++;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on("end", async () => {
      const url = new URL(req.url ?? "/", "http://bridge");
      if (url.pathname !== path) return answer(res, 404, JSON.stringify({ error: "Not Found" }));
      if (req.method !== "POST") return answer(res, 405, JSON.stringify({ error: "Method Not Allowed" }));
      if (options.token !== undefined && !tokenMatches(req.headers.authorization, options.token)) {
        return answer(res, 401, JSON.stringify({ error: "Unauthorized" }));
      }
      if (tooLarge) return answer(res, 413, JSON.stringify({ error: "Payload Too Large" }));
      const command = parseCommand(Buffer.concat(chunks));
      if (command === null) return answer(res, 400, JSON.stringify({ error: "ERR failed to parse command" }));
      commands.push(command);
      try {
        const reply = await (await connection()).send(command);
        if (reply instanceof RespError) answer(res, 400, JSON.stringify({ error: reply.message }));
        else answer(res, 200, `{"result":${toJson(reply)}}`);
      } catch (err) {
        answer(res, 503, JSON.stringify({ error: `redis unavailable: ${(err as Error).message}` }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    commands,
    get requestCount() {
      return requestCount;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      const current = link;
      link = null;
      if (current !== null) (await current.catch(() => null))?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
