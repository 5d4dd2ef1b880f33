// An upstream a test drives by hand: each request waits for the test to write its answer part by
// part, so a test can prove the gateway delivers a part before the next one exists, cut the
// connection mid-answer, or see the gateway abort the request.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface HeldRequest {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  body: string;
  /** Resolves when the gateway's connection for this request closes (bounded by the caller). */
  closed: Promise<void>;
  isClosed: () => boolean;
}

export class ScriptedUpstream {
  private readonly queue: HeldRequest[] = [];
  private wake: (() => void) | null = null;

  private constructor(private readonly server: http.Server, readonly url: string) {}

  static start(): Promise<ScriptedUpstream> {
    return new Promise((resolve) => {
      let upstream: ScriptedUpstream;
      const server = http.createServer((req, res) => {
        const parts: Buffer[] = [];
        req.on("data", (c: Buffer) => parts.push(c));
        req.on("end", () => {
          let closed = false;
          const held: HeldRequest = {
            req, res, body: Buffer.concat(parts).toString("utf8"),
            closed: new Promise<void>((done) => res.on("close", () => {
              closed = true;
              done();
            })),
            isClosed: () => closed,
          };
          upstream.queue.push(held);
          const w = upstream.wake;
          upstream.wake = null;
          w?.();
        });
      });
      server.listen(0, "127.0.0.1", () => {
        upstream = new ScriptedUpstream(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
        resolve(upstream);
      });
    });
  }

  /** The next request that reached this upstream, bounded. */
  next(timeoutMs = 10_000): Promise<HeldRequest> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no request reached the upstream")), timeoutMs);
      const take = () => {
        const held = this.queue.shift();
        if (held !== undefined) {
          clearTimeout(timer);
          resolve(held);
        } else {
          this.wake = take;
        }
      };
      take();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

export function sseEvent(payload: object | string): string {
  return `data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`;
}

export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}
