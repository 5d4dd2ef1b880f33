// A stand-in Redis over TCP whose answers are chosen by a test: the n-th command it receives
// (counted across connections, since the host dials again after a broken one) is answered with
// script[n], byte for byte; commands past the end of the script get `fallback`. Nothing here
// interprets the commands beyond framing them, so any bytes at all can be sent back.
import * as net from "node:net";
import { RespFramer, decodeCommand } from "../host";

export class FakeRedis {
  /** Every command received (undecodable ones as ["?"]), in order. */
  readonly received: string[][] = [];
  private script: Buffer[] = [];
  private fallback: Buffer = Buffer.from("+OK\r\n");
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(): Promise<FakeRedis> {
    let fake: FakeRedis | null = null;
    const server = net.createServer((socket) => fake?.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    fake = new FakeRedis(server, (server.address() as net.AddressInfo).port);
    return fake;
  }

  /** The answers for the next case; forgets what was received. */
  reset(script: Buffer[], fallback: Buffer = Buffer.from("+OK\r\n")): void {
    this.script = script;
    this.fallback = fallback;
    this.received.length = 0;
  }

  /** Drops every open connection (a test's clean slate). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const framer = new RespFramer();
    socket.on("data", (chunk) => {
      let frames: Buffer[];
      try {
        frames = framer.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        const n = this.received.length;
        this.received.push(decodeCommand(frame) ?? ["?"]);
        const answer = n < this.script.length ? this.script[n] : this.fallback;
        if (answer.length > 0 && !socket.destroyed) socket.write(answer);
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.sockets.delete(socket));
  }

  async stop(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
