// llama.cpp server's native API in the mock (POST /completion, /infill), shaped as llama-server
// (tools/server: server-task.cpp to_json_non_oaicompat, server-context.cpp) sends it:
//   JSON     {index, content, tokens: [], id_slot, stop: true, model, tokens_predicted,
//            tokens_evaluated, generation_settings {n_predict, …}, prompt (the prompt echoed),
//            has_new_line, truncated, stop_type: "limit", stopping_word, tokens_cached, timings
//            {cache_n, prompt_n, prompt_ms, …, predicted_n, …}}; several prompts (`prompt` a list
//            of strings or of token lists) are a batch: a JSON array of such answers, one each
//   stream   (`"stream": true`) SSE, `data:` lines only, no `[DONE]` (llama-server sends it only
//            on its OpenAI-compatible routes): one partial per token {index, content (the new
//            piece), tokens: [], stop: false, id_slot, tokens_predicted, tokens_evaluated}
//            (running totals; `timings` only with `timings_per_token`), then the final event,
//            the answer above with `content: ""` and `stop: true`. A batch's events interleave,
//            told apart by `index`
// The echoed `prompt` and `generation_settings` are client text: a reader must not take counts
// from them. /infill reads `input_prefix`, `input_suffix` and `prompt` (all optional) and answers
// the same way. Tokens (mock-usage.ts): input = words of the prompt (token ids count one each;
// infill: of prefix + suffix + prompt); output = `n_predict`, else `max_tokens`, else 16
// (llama-server's default -1 runs to the context's end). Errors: `{"error": {"code", "message",
// "type"}}`. Directives (mock-wire.ts): +no-usage / x-mock-usage: omit drops the counts and
// timings; x-mock-cut-after: N cuts a stream after N events.
import type { Exchange } from "./mock-upstream";
import { countWords, outputLimit, replyWords } from "./mock-usage";
import { sse } from "./mock-wire";

function llamaError(x: Exchange, message: string): void {
  x.reply.json(400, { error: { code: 400, message, type: "invalid_request_error" } });
}

interface Prompt {
  text: string;
  tokens: number;
}

/** llama-server's prompt shapes: a string, a token list, or a list of those (several prompts). */
function prompts(prompt: unknown): { list: Prompt[]; batch: boolean } | null {
  if (typeof prompt === "string") return { list: [{ text: prompt, tokens: countWords(prompt) }], batch: false };
  if (!Array.isArray(prompt) || prompt.length === 0) return null;
  if (prompt.every((t) => typeof t === "number")) return { list: [{ text: prompt.map(() => "w").join(" "), tokens: prompt.length }], batch: false };
  const list: Prompt[] = [];
  for (const p of prompt) {
    if (typeof p === "string") list.push({ text: p, tokens: countWords(p) });
    else if (Array.isArray(p) && p.every((t) => typeof t === "number")) list.push({ text: p.map(() => "w").join(" "), tokens: p.length });
    else return null;
  }
  return { list, batch: list.length > 1 };
}

function timings(input: number, output: number): Record<string, number> {
  return {
    cache_n: 0, prompt_n: input, prompt_ms: 0.5 * input, prompt_per_token_ms: 0.5, prompt_per_second: 2000,
    predicted_n: output, predicted_ms: 2 * output, predicted_per_token_ms: 2, predicted_per_second: 500,
  };
}

async function answer(x: Exchange, list: Prompt[], batch: boolean): Promise<void> {
  const limit = outputLimit(x.body, ["n_predict", "max_tokens"]);
  if (typeof limit !== "number") return llamaError(x, limit === null ? "n_predict required" : limit.message);
  const omit = x.reply.directives.omitUsage;
  const words = replyWords(limit).map((w, i) => (i === 0 ? w : " " + w));
  const stream = x.body.stream === true;
  const final = (p: Prompt, index: number): Record<string, unknown> => {
    const a: Record<string, unknown> = { index, content: stream ? "" : words.join(""), tokens: [], id_slot: index, stop: true, model: x.model };
    if (!omit) Object.assign(a, { tokens_predicted: limit, tokens_evaluated: p.tokens });
    Object.assign(a, {
      generation_settings: { n_predict: limit, seed: 4294967295, temperature: 0.8, stream, stop: [] },
      prompt: p.text, has_new_line: false, truncated: false, stop_type: "limit", stopping_word: "",
    });
    if (!omit) Object.assign(a, { tokens_cached: p.tokens + limit, timings: timings(p.tokens, limit) });
    return a;
  };
  if (!stream) {
    const answers = list.map(final);
    return x.reply.json(200, batch ? answers : answers[0]);
  }
  const events: string[] = [];
  words.forEach((w, k) => {
    list.forEach((p, index) => {
      const partial: Record<string, unknown> = { index, content: w, tokens: [], stop: false, id_slot: index };
      if (!omit) Object.assign(partial, { tokens_predicted: k + 1, tokens_evaluated: p.tokens });
      if (!omit && x.body.timings_per_token === true) partial.timings = timings(p.tokens, k + 1);
      events.push(sse(partial));
    });
  });
  list.forEach((p, index) => events.push(sse(final(p, index))));
  await x.reply.stream("text/event-stream", events, x.eventDelayMs);
}

/** POST /completion */
export async function llamaCompletion(x: Exchange): Promise<void> {
  const p = prompts(x.body.prompt);
  if (p === null) return llamaError(x, '"prompt" must be a string, a list of tokens, a list of mixed strings & tokens, or a list of prompts');
  await answer(x, p.list, p.batch);
}

/** POST /infill: one prompt made of the prefix, the suffix and the optional prompt. */
export async function llamaInfill(x: Exchange): Promise<void> {
  const parts = [x.body.input_prefix, x.body.input_suffix, x.body.prompt];
  if (parts.some((s) => s !== undefined && typeof s !== "string")) return llamaError(x, '"input_prefix", "input_suffix" and "prompt" must be strings');
  const text = parts.filter((s): s is string => typeof s === "string").join(" ");
  await answer(x, [{ text, tokens: countWords(text) }], false);
}
