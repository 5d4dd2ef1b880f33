// The tier keys of the config (tiers, consumers, default_tier, tier_header: assembly/quota/tiers.ts)
// mutated around a valid base: tier names empty, spaced, long or non-ASCII, limits lists good and
// bad, balance of every type, consumers naming tiers that exist or not, header names in every
// spelling. configure never traps, and accepts exactly what the rules below accept (a refusal logs
// why). A configured plugin, with Redis unreachable, then answers a chat whose tier header is sent
// zero, one or two times: 401 ai-quota.bad_tier where the header decides and is repeated or names
// no tier, else the contract's 403 noquota (never a pass, never a trap).
import fc from "fast-check";
import { HeaderPairs, LogLevel } from "../../host";
import { FuzzEnv } from "../env";
import { ANSWERS, CHAT_PATH, expectAnswer, requestHeaders } from "../http";
import { defineProperty, expectNoTrap, expectThat } from "../property";

const BAD_TIER = { status: 401, details: "ai-quota.bad_tier", body: "Request denied by ai quota check. Invalid tier." };

const TIER_NAMES = ["free", "pro", "team-a", "", "a b", "x,y", "\u00e9", "t".repeat(64), "t".repeat(65), "PRO", "\u0007"];
const junk = fc.constantFrom<unknown>(null, 5, "x", true, [], {}, [1], { a: 1 }, -1.5);

const goodLimit = fc.record({
  unit: fc.constantFrom("requests", "tokens"),
  limit: fc.integer({ min: 1, max: 5 }),
  window: fc.constantFrom("minute", "day", "month", 60),
});
const badLimit = fc.oneof(
  fc.constant<unknown>({ unit: "bytes", limit: 1, window: "day" }),
  fc.constant<unknown>({ unit: "requests", limit: 0, window: "day" }),
  fc.constant<unknown>({ unit: "requests", limit: 1, window: "fortnight" }),
  junk,
);
const limits = fc.oneof(
  { weight: 6, arbitrary: fc.array(goodLimit, { maxLength: 3 }) as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: fc.tuple(goodLimit, badLimit).map(([a, b]) => [a, b]) as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: junk },
);

const tier = fc.record({
  limits: fc.option(limits, { freq: 4 }),
  balance: fc.option(fc.oneof({ weight: 4, arbitrary: fc.boolean() as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: junk }), { freq: 2 }),
  extra: fc.option(fc.constant(1), { freq: 8 }),
}, { requiredKeys: [] }).map((t) => {
  const o: Record<string, unknown> = {};
  if (t.limits !== undefined && t.limits !== null) o.limits = t.limits;
  if (t.balance !== undefined && t.balance !== null) o.balance = t.balance;
  if (t.extra !== undefined && t.extra !== null) o.limt = t.extra;
  return o;
});

interface TierCase {
  tiers: unknown;
  consumers: unknown;
  defaultTier: unknown;
  tierHeader: unknown;
  /** The tier headers the chat carries. */
  sent: string[];
}

const wildArb: fc.Arbitrary<TierCase> = fc.record({
  tiers: fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(fc.tuple(fc.constantFrom(...TIER_NAMES), fc.oneof({ weight: 6, arbitrary: tier as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: junk })), { maxLength: 4, selector: (e) => e[0] }).map((e) => Object.fromEntries(e) as unknown) },
    { weight: 1, arbitrary: junk },
    { weight: 2, arbitrary: fc.constant(undefined) },
  ),
  consumers: fc.oneof(
    { weight: 4, arbitrary: fc.uniqueArray(fc.tuple(fc.constantFrom("c", "d", "admin", "\u8ba1"), fc.oneof({ weight: 5, arbitrary: fc.constantFrom<unknown>(...TIER_NAMES) }, { weight: 1, arbitrary: junk })), { maxLength: 3, selector: (e) => e[0] }).map((e) => Object.fromEntries(e) as unknown) },
    { weight: 1, arbitrary: junk },
    { weight: 3, arbitrary: fc.constant(undefined) },
  ),
  defaultTier: fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>(...TIER_NAMES) }, { weight: 1, arbitrary: junk }, { weight: 3, arbitrary: fc.constant(undefined) }),
  tierHeader: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom<unknown>("x-tier", "x-jwt-plan", "a.b_c", "X-Tier", "x-mse-consumer", "", "a b", "x:y", "\u00e9", "h".repeat(129)) },
    { weight: 1, arbitrary: junk },
    { weight: 3, arbitrary: fc.constant(undefined) },
  ),
  sent: fc.array(fc.constantFrom("free", "pro", "PRO", "team-a", "gold", "", "free,pro", "\u00e9"), { maxLength: 2 }),
});

// Mostly-valid configs (good tier names, consumers and default naming those tiers, a good header),
// so that a fair share is accepted and the header decides; the wild ones above are mostly refused.
const GOOD_NAMES = ["free", "pro", "team-a", "\u00e9", "t".repeat(64), "PRO"];
const goodTier = fc.record({ limits: fc.array(goodLimit, { minLength: 1, maxLength: 3 }), balance: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: ["limits"] })
  .map((t) => (t.balance === undefined ? { limits: t.limits } : t) as unknown);
