// SGLang's native API in the mock (POST /generate, /encode), shaped as SGLang's http_server.py
// and its tokenizer manager send it, and as stingily:
//   /generate  JSON: {text, meta_info {id, finish_reason {type: "length", length}, prompt_tokens,
//              completion_tokens, cached_tokens, e2e_latency}}; `text` (or `input_ids`) given as a
//              list is a batch: a JSON array of such answers, one per prompt, in order
//   stream     (`"stream": true`) SSE, `data:` lines only: one event per generated token, each the
//              whole answer so far (cumulative `text`, meta_info with running `completion_tokens`,
//              `finish_reason` null until the last); then `data: [DONE]`. A batch's events
//              interleave, each with the `index` of its prompt
//   /encode    {embedding: […], meta_info {id, finish_reason null, prompt_tokens, e2e_latency}}
//              (no output side); a list of texts answers an array
// The mock serves TGI's /generate on the same path: a body with `inputs` is TGI's (mock-tgi.ts),
// any other SGLang's. Tokens (mock-usage.ts): input = words of each text
// (token ids count one each); output = `sampling_params.max_new_tokens`, else 128 (SGLang's
// SamplingParams default). Errors: `{"error": {"message"}}` with 400, as _create_error_response
// writes them. Directives (mock-wire.ts): +no-usage / x-mock-usage: omit drops the counts from
// meta_info; x-mock-cut-after: N cuts a stream after N events.
import type { Exchange } from "./mock-upstream";
import { countWords, isObject, outputLimit, replyWords } from "./mock-usage";
import { sse } from "./mock-wire";

/** SamplingParams.max_new_tokens's default (python/sglang/srt/sampling/sampling_params.py). */
export const SGLANG_DEFAULT_NEW_TOKENS = 128;

function sglangError(x: Exchange, message: string): void {
  x.reply.json(400, { error: { message } });
}

/** The prompts of a request (`text`, else `input_ids`), as word counts, and whether it is a batch. */
function prompts(body: Record<string, unknown>): { inputs: number[]; batch: boolean } | null {
  const text = body.text;
  if (typeof text === "string") return { inputs: [countWords(text)], batch: false };
  if (Array.isArray(text) && text.length > 0 && text.every((t) => typeof t === "string")) return { inputs: (text as string[]).map(countWords), batch: true };
  const ids = body.input_ids;
  if (Array.isArray(ids) && ids.length > 0 && ids.every((t) => typeof t === "number")) return { inputs: [ids.length], batch: false };
  if (Array.isArray(ids) && ids.length > 0 && ids.every((t) => Array.isArray(t) && t.every((n) => typeof n === "number"))) return { inputs: (ids as number[][]).map((t) => t.length), batch: true };
  return null;
}

function meta(x: Exchange, i: number, input: number, output: number, done: boolean, embedding = false): Record<string, unknown> {
  const m: Record<string, unknown> = { id: x.id("sglang-") + (i > 0 ? `-${i}` : ""), finish_reason: done && !embedding ? { type: "length", length: output } : null };
  if (!x.reply.directives.omitUsage) {
    m.prompt_tokens = input;
    if (!embedding) {
      m.completion_tokens = output;
      m.cached_tokens = 0;
    }
  }
  if (done) m.e2e_latency = 0.01 * (1 + output);
  return m;
}

/** POST /generate (SGLang's: the body has no TGI `inputs`). */
export async function sglangGenerate(x: Exchange): Promise<void> {
  const p = prompts(x.body);
  if (p === null) return sglangError(x, "Either text, input_ids or input_embeds should be provided.");
  const params = isObject(x.body.sampling_params) ? x.body.sampling_params : {};
  const limit = outputLimit(params, ["max_new_tokens"], SGLANG_DEFAULT_NEW_TOKENS);
  if (typeof limit !== "number") return sglangError(x, limit === null ? "max_new_tokens required" : limit.message);
  const words = replyWords(limit);
  if (x.body.stream !== true) {
    const answers = p.inputs.map((input, i) => ({ text: words.join(" "), meta_info: meta(x, i, input, limit, true) }));
    return x.reply.json(200, p.batch ? answers : answers[0]);
  }
  // Token k of every prompt, then token k + 1: the scheduler runs the batch's requests together.
  const events: string[] = [];
  for (let k = 1; k <= limit; k++) {
    p.inputs.forEach((input, i) => {
      const event: Record<string, unknown> = { text: words.slice(0, k).join(" "), meta_info: meta(x, i, input, k, k === limit) };
      if (p.batch) event.index = i;
      events.push(sse(event));
    });
  }
  events.push(sse("[DONE]"));
  await x.reply.stream("text/event-stream", events, x.eventDelayMs);
}

/** POST /encode: one embedding per text. */
export function sglangEncode(x: Exchange): void {
  const p = prompts(x.body);
  if (p === null) return sglangError(x, "Either text, input_ids or input_embeds should be provided.");
  const answers = p.inputs.map((input, i) => ({ embedding: [0.01, -0.02, 0.03], meta_info: meta(x, i, input, 0, true, true) }));
  x.reply.json(200, p.batch ? answers : answers[0]);
}
