// The fuzz properties (fuzz/props/*) in the test run: a short fixed-seed run of each, and a replay
// of every counterexample a fuzz run ever wrote to tests/fuzz/regressions/ (they stay forever).
// Longer runs: `npm run fuzz -- --seconds N`.
import { existsSync } from "node:fs";
import { FuzzEnv, PLUGIN_WASM } from "../../fuzz/env";
import { preview } from "../../fuzz/codec";
import { PROPERTIES, findProperty } from "../../fuzz/properties";
import { FailureReport, readRegressions, runFuzz } from "../../fuzz/runner";

/** Fixed, so that a failure here replays exactly (see the message). */
const SEED = 20_240_601;
/** Cases per property, sized so the whole file stays around 30 s on two cores. */
const CASES: Record<string, number> = {
  "resp-reply": 250,
  "admin-form": 800,
  "usage-body": 1500,
  config: 600,
  headers: 800,
  parsers: 1500,
  "request-body": 400,
  "request-verdict": 150,
  response: 600,
  bedrock: 300,
  "event-stream": 1000,
  "tiers-config": 300,
  "self-hosted": 200,
  "usage-query": 600,
};

let env: FuzzEnv;
beforeAll(() => {
  if (!existsSync(PLUGIN_WASM)) throw new Error(`${PLUGIN_WASM} is missing: run npm run build`);
  env = new FuzzEnv();
});
afterAll(async () => env.close());

function explain(f: FailureReport): string {
  return `${f.property}: ${f.error}\n  replay: npm run fuzz -- --replay '${f.property}:${f.seed}:${f.path}'\n  counterexample: ${preview(f.counterexample, 2000)}`;
}

describe("fixed-seed fuzz run", () => {
  test("every property has a case count", () => {
    expect(Object.keys(CASES).sort()).toEqual(PROPERTIES.map((p) => p.name).sort());
  });

  test.each(PROPERTIES.map((p) => [p.name]))("%s", async (name) => {
    const lines: string[] = [];
    const [report] = await runFuzz(env, [findProperty(name)], {
      seed: SEED,
      casesPerProperty: CASES,
      regressionsDir: null,
      shrinkMs: 10_000,
      log: (l) => lines.push(l),
    });
    expect(report.failures.map(explain)).toEqual([]);
    expect(report.cases).toBe(CASES[name]);
  }, 120_000);
});

describe("regressions: every counterexample ever found", () => {
  const files = readRegressions();
  test("the regression files name known properties", () => {
    for (const f of files) expect(PROPERTIES.map((p) => p.name)).toContain(f.data.property);
  });

  if (files.length === 0) return;
  test.each(files.map((f) => [f.file.replace(/^.*\/tests\/fuzz\/regressions\//, ""), f] as const))("%s", async (_name, f) => {
    const prop = findProperty(f.data.property);
    await prop.check(env, f.input);
  }, 60_000);
});
