// A throwaway redis-server for a test file: a free loopback port, its own data folder, no
// persistence unless asked (then an fsync'd append-only file survives restarts), optional password. Readiness is the server's own "Ready to accept connections" line, not a sleep, and
// every wait is bounded.
import { ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface RedisServerOptions {
  password?: string;
  /** Default: a free port chosen by the OS. */
  port?: number;
  binary?: string;
  readyTimeoutMs?: number;
  /** Keep data across `restart()` (append-only file, fsync on every write). Default false. */
  persistent?: boolean;
  /** Keep the data in this folder (created when missing, never removed): persistent, and it outlives the process. */
  dataDir?: string;
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly password: string | undefined;
  /** Stops the server and waits for the process to exit. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port: empty, or with its data when persistent. */
  restart(): Promise<void>;
}

const HOST = "127.0.0.1";
export const REDIS_MISSING = "redis-server is not installed: apt-get install redis-server";

/** A port nothing listens on right now (there is a small window before someone else takes it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function launch(binary: string, port: number, password: string | undefined, timeoutMs: number, dir: string, persistent: boolean): Promise<ChildProcess> {
  // Each server has its own folder: a dump or AOF file left by one must never be loaded by another.
  const args = ["--port", String(port), "--bind", HOST, "--save", "", "--dir", dir, "--daemonize", "no"];
  args.push(...(persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]));
  if (password !== undefined) args.push("--requirepass", password);
  return spawnRedisServer(binary, args, `redis-server on port ${port}`, timeoutMs);
}

/**
 * util-linux's setpriv, to start redis-server with PR_SET_PDEATHSIG (which node cannot set): the
 * kernel sends the server SIGTERM when the process that started it dies, even by SIGKILL, so a
 * killed gateway or test worker never leaves a redis-server behind. setpriv execs the server, so the
 * child's pid is the server's. Linux only; elsewhere servers are spawned directly.
 */
const SETPRIV: string | null = process.platform !== "linux" ? null : findOnPath("setpriv");

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir !== "" && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/**
 * Starts `binary` with `args` and resolves once it says it accepts connections; `label` names it in
 * errors (the server's output included). Shared by single servers and cluster nodes.
 */
export function spawnRedisServer(binary: string, args: string[], label: string, timeoutMs: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    if (SETPRIV === null) {
      child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    } else {
      // setpriv reports a missing server as its own exit code: find the server first.
      const server = binary.includes("/") ? (executable(binary) ? binary : null) : findOnPath(binary);
      if (server === null) return reject(new Error(REDIS_MISSING));
      child = spawn(SETPRIV, ["--pdeathsig", "TERM", "--", server, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    }
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${label} not ready after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const settle = (err?: Error) => {
      clearTimeout(timer);
      child.removeAllListeners("exit");
      // Keep draining the pipes: a full pipe would block the server.
      for (const pipe of [child.stdout, child.stderr]) {
        pipe?.removeAllListeners("data");
        pipe?.resume();
      }
      if (err) reject(err);
      else resolve(child);
    };
    child.once("error", (err: NodeJS.ErrnoException) => settle(err.code === "ENOENT" ? new Error(REDIS_MISSING) : err));
    child.once("exit", (code) => settle(new Error(`${label} exited (code ${code}) before it was ready:\n${output}`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) settle();
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  });
}

/** SIGTERM, then SIGKILL after timeoutMs; resolves when the process has exited. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = options.binary ?? "redis-server";
  const timeoutMs = options.readyTimeoutMs ?? 10_000;
  const password = options.password;
  let port = options.port ?? 0;
  const persistent = (options.persistent ?? false) || options.dataDir !== undefined;
  const dir = options.dataDir !== undefined ? path.resolve(options.dataDir) : fs.mkdtempSync(path.join(os.tmpdir(), "ai-quota-redis-"));
  if (options.dataDir !== undefined) fs.mkdirSync(dir, { recursive: true });
  let child: ChildProcess | null = null;
  // A chosen port can be taken between the probe and the launch: try a few.
  for (let attempt = 0; child === null; attempt++) {
    const candidate = port !== 0 ? port : await freePort();
    try {
      child = await launch(binary, candidate, password, timeoutMs, dir, persistent);
      port = candidate;
    } catch (err) {
      if (options.port !== undefined || attempt >= 2 || (err as Error).message === REDIS_MISSING) throw err;
    }
  }
  let current: ChildProcess = child;
  return {
    host: HOST,
    port,
    password,
    // A persistent server's folder outlives stop(): a restart after it must find the data.
    stop: async () => {
      await waitForExit(current, 5_000);
      if (!persistent) fs.rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await waitForExit(current, 5_000);
      if (!persistent) fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      current = await launch(binary, port, password, timeoutMs, dir, persistent);
    },
  };
}
