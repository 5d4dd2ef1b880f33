// Compiles every wasm module the project ships or tests with `asc`.
// `node scripts/build.mjs --if-needed` skips the work when no source is newer than the outputs,
// so `npm start` and the bench can call it cheaply.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", "assemblyscript", "bin", "asc.js");

/** Each module: entry file, output, asconfig target, and extra flags. */
const modules = [
  { entry: "assembly/index.ts", out: "build/ai-quota.wasm", target: "release" },
  { entry: "assembly/index.ts", out: "build/ai-quota.debug.wasm", target: "debug" },
  { entry: "assembly/index_envoy.ts", out: "build/ai-quota-envoy.wasm", target: "release" },
];
// The benchmark's baseline: a plugin built from the same ABI layer that continues everything.
if (existsSync(join(root, "assembly/noop.ts"))) modules.push({ entry: "assembly/noop.ts", out: "build/noop.wasm", target: "release" });
// Test-only modules: small entry points that expose pure logic (parsers) to jest.
for (const file of existsSync(join(root, "assembly/testing")) ? readdirSync(join(root, "assembly/testing")) : []) {
  if (!file.endsWith(".ts") || file.startsWith("_")) continue;
  modules.push({ entry: `assembly/testing/${file}`, out: `build/test/${file.replace(/\.ts$/, ".wasm")}`, target: "release" });
}

function newestSource(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestSource(p) : s.mtimeMs);
  }
  return newest;
}

const ifNeeded = process.argv.includes("--if-needed");
const sourcesChanged = Math.max(newestSource(join(root, "assembly")), statSync(join(root, "asconfig.json")).mtimeMs);

let failed = false;
for (const m of modules) {
  const out = join(root, m.out);
  if (ifNeeded && existsSync(out) && statSync(out).mtimeMs >= sourcesChanged) continue;
  mkdirSync(dirname(out), { recursive: true });
  const args = [asc, m.entry, "--config", "asconfig.json", "--target", m.target, "--outFile", m.out, ...(m.flags ?? [])];
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`build failed: ${m.entry} -> ${m.out}`);
    failed = true;
    break;
  }
}
process.exit(failed ? 1 : 0);
