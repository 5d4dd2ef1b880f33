// SGLang's native API (gateway/mock-sglang.ts) through `npm start` (examples/local.yaml) with plain
// fetch (SGLang's own Python client is not on npm): /generate JSON and SSE (cumulative text,
// running meta_info counts) and /encode, each charged exactly meta_info.prompt_tokens +
// completion_tokens; a batch (`text` a list) charged the sum over its prompts, whether answered as
// an array or as index-tagged events; a cut stream never free and never more than the
// usage-less estimate of the whole answer; at balance 0 the plugin's 403.
import { USER, localGateway } from "./local-session";

const TEXT = "Say hello to the quota gateway";
const WORDS = 6;
const session = localGateway();
const { setBalance, balance, charged } = session;

type Answer = { text: string; index?: number; meta_info: { prompt_tokens: number; completion_tokens: number; finish_reason: unknown } };

function events(text: string): Array<Answer | "[DONE]"> {
  return text.split("\n").filter((l) => l.startsWith("data:")).map((l) => (l.slice(5).trim() === "[DONE]" ? "[DONE]" : JSON.parse(l.slice(5))));
}

describe("SGLang native API through the gateway (fetch)", () => {
  test("/generate JSON: charged meta_info.prompt_tokens + completion_tokens exactly", async () => {
    const r = await charged("/generate", { text: TEXT, sampling_params: { max_new_tokens: 5 } });
    expect(r.status).toBe(200);
    const a = JSON.parse(r.text) as Answer;
    expect(a.text).toBe("lorem lorem lorem lorem lorem");
    expect(a.meta_info).toMatchObject({ prompt_tokens: WORDS, completion_tokens: 5, finish_reason: { type: "length", length: 5 } });
    expect(r.charged).toBe(WORDS + 5);
  });

  test("/generate without max_new_tokens: SGLang's 128, charged exactly", async () => {
    const r = await charged("/generate", { text: TEXT });
    expect(JSON.parse(r.text).meta_info.completion_tokens).toBe(128);
    expect(r.charged).toBe(WORDS + 128);
  });

  test("/generate streamed: cumulative text, running counts, [DONE]; charged the last event's counts", async () => {
    const r = await charged("/generate", { text: TEXT, sampling_params: { max_new_tokens: 4 }, stream: true });
    const e = events(r.text);
    expect(e.length).toBe(5);
    expect(e[4]).toBe("[DONE]");
    const answers = e.slice(0, 4) as Answer[];
    expect(answers.map((a) => a.meta_info.completion_tokens)).toEqual([1, 2, 3, 4]);
    expect(answers[3].text).toBe("lorem lorem lorem lorem");
    expect(answers.slice(0, 3).every((a) => a.meta_info.finish_reason === null)).toBe(true);
    expect(r.charged).toBe(WORDS + 4);
  });

  test("/generate batch (text a list): an array of answers, charged the sum over the prompts", async () => {
    const r = await charged("/generate", { text: [TEXT, "two words", "three more words"], sampling_params: { max_new_tokens: 3 } });
    const a = JSON.parse(r.text) as Answer[];
    expect(a.map((x) => x.meta_info.prompt_tokens)).toEqual([WORDS, 2, 3]);
    expect(r.charged).toBe(WORDS + 2 + 3 + 3 * 3);
  });

  test("/generate batch streamed: index-tagged events interleave; charged the sum over the prompts", async () => {
    const r = await charged("/generate", { text: [TEXT, "two words"], sampling_params: { max_new_tokens: 3 }, stream: true });
    const answers = events(r.text).filter((x): x is Answer => x !== "[DONE]");
    expect(answers.map((a) => a.index)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(r.charged).toBe(WORDS + 2 + 2 * 3);
  });

  test("/encode: charged meta_info.prompt_tokens, one text or a list", async () => {
    const one = await charged("/encode", { text: TEXT });
    expect(JSON.parse(one.text).meta_info.prompt_tokens).toBe(WORDS);
    expect(one.charged).toBe(WORDS);
    const list = await charged("/encode", { text: [TEXT, "two words"] });
    expect(JSON.parse(list.text).length).toBe(2);
    expect(list.charged).toBe(WORDS + 2);
  });

  test("without counts the answer is estimated: the exact charges above are the reader's", async () => {
    const r = await charged("/generate", { text: TEXT, sampling_params: { max_new_tokens: 5 } }, { "x-mock-usage": "omit" });
    expect(JSON.parse(r.text).meta_info.prompt_tokens).toBeUndefined();
    expect(r.charged).toBeGreaterThan(0);
    expect(r.charged).not.toBe(WORDS + 5);
  });

  test("a stream cut mid-answer: never free, never below the counts it showed, never above the whole answer's estimate", async () => {
    const body = { text: TEXT, sampling_params: { max_new_tokens: 40 }, stream: true };
    const whole = await charged("/generate", body, { "x-mock-usage": "omit" });
    const cut = await charged("/generate", body, { "x-mock-cut-after": "10" });
    const seen = events(cut.text).filter((x): x is Answer => x !== "[DONE]");
    expect(seen.length).toBeLessThanOrEqual(10);
    const last = seen[seen.length - 1];
    expect(cut.charged).toBeGreaterThanOrEqual(last.meta_info.prompt_tokens + last.meta_info.completion_tokens);
    expect(cut.charged).toBeLessThanOrEqual(Math.max(whole.charged, WORDS + 40));
    if (process.env.SHOW) console.log({ cut: cut.charged, whole: whole.charged, seen: last.meta_info.prompt_tokens + last.meta_info.completion_tokens });
  });

  test("balance 0: the plugin's 403, for /generate and /encode", async () => {
    await setBalance(0);
    for (const [path, body] of [["/generate", { text: TEXT }], ["/encode", { text: TEXT }]] as const) {
      const res = await fetch(session.gw.url + path, { method: "POST", headers: USER, body: JSON.stringify(body) });
      expect(res.status).toBe(403);
      await res.text();
    }
    expect(await balance()).toBe(0);
  });
});
