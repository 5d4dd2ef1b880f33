// What an answer cost when it did not say (in full): the usage it reported plus an estimate, from
// bytes, of what it did not report. Never below what it reported.
//   input:  the reported input; none reported: the request body's bytes / REQUEST_BYTES_PER_TOKEN
//   output: from the generated content's decoded bytes / CONTENT_BYTES_PER_TOKEN, or, for an answer
//           with a content-encoding (unreadable), from its wire bytes / ENCODED_*_BYTES_PER_TOKEN;
//           a reported output count wins when the answer was complete, and when it was cut the
//           larger of the two counts (a cut Anthropic stream reported output_tokens 1 at its start).
// The constants come from the corpus in tests/unit/estimate_corpus.ts (docs/notes/response.md has
// the measurement): each is rounded so that the estimate errs on the side of the quota.
import { ResponseReader } from "./reader";
import { TokenUsage } from "./token_usage";

/** Request body bytes per input token. */
export const REQUEST_BYTES_PER_TOKEN: i64 = 3;
/** Generated content bytes (decoded UTF-8) per output token. */
export const CONTENT_BYTES_PER_TOKEN: i64 = 2;
/** Wire bytes per output token of a compressed SSE stream. */
export const ENCODED_SSE_BYTES_PER_TOKEN: i64 = 8;
/** Wire bytes per output token of a compressed JSON answer. */
export const ENCODED_JSON_BYTES_PER_TOKEN: i64 = 1;

@inline
function ceilDiv(n: i64, d: i64): i64 {
  if (n <= 0) return 0;
  return n / d + (n % d != 0 ? 1 : 0);
}

/**
 * The usage to charge for an answer whose usage is missing or partial. requestBytes: the request
 * body's size; reader: what was read of the answer (null: nothing); encoded: the answer had a
 * content-encoding the plugin cannot read; cut: the answer did not end normally (reset, cut, no
 * end of stream).
 */
export function estimateUsage(requestBytes: i64, reader: ResponseReader | null, encoded: bool, cut: bool): TokenUsage {
  const u = new TokenUsage();
  u.found = true;
  u.input = ceilDiv(requestBytes, REQUEST_BYTES_PER_TOKEN);
  if (reader === null) return u;
  const r = reader.usage;
  u.model = r.model;
  u.hasInput = r.hasInput;
  u.hasOutput = r.hasOutput;
  if (r.hasInput) u.input = r.input;
  const estimated = encoded
    ? ceilDiv(reader.bodyBytes, reader.sseHint ? ENCODED_SSE_BYTES_PER_TOKEN : ENCODED_JSON_BYTES_PER_TOKEN)
    : ceilDiv(reader.contentBytes, CONTENT_BYTES_PER_TOKEN);
  if (!r.hasOutput) u.output = estimated;
  else if (cut || encoded) u.output = r.output > estimated ? r.output : estimated;
  else u.output = r.output;
  return u;
}
