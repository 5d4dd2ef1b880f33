// How many tokens to reserve for a request in `max_tokens` mode: the most the model may write
// (the request's own limit) plus an estimate of the prompt.
// PLACEHOLDER API until the "request" helper's estimate lands.
import { addChecked } from "../util/int64";
import { RequestBodyReader } from "./request_body";

/** Prompt tokens are estimated as one per 4 bytes of the whole request body. */
const BYTES_PER_TOKEN: i64 = 4;

export function reservationFor(body: RequestBodyReader | null, fallbackOutput: i64): i64 {
  if (body === null) return fallbackOutput;
  const facts = body.facts;
  const prompt = (facts.bytes + BYTES_PER_TOKEN - 1) / BYTES_PER_TOKEN;
  const output = facts.outputLimit > 0 ? facts.outputLimit : fallbackOutput;
  const total = addChecked(prompt, output);
  return total.ok ? total.value : i64.MAX_VALUE;
}
