// Admin calls with hostile form bodies and query strings, against a real redis-server: bad
// percent-escapes, repeated keys, pairs without '=', ';', raw invalid UTF-8, values of any size
// (around the 64 KiB body cap, and a megabyte), bodies split anywhere, requests ending with
// trailers. The oracle reads the form
// with Go's url.ParseQuery rules (model/form.ts) and predicts the answer and the balance:
//   refresh → 200 and SET (normalised integer) | 403 must-be-integer | 413 over 64 KiB;
//   delta   → 200 and INCRBY/DECRBY | 503 when Redis refuses (not an integer, overflow, wrong type)
//             | 403 must-be-integer | 413;
//   query   → 200 with the balance | 503 when it is not an integer | 403 consumer can't be empty.
// Redis changes only when the answer is 200; no trap.
import fc from "fast-check";
import { ExchangeResult, HeaderPairs, RedisClient } from "../../host";
import { FuzzEnv } from "../env";
import { ADMIN, ANSWERS, Answer, CHAT_PATH, KEY_PREFIX, expectAnswer, expectQueryAnswer, redisError, requestHeaders } from "../http";
import { first, parseQuery, splitPath } from "../model/form";
import { I64_MAX, I64_MIN, atoi, decodeUtf8 } from "../model/text";
import { defineProperty, expectNoTrap, expectThat, sometimes } from "../property";

const MAX_BODY = 64 * 1024;
const DECOY = KEY_PREFIX + "decoy";
const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static" } };

type Initial = { kind: "absent" } | { kind: "int"; value: bigint } | { kind: "text"; value: string } | { kind: "list" };

export interface FormCase {
  op: "refresh" | "delta" | "query";
  /** Form body bytes (refresh, delta) or the query string's UTF-8 bytes (query). */
  form: Uint8Array;
  /** Where the body is cut into chunks. */
  cuts: number[];
  /** The target consumer's balance before the call. */
  initial: Initial;
  /** The request ends with trailers (HTTP/2, gRPC-web) instead of with its last body chunk. */
  trailers?: boolean;
}

// ---- generators ----

const numberTexts = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("5", "0", "-7", "+42", "-0", "007", "1000000", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551616") },
  { weight: 2, arbitrary: fc.bigInt(-(1n << 64n), 1n << 64n).map(String) },
  { weight: 2, arbitrary: fc.constantFrom("", " 5", "5 ", "+5", "%2B5", "%2D5", "%35", "%35%30", "5%20", "1.5", "1e3", "0x10", "five", "%", "%3", "%G5", "5%00", "%EF%BC%95", "\u0665") },
);

const consumerTexts = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("alice", "bob", "c1", "team%2Fa", "a+b", "%E8%AE%A1%E8%B4%B9", "\u8ba1\u8d39", "a%26b", "a%3Db", "%20", "+") },
  { weight: 2, arbitrary: fc.constantFrom("%FF", "%C3%28", "%ED%A0%80", "%F0%9F%98", "%", "%4", "%zz", "%%", "a;b", "%00", "%0D%0A", "%22%3C%3E%5C", "%E2%80%A8") },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
);

