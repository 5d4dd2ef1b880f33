// What an answer cost when it did not say (in full): the usage it reported plus an estimate, from
// bytes, of what it did not report. Never below what it reported.
//   input:  the reported input; none reported: ceil(request body bytes / REQUEST_BYTES_PER_TOKEN)
//   output: ceil(generated content bytes (decoded) × OUTPUT_RATES[group] / 1000) + OUTPUT_BASES[group]
//           for the answer's group (API family, the request declared tools; 0 when no content was
//           seen; the bytes of 3- and 4-byte characters at WIDE_RATE at least), plus ceil(audio base64 characters / AUDIO_BASE64_PER_TOKEN); with a reported
//           output count, that count, plus (for a cut
//           answer) the same estimate of the content read after it, which it cannot cover (a cut
//           Anthropic stream reported output_tokens 1 at its start; OpenAI's final usage event
//           covers everything before it),
//           or, for an answer with a content-encoding (unreadable), ceil(wire bytes /
//           ENCODED_*_BYTES_PER_TOKEN) — or a reported count if larger. Never below what was reported.
// The constants come from the corpus in tests/unit/estimate_corpus.ts (real requests and answers of
// OpenAI, Anthropic, Gemini and OpenAI-compatible servers, scripts/estimate-corpus.ts);
// docs/metering.md ("Measured error") has the measurement. Each errs on the side of the quota.
import { addSaturating } from "../util/int64";
import { ResponseReader } from "./response_reader";
import { TokenUsage } from "./token_usage";
import { API_CHAT, API_GEMINI } from "./text_estimate";

/** Request body bytes per input token (text requests: median 7.7, 10th percentile ~2.5). */
export const REQUEST_BYTES_PER_TOKEN: i64 = 2;
// The output estimate per group: the API family (usage/text_estimate.ts API_*) × 2, + 1 when the
// request declared tools (a tool call's name, id and framing are tokens no content byte stands
// for). Fitted on the corpus (scripts/output-fit.ts): per group, the rate of content bytes per
// token between 2 and 4 (never more than English text's median, 3.95) with the lowest median
// error, and the base the 87th percentile of what that rate falls short by, on half of the
// answers (split by a hash of their source), checked on the other half; a group with tools never
// has a smaller base than its family without. Anthropic's tokenizer gives more tokens per byte
// (2.5 bytes a token); the others about 4.
/** Milli-tokens per content byte (decoded UTF-8), per group. */
const OUTPUT_RATES: StaticArray<i64> = [250, 250, 400, 400, 250, 250, 250, 250];
/** Output tokens no content byte stands for (framing, tool calls, stop tokens), added once to an answer with content, per group. */
const OUTPUT_BASES: StaticArray<i64> = [9, 67, 5, 49, 5, 59, 14, 14];
/**
 * Milli-tokens per byte of a 3- or 4-byte UTF-8 character at least (a CJK character, 3 bytes, a
 * token; an emoji 1.33), as the input estimate counts them (text_estimate.ts): the groups' rates
 * are English's, and CJK is denser. Not fitted: the corpus has almost no such answers.
 */
export const WIDE_RATE: i64 = 333;
// Audio output (OpenAI chat's choices[].delta.audio.data / .message.audio.data, Responses'
// response.audio.delta): OpenAI bills assistant audio at 1 token per 50 ms
// (developers.openai.com/api/docs/guides/realtime-costs, "Per-Response costs"), and streamed audio
// is pcm16: 24 kHz, 16-bit, mono, 48,000 bytes a second, 64,000 characters of base64. The same rate
// for wav (pcm16 in a container); mp3, flac and opus carry the same second in fewer bytes, so
// their audio is estimated low (docs/metering.md).
/** Base64 characters of generated audio per output token (64,000 a second / 20 tokens a second). */
export const AUDIO_BASE64_PER_TOKEN: i64 = 3200;
/** Wire bytes per output token of a compressed SSE stream (brotli of whole streams: 5th percentile 3.4). */
export const ENCODED_SSE_BYTES_PER_TOKEN: i64 = 3;
/** Wire bytes per output token of a compressed JSON answer (brotli: 5th percentile 2.0). */
export const ENCODED_JSON_BYTES_PER_TOKEN: i64 = 2;

