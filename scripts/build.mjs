// Compiles every wasm module the project ships or tests with `asc`.
// `node scripts/build.mjs --if-needed` skips the work when no source is newer than the outputs,
// so `npm start` and the bench can call it cheaply. `--bench` adds the bench's counting variants
// (build/bench/*.counting.wasm: the release code with counters, scripts/counting-build.mjs).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", "assemblyscript", "bin", "asc.js");
// Gives assembly/abi/gc.ts the runtime's managed byte count (see the transform). An absolute path:
// asc resolves a relative one as a package name.
const transform = join(root, "scripts", "asc-transform.mjs");
const countingScript = join(root, "scripts", "counting-build.mjs");

/** Each module: entry file, output, asconfig target, and extra flags. */
const modules = [
  { entry: "assembly/index.ts", out: "build/ai-quota.wasm", target: "release" },
  { entry: "assembly/index.ts", out: "build/ai-quota.debug.wasm", target: "debug" },
  { entry: "assembly/index_envoy.ts", out: "build/ai-quota-envoy.wasm", target: "release" },
];
// The benchmark's baseline: a plugin built from the same ABI layer that continues everything.
if (existsSync(join(root, "assembly/noop.ts"))) modules.push({ entry: "assembly/noop.ts", out: "build/noop.wasm", target: "release" });
// The benchmark's floor: the least a metering plugin must do (two header values, a GET, a byte
// search of each response chunk, a DECRBY), from the same ABI layer.
if (existsSync(join(root, "assembly/floor.ts"))) modules.push({ entry: "assembly/floor.ts", out: "build/floor.wasm", target: "release" });
// Test-only modules: small entry points that expose pure logic (parsers) to jest.
for (const file of existsSync(join(root, "assembly/testing")) ? readdirSync(join(root, "assembly/testing")) : []) {
  if (!file.endsWith(".ts") || file.startsWith("_")) continue;
  // Their exports are called directly, not through the ABI callbacks that collect garbage
  // (assembly/abi/gc.ts), so they keep the runtime that collects by itself.
  modules.push({ entry: `assembly/testing/${file}`, out: `build/test/${file.replace(/\.ts$/, ".wasm")}`, target: "release", flags: ["--runtime", "incremental"] });
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
if (process.argv.includes("--bench")) {
  // A release build with a name section (--debug keeps names, not the optimizer's work), then the
  // counters added to it.
  for (const [entry, name] of [["assembly/index.ts", "ai-quota"], ["assembly/floor.ts", "floor"], ["assembly/noop.ts", "noop"]]) {
    modules.push({ entry, out: `build/bench/${name}.names.wasm`, target: "release", flags: ["--debug"], counting: `build/bench/${name}.counting.wasm` });
  }
}
const sourcesChanged = Math.max(newestSource(join(root, "assembly")), statSync(join(root, "asconfig.json")).mtimeMs, statSync(transform).mtimeMs);

// One compiler at a time; a signal stops it and the build (spawnSync would leave it running).
let current = null;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    current?.kill("SIGTERM");
    process.exit(1);
  });
}
// With `converge` (asconfig.json) asc optimizes again until the binary stops shrinking; when the
// last round comes out larger than the one before it prints "Last converge was suboptimal." and
// keeps that round (a few bytes). Without converge the .wasm is larger still (ai-quota.wasm: +31
// bytes), so the line is expected: it is counted here and explained once instead of repeated.
const SUBOPTIMAL = "Last converge was suboptimal.";
let suboptimal = 0;
function run(args) {
  return new Promise((resolveRun) => {
    current = spawn(process.execPath, args, { cwd: root, stdio: ["inherit", "inherit", "pipe"] });
    let partial = "";
    current.stderr.setEncoding("utf8");
    current.stderr.on("data", (text) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop();
      for (const line of lines) {
        if (line.trim() === SUBOPTIMAL) suboptimal++;
        else process.stderr.write(line + "\n");
      }
    });
    current.stderr.on("end", () => {
      if (partial !== "") process.stderr.write(partial);
    });
    current.once("error", () => resolveRun(1));
    current.once("exit", (code) => {
      current = null;
      resolveRun(code ?? 1);
    });
  });
}

let failed = false;
for (const m of modules) {
  const out = join(root, m.out);
  const counting = m.counting === undefined ? null : join(root, m.counting);
  const final = counting ?? out;
  if (ifNeeded && existsSync(final) && statSync(final).mtimeMs >= Math.max(sourcesChanged, statSync(countingScript).mtimeMs)) continue;
  mkdirSync(dirname(out), { recursive: true });
  const args = [asc, m.entry, "--config", "asconfig.json", "--target", m.target, "--outFile", m.out, "--transform", transform, ...(m.flags ?? [])];
  if ((await run(args)) !== 0) {
    console.error(`build failed: ${m.entry} -> ${m.out}`);
    failed = true;
    break;
  }
  if (counting !== null) {
    if ((await run([countingScript, out, counting])) !== 0) {
      console.error(`build failed: ${m.out} -> ${m.counting}`);
      failed = true;
      break;
    }
  }
}
if (suboptimal > 0) console.log(`(${suboptimal} module(s): binaryen's last converge round was a few bytes larger than the one before; asc keeps it. Expected: see scripts/build.mjs)`);
process.exit(failed ? 1 : 0);
