// What an answer cost when it did not say (in full): the usage it reported plus an estimate, from
// bytes, of what it did not report. Never below what it reported.
//   input:  the reported input; none reported: ceil(request body bytes / REQUEST_BYTES_PER_TOKEN)
//   output: ceil(generated content bytes (decoded) / CONTENT_BYTES_PER_TOKEN) + OUTPUT_BASE_TOKENS
//           (0 when no content was seen),
//           or, for an answer with a content-encoding (unreadable), ceil(wire bytes /
//           ENCODED_*_BYTES_PER_TOKEN); a reported output count wins when the answer was complete,
//           and when it was cut (or encoded) the larger of the two counts (a cut Anthropic stream
//           reported output_tokens 1 at its start).
// The constants come from the corpus in tests/unit/estimate_corpus.ts (real requests and answers of
// OpenAI, Anthropic, Gemini and OpenAI-compatible servers, scripts/estimate-corpus.ts);
// docs/notes/response.md has the measurement. Each errs on the side of the quota.
import { ResponseReader } from "./response_reader";
import { TokenUsage } from "./token_usage";

/** Request body bytes per input token (text requests: median 7.7, 10th percentile ~2.5). */
export const REQUEST_BYTES_PER_TOKEN: i64 = 2;
/** Generated content bytes (decoded UTF-8) per output token (answers of 150+ tokens: median 3.95, 10th percentile 1.87). */
export const CONTENT_BYTES_PER_TOKEN: i64 = 2;
/** Output tokens no content byte stands for (tool-call framing, stop tokens), added once to an answer with content. */
export const OUTPUT_BASE_TOKENS: i64 = 16;
/** Wire bytes per output token of a compressed SSE stream (brotli of whole streams: 5th percentile 3.4). */
export const ENCODED_SSE_BYTES_PER_TOKEN: i64 = 3;
/** Wire bytes per output token of a compressed JSON answer (brotli: 5th percentile 2.0). */
export const ENCODED_JSON_BYTES_PER_TOKEN: i64 = 2;

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
  if (reader === null) return estimateFrom(requestBytes, new TokenUsage(), 0, 0, false, encoded, cut);
  return estimateFrom(requestBytes, reader.usage, reader.contentBytes, reader.bodyBytes, reader.sseHint, encoded, cut);
}

/** estimateUsage from the numbers a reader holds: what was reported, content and wire bytes, and the content type's hint. */
export function estimateFrom(requestBytes: i64, reported: TokenUsage, contentBytes: i64, bodyBytes: i64, sse: bool, encoded: bool, cut: bool): TokenUsage {
  const u = new TokenUsage();
  u.found = true;
  u.model = reported.model;
  u.hasInput = reported.hasInput;
  u.hasOutput = reported.hasOutput;
  u.input = reported.hasInput ? reported.input : ceilDiv(requestBytes, REQUEST_BYTES_PER_TOKEN);
  const estimated = encoded
    ? ceilDiv(bodyBytes, sse ? ENCODED_SSE_BYTES_PER_TOKEN : ENCODED_JSON_BYTES_PER_TOKEN)
    : (contentBytes > 0 ? ceilDiv(contentBytes, CONTENT_BYTES_PER_TOKEN) + OUTPUT_BASE_TOKENS : 0);
  if (!reported.hasOutput) u.output = estimated;
  else if (cut || encoded) u.output = reported.output > estimated ? reported.output : estimated;
  else u.output = reported.output;
  return u;
}
