// The estimate's error on the corpus of real answers (tests/unit/estimate_corpus.ts), computed by
// the plugin's own estimate (estimateFrom in assembly/usage/estimate.ts, through usage.wasm).
// Used by tests/unit/estimate.test.ts (which pins the figures docs/metering.md reports) and by
// `npx tsx tests/unit/estimate_stats.ts`, which prints the table.
import { EstimateRow, estimateCorpus } from "./estimate_corpus";
import { ResponseModule } from "./response_module";

export interface ErrorStats {
  rows: number;
  /** Mean and median of estimate / truth. */
  mean: number;
  median: number;
  /** The lowest and highest estimate / truth. */
  worst: number;
  highest: number;
  /** Share of rows whose estimate is below the truth (%). */
  below: number;
}

function stats(ratios: number[]): ErrorStats {
  const s = [...ratios].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    rows: s.length,
    mean: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
    median: round(s[s.length >> 1] ?? 0),
    worst: round(s[0] ?? 0),
    highest: round(s[s.length - 1] ?? 0),
    below: round((100 * s.filter((x) => x < 1).length) / Math.max(1, s.length)),
  };
}

export interface Groups {
  /** Input from the request's text: requests whose text is the input (no media, nothing held by the provider). */
  input: ErrorStats;
  /** The same rows by the former estimate, ⌈body bytes / 2⌉. */
  inputBytes: ErrorStats;
  inputAll: ErrorStats;
  /** Output from content bytes: answers whose output is all shown (no hidden reasoning, no media out). */
  output: ErrorStats;
  outputLong: ErrorStats;
  outputAll: ErrorStats;
  /** Output of compressed answers from their brotli size. */
  encodedSse: ErrorStats;
  encodedJson: ErrorStats;
  /** The whole charge (input + output) of an answer whose usage is entirely missing. */
  total: ErrorStats;
}

/** usage/text_estimate.ts API_* of each corpus API. */
const API_FAMILY: Record<EstimateRow["api"], number> = { chat: 0, completions: 0, messages: 1, responses: 2, gemini: 3 };

export function measure(m: ResponseModule, rows: EstimateRow[] = estimateCorpus): Groups {
  const est = (r: EstimateRow, encoded: boolean, wire: number) =>
    m.estimateNumbers({ requestBytes: r.requestBytes, contentBytes: r.contentBytes, bodyBytes: wire, sse: r.stream, encoded, cut: false, input: null, output: null, family: API_FAMILY[r.api], tools: r.tools, contentWide: r.contentWide });
  const plain = rows.map((r) => ({ r, e: est(r, false, r.bodyBytes) }));
  const textIn = plain.filter(({ r }) => !r.media && !r.inputElsewhere);
  const shown = plain.filter(({ r }) => r.hiddenReasoning === 0 && !r.mediaOutput);
  const encoded = rows.filter((r) => r.hiddenReasoning === 0 && !r.mediaOutput).map((r) => ({ r, e: est(r, true, r.brotliBytes) }));
  const inputOf = (r: EstimateRow) => m.textTokens(r.text, r.tools, API_FAMILY[r.api]);
  const inRatio = ({ r }: { r: EstimateRow }) => inputOf(r) / r.input;
  const bytesRatio = ({ r, e }: { r: EstimateRow; e: { input: string } }) => Number(e.input) / r.input;
  const outRatio = ({ r, e }: { r: EstimateRow; e: { output: string } }) => Number(e.output) / r.output;
  return {
    input: stats(textIn.map(inRatio)),
    inputBytes: stats(textIn.map(bytesRatio)),
    inputAll: stats(plain.map(inRatio)),
    output: stats(shown.map(outRatio)),
    outputLong: stats(shown.filter(({ r }) => r.output >= 150).map(outRatio)),
    outputAll: stats(plain.map(outRatio)),
    encodedSse: stats(encoded.filter(({ r }) => r.stream).map(outRatio)),
    encodedJson: stats(encoded.filter(({ r }) => !r.stream).map(outRatio)),
    total: stats(textIn.filter(({ r }) => r.hiddenReasoning === 0 && !r.mediaOutput).map(({ r, e }) => (inputOf(r) + Number(e.output)) / (r.input + r.output))),
  };
}

export const GROUP_TITLES: Record<keyof Groups, string> = {
  input: "input, text requests (no media, no server-side tools or state)",
  inputBytes: "the same, by the former ⌈body bytes / 2⌉",
  inputAll: "input, every request",
  output: "output, answers whose output is all shown",
  outputLong: "output, those of 150 tokens or more",
  outputAll: "output, every answer (hidden reasoning, media out included)",
  encodedSse: "output of a compressed SSE stream (brotli size)",
  encodedJson: "output of a compressed JSON answer (brotli size)",
  total: "input + output, text in and shown out",
};

/** The table docs/metering.md shows (between its estimate-table markers). */
export function table(g: Groups): string {
  const lines = ["| estimate of | rows | median | mean | worst | highest | below the truth |", "|---|---|---|---|---|---|---|"];
  for (const k of Object.keys(GROUP_TITLES) as Array<keyof Groups>) {
    const s = g[k];
    lines.push(`| ${GROUP_TITLES[k]} | ${s.rows} | ${s.median}× | ${s.mean}× | ${s.worst}× | ${s.highest}× | ${s.below}% |`);
  }
  return lines.join("\n") + "\n";
}

if (require.main === module) process.stdout.write(table(measure(new ResponseModule())));
