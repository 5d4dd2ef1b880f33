// Tiers (opt-in): named sets of windowed limits, and which consumer gets which. Without `tiers`
// every consumer has the top-level `limits` (and `balance`), as before.
//
// Which tier a request is in, first match wins:
//   1. `consumers: {name: tier}`: the operator's own word for a consumer;
//   2. the header named by `tier_header`, which an auth stage sets (e.g. a JWT claim mapped by
//      jwt-auth). It is read only where `x-mse-consumer` itself is trusted (identity.ts; a request
//      whose consumer header is ignored is anonymous and has no tier). Sent more than once, or
//      naming no configured tier: refused (401 ai-quota.bad_tier), never guessed — a client that
//      adds a second value beside the auth stage's, or spells a tier the operator did not write,
//      must not land in whichever tier a fallback would give;
//   3. `default_tier`; without one, the top-level `limits` and `balance`.
// Window counters are the consumer's, whatever the tier (keys.ts names them by window, not tier):
// a consumer moved to another tier keeps what it used in the current windows.
import { JsonType, JsonValue } from "../json/parser";
import { Limit, parseLimits } from "./windows";

export class Tier {
  constructor(public name: string, public limits: Array<Limit>, public useBalance: bool) {}
}

export class Tiers {
  /** Configured tiers, in config order. */
  list: Array<Tier> = new Array<Tier>();
  /** consumer name → tier (`consumers`). */
  consumers: Map<string, Tier> = new Map<string, Tier>();
  /** `default_tier`, or null: the top-level limits. */
  fallback: Tier | null = null;
  /** `tier_header`, lower case; "" when no header names a tier. */
  header: string = "";
  /** The same, encoded for the header walk (null: not read). */
  headerBytes: ArrayBuffer | null = null;

  get enabled(): bool {
    return this.list.length > 0;
  }

  byName(name: string): Tier | null {
    for (let i = 0; i < this.list.length; i++) if (this.list[i].name == name) return this.list[i];
    return null;
  }
}

export enum TierVerdict {
  /** `tier` is the request's tier (null: the top-level limits). */
  Chosen,
  /** The header was sent more than once. */
  Repeated,
  /** The header names no configured tier. */
  Unknown,
}

export class TierChoice {
  constructor(public verdict: TierVerdict, public tier: Tier | null) {}
}

const TOP_LEVEL_CHOICE = new TierChoice(TierVerdict.Chosen, null);

/**
 * The tier of `consumer`, whose request carried the tier header `headerCount` times (the value
 * `headerValue` when once); see the order above.
 */
export function tierOf(tiers: Tiers, consumer: string, headerCount: i32, headerValue: string): TierChoice {
  if (!tiers.enabled) return TOP_LEVEL_CHOICE;
  if (tiers.consumers.has(consumer)) return new TierChoice(TierVerdict.Chosen, tiers.consumers.get(consumer));
  if (tiers.header.length > 0 && headerCount > 0) {
    if (headerCount > 1) return new TierChoice(TierVerdict.Repeated, null);
    const t = tiers.byName(headerValue);
    if (t === null) return new TierChoice(TierVerdict.Unknown, null);
    return new TierChoice(TierVerdict.Chosen, t);
  }
  return new TierChoice(TierVerdict.Chosen, tiers.fallback);
}

/** The limits a consumer's admin query shows: by `consumers`, else the default tier (no header there). */
export function configuredTier(tiers: Tiers, consumer: string): Tier | null {
  if (!tiers.enabled) return null;
  if (tiers.consumers.has(consumer)) return tiers.consumers.get(consumer);
  return tiers.fallback;
}

const TIER_KEYS: Array<string> = ["limits", "balance"];
const MAX_TIERS = 64;
const MAX_TIER_NAME = 64;
export const MAX_CONSUMER_ENTRIES = 100_000;

/**
 * `tiers`, `consumers`, `default_tier`, `tier_header` into `out`; "" or the first error. `balance`
 * is the top-level `balance` (a tier's default). Unknown keys inside a tier are warnings.
 */
