// The admin usage query (GET …/quota/usage, assembly/quota/admin_usage.ts) with hostile query
// strings (dates in every wrong shape, repeated keys, escapes, models with newlines and non-ASCII)
// over day hashes of hostile shape (fields that are not ours, values that are not counts, a key
// that is not a hash), against a real redis-server. The oracle reads the query with Go's rules
// (model/form.ts), the dates as real YYYY-MM-DD days, and predicts the exact answer: 403 without a
// consumer, 400 for a bad date or range, 503 for a value that is not a count or a key that is not a
// hash, else every count summed per day and model (saturating). Redis is never written; no trap.
import fc from "fast-check";
import { RedisClient } from "../../host";
import { FuzzEnv } from "../env";
import { ADMIN, ANSWERS, CHAT_PATH, expectAnswer, redisError, requestHeaders } from "../http";
import { first, parseQuery, splitPath } from "../model/form";
import { defineProperty, expectNoTrap, expectThat, violated } from "../property";

const CONSUMER = "alice";
const SUBJECT = "chat_quota:" + CONSUMER;
const CONFIG = { admin_consumer: ADMIN, redis: { service_name: "redis.static" }, spend_history: { ttl_days: 30 } };
const I64_MAX = (1n << 63n) - 1n;
const MODELS = ["gpt-4o", "gpt-4o-mini", "(other)", "m\nu", "\u00e9t\u00e9", ""];

function dayKey(date: string): string {
  return `ai_quota_state:{${SUBJECT}}:c:${Buffer.byteLength(SUBJECT)}:${SUBJECT}:usage:d:${date}`;
}

function isoDate(day: number): string {
  const d = new Date(day * 86400_000);
  const y = d.getUTCFullYear();
  return `${String(y).padStart(4, "0")}-${String(d.getUTCMonth() + 1).padStart(2, "0")}-${String(d.getUTCDate()).padStart(2, "0")}`;
}

/** A real date written YYYY-MM-DD (ASCII digits), as days since 1970-01-01; else null. */
function parseDate(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m === null) return null;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const day = Math.round(d.getTime() / 86400_000);
  return isoDate(day) === s ? day : null;
}

type Stored = { kind: "hash"; fields: Array<[string, string]> } | { kind: "string" };

interface UsageCase {
  /** Seeded days, as offsets back from today (0 = today). */
  days: Array<{ back: number; stored: Stored }>;
  /** Query pairs, written as text. */
  query: string;
}

const count = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 1_000_000 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom("9223372036854775807", "4611686018427387904") },
  { weight: 1, arbitrary: fc.constantFrom("-1", "x", "1.5", "99999999999999999999", "") },
);
const fieldName = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...MODELS), fc.constantFrom("i", "o", "u", "r")).map(([m, k]) => `${m}\n${k}`) },
  { weight: 1, arbitrary: fc.constantFrom("gpt-4o", "gpt-4o\nz", "gpt-4o\niu", "\n", "x\n\n", "plain") },
);
const stored: fc.Arbitrary<Stored> = fc.oneof(
  { weight: 12, arbitrary: fc.uniqueArray(fc.tuple(fieldName, count), { maxLength: 8, selector: (e) => e[0] }).map((fields) => ({ kind: "hash" as const, fields })) },
  { weight: 1, arbitrary: fc.constant<Stored>({ kind: "string" }) },
);

const dateText = (todayish: boolean) => fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 120 }).map((back) => ({ back })) },
  { weight: 2, arbitrary: fc.constantFrom("2026-02-30", "2026-13-01", "2026-1-01", "20261201", "2026-12-07x", "%32026-12-01", "2026%2D12%2D01", "\uff12026-12-01", "0000-01-01", "9999-12-31", "", "2024-02-29", "2023-02-29", " 2026-12-01") },
).map((v) => (typeof v === "string" ? v : { back: v.back, todayish }));

const pairArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("consumer=alice", "consumer=alice", "consumer=%61lice", "consumer=", "consumer=bob", "consumer=alice&consumer=bob", "consumer=al%zzice") },
  { weight: 3, arbitrary: dateText(false).map((d) => ({ key: "from", d })) },
  { weight: 3, arbitrary: dateText(true).map((d) => ({ key: "to", d })) },
  { weight: 2, arbitrary: fc.constantFrom(...MODELS.map((m) => "model=" + encodeURIComponent(m)), "model=gpt-4o%0Ai", "model=GPT-4O", "model") },
  { weight: 1, arbitrary: fc.constantFrom("x=1", ";", "&", "from", "to=") },
);

/** The query text, with relative dates made absolute against `today`. */
function queryText(pairs: Array<string | { key: string; d: string | { back: number } }>, today: number): string {
  return pairs.map((p) => (typeof p === "string" ? p : `${p.key}=${typeof p.d === "string" ? p.d : isoDate(today - p.d.back)}`)).join("&");
}

type Prediction = { answer: { status: number; details: string; body: string } } | { json: Record<string, unknown> };

function bad(problem: string): Prediction {
  return { answer: { status: 400, details: "ai-quota.bad_usage_query", body: `Request denied by ai quota check. ${problem}.` } };
}

