// What the request itself says an estimated charge can be, applied after the estimate
// (usage/estimate.ts) and never below what the answer reported:
//   - output: at most the request's output limit (max_tokens, max_completion_tokens,
//     max_output_tokens, generationConfig.maxOutputTokens; the native APIs' own: TGI's and SGLang's
//     max_new_tokens, llama.cpp's n_predict, Ollama's options.num_predict, Converse's
//     inferenceConfig.maxTokens: request/ reads each as its upstream does) × its choices (n,
//     best_of, candidateCount, the prompts of a batch). No model writes more than that, so an
//     estimate above it would charge an honest client for tokens that cannot exist. A request some
//     upstream reads as having no limit (-1, a spelling only some read) is not capped.
//   - input: a stateful request (previous_response_id, conversation) carries server-side context
//     the body does not show, so its input is at least `stateful_input_tokens` (docs/metering.md).
import { TokenUsage } from "../usage/token_usage";
import { RequestFacts } from "../request/facts";

/** Bounds `estimate` in place. reported: the usage the answer reported (null: none). */
export function boundEstimate(estimate: TokenUsage, reported: TokenUsage | null, facts: RequestFacts | null, statefulInputTokens: i64): void {
  if (facts === null) return;
  const most = outputAllowed(facts);
  if (most >= 0) {
    const floor = reported !== null && reported.hasOutput ? reported.output : 0;
    const cap = most > floor ? most : floor;
    if (estimate.output > cap) estimate.output = cap;
  }
  if (facts.stateful && (reported === null || !reported.hasInput) && estimate.input < statefulInputTokens) {
    estimate.input = statefulInputTokens;
  }
}

/** limit × choices when the request states a limit the upstream reads as we do; -1 otherwise. */
export function outputAllowed(facts: RequestFacts): i64 {
  if (facts.outputLimit <= 0 || facts.outputUnbounded || facts.outputLimitUnreadable || !facts.complete) return -1;
  const choices = facts.choices > 1 ? facts.choices : 1;
  return facts.outputLimit > i64.MAX_VALUE / choices ? i64.MAX_VALUE : facts.outputLimit * choices;
}

/**
 * The output limit a reservation (or a background call's charge) assumes, before choices: the
 * request's limit; `fallback` when it names none; the larger of both when some upstream reads the
 * request as having no limit.
 */
export function outputLimitOr(facts: RequestFacts, fallback: i64): i64 {
  const most = fallback > 0 ? fallback : 0;
  if (facts.outputLimit <= 0) return most;
  if (facts.outputUnbounded && most > facts.outputLimit) return most;
  return facts.outputLimit;
}