export function parseTiers(root: JsonValue, balance: bool, out: Tiers, warnings: Array<string>): string {
  const tiers = root.get("tiers");
  const hasTiers = tiers !== null && tiers.type != JsonType.Null;
  if (!hasTiers) {
    for (let i = 0; i < DEPENDENT_KEYS.length; i++) {
      const v = root.get(DEPENDENT_KEYS[i]);
      if (v !== null && v.type != JsonType.Null) return DEPENDENT_KEYS[i] + " needs tiers";
    }
    return "";
  }
  if (tiers!.type != JsonType.Object) return "tiers must be an object of named tiers";
  const names = tiers!.keys;
  if (names.length == 0) return "tiers must not be empty";
  if (names.length > MAX_TIERS) return "tiers: at most " + MAX_TIERS.toString() + " tiers";
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const at = "tiers." + name;
    const problem = tierNameProblem(name);
    if (problem.length > 0) return "tiers: tier name " + problem;
    if (out.byName(name) !== null) return at + " is defined twice";
    const t = tiers!.values[i];
    if (t.type != JsonType.Object) return at + " must be an object";
    const list = t.get("limits");
    let limits = new Array<Limit>();
    if (list !== null && list.type != JsonType.Null) {
      const r = parseLimits(list, at + ".limits");
      if (r.limits === null) return r.error;
      limits = r.limits!;
    }
    let useBalance = balance;
    const b = t.get("balance");
    if (b !== null && b.type != JsonType.Null) {
      if (b.type != JsonType.Bool) return at + ".balance must be true or false";
      useBalance = b.boolValue;
    }
    if (!useBalance && limits.length == 0) return at + ": balance false needs limits (otherwise nothing is enforced)";
    const keys = t.keys;
    for (let k = 0; k < keys.length; k++) if (!TIER_KEYS.includes(keys[k])) warnings.push("unknown config key " + at + "." + keys[k] + " is ignored");
    out.list.push(new Tier(name, limits, useBalance));
  }
  const consumers = root.get("consumers");
  if (consumers !== null && consumers.type != JsonType.Null) {
    if (consumers.type != JsonType.Object) return "consumers must be an object of consumer: tier";
    const who = consumers.keys;
    if (who.length > MAX_CONSUMER_ENTRIES) return "consumers: at most " + MAX_CONSUMER_ENTRIES.toString() + " entries";
    for (let i = 0; i < who.length; i++) {
      const v = consumers.values[i];
      const at = "consumers." + who[i];
      if (v.type != JsonType.String) return at + " must be a tier name";
      const t = out.byName(v.stringValue);
      if (t === null) return at + " names tier " + v.stringValue + ", which tiers does not define";
      if (out.consumers.has(who[i])) return at + " is listed twice";
      out.consumers.set(who[i], t);
    }
  }
  const fallback = root.get("default_tier");
  if (fallback !== null && fallback.type != JsonType.Null) {
    if (fallback.type != JsonType.String) return "default_tier must be a tier name";
    const t = out.byName(fallback.stringValue);
    if (t === null) return "default_tier names tier " + fallback.stringValue + ", which tiers does not define";
    out.fallback = t;
  }
  const header = root.get("tier_header");
  if (header !== null && header.type != JsonType.Null) {
    if (header.type != JsonType.String) return "tier_header must be a header name";
    const h = header.stringValue;
    if (!isHeaderName(h)) return "tier_header must be a lower-case HTTP header name (letters, digits, '-', '_', '.')";
    if (h == "x-mse-consumer") return "tier_header must not be x-mse-consumer";
    out.header = h;
    out.headerBytes = String.UTF8.encode(h);
  }
  return "";
}

const DEPENDENT_KEYS: Array<string> = ["consumers", "default_tier", "tier_header"];

function tierNameProblem(name: string): string {
  if (name.length == 0) return "must not be empty";
  if (name.length > MAX_TIER_NAME) return name.substring(0, 16) + "… is longer than " + MAX_TIER_NAME.toString() + " characters";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c == 0x7f || c == 0x2c) return "must be printable, without spaces or commas";
  }
  return "";
}

/** A header name as the host's map holds it: lower case, token characters we allow. */
function isHeaderName(h: string): bool {
  if (h.length == 0 || h.length > 128) return false;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f || c == 0x2e;
    if (!ok) return false;
  }
  return true;
}
