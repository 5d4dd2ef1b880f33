// How far a byte-only output estimate (⌈content bytes / d⌉ + a base per API family and tools
// declared) can go on the corpus (tests/unit/estimate_corpus.ts), fitted honestly: the answers whose
// output is all shown are split by a hash of their source; each group's base is the p-quantile of
// what ⌈bytes / d⌉ falls short of the truth by on the fitting half, and the error is reported on
// the fitting half, the held-out half and all rows. (Not applied yet: usage/estimate.ts still adds
// OUTPUT_BASE_TOKENS to every answer; docs/metering.md reports these figures.)
//   npx tsx scripts/output-fit.ts
import { EstimateRow, estimateCorpus } from "../tests/unit/estimate_corpus";
const FAMILY: Record<EstimateRow["api"], number> = { chat: 0, completions: 0, messages: 1, responses: 2, gemini: 3 };
const group = (r: EstimateRow) => FAMILY[r.api] * 2 + (r.tools ? 1 : 0);
const shown = estimateCorpus.filter((r) => r.hiddenReasoning === 0 && !r.mediaOutput);
const hash = (s: string) => { let h = 2166136261; for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0; return h; };
const fit = shown.filter((r) => hash(r.source) % 2 === 0), ho = shown.filter((r) => hash(r.source) % 2 === 1);
const q = (xs: number[], p: number) => { const v = [...xs].sort((a, b) => a - b); return v[Math.min(v.length - 1, Math.floor(p * v.length))] ?? 0; };
const ms = (rs: EstimateRow[], f: (r: EstimateRow) => number) => { const v = rs.map((r) => f(r) / r.output).sort((a, b) => a - b); return `${v[v.length >> 1].toFixed(2)}x ${(100 * v.filter((x) => x < 1).length / v.length).toFixed(1)}%`; };
for (const d of [2, 2.5, 3]) for (const p of [0.85, 0.9]) {
  const base: number[] = [];
  for (let g = 0; g < 8; g++) { const rs = fit.filter((r) => group(r) === g); base[g] = rs.length ? Math.max(0, Math.ceil(q(rs.map((r) => r.output - Math.ceil(r.contentBytes / d)), p))) : 16; }
  const f = (r: EstimateRow) => (r.contentBytes > 0 ? Math.ceil(r.contentBytes / d) + base[group(r)] : 0);
  console.log(`d=${d} p=${p} base=${JSON.stringify(base)} fit ${ms(fit, f)} held-out ${ms(ho, f)} all ${ms(shown, f)}`);
}
