// Runs fuzz properties: round-robin for a time budget (npm run fuzz), or a fixed number of cases
// with a fixed seed (the jest run). A failure is shrunk by fast-check, reported with the seed and
// path that replay it, and written as a regression file that tests/fuzz replays forever after.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { decodeCase, encodeCase, preview } from "./codec";
import { FuzzEnv, ROOT } from "./env";
import { FuzzProperty } from "./property";

export const REGRESSIONS_DIR = path.join(ROOT, "tests/fuzz/regressions");

export interface FailureReport {
  property: string;
  /** fast-check's seed and path: `--replay property:seed:path` runs exactly this case. */
  seed: number;
  path: string;
  error: string;
  counterexample: unknown;
  /** The regression file written for it, if any. */
  file: string | null;
}

export interface PropertyReport {
  name: string;
  cases: number;
  batches: number;
  ms: number;
  failures: FailureReport[];
  /** Batches that failed again in a way already reported in this run. */
  repeats: number;
  /** Batches that failed in a way a regression file already records (a known, open bug). */
  known: number;
}

export interface RegressionFile {
  property: string;
  seed: number;
  path: string;
  error: string;
  found: string;
  counterexample: unknown;
}

export interface RunOptions {
  /** Base seed; each batch derives its own from it. */
  seed: number;
  /** Time budget (round-robin mode). */
  seconds?: number;
  /** Cases per property (fixed mode: one batch per property, deterministic), or a count by name. */
  casesPerProperty?: number | Record<string, number>;
  /** Where to write counterexamples; null: do not write. */
  regressionsDir?: string | null;
  /** Time a failing batch may spend shrinking. */
  shrinkMs?: number;
  log?: (line: string) => void;
}

const CASE_TIMEOUT_MS = 60_000;
/** A batch aims at this long, so that the round-robin moves on often. */
const BATCH_TARGET_MS = 400;
/** A property that failed in this many different ways is not run any more. */
const MAX_FAILURES_PER_PROPERTY = 5;

function batchSeed(base: number, propIndex: number, batch: number): number {
  const h = createHash("sha256").update(`${base}:${propIndex}:${batch}`).digest();
  return h.readInt32LE(0);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** What makes two failures "the same bug" within a run: the message up to its first quote, without numbers. */
function signature(property: string, error: string): string {
  const line = error.split("\n")[0];
  const quote = line.indexOf('"');
  return property + ":" + (quote > 0 ? line.slice(0, quote) : line).replace(/[0-9]+/g, "#").slice(0, 100);
}

export function writeRegression(dir: string, f: FailureReport): string {
  mkdirSync(dir, { recursive: true });
  const body: RegressionFile = {
    property: f.property,
    seed: f.seed,
    path: f.path,
    error: f.error.slice(0, 4000),
    found: new Date().toISOString(),
    counterexample: encodeCase(f.counterexample),
  };
  const text = JSON.stringify(body, null, 2) + "\n";
  const hash = createHash("sha256").update(JSON.stringify(body.counterexample)).digest("hex").slice(0, 10);
  const file = path.join(dir, `${f.property}-${hash}.json`);
  if (!existsSync(file)) writeFileSync(file, text);
  return file;
}

export function readRegressions(dir = REGRESSIONS_DIR): Array<{ file: string; data: RegressionFile; input: unknown }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const data = JSON.parse(readFileSync(file, "utf8")) as RegressionFile;
      return { file, data, input: decodeCase(data.counterexample) };
    });
}

async function runBatch(env: FuzzEnv, prop: FuzzProperty, seed: number, numRuns: number, timeLimitMs: number, opts: { path?: string; shrink?: boolean } = {}): Promise<fc.RunDetails<[unknown]>> {
  const property = fc.asyncProperty(prop.arbitrary(), async (input) => {
    await prop.check(env, input);
  });
  return fc.check(property, {
    seed,
    numRuns,
    path: opts.path,
    endOnFailure: opts.shrink === false,
    timeout: CASE_TIMEOUT_MS,
    interruptAfterTimeLimit: timeLimitMs,
    // Interrupted while shrinking still reports the failure, with the smallest case so far.
    markInterruptAsFailure: false,
  });
}

function failureOf(prop: FuzzProperty, r: fc.RunDetails<[unknown]>): FailureReport {
  return {
    property: prop.name,
    seed: r.seed,
    path: r.counterexamplePath ?? "",
    error: errorText(r.errorInstance),
    counterexample: r.counterexample?.[0],
    file: null,
  };
}

function reportFailure(f: FailureReport, log: (line: string) => void): void {
  log(`FAIL ${f.property}: ${f.error.split("\n")[0]}`);
  log(`  seed ${f.seed}, path "${f.path}"   replay: npm run fuzz -- --replay '${f.property}:${f.seed}:${f.path}'`);
  log(`  counterexample: ${preview(f.counterexample)}`);
  if (f.file) log(`  written to ${path.relative(ROOT, f.file)}`);
  const detail = f.error.split("\n").slice(1, 12).join("\n");
  if (detail) log(detail.replace(/^/gm, "  | "));
}

