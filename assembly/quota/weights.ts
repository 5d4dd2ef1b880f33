// Cost weights: how many quota units a model's input and output tokens cost. Weights are kept as
// integers in millionths so that the charge is exact and rounds up the same way everywhere.
import { JsonType, JsonValue } from "../json/parser";
import { asciiLower } from "../util/text";

const SCALE: i64 = 1_000_000;

export class Weight {
  constructor(public inputMicros: i64, public outputMicros: i64) {}
}

/**
 * A `weights.models` entry that is not matched exactly: a name (matching the names it begins) or a
 * pattern with `*` (any run of characters). The longest literal text wins among those that match.
 */
class ModelPattern {
  /** The literal pieces between the stars; a plain name is one piece followed by a star. */
  parts: Array<string>;
  specificity: i32 = 0;
  anchoredStart: bool;
  anchoredEnd: bool;

  constructor(public name: string, public weight: Weight) {
    const star = name.includes("*");
    this.parts = star ? name.split("*") : [name];
    for (let i = 0; i < this.parts.length; i++) this.specificity += this.parts[i].length;
    this.anchoredStart = !star || !name.startsWith("*");
    this.anchoredEnd = star && !name.endsWith("*");
  }

  /** Glob match of `model` (already lower case): the pieces in order, greedy leftmost. */
  matches(model: string): bool {
    const parts = this.parts;
    const last = parts.length - 1;
    let pos = 0;
    for (let i = 0; i <= last; i++) {
      const part = parts[i];
      if (part.length == 0) continue;
      if (i == 0 && this.anchoredStart) {
        if (!model.startsWith(part)) return false;
        pos = part.length;
      } else if (i == last && this.anchoredEnd) {
        return model.length - part.length >= pos && model.endsWith(part);
      } else {
        const at = model.indexOf(part, pos);
        if (at < 0) return false;
        pos = at + part.length;
      }
    }
    return !this.anchoredEnd || pos == model.length;
  }
}

export class Weights {
  /** What a model that matches no entry costs (1 and 1 unless `weights.default` says otherwise). */
  defaultWeight: Weight = new Weight(SCALE, SCALE);
  /** Entries by lower-case name, for exact matches. */
  models: Map<string, Weight> = new Map<string, Weight>();
  /** Every entry again, as a prefix or `*` pattern, in config order. */
  patterns: Array<ModelPattern> = new Array<ModelPattern>();

  /** True when every charge is input + output, as in Higress. */
  isIdentity(): bool {
    return this.models.size == 0 && this.defaultWeight.inputMicros == SCALE && this.defaultWeight.outputMicros == SCALE;
  }

  /**
   * The weight of a model name, compared without regard to ASCII case: the entry named exactly;
   * else the matching entry (a name the model begins with, or a `*` pattern) with the longest
   * literal text, the first listed on a tie; else the default weight. "gpt-4o-2024-08-06" gets
   * "gpt-4o"'s weight unless it (or a longer match such as "gpt-4o-2024*") is listed.
   */
  weightFor(model: string): Weight {
    if (model.length == 0 || this.models.size == 0) return this.defaultWeight;
    const name = asciiLower(model);
    if (this.models.has(name)) return this.models.get(name);
    let best: ModelPattern | null = null;
    const patterns = this.patterns;
    for (let i = 0; i < patterns.length; i++) {
      const p = patterns[i];
      if ((best === null || p.specificity > best.specificity) && p.matches(name)) best = p;
    }
    return best === null ? this.defaultWeight : best.weight;
  }

  /**
   * The units to charge, rounded up; saturates at i64.MAX_VALUE rather than wrapping. `model` is
   * the model the answer reports; when it names none, `requested` (the request's `model`) is used.
   */
  cost(model: string, input: i64, output: i64, requested: string = ""): i64 {
    const w = this.weightFor(model.length > 0 ? model : requested);
    return ceilDiv(addSat(mulSat(input, w.inputMicros), mulSat(output, w.outputMicros)), SCALE);
  }
}

function mulSat(a: i64, b: i64): i64 {
  if (a <= 0 || b <= 0) return 0;
  if (a > i64.MAX_VALUE / b) return i64.MAX_VALUE;
  return a * b;
}

function addSat(a: i64, b: i64): i64 {
  return a > i64.MAX_VALUE - b ? i64.MAX_VALUE : a + b;
}

function ceilDiv(a: i64, b: i64): i64 {
  return a == i64.MAX_VALUE ? i64.MAX_VALUE / b : (a + b - 1) / b;
}

export class WeightsResult {
  constructor(public weights: Weights | null, public error: string) {}
}

/**
 * Parses `{default: {input, output}, models: {name: {input, output}}}`; a name may hold `*`
 * (`gpt-4o*`, `claude-*-sonnet*`) and also matches the names it begins (see Weights.weightFor).
 */
export function parseWeights(v: JsonValue): WeightsResult {
  if (v.type != JsonType.Object) return new WeightsResult(null, "weights must be an object");
  const w = new Weights();
  const d = v.get("default");
  if (d !== null && d.type != JsonType.Null) {
    const r = parseWeight(d, "weights.default");
    if (r.weight === null) return new WeightsResult(null, r.error);
    w.defaultWeight = r.weight!;
  }
  const models = v.get("models");
  if (models !== null && models.type != JsonType.Null) {
    if (models.type != JsonType.Object) return new WeightsResult(null, "weights.models must be an object");
    for (let i = 0; i < models.keys.length; i++) {
      const key = models.keys[i];
      const field = "weights.models." + key;
      const r = parseWeight(models.values[i], field);
      if (r.weight === null) return new WeightsResult(null, r.error);
      const name = asciiLower(key);
      if (name.length == 0 || onlyStars(name)) return new WeightsResult(null, field + ": a model name or pattern needs some text besides '*'");
      if (w.models.has(name)) return new WeightsResult(null, field + " is listed twice (names are compared without regard to case)");
      w.models.set(name, r.weight!);
      w.patterns.push(new ModelPattern(name, r.weight!));
    }
  }
  return new WeightsResult(w, "");
}

class WeightResult {
  constructor(public weight: Weight | null, public error: string) {}
}

function parseWeight(v: JsonValue, field: string): WeightResult {
  if (v.type != JsonType.Object) return new WeightResult(null, field + " must be an object with input and output");
  const input = micros(v.get("input"));
  const output = micros(v.get("output"));
  if (input < 0) return new WeightResult(null, field + ".input must be a number from 0 to 1000000 with at most 6 decimals");
  if (output < 0) return new WeightResult(null, field + ".output must be a number from 0 to 1000000 with at most 6 decimals");
  return new WeightResult(new Weight(input, output), "");
}

/** A weight in millionths, read from the number's text (no float rounding); 1 when absent; -1 when invalid. */
function micros(v: JsonValue | null): i64 {
  if (v === null) return SCALE;
  if (v.type != JsonType.Number) return -1;
  const text = v.numberText;
  let whole: i64 = 0;
  let frac: i64 = 0;
  let fracDigits = 0;
  let seenDot = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x2e && !seenDot) { seenDot = true; continue; }
    if (c < 0x30 || c > 0x39) return -1; // sign or exponent
    if (seenDot) {
      if (++fracDigits > 6) return -1;
      frac = frac * 10 + (c - 0x30);
    } else {
      whole = whole * 10 + (c - 0x30);
      if (whole > 1_000_000) return -1;
    }
  }
  for (let i = fracDigits; i < 6; i++) frac *= 10;
  return whole * SCALE + frac;
}

/** Empty, or nothing but `*`. */
function onlyStars(name: string): bool {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) != 0x2a) return false;
  return true;
}
