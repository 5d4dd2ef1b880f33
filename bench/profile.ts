// Where a module's own work goes, deterministically: wasm operations per function (self, not
// including callees) and managed allocations, for one scenario, from a profiling build
// (scripts/counting-build.mjs --profile). Builds it from build/bench/<module>.names.wasm when asked.
//
//   npx tsx bench/profile.ts [--module ai-quota|floor|noop] [--scenario chat-json] [--requests 50]
//                            [--config reservation] [--top 40]
// (node scripts/build.mjs --bench first: it makes the .names.wasm builds.)
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { LogLevel, PluginVm, RedisClient, startRedis } from "../host";
import { countersSince, readCounters } from "./instrument";
import { runRequest } from "./run";
import { ADMIN, CONSUMER, Scenario, adminQuery, chatJson, chatSse, chatSseInject, largeChatBody, passThrough } from "./scenarios";

const ROOT = path.resolve(__dirname, "..");

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

function scenario(name: string): Scenario {
  const sse = /^chat-sse-(\d+)(-inject)?$/.exec(name);
  if (sse !== null) return sse[2] ? chatSseInject(Number(sse[1])) : chatSse(Number(sse[1]));
  switch (name) {
    case "chat-json": return chatJson();
    case "chat-json-1m": return chatJson(largeChatBody(1 << 20, 64 * 1024), name);
    case "admin-query": return adminQuery();
    case "pass-through": return passThrough();
    default: throw new Error(`unknown scenario ${name}`);
  }
}

async function main(): Promise<void> {
  const moduleName = arg("--module", "ai-quota");
  const s = scenario(arg("--scenario", "chat-json"));
  const requests = Number(arg("--requests", "50"));
  const top = Number(arg("--top", "40"));
  const base = { admin_consumer: ADMIN, redis: { service_name: "redis.static", service_port: 6379 } };
  const config = arg("--config", "default") === "reservation" ? { ...base, reservation: { mode: "max_tokens" } } : base;
  // The profiling build, made here from the name-section build (a few seconds).
  const { countingModule } = await import(path.join(ROOT, "scripts/counting-build.mjs"));
  const bytes: Uint8Array = countingModule(readFileSync(path.join(ROOT, `build/bench/${moduleName}.names.wasm`)), true);

  const redis = await startRedis();
  const client = await RedisClient.connect(redis.port);
  await client.command("SET", "chat_quota:" + CONSUMER, "900000000000000");
  const vm = await PluginVm.load({
    wasmBytes: bytes, logLevel: LogLevel.Info, historyLimit: 100,
    redis: { resolve: (n) => (n.endsWith("||redis.static") ? { host: redis.host, port: redis.port } : undefined) },
  });
  try {
    if (!(await vm.start("", JSON.stringify(config)))) throw new Error(vm.logText());
    for (let i = 0; i < 5; i++) await runRequest(vm, s);
    const names = Object.keys((vm as unknown as { exports: Record<string, unknown> }).exports).filter((k) => k.startsWith("prof:") || k.startsWith("alloc:"));
    const before = new Map(names.map((n) => [n, Number(vm.exportedGlobal(n) ?? 0)]));
    const c0 = readCounters(vm);
    for (let i = 0; i < requests; i++) await runRequest(vm, s);
    const c = countersSince(vm, c0);
    const delta = (n: string) => (Number(vm.exportedGlobal(n) ?? 0) - before.get(n)!) / requests;
    const rows = names.filter((n) => n.startsWith("prof:")).map((n) => [n.slice(5), delta(n)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
    console.log(`${moduleName}, ${s.name}: ${(c.ops / requests).toFixed(0)} operations, ${(c.allocations / requests).toFixed(1)} allocations (+${(c.reallocations / requests).toFixed(1)} resized) per request`);
    for (const [name, ops] of rows.slice(0, top)) console.log(`${ops.toFixed(0).padStart(9)} ${((100 * ops) / (c.ops / requests)).toFixed(1).padStart(5)}%  ${name}`);
    const allocs = names.filter((n) => n.startsWith("alloc:")).map((n) => [n.slice(6), delta(n)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
    console.log("\nallocations by the function that calls __new (a constructor names its class):");
    for (const [name, n] of allocs.slice(0, top)) console.log(`${n.toFixed(1).padStart(9)}  ${name}`);
  } finally {
    await vm.close();
    client.close();
    await redis.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