function predict(query: string, days: Map<number, Stored>, today: number): Prediction {
  const pairs = parseQuery(splitPath(`${CHAT_PATH}/quota/usage?${query}`).rawQuery);
  const consumer = first(pairs, "consumer");
  if (consumer === null || consumer === "") return { answer: ANSWERS.queryNoConsumer };
  const toText = first(pairs, "to");
  const fromText = first(pairs, "from");
  const to = toText === null ? today : parseDate(toText);
  if (to === null) return bad("to must be a date as YYYY-MM-DD");
  const from = fromText === null ? to - 6 : parseDate(fromText);
  if (from === null) return bad("from must be a date as YYYY-MM-DD");
  if (from > to) return bad("from must not be after to");
  if (to - from + 1 > 92) return bad(`at most 92 days per query, got ${to - from + 1}`);
  const model = first(pairs, "model") ?? "";
  const total = { input_tokens: 0n, output_tokens: 0n, units: 0n, requests: 0n };
  const out: Array<{ date: string; models: Record<string, Record<string, bigint>> }> = [];
  const kinds: Record<string, keyof typeof total> = { i: "input_tokens", o: "output_tokens", u: "units", r: "requests" };
  // One script reads every day: a key that is not a hash fails it whole, before any value is read.
  for (let d = from; d <= to; d++) {
    if (consumer === CONSUMER && days.get(d)?.kind === "string") return { answer: redisError("WRONGTYPE Operation against a key holding the wrong kind of value") };
  }
  for (let d = from; d <= to; d++) {
    const s = consumer === CONSUMER ? days.get(d) : undefined;
    if (s === undefined) continue;
    if (s.kind === "string") continue;
    const models: Record<string, Record<string, bigint>> = {};
    let any = false;
    for (const [field, value] of s.fields) {
      const cut = field.lastIndexOf("\n");
      if (cut < 0 || cut !== field.length - 2 || !(field[cut + 1] in kinds)) continue;
      const name = field.slice(0, cut);
      if (model !== "" && name !== model) continue;
      if (!/^(0|[1-9]\d{0,18})$/.test(value) || BigInt(value) > I64_MAX) {
        return { answer: redisError(`usage value of ${consumer} is not an integer`) };
      }
      const k = kinds[field[cut + 1]];
      const m = (models[name] ??= { input_tokens: 0n, output_tokens: 0n, units: 0n, requests: 0n });
      const sat = (a: bigint, b: bigint) => (a + b > I64_MAX ? I64_MAX : a + b);
      m[k] = sat(m[k], BigInt(value));
      total[k] = sat(total[k], BigInt(value));
      any = true;
    }
    if (any) out.push({ date: isoDate(d), models });
  }
  return { json: { consumer, from: isoDate(from), to: isoDate(to), days: out, total } };
}

/** The answer's JSON with every number kept exact (as a bigint). */
function parseExact(body: string): unknown {
  const withStrings = body.replace(/([:,\[]\s*)(-?\d+)(?=\s*[,}\]])/g, '$1"#$2"');
  return JSON.parse(withStrings, (_k, v) => (typeof v === "string" && /^#-?\d+$/.test(v) ? BigInt(v.slice(1)) : v));
}

function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a === "bigint" || typeof b === "bigint") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return sameJson(ka, kb) && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

const show = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));

async function seed(client: RedisClient, days: Map<number, Stored>): Promise<void> {
  await client.command("FLUSHDB");
  for (const [day, s] of days) {
    const key = dayKey(isoDate(day));
    if (s.kind === "string") await client.command("SET", key, "junk");
    else if (s.fields.length > 0) await client.command("HSET", key, ...s.fields.flat());
  }
}

export const usageQuery = defineProperty<{ days: UsageCase["days"]; pairs: Array<string | { key: string; d: string | { back: number } }> }>({
  name: "usage-query",
  description: "hostile usage queries over hostile day hashes with a real redis-server: the exact answer, Redis unchanged",
  arbitrary: () => fc.record({
    days: fc.uniqueArray(fc.record({ back: fc.integer({ min: 0, max: 100 }), stored }), { maxLength: 10, selector: (d) => d.back }),
    pairs: fc.array(pairArb, { maxLength: 6 }),
  }),
  async check(env: FuzzEnv, c): Promise<void> {
    const { client } = await env.redis();
    const today = Math.floor(Date.now() / 86400_000);
    const days = new Map(c.days.map((d) => [today - d.back, d.stored] as const));
    await seed(client, days);
    const before = Number(await client.command("DBSIZE"));
    const query = queryText(c.pairs, today);
    const vm = await env.sharedVm("usage-query", CONFIG, "real");
    const r = await vm.newStream().run({ request: { headers: requestHeaders("GET", `${CHAT_PATH}/quota/usage?${query}`, ADMIN) } });
    await vm.idle();
    expectNoTrap(vm);
    // The day turned during the call: the oracle's "today" may be stale.
    if (Math.floor(Date.now() / 86400_000) !== today) return;
    const want = predict(query, days, today);
    if ("answer" in want) {
      expectAnswer(r, want.answer, `usage ?${query}`, want.answer.status === 503);
    } else {
      const l = r.local;
      if (l === null || l.status !== 200 || l.details !== "ai-quota.usage") violated(`usage ?${query}: expected 200, got ${l === null ? "no local answer" : `${l.status} ${l.body.toString()}`}`);
      const got = parseExact(l.body.toString("utf8"));
      expectThat(sameJson(got, want.json), () => `usage ?${query}: got ${show(got)}, expected ${show(want.json)}`);
    }
    const after = Number(await client.command("DBSIZE"));
    expectThat(after === before, () => `Redis holds ${after} keys after the query, ${before} before`);
  },
});
