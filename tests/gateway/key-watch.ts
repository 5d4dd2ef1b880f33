// Counts the writes to one Redis key as Redis itself reports them (keyspace notifications,
// `notify-keyspace-events KA`: one event per write command, from a script too; DECRBY reports
// "incrby"). Tests use it to prove a request was charged once, whatever amount was charged.
// `sync` publishes a marker on the same subscription and waits for it: Redis delivers a
// subscriber's messages in the order it executed the commands, so every write made before the
// marker has been counted then.
import * as net from "node:net";
import { RedisClient, RespFramer, decodeValue, encodeCommand } from "../../host";

const MARKER = "ai-quota-test:key-watch-marker";

export class KeyWatch {
  readonly events: string[] = [];
  private wake: (() => void) | null = null;
  private markers = 0;
  private markersSeen = 0;

  private constructor(private readonly socket: net.Socket) {}

  static async start(host: string, port: number, key: string, timeoutMs = 5_000): Promise<KeyWatch> {
    const admin = await RedisClient.connect(port, { host });
    try {
      await admin.command("CONFIG", "SET", "notify-keyspace-events", "KA");
    } finally {
      admin.close();
    }
    const socket = net.createConnection({ host, port });
    const watch = new KeyWatch(socket);
    const framer = new RespFramer();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no SUBSCRIBE confirmation within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.on("data", (chunk) => {
        for (const frame of framer.push(chunk)) {
          const { value } = decodeValue(frame);
          if (!Array.isArray(value)) continue;
          const [kind, , payload] = value.map((v) => (Buffer.isBuffer(v) ? v.toString() : String(v)));
          if (kind === "subscribe" && value[2] === 2) {
            clearTimeout(timer);
            resolve(watch);
          } else if (kind === "message" && value[1] === MARKER) {
            watch.markersSeen = Number(payload);
            const w = watch.wake;
            watch.wake = null;
            w?.();
          } else if (kind === "message") {
            watch.events.push(payload);
            const w = watch.wake;
            watch.wake = null;
            w?.();
          }
        }
      });
      socket.write(encodeCommand(["SUBSCRIBE", `__keyspace@0__:${key}`, MARKER]));
    });
  }

  /** Every write Redis executed before now (through `redis`, any connection), bounded. */
  async sync(redis: RedisClient, timeoutMs = 5_000): Promise<string[]> {
    const n = ++this.markers;
    await redis.command("PUBLISH", MARKER, String(n));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`marker ${n} not delivered within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        if (this.markersSeen >= n) {
          clearTimeout(timer);
          resolve(this.events.slice());
        } else {
          this.wake = check;
        }
      };
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
