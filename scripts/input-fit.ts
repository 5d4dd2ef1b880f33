// How far the input estimate's constants (usage/text_estimate.ts: per-class rates and the per-API,
// per-tools overhead) can go on the corpus (tests/unit/estimate_corpus.ts), fitted honestly: rows
// are split by a hash of their source into a fitting half and a held-out half; constants are
// chosen on the fitting half and the error is reported on both. For each scale s of the rates and
// each quantile p, the overhead of each (API family, tools) group is the p-quantile of what the
// scaled text falls short of the truth by.
//   npx tsx scripts/input-fit.ts
import { EstimateRow, estimateCorpus } from "../tests/unit/estimate_corpus";

const RATES = [225, 333, 50, 400, 500, 1000, 2000, 0, 0];
const FAMILY: Record<EstimateRow["api"], number> = { chat: 0, completions: 0, messages: 1, responses: 2, gemini: 3 };
const group = (r: EstimateRow) => FAMILY[r.api] * 2 + (r.tools ? 1 : 0);
const rows = estimateCorpus.filter((r) => !r.media && !r.inputElsewhere);
const hash = (s: string) => { let h = 2166136261; for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0; return h; };
const fitRows = rows.filter((r) => hash(r.source) % 2 === 0);
const heldOut = rows.filter((r) => hash(r.source) % 2 === 1);
const text = (r: EstimateRow, s: number) => Math.ceil((s * r.text.reduce((a, n, i) => a + n * RATES[i], 0)) / 1000);

function quantile(xs: number[], p: number): number {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(p * v.length))] ?? 0;
}
function measure(rs: EstimateRow[], f: (r: EstimateRow) => number): { median: number; below: number } {
  const v = rs.map((r) => f(r) / r.input).sort((a, b) => a - b);
  return { median: Math.round((v[v.length >> 1] ?? 0) * 100) / 100, below: Math.round((1000 * v.filter((x) => x < 1).length) / Math.max(1, v.length)) / 10 };
}

console.log(`rows ${rows.length}: fit ${fitRows.length}, held out ${heldOut.length}`);
for (const s of [0.6, 0.8, 1, 1.2, 1.5]) {
  for (const p of [0.8, 0.85, 0.9, 0.95]) {
    const over: number[] = [];
    for (let g = 0; g < 8; g++) {
      const gr = fitRows.filter((r) => group(r) === g);
      over[g] = gr.length > 0 ? Math.max(0, Math.ceil(quantile(gr.map((r) => r.input - text(r, s)), p))) : 0;
    }
    const f = (r: EstimateRow) => text(r, s) + over[group(r)];
    console.log(`scale ${s} p ${p} overhead ${JSON.stringify(over)} fit`, measure(fitRows, f), "held out", measure(heldOut, f), "all", measure(rows, f));
  }
}
