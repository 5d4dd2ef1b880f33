// Cost weights: how many quota units a model's input and output tokens cost. Weights are kept as
// integers in millionths so that the charge is exact and rounds up the same way everywhere.
import { JsonType, JsonValue } from "../json/parser";

const SCALE: i64 = 1_000_000;

export class Weight {
  constructor(public inputMicros: i64, public outputMicros: i64) {}
}

export class Weights {
  defaultWeight: Weight = new Weight(SCALE, SCALE);
  models: Map<string, Weight> = new Map<string, Weight>();

  /** True when every charge is input + output, as in Higress. */
  isIdentity(): bool {
    return this.models.size == 0 && this.defaultWeight.inputMicros == SCALE && this.defaultWeight.outputMicros == SCALE;
  }

  /** The units to charge, rounded up; saturates at i64.MAX_VALUE rather than wrapping. */
  cost(model: string, input: i64, output: i64): i64 {
    const w = this.models.has(model) ? this.models.get(model) : this.defaultWeight;
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

/** Parses `{default: {input, output}, models: {name: {input, output}}}`. */
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
      const r = parseWeight(models.values[i], "weights.models." + models.keys[i]);
      if (r.weight === null) return new WeightsResult(null, r.error);
      w.models.set(models.keys[i], r.weight!);
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
