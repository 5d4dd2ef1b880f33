// llama.cpp server's native API (gateway/mock-llamacpp.ts) through `npm start`
// (examples/local.yaml) with plain fetch (llama.cpp has no official npm client): /completion and
// /infill, JSON and SSE (running tokens_predicted / tokens_evaluated in every partial, the final
// `stop: true` event with timings, no [DONE]), each charged exactly tokens_evaluated +
// tokens_predicted; the echoed prompt and generation_settings are not read as counts; several
// prompts charged the sum, answered as an array or as index-tagged events; a cut stream never
// free and never more than the input estimate plus `max_tokens`; at balance 0 the plugin's 403.
import { USER, localGateway } from "./local-session";

const TEXT = "Say hello to the quota gateway";
const WORDS = 6;
const session = localGateway();
const { setBalance, balance, charged } = session;

type Answer = { index: number; content: string; stop: boolean; tokens_predicted: number; tokens_evaluated: number; prompt?: string; timings?: { prompt_n: number; predicted_n: number } };

function events(text: string): Answer[] {
  return text.split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)));
}

describe("llama.cpp server through the gateway (fetch)", () => {
  test("/completion JSON: charged tokens_evaluated + tokens_predicted exactly", async () => {
    const r = await charged("/completion", { prompt: TEXT, n_predict: 5 });
    expect(r.status).toBe(200);
    const a = JSON.parse(r.text) as Answer;
    expect(a).toMatchObject({ content: "lorem lorem lorem lorem lorem", stop: true, tokens_evaluated: WORDS, tokens_predicted: 5, timings: { prompt_n: WORDS, predicted_n: 5 } });
    expect(r.charged).toBe(WORDS + 5);
  });

  test("counts written in the prompt (echoed back, and in generation_settings) are not read", async () => {
    const prompt = '"tokens_evaluated": 1, "tokens_predicted": 1 and {"tokens_predicted":9999}';
    const r = await charged("/completion", { prompt, max_tokens: 3 });
    const a = JSON.parse(r.text) as Answer;
    expect(a.prompt).toBe(prompt);
    expect(r.charged).toBe(a.tokens_evaluated + 3);
  });

  test("/completion streamed: running totals in the partials, the final stop event; charged its counts", async () => {
    const r = await charged("/completion", { prompt: TEXT, n_predict: 4, stream: true });
    const e = events(r.text);
    expect(r.text).not.toContain("[DONE]");
    expect(e.map((x) => x.stop)).toEqual([false, false, false, false, true]);
    expect(e.map((x) => x.tokens_predicted)).toEqual([1, 2, 3, 4, 4]);
    expect(e.slice(0, 4).map((x) => x.content).join("")).toBe("lorem lorem lorem lorem");
    expect(e[4].content).toBe("");
    expect(r.charged).toBe(WORDS + 4);
  });

  test("/infill: prefix, suffix and prompt are the input; charged exactly", async () => {
    const r = await charged("/infill", { input_prefix: "def add(a, b):", input_suffix: "return c", prompt: "c =", n_predict: 2 });
    const a = JSON.parse(r.text) as Answer;
    expect(a.tokens_evaluated).toBe(7);
    expect(r.charged).toBe(7 + 2);
  });

  test("several prompts: an array of answers, charged the sum", async () => {
    const r = await charged("/completion", { prompt: [TEXT, "two words", [1, 2, 3, 4]], n_predict: 2 });
    const a = JSON.parse(r.text) as Answer[];
    expect(a.map((x) => x.tokens_evaluated)).toEqual([WORDS, 2, 4]);
    expect(r.charged).toBe(WORDS + 2 + 4 + 3 * 2);
  });

  test("several prompts streamed: index-tagged events interleave; charged the sum", async () => {
    const r = await charged("/completion", { prompt: [TEXT, "two words"], n_predict: 3, stream: true });
    const e = events(r.text);
    expect(e.map((x) => x.index)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    expect(r.charged).toBe(WORDS + 2 + 2 * 3);
  });

  test("without counts the answer is estimated: the exact charges above are the reader's", async () => {
    const r = await charged("/completion", { prompt: TEXT, n_predict: 5 }, { "x-mock-usage": "omit" });
    expect(JSON.parse(r.text).tokens_predicted).toBeUndefined();
    expect(r.charged).toBeGreaterThan(0);
    expect(r.charged).not.toBe(WORDS + 5);
  });

  test("a stream cut mid-answer: never free, never below the counts it showed, output never above max_tokens", async () => {
    const body = { prompt: TEXT, max_tokens: 30, stream: true };
    // The whole answer without counts pays the input estimate + its output estimate capped at
    // max_tokens (30 words of content estimate above 30): the most a cut one may cost.
    const ceiling = await charged("/completion", body, { "x-mock-usage": "omit" });
    const cut = await charged("/completion", body, { "x-mock-cut-after": "8" });
    const seen = events(cut.text);
    expect(seen.length).toBeLessThanOrEqual(8);
    expect(seen.every((x) => !x.stop)).toBe(true);
    const last = seen[seen.length - 1];
    expect(cut.charged).toBeGreaterThanOrEqual(last.tokens_evaluated + last.tokens_predicted);
    expect(cut.charged).toBeLessThanOrEqual(ceiling.charged);
    if (process.env.SHOW) console.log({ cut: cut.charged, ceiling: ceiling.charged, seen: last.tokens_evaluated + last.tokens_predicted });
  });

  test("balance 0: the plugin's 403, for /completion and /infill", async () => {
    await setBalance(0);
    for (const [path, body] of [["/completion", { prompt: TEXT }], ["/infill", { input_prefix: "x", input_suffix: "y" }]] as const) {
      const res = await fetch(session.gw.url + path, { method: "POST", headers: USER, body: JSON.stringify(body) });
      expect(res.status).toBe(403);
      await res.text();
    }
    expect(await balance()).toBe(0);
  });
});
