// The gateway as a user runs it: a child process (`tsx gateway/main.ts --config … --port 0`),
// ready when it prints its "listening on" line, with its stdout lines at hand. Every wait is
// bounded and event-driven (no sleeps); `kill()` takes down the whole process group (tsx, node,
// and the redis-server the gateway started) for afterAll.
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";

export const ROOT = path.resolve(__dirname, "../..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
export const START_TIMEOUT_MS = 30_000;

/** The config `npm start` runs (examples/local.yaml), to vary per test. */
export const EXAMPLE = parse(readFileSync(path.join(ROOT, "examples/local.yaml"), "utf8")) as {
  consumers: Array<{ name: string; credential: string }>;
  auth: boolean;
  plugin: Record<string, unknown>;
  upstream: string;
};

/** Writes a config (YAML text, or an object to serialize) to a fresh temporary file. */
export function writeConfig(config: string | object): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ai-quota-gw-"));
  const file = path.join(dir, "gateway.yaml");
  writeFileSync(file, typeof config === "string" ? config : stringify(config));
  return file;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class GatewayProcess {
  readonly lines: string[] = [];
  stderr = "";
  url = "";
  redisHost = "";
  redisPort = 0;
  private partial = "";
  private readonly waiters = new Set<() => void>();
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      const parts = (this.partial + text).split("\n");
      this.partial = parts.pop() ?? "";
      this.lines.push(...parts);
      this.notify();
    });
    child.stderr!.on("data", (text: string) => {
      this.stderr += text;
      this.notify();
    });
    child.on("exit", (code, signal) => {
      if (this.partial !== "") this.lines.push(this.partial);
      this.partial = "";
      this.exitInfo = { code, signal };
      this.notify();
    });
  }

  /** Spawns the gateway; resolves once it has exited (for configs that must be refused). */
  static spawn(args: string[]): GatewayProcess {
    // Its own process group, so that kill() reaches tsx's child node and the redis-server too.
    const child = spawn(TSX, ["gateway/main.ts", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
    return new GatewayProcess(child);
  }

  /** Starts a gateway on a free port with this config and waits until it listens. */
  static start(config: string | object, extraArgs: string[] = []): Promise<GatewayProcess> {
    return GatewayProcess.launch(["--config", writeConfig(config), "--port", "0", ...extraArgs]);
  }

  /** `bash scripts/start.sh …` as a user runs it (in its own process group, as a shell's job is). */
  static spawnScript(args: string[]): GatewayProcess {
    const child = spawn("bash", ["scripts/start.sh", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
    return new GatewayProcess(child);
  }

  /** Starts a gateway with these arguments (with `spawnIt`: tsx, or scripts/start.sh) and waits until it listens. */
  static async launch(args: string[], spawnIt: (args: string[]) => GatewayProcess = GatewayProcess.spawn): Promise<GatewayProcess> {
    const gw = spawnIt(args);
    try {
      const line = await gw.waitForLine(/ai-quota gateway listening on (http:\/\/\S+)/, START_TIMEOUT_MS);
      gw.url = /listening on (\S+)/.exec(line)![1];
      const redis = gw.lines.map((l) => /^redis: (\S+):(\d+) /.exec(l)).find((m) => m !== null);
      if (!redis) throw new Error(`no redis line in:\n${gw.output()}`);
      gw.redisHost = redis[1];
      gw.redisPort = Number(redis[2]);
      return gw;
    } catch (err) {
      gw.kill();
      throw err;
    }
  }

  output(): string {
    return `stdout:\n${this.lines.join("\n")}${this.partial}\nstderr:\n${this.stderr}`;
  }

  get exited(): boolean {
    return this.exitInfo !== null;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `check` returns a value; rejects after `timeoutMs` or when the process exits first. */
  private waitUntil<T>(check: () => T | undefined, what: string, timeoutMs: number, allowExit = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (err: Error | null, value?: T) => {
        clearTimeout(timer);
        this.waiters.delete(test);
        if (err) reject(err);
        else resolve(value as T);
      };
      const test = () => {
        const value = check();
        if (value !== undefined) finish(null, value);
        else if (this.exitInfo !== null && !allowExit) finish(new Error(`the gateway exited (${JSON.stringify(this.exitInfo)}) while waiting for ${what}\n${this.output()}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.output()}`)), timeoutMs);
      this.waiters.add(test);
      test();
    });
  }

  /** The first stdout line (from `from` on) matching `re`. */
  waitForLine(re: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
    return this.waitUntil(() => this.lines.slice(from).find((l) => re.test(l)), `a line matching ${re}`, timeoutMs);
  }

  waitForExit(timeoutMs = 15_000): Promise<Exit> {
    return this.waitUntil(
      () => (this.exitInfo === null ? undefined : { ...this.exitInfo, stdout: this.lines.join("\n"), stderr: this.stderr }),
      "the gateway to exit",
      timeoutMs,
      true,
    );
  }

  /** Sends a signal to the gateway command itself (tsx relays it), as a user or supervisor does. */
  signal(sig: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(sig);
  }

  /** Last resort for afterAll: SIGKILL to the whole process group. */
  kill(): void {
    try {
      process.kill(-this.child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }

  /** SIGTERM and wait; SIGKILL the group if it does not exit in time. */
  async stop(timeoutMs = 15_000): Promise<Exit | null> {
    if (this.exited) return this.waitForExit(0);
    this.signal("SIGTERM");
    try {
      return await this.waitForExit(timeoutMs);
    } catch {
      this.kill();
      return null;
    }
  }
}

/** Runs the gateway with arguments that must make it exit, and returns how it exited. */
export async function runToExit(args: string[], timeoutMs = START_TIMEOUT_MS): Promise<Exit> {
  const gw = GatewayProcess.spawn(args);
  try {
    return await gw.waitForExit(timeoutMs);
  } finally {
    gw.kill();
  }
}
