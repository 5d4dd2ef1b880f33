// How many tokens to reserve for a request in `max_tokens` mode: an estimate of the prompt from the
// body's size plus the most the model may write (the request's own output limit, or the
// configured fallback when it names none) for every choice it asks for, capped. A body that could
// not be read as the upstream reads it reserves the cap: the reservation fails closed.
//
// The facts come from the streaming reader (request/reader.ts): nothing here holds the body.
import { RequestBodyReader, readRequestFacts } from "../request/reader";
import { RequestFacts } from "../request/facts";
import { Weights } from "./weights";
import { outputLimitOr } from "./estimate_bounds";

/** The prompt is estimated as one token per this many bytes of the whole request body. */
export const BYTES_PER_TOKEN: i64 = 4;
/** The largest reservation the admission scripts accept (their arithmetic stays exact below 2^53). */
export const RESERVATION_LIMIT: i64 = (<i64>1 << 50) - 1;
/** `reservation.cap` when not configured. */
export const DEFAULT_RESERVATION_CAP: i64 = 1_000_000_000_000;

/** A prompt of this many body bytes: its token estimate (never below 0). */
export function promptEstimate(bytes: i64): i64 {
  if (bytes <= 0) return 0;
  return bytes / BYTES_PER_TOKEN + (bytes % BYTES_PER_TOKEN != 0 ? 1 : 0);
}

/** The estimate in two parts, for a caller that weights input and output apart. */
export class ReservationEstimate {
  constructor(
    /** Prompt tokens estimated from the body's bytes. */
    public input: i64,
    /** The output limit (or the fallback) times the choices, saturating. */
    public output: i64,
    /** The body could not be read (not one valid object, or an unreadable limit): reserve the cap. */
    public atCap: bool,
  ) {}
}

export function estimateFor(facts: RequestFacts, fallbackOutput: i64): ReservationEstimate {
  if (!facts.complete || facts.outputLimitUnreadable) return new ReservationEstimate(0, 0, true);
  const limit = outputLimitOr(facts, fallbackOutput);
  const choices = facts.choices > 1 ? facts.choices : 1;
  return new ReservationEstimate(promptEstimate(facts.bytes), mulSaturating(limit, choices), false);
}

/**
 * The reservation in tokens for the body the reader has read (finish() called): prompt estimate +
 * output limit × choices, at most `cap` (itself kept within [1, RESERVATION_LIMIT]); the cap itself
 * when the body could not be read, or there was none.
 */
export function reservationFor(body: RequestBodyReader | null, fallbackOutput: i64, cap: i64, weights: Weights | null = null): i64 {
  if (body === null) return clampCap(cap);
  return reservationForFacts(body.facts, fallbackOutput, cap, weights);
}

/**
 * reservationFor from the facts alone. With `weights` the amount is in the units the balance is
 * charged in: both parts weighted as the request's model (the answer's model, known later, decides
 * the charge), rounded up; `cap` and the unreadable-body reservation are units too.
 */
export function reservationForFacts(facts: RequestFacts, fallbackOutput: i64, cap: i64, weights: Weights | null = null): i64 {
  const most = clampCap(cap);
  const e = estimateFor(facts, fallbackOutput);
  if (e.atCap) return most;
  const total = weights === null || weights.isIdentity() ? addSaturating(e.input, e.output) : weights.cost(facts.model, e.input, e.output);
  return total < most ? total : most;
}

/** A configured cap kept where the scripts accept it. */
export function clampCap(cap: i64): i64 {
  if (cap < 1) return 1;
  return cap > RESERVATION_LIMIT ? RESERVATION_LIMIT : cap;
}

/** reservationFor over a body already in memory (read with the streaming reader, no document built). */
export function reservationForBody(body: Uint8Array, fallbackOutput: i64, cap: i64): i64 {
  return reservationForFacts(readRequestFacts(body), fallbackOutput, cap);
}

function mulSaturating(a: i64, b: i64): i64 {
  if (a <= 0 || b <= 0) return 0;
  return a > i64.MAX_VALUE / b ? i64.MAX_VALUE : a * b;
}

function addSaturating(a: i64, b: i64): i64 {
  return a > i64.MAX_VALUE - b ? i64.MAX_VALUE : a + b;
}