const keyTexts = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("consumer", "quota", "value") },
  { weight: 2, arbitrary: fc.constantFrom("Consumer", "consumer ", "%63onsumer", "consum%65r", "consumer%00", "consumer[]", "", "+consumer", "%zz", "quota;", "val%75e", "%71uota", "q+uota") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const pairText = fc.tuple(keyTexts, fc.constantFrom("=", "=", "=", "=", "", "=="), fc.boolean(), consumerTexts, numberTexts).map(([k, eq, numeric, cv, nv]) => {
  const looksNumeric = k.includes("quota") || k.includes("value") || k.includes("uota") || k.includes("alu");
  const v = k.includes("onsum") ? cv : looksNumeric || numeric ? nv : cv;
  return eq === "" ? k : `${k}${eq}${v}`;
});

const separator = fc.constantFrom("&", "&", "&", "&", "&", "&&", ";", "&;", "&=&");

/** A form as text: pairs with separators, sometimes starting or ending with one. */
const formText = fc.tuple(fc.array(fc.tuple(pairText, separator), { maxLength: 6 }), fc.boolean()).map(([pairs, lead]) =>
  (lead ? "&" : "") + pairs.map(([p, s], i) => (i < pairs.length - 1 ? p + s : p)).join(""));

/** The text's bytes, with raw bytes spliced in (invalid UTF-8 in the body itself) and padding. */
const formBytes = fc.tuple(
  formText,
  sometimes(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 })), 4),
  sometimes(fc.oneof(fc.integer({ min: MAX_BODY - 8, max: MAX_BODY + 8 }), fc.constant(1 << 20), fc.integer({ min: 1, max: 3000 })), 6),
  fc.boolean(),
).map(([text, raw, padTo, padFirst]) => {
  let b = Buffer.from(text, "utf8");
  if (raw !== null) {
    const at = raw[0] % (b.length + 1);
    b = Buffer.concat([b.subarray(0, at), Buffer.from(raw[1]), b.subarray(at)]);
  }
  if (padTo !== null) {
    // A pair of filler that takes the form to exactly padTo bytes (when it is not longer already).
    const fill = Math.max(0, padTo - b.length - 5);
    const pad = Buffer.from("pad=" + "x".repeat(fill) + "&");
    b = padFirst ? Buffer.concat([pad, b]) : Buffer.concat([b, Buffer.from("&"), pad.subarray(0, pad.length - 1)]);
  }
  return new Uint8Array(b);
});

const initialArb: fc.Arbitrary<Initial> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Initial>({ kind: "absent" }) },
  { weight: 4, arbitrary: fc.oneof(fc.bigInt(-1000n, 1000n), fc.bigInt(I64_MIN, I64_MAX), fc.constantFrom(I64_MAX, I64_MIN, I64_MAX - 5n, I64_MIN + 5n)).map((value): Initial => ({ kind: "int", value })) },
  { weight: 1, arbitrary: fc.constantFrom("abc", "1.5", " 5", "", "+5").map((value): Initial => ({ kind: "text", value })) },
  { weight: 1, arbitrary: fc.constant<Initial>({ kind: "list" }) },
);

// ---- the oracle ----

async function applyInitial(client: RedisClient, key: string | null, initial: Initial): Promise<void> {
  await client.command("FLUSHALL");
  await client.command("SET", DECOY, "100");
  if (key === null) return;
  if (initial.kind === "int") await client.command("SET", key, initial.value.toString());
  else if (initial.kind === "text") await client.command("SET", key, initial.value);
  else if (initial.kind === "list") await client.command("RPUSH", key, "x");
}

const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER = "ERR value is not an integer or out of range";
const OVERFLOW = "ERR increment or decrement would overflow";

/** The balance stored afterwards: a string, null (absent), or "list". */
type Stored = string | null | { list: true };

function initialStored(i: Initial): Stored {
  if (i.kind === "absent") return null;
  if (i.kind === "list") return { list: true };
  return i.kind === "int" ? i.value.toString() : i.value;
}

async function stored(client: RedisClient, key: string): Promise<Stored> {
  const type = await client.command("TYPE", key);
  if (type === "none") return null;
  if (type === "list") return { list: true };
  const v = await client.command("GET", key);
  return v === null ? null : String(v);
}

function chunks(b: Uint8Array, cuts: number[]): Uint8Array[] {
  if (b.length === 0) return [b];
  const points = [...new Set(cuts.map((c) => c % b.length))].filter((c) => c > 0).sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    out.push(b.subarray(from, p));
    from = p;
  }
  out.push(b.subarray(from));
  return out;
}

interface Prediction {
  answer: Answer | { query: string; quota: bigint };
  bodyPrefix?: boolean;
  /** The consumer's key, when the call names one. */
  key: string | null;
  /** Its value afterwards. */
  after: Stored;
}