const validArb: fc.Arbitrary<TierCase> = fc.uniqueArray(fc.constantFrom(...GOOD_NAMES), { minLength: 1, maxLength: 3 }).chain((names) => fc.record({
  tiers: fc.tuple(...names.map(() => goodTier)).map((ts) => Object.fromEntries(names.map((n, i) => [n, ts[i]])) as unknown),
  consumers: fc.option(fc.dictionary(fc.constantFrom("c", "d", "\u8ba1"), fc.constantFrom<unknown>(...names), { maxKeys: 2 }) as fc.Arbitrary<unknown>, { nil: undefined, freq: 2 }),
  defaultTier: fc.option(fc.constantFrom<unknown>(...names), { nil: undefined, freq: 2 }),
  tierHeader: fc.option(fc.constantFrom<unknown>("x-tier", "x-jwt-plan", "a.b_c"), { nil: undefined, freq: 4 }),
  sent: fc.array(fc.oneof(fc.constantFrom(...names), fc.constantFrom("free", "pro", "gold", "", "free,pro")), { maxLength: 2 }),
}));

const caseArb: fc.Arbitrary<TierCase> = fc.oneof({ weight: 1, arbitrary: wildArb }, { weight: 1, arbitrary: validArb });

// ---- the model (tiers.ts's rules) ----

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== undefined && v !== null;

function tierNameOk(name: string): boolean {
  if (name.length === 0 || name.length > 64) return false;
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c <= 0x20 || c === 0x7f || c === 0x2c) return false;
  }
  return true;
}

function limitsOk(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  return v.every((l) => isObject(l) && (l.unit === "requests" || l.unit === "tokens") && Number.isInteger(l.limit) && (l.limit as number) >= 1 &&
    (["second", "minute", "hour", "day", "week", "month"].includes(l.window as string) || (Number.isInteger(l.window) && (l.window as number) >= 1)));
}

/** The configured tiers' names when the config is valid, else null. */
function expectedTiers(c: TierCase): string[] | null {
  if (!present(c.tiers)) return present(c.consumers) || present(c.defaultTier) || present(c.tierHeader) ? null : [];
  if (!isObject(c.tiers)) return null;
  const names = Object.keys(c.tiers);
  if (names.length === 0) return null;
  for (const name of names) {
    const t = c.tiers[name];
    if (!tierNameOk(name) || !isObject(t)) return null;
    const hasLimits = present(t.limits);
    if (hasLimits && !limitsOk(t.limits)) return null;
    if (present(t.balance) && typeof t.balance !== "boolean") return null;
    const balance = present(t.balance) ? t.balance : true;
    if (!balance && (!hasLimits || (t.limits as unknown[]).length === 0)) return null;
  }
  if (present(c.consumers)) {
    if (!isObject(c.consumers)) return null;
    for (const v of Object.values(c.consumers)) if (typeof v !== "string" || !names.includes(v)) return null;
  }
  if (present(c.defaultTier) && (typeof c.defaultTier !== "string" || !names.includes(c.defaultTier))) return null;
  if (present(c.tierHeader)) {
    if (typeof c.tierHeader !== "string" || !/^[a-z0-9._-]{1,128}$/.test(c.tierHeader) || c.tierHeader === "x-mse-consumer") return null;
  }
  return names;
}

function configOf(c: TierCase): string {
  const doc: Record<string, unknown> = { admin_consumer: "admin", redis: { service_name: "redis.static", service_port: 6379, timeout: 200 } };
  if (c.tiers !== undefined) doc.tiers = c.tiers;
  if (c.consumers !== undefined) doc.consumers = c.consumers;
  if (c.defaultTier !== undefined) doc.default_tier = c.defaultTier;
  if (c.tierHeader !== undefined) doc.tier_header = c.tierHeader;
  return JSON.stringify(doc);
}

export const tiersConfig = defineProperty<TierCase>({
  name: "tiers-config",
  description: "tier keys in the config: accepted exactly by tiers.ts's rules, never a trap; the tier header refused when repeated or unknown",
  arbitrary: () => caseArb,
  async check(env: FuzzEnv, c: TierCase): Promise<void> {
    const { vm, configured } = await env.vm(configOf(c), "none");
    try {
      expectNoTrap(vm);
      const names = expectedTiers(c);
      expectThat(configured === (names !== null), () => `configure answered ${configured}, the rules say ${names !== null}; logs:\n${vm.logText()}`);
      const errors = vm.logs.filter((l) => l.level >= LogLevel.Error);
      if (!configured) {
        expectThat(errors.some((l) => /^ai-quota: invalid config: \S/.test(l.message)), () => `a refused config must log why at error; logged:\n${vm.logText()}`);
        return;
      }
      const header = typeof c.tierHeader === "string" ? c.tierHeader : "";
      const extra: HeaderPairs = [["content-type", "application/json"]];
      for (const v of c.sent) extra.push([header.length > 0 ? header : "x-tier", v]);
      const r = await vm.newStream().run({ request: { headers: requestHeaders("POST", CHAT_PATH, "c", extra), body: "{}" } });
      expectNoTrap(vm);
      const listed = isObject(c.consumers) && Object.prototype.hasOwnProperty.call(c.consumers, "c");
      const decides = names!.length > 0 && header.length > 0 && !listed && c.sent.length > 0;
      const bad = decides && (c.sent.length > 1 || !names!.includes(c.sent[0]));
      expectAnswer(r, bad ? BAD_TIER : ANSWERS.noQuota, `a chat with tier headers ${JSON.stringify(c.sent)}`);
    } finally {
      await env.dispose(vm);
    }
  },
});
