// Outside programs the deploy tests drive (Debian's docker-registry, skopeo, prometheus, promtool):
// found on PATH, or a failure under CI (where .ci/run installs them), never a silent skip.
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";

/** The first of these names on PATH, or null. */
export function which(...names: string[]): string | null {
  for (const name of names) {
    const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim() !== "") return r.stdout.trim();
  }
  return null;
}

/**
 * `test` when the program is there; otherwise a test that fails under CI=true and is reported as
 * skipped (by name, with the package to install) on a developer's machine.
 */
export function requireTool(pkg: string, ...names: string[]): { path: string | null; test: jest.It } {
  const path = which(...names);
  if (path !== null) return { path, test };
  if (process.env.CI === "true") {
    return {
      path,
      test: ((name: string) =>
        test(name, () => {
          throw new Error(`${names.join("/")} missing: apt-get install ${pkg} (.ci/run does)`);
        })) as unknown as jest.It,
    };
  }
  return { path, test: test.skip };
}

/** A TCP port free on 127.0.0.1 right now (the programs below take a port, not a socket). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

/** A long-running program whose output is watched for a line; stopped by `stop()`. */
export class Service {
  output = "";
  private exited: { code: number | null; signal: string | null } | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
      for (const w of [...this.waiters]) w();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("exit", (code, signal) => {
      this.exited = { code, signal };
      for (const w of [...this.waiters]) w();
    });
  }

  static start(cmd: string, args: string[]): Service {
    return new Service(spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }));
  }

  /** Resolves once the output matches; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (pattern.test(this.output)) done();
        else if (this.exited) done(new Error(`exited (${JSON.stringify(this.exited)}) before ${pattern}:\n${this.output}`));
      };
      const timer = setTimeout(() => done(new Error(`no ${pattern} within ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** SIGTERM, and resolves when it has exited (SIGKILL after 5 s). */
  stop(): Promise<void> {
    if (this.exited || this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      this.child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      this.child.kill("SIGTERM");
    });
  }
}

/** Polls `probe` every `everyMs` until it returns a value; fails after `timeoutMs` with the last error. */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
