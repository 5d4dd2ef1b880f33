// How the output estimate's constants (usage/estimate.ts: OUTPUT_RATES and OUTPUT_BASES) were
// chosen on the corpus (tests/unit/estimate_corpus.ts), fitted honestly: the answers whose output
// is all shown are split by a hash of their source into a fitting half and a held-out half. For
// each (API family, tools declared) group and each rate 1/d (d: content bytes per token, from 2 to
// 4 — no more than English text's median, so that a long answer is never taken for fewer tokens
// than its text has), the group's base is the p-quantile of what ⌈bytes / d⌉ falls short of the
// truth by on the fitting half; the d whose estimate has the lowest median ratio on the fitting
// half is kept. A group with tools never gets a smaller base than the same family without (tool
// calls only add framing); bytes of 3- and 4-byte characters cost at least WIDE_RATE, as in
// estimate.ts. The error is reported on the fitting half, the held-out half and all
// rows; docs/metering.md gives the chosen line (p = 0.87) and tests/unit/estimate.test.ts measures
// the plugin's own estimate.
//   npx tsx scripts/output-fit.ts [rates to try, milli-tokens per byte, comma-separated]
import { EstimateRow, estimateCorpus } from "../tests/unit/estimate_corpus";

const FAMILY: Record<EstimateRow["api"], number> = { chat: 0, completions: 0, messages: 1, responses: 2, gemini: 3 };
const group = (r: EstimateRow) => FAMILY[r.api] * 2 + (r.tools ? 1 : 0);
const shown = estimateCorpus.filter((r) => r.hiddenReasoning === 0 && !r.mediaOutput);
const hash = (s: string) => { let h = 2166136261; for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0; return h; };
export const fit = shown.filter((r) => hash(r.source) % 2 === 0);
export const heldOut = shown.filter((r) => hash(r.source) % 2 === 1);
const quantile = (xs: number[], p: number) => { const v = [...xs].sort((a, b) => a - b); return v[Math.min(v.length - 1, Math.floor(p * v.length))] ?? 0; };
/** Wide bytes (3- and 4-byte characters) cost at least this (estimate.ts WIDE_RATE). */
const WIDE_RATE = 333;
/** Tokens for an answer's content bytes at a rate in milli-tokens per byte, rounded up (as estimate.ts). */
const tokens = (r: EstimateRow, milli: number) => Math.ceil(((r.contentBytes - r.contentWide) * milli + r.contentWide * Math.max(milli, WIDE_RATE)) / 1000);
function measure(rs: EstimateRow[], f: (r: EstimateRow) => number): string {
  const v = rs.map((r) => f(r) / r.output).sort((a, b) => a - b);
  return `${v[v.length >> 1].toFixed(2)}× ${((100 * v.filter((x) => x < 1).length) / v.length).toFixed(1)}% below`;
}

/** Rates tried (milli-tokens per content byte: 2 to 4 bytes a token). */
export const FIT_RATES = [500, 400, 333, 286, 250];

/** The fit at quantile p: each group's rate and base (index family × 2 + tools). */
export function fitOutput(p: number, rates: number[] = FIT_RATES): { rates: number[]; bases: number[] } {
  const chosen: number[] = [];
  const bases: number[] = [];
  for (let g = 0; g < 8; g++) {
    const rs = fit.filter((r) => group(r) === g);
    let best = { median: Infinity, milli: 500, base: 16 };
    for (const milli of rates) {
      const base = Math.max(0, Math.ceil(quantile(rs.map((r) => r.output - tokens(r, milli)), p)));
      const v = rs.map((r) => (tokens(r, milli) + base) / r.output).sort((a, b) => a - b);
      const median = v[v.length >> 1] ?? Infinity;
      if (median < best.median) best = { median, milli, base };
    }
    chosen[g] = best.milli;
    bases[g] = g % 2 === 1 ? Math.max(best.base, bases[g - 1]) : best.base;
  }
  return { rates: chosen, bases };
}

if (require.main === module) {
  const tried = process.argv[2] === undefined ? FIT_RATES : process.argv[2].split(",").map(Number);
  console.log(`rows ${shown.length}: fit ${fit.length}, held out ${heldOut.length}`);
  for (const p of [0.85, 0.87, 0.88, 0.9]) {
    const { rates, bases } = fitOutput(p, tried);
    const f = (r: EstimateRow) => (r.contentBytes > 0 ? tokens(r, rates[group(r)]) + bases[group(r)] : 0);
    console.log(`p ${p} rates ${JSON.stringify(rates)} bases ${JSON.stringify(bases)}: fit ${measure(fit, f)}, held out ${measure(heldOut, f)}, all ${measure(shown, f)}; answers of 150+ tokens ${measure(shown.filter((r) => r.output >= 150), f)}`);
  }
}