/** Runs every property, round-robin until the time is up, or a fixed number of cases each. */
export async function runFuzz(env: FuzzEnv, props: FuzzProperty[], options: RunOptions): Promise<PropertyReport[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const shrinkMs = options.shrinkMs ?? 60_000;
  const regressionsDir = options.regressionsDir === undefined ? REGRESSIONS_DIR : options.regressionsDir;
  const reports: PropertyReport[] = props.map((p) => ({ name: p.name, cases: 0, batches: 0, ms: 0, failures: [], repeats: 0, known: 0 }));
  const seen = new Set<string>();
  // Failures that regression files record and that still happen are open bugs: counted, not
  // written again. (A recorded failure that no longer replays is fixed: its kind counts as new.)
  const known = new Set<string>();
  if (regressionsDir !== null) {
    for (const r of readRegressions(regressionsDir)) {
      const prop = props.find((p) => p.name === r.data.property);
      if (prop === undefined) continue;
      try {
        await prop.check(env, r.input);
      } catch {
        known.add(signature(r.data.property, r.data.error));
      }
    }
  }
  const fixed = options.casesPerProperty !== undefined;
  const deadline = Date.now() + (options.seconds ?? 0) * 1000;
  const batchSize = props.map(() => 5);

  for (let round = 0; fixed ? round < 1 : Date.now() < deadline; round++) {
    for (let i = 0; i < props.length; i++) {
      if (!fixed && Date.now() >= deadline) break;
      const prop = props[i];
      const report = reports[i];
      if (report.failures.length >= MAX_FAILURES_PER_PROPERTY) continue;
      const seed = batchSeed(options.seed, i, round);
      const perProperty = options.casesPerProperty;
      const numRuns = !fixed ? batchSize[i] : typeof perProperty === "number" ? perProperty : perProperty![prop.name] ?? 100;
      const limit = (fixed ? 0 : Math.max(0, deadline - Date.now())) + shrinkMs + (fixed ? CASE_TIMEOUT_MS * 2 : 0);
      const started = Date.now();
      // First without shrinking: a failure already seen in this run is only counted.
      const r = await runBatch(env, prop, seed, numRuns, limit, { shrink: false });
      const ms = Date.now() - started;
      report.cases += r.numRuns;
      report.batches++;
      report.ms += ms;
      if (!fixed && r.numRuns > 0) {
        const perCase = ms / r.numRuns;
        batchSize[i] = Math.max(1, Math.min(500, Math.round(BATCH_TARGET_MS / Math.max(perCase, 0.05))));
      }
      if (!r.failed) continue;
      const sig = signature(prop.name, errorText(r.errorInstance));
      if (known.has(sig)) {
        report.known++;
        continue;
      }
      if (seen.has(sig)) {
        report.repeats++;
        continue;
      }
      seen.add(sig);
      // A new way to fail: run the same batch again, shrinking this time.
      const shrunk = await runBatch(env, prop, seed, numRuns, shrinkMs + CASE_TIMEOUT_MS, { shrink: true });
      const failure = failureOf(prop, shrunk.failed ? shrunk : r);
      // Different first failures often shrink to the same smallest case: report that once.
      const shrunkSig = signature(prop.name, failure.error);
      if (shrunkSig !== sig && known.has(shrunkSig)) {
        report.known++;
        continue;
      }
      if (shrunkSig !== sig && seen.has(shrunkSig)) {
        report.repeats++;
        continue;
      }
      seen.add(shrunkSig);
      if (regressionsDir !== null) failure.file = writeRegression(regressionsDir, failure);
      report.failures.push(failure);
      reportFailure(failure, log);
    }
  }
  return reports;
}

/** Runs the one case that `seed` and `path` name (as printed for a failure). */
export async function replayCase(env: FuzzEnv, prop: FuzzProperty, seed: number, casePath: string): Promise<FailureReport | null> {
  const r = await runBatch(env, prop, seed, 1, CASE_TIMEOUT_MS * 2, { path: casePath });
  return r.failed ? failureOf(prop, r) : null;
}

export function printReports(reports: PropertyReport[], log: (line: string) => void = console.log): void {
  const width = Math.max(...reports.map((r) => r.name.length));
  log("property".padEnd(width) + "    cases  batches  ms/case  failures  repeats  known");
  for (const r of reports) {
    const perCase = r.cases > 0 ? (r.ms / r.cases).toFixed(2) : "-";
    log(`${r.name.padEnd(width)} ${String(r.cases).padStart(8)} ${String(r.batches).padStart(8)} ${perCase.padStart(8)} ${String(r.failures.length).padStart(9)} ${String(r.repeats).padStart(8)} ${String(r.known).padStart(6)}`);
  }
  log(`total cases: ${reports.reduce((n, r) => n + r.cases, 0)}`);
  const known = reports.reduce((n, r) => n + r.known, 0);
  if (known > 0) log(`${known} batches hit failures already recorded in tests/fuzz/regressions (open bugs; npx jest tests/fuzz replays them)`);
}
