// npm run fuzz -- --seconds N [--seed S] [--only a,b] [--replay property:seed:path] [--no-write]
// Runs every property round-robin against the real plugin for N seconds, prints the cases run per
// property, and for each failure the seed and path that replay it; the counterexample is written
// to tests/fuzz/regressions/, which tests/fuzz/fuzz.test.ts replays on every test run.
import { existsSync, statSync } from "node:fs";
import { FuzzEnv, PLUGIN_WASM } from "./env";
import { PROPERTIES, findProperty } from "./properties";
import { printReports, replayCase, runFuzz } from "./runner";

interface Args {
  seconds: number;
  seed: number;
  only: string[] | null;
  replay: string | null;
  write: boolean;
}

function usage(message?: string): never {
  if (message) console.error(message);
  console.error("usage: npm run fuzz -- --seconds N [--seed S] [--only name,name] [--replay property:seed:path] [--no-write]");
  console.error(`properties: ${PROPERTIES.map((p) => p.name).join(", ")}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seconds: 60, seed: Date.now() % 2 ** 31, only: null, replay: null, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === "--seconds") args.seconds = Number(value());
    else if (a === "--seed") args.seed = Number(value());
    else if (a === "--only") args.only = value().split(",").filter((s) => s !== "");
    else if (a === "--replay") args.replay = value();
    else if (a === "--no-write") args.write = false;
    else if (a === "--help" || a === "-h") usage();
    else usage(`unknown argument ${a}`);
  }
  if (!Number.isFinite(args.seconds) || args.seconds <= 0) usage("--seconds must be a positive number");
  if (!Number.isInteger(args.seed)) usage("--seed must be an integer");
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(PLUGIN_WASM)) {
    console.error(`${PLUGIN_WASM} is missing: run npm run build first`);
    return 2;
  }
  console.log(`plugin: ${PLUGIN_WASM} (built ${statSync(PLUGIN_WASM).mtime.toISOString()})`);
  const env = new FuzzEnv();
  try {
    if (args.replay !== null) {
      const [name, seed, ...rest] = args.replay.split(":");
      const prop = findProperty(name);
      const failure = await replayCase(env, prop, Number(seed), rest.join(":"));
      if (failure === null) {
        console.log(`${name}: the case passes now`);
        return 0;
      }
      console.log(`${name}: still fails: ${failure.error}`);
      return 1;
    }
    const props = args.only === null ? PROPERTIES : args.only.map(findProperty);
    console.log(`fuzzing ${props.map((p) => p.name).join(", ")} for ${args.seconds} s, seed ${args.seed}`);
    const reports = await runFuzz(env, props, { seed: args.seed, seconds: args.seconds, regressionsDir: args.write ? undefined : null });
    printReports(reports);
    const failed = reports.filter((r) => r.failures.length > 0);
    if (failed.length > 0) {
      console.log(`FAILED: ${failed.map((r) => r.name).join(", ")} (seed ${args.seed})`);
      return 1;
    }
    console.log("no failures");
    return 0;
  } finally {
    await env.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