/**
 * Output tokens for content bytes no count covers (wide: those of 3- and 4-byte characters), in an
 * answer of this family (API_*) to a request with or without tools.
 */
export function contentEstimate(bytes: i64, wide: i64, family: i32, tools: bool): i64 {
  if (bytes <= 0) return 0;
  const g = (family >= API_CHAT && family <= API_GEMINI ? family : API_CHAT) * 2 + (tools ? 1 : 0);
  const LIMIT: i64 = (<i64>1) << 52; // × the largest rate stays below 2^62
  const n = bytes > LIMIT ? LIMIT : bytes;
  const w = wide <= 0 ? 0 : wide > n ? n : wide;
  const rate = unchecked(OUTPUT_RATES[g]);
  const wideRate = rate > WIDE_RATE ? rate : WIDE_RATE;
  return ceilDiv((n - w) * rate + w * wideRate, 1000) + unchecked(OUTPUT_BASES[g]);
}

/** The rate and base of a group (for tests). */
export function outputConstants(group: i32): StaticArray<i64> {
  const g = group >= 0 && group < 8 ? group : 0;
  return [unchecked(OUTPUT_RATES[g]), unchecked(OUTPUT_BASES[g])];
}

@inline
function ceilDiv(n: i64, d: i64): i64 {
  if (n <= 0) return 0;
  return n / d + (n % d != 0 ? 1 : 0);
}

/**
 * The usage to charge for an answer whose usage is missing or partial. inputEstimate: the
 * request's input tokens as estimated from its text (usage/text_estimate.ts); reader: what was read of the answer (null: nothing); encoded: the answer had a
 * content-encoding the plugin cannot read; cut: the answer did not end normally (reset, cut, no
 * end of stream); family: the route's API family (usage/text_estimate.ts API_*); tools: the request
 * declared tools (TextCounts.tools).
 */
export function estimateUsage(inputEstimate: i64, reader: ResponseReader | null, encoded: bool, cut: bool, family: i32, tools: bool): TokenUsage {
  if (reader === null) return estimateFrom(inputEstimate, new TokenUsage(), 0, 0, 0, false, encoded, cut, family, tools, 0, 0);
  return estimateFrom(inputEstimate, reader.usage, reader.contentBytes, reader.contentAfterOutput, reader.bodyBytes, reader.sseHint, encoded, cut, family, tools, reader.audioBytes, reader.contentWide);
}

/** The input estimate of a body known only by its size (no text counts): ceil(bytes / REQUEST_BYTES_PER_TOKEN). */
export function bytesInputEstimate(requestBytes: i64): i64 {
  return ceilDiv(requestBytes, REQUEST_BYTES_PER_TOKEN);
}

/**
 * estimateUsage from the numbers a reader holds: what was reported, content bytes (all, and those
 * after the last reported output count), wire bytes, the content type's hint, and audio's base64
 * characters (counted only when no output count was reported: a count covers its answer's audio),
 * and of the content bytes those of 3- and 4-byte characters (contentWide).
 */
export function estimateFrom(inputEstimate: i64, reported: TokenUsage, contentBytes: i64, contentAfterOutput: i64, bodyBytes: i64, sse: bool, encoded: bool, cut: bool, family: i32, tools: bool, audioBytes: i64, contentWide: i64): TokenUsage {
  const u = new TokenUsage();
  u.found = true;
  u.model = reported.model;
  u.hasInput = reported.hasInput;
  u.hasOutput = reported.hasOutput;
  u.input = reported.hasInput ? reported.input : inputEstimate;
  if (encoded) {
    const wire = ceilDiv(bodyBytes, sse ? ENCODED_SSE_BYTES_PER_TOKEN : ENCODED_JSON_BYTES_PER_TOKEN);
    u.output = reported.hasOutput && reported.output > wire ? reported.output : wire;
  } else if (!reported.hasOutput) {
    u.output = addSaturating(contentEstimate(contentBytes, contentWide, family, tools), ceilDiv(audioBytes, AUDIO_BASE64_PER_TOKEN));
  } else if (cut || reported.provisionalOutput) {
    // (a provisional count — Anthropic's message_start — covers nothing generated after it)
    u.output = addSaturating(reported.output, contentEstimate(contentAfterOutput, contentWide, family, tools)); // (as if the wide bytes came after it: never less)
  } else {
    u.output = reported.output;
  }
  return u;
}