function predict(c: FormCase): Prediction {
  if (c.op !== "query" && c.form.length > MAX_BODY) return { answer: ANSWERS.tooLarge, key: null, after: null };
  const text = c.op === "query"
    ? splitPath(`/v1/chat/completions/quota?${decodeUtf8(c.form)}`).rawQuery
    : decodeUtf8(c.form);
  const pairs = parseQuery(text);
  const consumer = first(pairs, "consumer");
  const key = consumer === null || consumer === "" ? null : KEY_PREFIX + consumer;
  const before = initialStored(c.initial);
  if (c.op === "query") {
    if (key === null) return { answer: ANSWERS.queryNoConsumer, key, after: before };
    const i = c.initial;
    if (i.kind === "list") return { answer: redisError(WRONGTYPE), key, after: before };
    if (i.kind === "text") {
      // Go's Atoi reads the stored text (Redis itself would refuse "+5" for INCRBY).
      const n = atoi(i.value);
      if (n === null) return { answer: redisError(`quota value of ${consumer} is not an integer`), key, after: before };
      return { answer: { query: consumer!, quota: n }, key, after: before };
    }
    return { answer: { query: consumer!, quota: i.kind === "int" ? i.value : 0n }, key, after: before };
  }
  const n = atoi(first(pairs, c.op === "refresh" ? "quota" : "value") ?? "");
  if (key === null || n === null) return { answer: c.op === "refresh" ? ANSWERS.badRefresh : ANSWERS.badDelta, key, after: before };
  if (c.op === "refresh") return { answer: ANSWERS.refreshed, key, after: n.toString() };
  const i = c.initial;
  if (i.kind === "list") return { answer: redisError(WRONGTYPE), key, after: before };
  // None of the stored texts is an integer to Redis (it refuses "+5", " 5" and "").
  if (i.kind === "text") return { answer: redisError(NOT_INTEGER), key, after: before };
  const sum = (i.kind === "int" ? i.value : 0n) + n;
  if (sum > I64_MAX || sum < I64_MIN) return { answer: redisError(OVERFLOW), key, after: before };
  return { answer: ANSWERS.delta, key, after: sum.toString() };
}

function same(a: Stored, b: Stored): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === "string" || typeof b === "string") return a === b;
  return true;
}

export const adminForm = defineProperty<FormCase>({
  name: "admin-form",
  description: "hostile admin form bodies and query strings with a real redis-server: the contract's answer; Redis changes only on 200",
  arbitrary: () => fc.record({
    op: fc.constantFrom<FormCase["op"]>("refresh", "delta", "query"),
    form: formBytes,
    cuts: fc.array(fc.nat(), { maxLength: 4 }),
    initial: initialArb,
    trailers: fc.boolean(),
  }),
  async check(env: FuzzEnv, c: FormCase): Promise<void> {
    const { client } = await env.redis();
    const want = predict(c);
    await applyInitial(client, want.key, c.initial);
    const vm = await env.sharedVm("admin-form", CONFIG, "real");
    let r: ExchangeResult;
    const trailers: HeaderPairs | undefined = c.trailers === true ? [["x-checksum", "1"]] : undefined;
    if (c.op === "query") {
      // A header value is a string: the query is what the form's bytes read as.
      r = await vm.newStream().run({ request: { headers: requestHeaders("GET", `${CHAT_PATH}/quota?${decodeUtf8(c.form)}`, ADMIN), trailers } });
    } else {
      const headers = requestHeaders("POST", `${CHAT_PATH}/quota/${c.op}`, ADMIN, [["content-type", "application/x-www-form-urlencoded"]]);
      r = await vm.newStream().run({ request: { headers, body: chunks(c.form, c.cuts), trailers } });
    }
    await vm.idle();
    expectNoTrap(vm);
    const a = want.answer;
    if ("query" in a) expectQueryAnswer(r, a.query, a.quota, "query");
    else expectAnswer(r, a, c.op);
    // Redis: the decoy never changes, nothing else appears, and the target is as predicted.
    expectThat((await client.command("GET", DECOY)) === "100", () => "the decoy balance changed");
    const size = Number(await client.command("DBSIZE"));
    const expectedSize = 1 + (want.key !== null && want.after !== null ? 1 : 0);
    expectThat(size === expectedSize, () => `Redis holds ${size} keys after the call, expected ${expectedSize}`);
    if (want.key !== null) {
      const now = await stored(client, want.key);
      expectThat(same(now, want.after), () => `balance of ${JSON.stringify(want.key)} is ${JSON.stringify(now)}, expected ${JSON.stringify(want.after)}`);
    }
  },
});
