// How many tokens to reserve for a request in `max_tokens` mode: the most the model may write
// (the request's own limit, under any of the names the APIs use) plus an estimate of the prompt.
import { JsonType, JsonValue, parseJson } from "../json/parser";
import { addChecked } from "../util/int64";

/** Output limits by API: OpenAI chat (both names), Responses, Anthropic; Gemini nests its own. */
const LIMIT_KEYS: Array<string> = ["max_completion_tokens", "max_tokens", "max_output_tokens"];

/**
 * Prompt tokens are estimated as one per 4 bytes of the whole request body. JSON syntax and
 * field names make that an over-estimate for short prompts, which errs on the side of the quota.
 */
const BYTES_PER_TOKEN: i64 = 4;

export function reservationFor(body: Uint8Array, fallbackOutput: i64): i64 {
  const prompt = (<i64>body.length + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN;
  const total = addChecked(prompt, outputLimit(body, fallbackOutput));
  return total.ok ? total.value : i64.MAX_VALUE;
}

function outputLimit(body: Uint8Array, fallback: i64): i64 {
  if (body.length == 0) return fallback;
  const parsed = parseJson(body, 32);
  const root = parsed.value;
  if (root === null || root.type != JsonType.Object) return fallback;
  for (let i = 0; i < LIMIT_KEYS.length; i++) {
    const n = positiveInteger(root.get(LIMIT_KEYS[i]));
    if (n > 0) return n;
  }
  const generation = root.get("generationConfig");
  if (generation !== null) {
    const n = positiveInteger(generation.get("maxOutputTokens"));
    if (n > 0) return n;
  }
  return fallback;
}

function positiveInteger(v: JsonValue | null): i64 {
  if (v === null || v.type != JsonType.Number || !v.isInteger()) return 0;
  const n = v.asI64();
  return n > 0 ? n : 0;
}
