// `bash scripts/start.sh` as a user runs it, stopped every way it gets stopped: SIGINT or SIGTERM
// to the started pid (systemd, Docker, a CI runner), Ctrl-C and a closed terminal (the signal goes
// to the whole process group), and the gateway killed outright (SIGKILL: its redis-server must not
// outlive it). Each time, every process of the tree (captured from /proc before the signal) is gone
// within 2 s and the gateway's and Redis's ports are free. Then `--data`: a balance survives a
// restart, and without it the banner says balances are not kept.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { EXAMPLE, GatewayProcess, ROOT, runToExit, writeConfig } from "./gateway-process";
import { send } from "./http-client";

const STOP_BOUND_MS = 2_000;
const ADMIN = { authorization: "Bearer credential3" };

interface Proc {
  pid: number;
  /** /proc/<pid>/stat field 22: with the pid, names a process even if the pid is reused. */
  start: string;
  comm: string;
}

function readStat(pid: number): { ppid: number; state: string; start: string; comm: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  return { comm: text.slice(text.indexOf("(") + 1, close), state: fields[0], ppid: Number(fields[1]), start: fields[19] };
}

/** `root` and every process below it. */
function tree(root: number): Proc[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat === null) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(name)]);
  }
  const out: Proc[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 1000) {
    const pid = queue.shift()!;
    const stat = readStat(pid);
    if (stat === null) continue;
    out.push({ pid, start: stat.start, comm: stat.comm });
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function alive(p: Proc): boolean {
  const stat = readStat(p.pid);
  return stat !== null && stat.start === p.start && stat.state !== "Z" && stat.state !== "X";
}

/** Polls /proc (processes that are not our children give no exit event) until none is alive, bounded. */
async function survivorsAfter(procs: Proc[], boundMs: number): Promise<Proc[]> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const left = procs.filter(alive);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function startScript(args: string[]): Promise<GatewayProcess> {
  return GatewayProcess.launch(["--config", writeConfig(EXAMPLE), "--port", "0", ...args], GatewayProcess.spawnScript);
}

const running: GatewayProcess[] = [];
afterEach(() => {
  for (const gw of running.splice(0)) gw.kill();
});

beforeAll(() => {
  // start.sh builds when a source changed: do that here, unbounded by a start's timeout.
  const r = spawnSync(process.execPath, ["scripts/build.mjs", "--if-needed"], { cwd: ROOT, stdio: "inherit" });
  expect(r.status).toBe(0);
}, 600_000);

describe.each([
  ["SIGINT to the started pid", "SIGINT", "pid"],
  ["SIGTERM to the started pid", "SIGTERM", "pid"],
  ["Ctrl-C (SIGINT to the process group)", "SIGINT", "group"],
  ["a closed terminal (SIGHUP to the process group)", "SIGHUP", "group"],
  ["the gateway killed (SIGKILL to the started pid)", "SIGKILL", "pid"],
] as const)("scripts/start.sh stopped by %s", (_name, signal, target) => {
  test(`the whole tree is gone within ${STOP_BOUND_MS} ms and the ports are free`, async () => {
    const gw = await startScript([]);
    running.push(gw);
    const port = Number(new URL(gw.url).port);
    expect((await send(gw.url + "/v1/chat/completions/quota?consumer=consumer1", { headers: ADMIN })).status).toBe(200);
    const pid = gw.child.pid!;
    const procs = tree(pid);
    // The shell exec'd the gateway (no npm, sh or tsx in between) and the gateway started redis-server.
    expect(procs[0].comm).toBe("node");
    expect(procs.map((p) => p.comm)).toContain("redis-server");

    const sent = Date.now();
    process.kill(target === "group" ? -pid : pid, signal);
    const exit = await gw.waitForExit(STOP_BOUND_MS);
    expect(await survivorsAfter(procs, STOP_BOUND_MS - (Date.now() - sent))).toEqual([]);
    expect(Date.now() - sent).toBeLessThan(STOP_BOUND_MS);
    expect(await portFree(port)).toBe(true);
    expect(await portFree(gw.redisPort)).toBe(true);
    if (signal === "SIGKILL") {
      expect(exit.signal).toBe("SIGKILL");
    } else {
      expect(exit).toMatchObject({ code: 0, signal: null });
      expect(exit.stdout).toContain(`ai-quota gateway stopping (${signal})`);
    }
  }, 60_000);
});

describe("options through scripts/start.sh", () => {
  test("--help prints the gateway's usage, not npm's", async () => {
    const r = spawnSync("bash", ["scripts/start.sh", "--help"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm start -- \[options\] {3}or {3}bash scripts\/start\.sh \[options\]$/m);
    expect(r.stdout).toContain("--data");
    expect(r.stdout).not.toMatch(/npm <command>|npm start \[--/);
  }, 60_000);

  test("a leading -- is passed over, as in `bash scripts/start.sh -- --port 0`", async () => {
    const gw = await GatewayProcess.launch(["--", "--config", writeConfig(EXAMPLE), "--port", "0"], GatewayProcess.spawnScript);
    running.push(gw);
    expect(gw.lines).toContain("balances: not kept (lost when the gateway stops; --data <dir> keeps them)");
    expect((await gw.stop(STOP_BOUND_MS))?.code).toBe(0);
  }, 60_000);
});

describe("--data DIR", () => {
  test("a refreshed balance, and one spent by a chat, survive a restart", async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), "ai-quota-data-")), "redis");
    const first = await startScript(["--data", dir]);
    running.push(first);
    expect(first.lines).toContain(`balances: kept in ${dir} (append-only file)`);
    const refresh = await send(first.url + "/v1/chat/completions/quota/refresh", { headers: { ...ADMIN, "content-type": "application/x-www-form-urlencoded" }, body: "consumer=consumer1&quota=1000" });
    expect(refresh).toMatchObject({ status: 200, body: "refresh quota successful" });
    const chat = await send(first.url + "/v1/chat/completions", {
      headers: { authorization: "Bearer credential1", "content-type": "application/json" },
      body: JSON.stringify({ model: "m", max_tokens: 4, messages: [{ role: "user", content: "one two three" }] }),
    });
    expect(chat.status).toBe(200);
    // The access line is written once the charge is answered by Redis.
    await first.waitForLine(/^POST \/v1\/chat\/completions 200 consumer1$/, 10_000);
    const before = (await send(first.url + "/v1/chat/completions/quota?consumer=consumer1", { headers: ADMIN })).body;
    expect(JSON.parse(before).quota).toBeLessThan(1000);
    expect((await first.stop(STOP_BOUND_MS))?.code).toBe(0);

    const second = await startScript(["--data", dir]);
    running.push(second);
    expect(second.redisPort).not.toBe(0);
    expect((await send(second.url + "/v1/chat/completions/quota?consumer=consumer1", { headers: ADMIN })).body).toBe(before);
    expect((await second.stop(STOP_BOUND_MS))?.code).toBe(0);
  }, 90_000);

  test("without --data a restart starts every consumer at 0: a chat is refused 403", async () => {
    const gw = await startScript([]);
    running.push(gw);
    const chat = await send(gw.url + "/v1/chat/completions", {
      headers: { authorization: "Bearer credential1", "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(chat.status).toBe(403);
    // What is not metered passes through at 0 (the README's pass-through example).
    const models = await send(gw.url + "/v1/models", { headers: { authorization: "Bearer credential1" } });
    expect(models.status).toBe(200);
    expect(JSON.parse(models.body).object).toBe("list");
    expect((await gw.stop(STOP_BOUND_MS))?.code).toBe(0);
  }, 60_000);

  test("--data is refused with --redis (an external Redis keeps its own data)", async () => {
    const exit = await runToExit(["--data", "/tmp/x", "--redis", "127.0.0.1:6379"]);
    expect(exit.code).toBe(2);
    expect(exit.stderr).toMatch(/--data keeps the gateway's own redis-server's data/);
  });
});
