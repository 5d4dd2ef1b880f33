// A scripted HTTP server standing in for a Redis REST endpoint, and VMs of the plain-Envoy build
// wired to it: what each test needs to make the HTTP store see any answer it likes.
import * as http from "node:http";
import * as path from "node:path";
import { PluginVm, PluginVmOptions } from "../../host";

export const ENVOY_WASM = path.resolve(__dirname, "../../build/ai-quota-envoy.wasm");
export const HIGRESS_WASM = path.resolve(__dirname, "../../build/ai-quota.wasm");

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What the server does with a request: an answer, or "hang" (never answer), or "reset". */
export type Script = (req: SeenRequest) => { status: number; body: string | Buffer; headers?: Record<string, string> } | "hang" | "reset";

export class FakeStore {
  readonly seen: SeenRequest[] = [];
  script: Script = () => ({ status: 200, body: '{"result":null}' });
  private readonly hanging = new Map<http.ServerResponse, SeenRequest>();

  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(): Promise<FakeStore> {
    let self: FakeStore | null = null;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
        self!.seen.push(seen);
        const answer = self!.script(seen);
        if (answer === "hang") {
          self!.hanging.set(res, seen);
          // A client that gave up (timeout) is no longer waiting.
          res.on("close", () => self!.hanging.delete(res));
          return;
        }
        if (answer === "reset") {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    self = new FakeStore(server, `http://127.0.0.1:${port}`);
    return self;
  }

  /** Commands received, as the JSON arrays the plugin sent. */
  commands(): string[][] {
    return this.seen.map((s) => JSON.parse(s.body) as string[]);
  }

  /** Answers the requests left hanging so far (those `which` picks, or all). */
  release(status: number, body: string, which: (req: SeenRequest) => boolean = () => true): void {
    for (const [res, req] of [...this.hanging]) {
      if (!which(req)) continue;
      this.hanging.delete(res);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body);
    }
  }

  get hangingCount(): number {
    return this.hanging.size;
  }

  async close(): Promise<void> {
    for (const res of this.hanging.keys()) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls until `condition` holds (for state outside the VM, which its own waits do not see). */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function httpStoreConfig(store: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): object {
  return { admin_consumer: "admin", store: { type: "http", cluster: "quota_store", token: "t0ken", ...store }, ...extra };
}

/** A started plain-Envoy VM whose cluster "quota_store" is `baseUrl`. */
export async function envoyVm(config: object, baseUrl: string, options: Partial<PluginVmOptions> = {}): Promise<{ vm: PluginVm; configured: boolean }> {
  const vm = await PluginVm.load({
    wasmPath: ENVOY_WASM,
    withRedisImports: false,
    http: { resolve: (name) => (name === "quota_store" ? baseUrl : undefined) },
    ...options,
  });
  const configured = await vm.start("", JSON.stringify(config));
  return { vm, configured };
}
