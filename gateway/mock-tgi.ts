// Hugging Face text-generation-inference's native API in the mock (POST /generate,
// /generate_stream), shaped as TGI's router (router/src/server.rs, lib.rs) sends it, and as
// stingily:
//   /generate         GenerateResponse {generated_text}; `details` {finish_reason, generated_tokens,
//                     seed, prefill, tokens} only when `parameters.details` or
//                     `parameters.decoder_input_details` is true, and `prefill` (one entry per
//                     prompt token, the only input count TGI gives) filled only with
//                     `decoder_input_details: true`, else []
//   /generate_stream  SSE, `data:` lines only (no `event:`): one StreamResponse {index, token {id,
//                     text, logprob, special}, generated_text: null, details: null} per token; the
//                     last carries `generated_text` and, only with `parameters.details: true`,
//                     `details` {finish_reason, generated_tokens, seed} (no input count);
//                     `decoder_input_details` on a stream is TGI's validation error, sent as an
//                     SSE `{"error", "error_type"}` event
// Tokens (mock-usage.ts): input = words of `inputs`; output = `parameters.max_new_tokens`, else 20
// (TGI's default), finish_reason "length". Errors: `{"error", "error_type"}`, 422 for validation.
// Directives (mock-wire.ts): +no-usage drops `details`; +cut=N cuts a stream after N events.
import type { Exchange } from "./mock-upstream";
import { countWords, isObject, outputLimit, replyText, replyWords } from "./mock-usage";
import { sse } from "./mock-wire";

/** TGI's max_new_tokens default (router/src/lib.rs default_max_new_tokens). */
export const TGI_DEFAULT_NEW_TOKENS = 20;
const TOKEN_ID = 29880;

function tgiError(x: Exchange, status: number, message: string): void {
  x.reply.json(status, { error: message, error_type: "validation" });
}

interface TgiRequest {
  input: number;
  limit: number;
  details: boolean;
  decoderInput: boolean;
}

function request(x: Exchange): TgiRequest | null {
  if (typeof x.body.inputs !== "string") {
    tgiError(x, 422, "Failed to deserialize the JSON body into the target type: missing field `inputs`");
    return null;
  }
  const p = isObject(x.body.parameters) ? x.body.parameters : {};
  const limit = outputLimit(p, ["max_new_tokens"], TGI_DEFAULT_NEW_TOKENS);
  if (typeof limit !== "number" || limit === 0) {
    tgiError(x, 422, typeof limit === "number" || limit === null ? "Input validation error: `max_new_tokens` must be strictly positive" : limit.message);
    return null;
  }
  return { input: countWords(x.body.inputs), limit, details: p.details === true, decoderInput: p.decoder_input_details === true };
}

const token = (text: string) => ({ id: TOKEN_ID, text, logprob: -0.1, special: false });

/** POST /generate */
export function tgiGenerate(x: Exchange): void {
  const r = request(x);
  if (r === null) return;
  const answer: Record<string, unknown> = { generated_text: replyText(r.limit) };
  if ((r.details || r.decoderInput) && !x.reply.directives.omitUsage) {
    const prefill = r.decoderInput ? Array.from({ length: r.input }, (_, i) => ({ id: 100 + i, text: "w", logprob: i === 0 ? null : -1.5 })) : [];
    const tokens = replyWords(r.limit).map((w, i) => token(i === 0 ? w : " " + w));
    answer.details = { finish_reason: "length", generated_tokens: r.limit, seed: null, prefill, tokens };
  }
  x.reply.json(200, answer);
}

/** POST /generate_stream */
export async function tgiGenerateStream(x: Exchange): Promise<void> {
  const r = request(x);
  if (r === null) return;
  if (r.decoderInput) {
    return x.reply.stream("text/event-stream", [sse({ error: "`decoder_input_details` == true is not supported when streaming tokens", error_type: "validation" })], 0);
  }
  const words = replyWords(r.limit).map((w, i) => (i === 0 ? w : " " + w));
  const events = words.map((w, i) => {
    const last = i === words.length - 1;
    const details = last && r.details && !x.reply.directives.omitUsage ? { finish_reason: "length", generated_tokens: r.limit, seed: null } : null;
    return sse({ index: i + 1, token: token(w), generated_text: last ? words.join("") : null, details });
  });
  await x.reply.stream("text/event-stream", events, x.eventDelayMs);
}
