// Redis answers anything at all: every command of a chat or admin call is answered by a fake
// Redis with bytes the property chooses — well-formed RESP2, wrong types, truncated, oversized,
// nested too deep, RESP3, junk. The host frames what it can (what it cannot frame times out per
// the plugin's redis.timeout, kept small here) and hands the reply over; the host's record of
// each call says exactly which bytes (or which failure) the plugin got. The oracle predicts the
// plugin's answer from those bytes with an independent RESP2 decoder (model/resp.ts):
//   chat    → admitted iff the balance is an integer > 0, else 403 noquota; when admitted,
//             exactly one settlement of the usage (DECRBY, or the settlement script); one Redis
//             refuses (an error reply that is not "not now", or the script's negative answer: it
//             wrote nothing) is logged at error, one not answered (or answered "not now") at warn
//             for a retry;
//   query   → 200 with the integer (null = 0), else 503 redis error;
//   refresh/delta → 200 iff Redis did not answer an error, else 503 redis error;
// a NOAUTH error is retried exactly once; a TRYAGAIN is sent again after 10, 20, 40… ms while the
// waits stay under redis.timeout (assembly/redis/retry.ts); no other command is ever sent (but the
// SCRIPT LOADs that warm Redis's script cache at start); no trap.
import fc from "fast-check";
import { ExchangeResult, LogLevel, PluginVm, RedisCallRecord } from "../../host";
import { FuzzEnv } from "../env";
import { ANSWERS, Answer, KEY_PREFIX, adminGet, adminPost, chat, expectAnswer, expectPassed, expectQueryAnswer, jsonResponse, redisError, usageJson } from "../http";
import { RefValue, refDecode } from "../model/resp";
import { atoi } from "../model/text";
import { defineProperty, expectNoTrap, expectThat } from "../property";

const CONSUMER = "c1";
const KEY = KEY_PREFIX + CONSUMER;
/** Short, so that a reply the host cannot frame costs little. */
const TIMEOUT_MS = 40;
const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static", timeout: TIMEOUT_MS } };
const MAX_REPLY_BYTES = 64 * 1024;
/** Error replies for a state that passes (a settlement is retried on these): assembly/redis/errors.ts. */
const TRANSIENT = ["LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "OOM", "NOREPLICAS", "NOAUTH",
  "ERR max number of clients reached", "no upstream host", "upstream failure", "upstream protocol error"];
/** The waits before each resend of a TRYAGAIN'd command (assembly/redis/retry.ts delayTicks × 10 ms). */
const TRYAGAIN_WAITS_MS = [10, 20, 40, 80];
const TRYAGAIN_WAIT_MAX_MS = 100;
const USAGE = [3, 4] as const;
const CHARGE = USAGE[0] + USAGE[1];

type Op = "chat" | "query" | "refresh" | "delta";

export interface RespCase {
  op: Op;
  /** The answer to the n-th command the plugin sends. */
  replies: Uint8Array[];
}

// ---- reply bytes ----

const crlf = "\r\n";
const enc = (s: string) => Buffer.from(s, "latin1");
const cat = (...parts: Array<Uint8Array | string>) => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === "string" ? enc(p) : p))));

const intTexts = fc.oneof(
  fc.constantFrom("0", "1", "-1", "42", "+42", "-0", "007", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "", " 1", "1 ", "1.5", "1e3", "0x10", "99999999999999999999999"),
  fc.bigInt(-(1n << 70n), 1n << 70n).map(String),
  fc.integer({ min: -5, max: 1000 }).map(String),
);

const texts = fc.oneof(
  intTexts,
  fc.constantFrom("OK", "QUEUED", "abc", "12abc", "\u00e9", "NOAUTH Authentication required.", "ERR value is not an integer or out of range", "WRONGTYPE Operation against a key holding the wrong kind of value"),
  fc.string({ maxLength: 20 }),
);

const binaryText = fc.oneof(
  texts.map(enc),
  texts.map((s) => new Uint8Array(Buffer.from(s, "utf8"))),
  fc.uint8Array({ maxLength: 24 }),
);

const errorText = fc.oneof(
  fc.constantFrom("NOAUTH Authentication required.", "ERR value is not an integer or out of range", "WRONGTYPE Operation against a key holding the wrong kind of value", "ERR", "", "NOAUTH", "-", "noauth",
    "LOADING Redis is loading the dataset in memory", "BUSY Redis is busy running a script.", "TRYAGAIN", "CLUSTERDOWN The cluster is down", "MASTERDOWN Link with MASTER is down", "READONLY You can't write against a read only replica.", "NOSCRIPT No matching script."),
  binaryText,
);

const RESP3 = fc.constantFrom(
  "_\r\n", "#t\r\n", "#f\r\n", ",1.5\r\n", ",inf\r\n", "(12345678901234567890\r\n", "%1\r\n+a\r\n:1\r\n", "~1\r\n:1\r\n",
  ">2\r\n+message\r\n:1\r\n", "|1\r\n+ttl\r\n:5\r\n:7\r\n", "!9\r\nERR nope.\r\n", "=8\r\ntxt:1234\r\n",
);

/** Bytes of one value, given sub-value generators. */
function valueArb(depth: number): fc.Arbitrary<Uint8Array> {
  const leaf = fc.oneof(
    { weight: 3, arbitrary: intTexts.map((t) => cat(":", t, crlf)) },
    { weight: 3, arbitrary: binaryText.map((t) => cat("$", String(t.length), crlf, t, crlf)) },
    { weight: 2, arbitrary: binaryText.map((t) => cat("+", t, crlf)) },
    { weight: 2, arbitrary: errorText.map((t) => cat(typeof t === "string" ? enc("-" + t) : cat("-", t), crlf)) },
    { weight: 1, arbitrary: fc.constantFrom("$-1\r\n", "*-1\r\n", "*0\r\n", "$0\r\n\r\n", "$-2\r\n", "*-3\r\n").map(enc) },
    { weight: 1, arbitrary: RESP3.map(enc) },
    {
      // A bulk whose length is wrong, negative or absurd.
      weight: 1,
      arbitrary: fc.tuple(binaryText, fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(1e6, 2 ** 31, 2 ** 53))).map(([t, d]) =>
        cat("$", String(t.length + d), crlf, t, crlf)),
    },
    { weight: 1, arbitrary: fc.constantFrom("$99999999999999999999\r\n", "*99999999999999999999\r\n", "$9223372036854775807\r\n", ":\r\n", "$\r\n", "*\r\n", "+\r\n", "-\r\n", "\r\n", "+OK\n", ":1\r", "+a\rb\r\n").map(enc) },
  );
  if (depth <= 0) return leaf;
  const array = fc.array(valueArb(depth - 1), { maxLength: 4 }).map((items) => cat("*", String(items.length), crlf, ...items));
  return fc.oneof({ weight: 4, arbitrary: leaf }, { weight: 1, arbitrary: array });
}

const bigReplies = fc.oneof(
  // Around the plugin's 64 KiB reply cap: a balance of 5 written with leading zeros.
  fc.integer({ min: MAX_REPLY_BYTES - 16, max: MAX_REPLY_BYTES + 4 }).map((size) => {
    const header = (n: number) => `$${n}\r\n`;
    let n = size - 2;
    while (header(n).length + n + 2 > size) n--;
    return cat(header(n), "0".repeat(n - 1) + "5", crlf);
  }),
  // Around the element cap (4096 values in all).
  fc.integer({ min: 4090, max: 4100 }).map((n) => cat(`*${n}\r\n`, ":1\r\n".repeat(n))),
  // Around the depth cap (8).
  fc.integer({ min: 6, max: 10 }).map((d) => cat("*1\r\n".repeat(d), ":5\r\n")),
  // Deep enough to hurt a recursive decoder, and still under the size cap.
  fc.constant(cat("*1\r\n".repeat(16_000), ":5\r\n")),
);

/** Bytes for one Redis reply: mostly RESP2, with RESP3, junk, cuts, and sizes around the caps. */
export const respBytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 14, arbitrary: valueArb(3) },
  { weight: 2, arbitrary: bigReplies },
  // A value followed by more bytes (a second value, or junk).
  { weight: 2, arbitrary: fc.tuple(valueArb(1), fc.oneof(valueArb(0), fc.uint8Array({ minLength: 1, maxLength: 8 }))).map(([a, b]) => cat(a, b)) },
  // Cut short: the host waits for the rest until the timeout.
  { weight: 1, arbitrary: fc.tuple(valueArb(1), fc.nat()).filter(([v]) => v.length > 1).map(([v, k]) => v.subarray(0, 1 + (k % (v.length - 1)))) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 32 }) },
);

// ---- the oracle ----

/**
 * What the plugin makes of one call's outcome: a failure with its reason — `answered` when Redis
 * replied with an error, not when the reply never came or could not be read — or a value.
 */
type View = { error: string; exact: boolean; answered: boolean } | { value: RefValue };

function viewOf(rec: RedisCallRecord): View {
  if (rec.status !== 0) return { error: "cannot connect to redis cluster", exact: true, answered: false };
  const reply = rec.reply ?? Buffer.alloc(0);
  if (reply.length > MAX_REPLY_BYTES) return { error: "redis reply too large", exact: true, answered: false };
  const d = refDecode(reply);
  if (!d.ok) return { error: "cannot read redis response: ", exact: false, answered: false };
  // An error reply is Redis refusing, whatever its text (even none).
  if (d.value.type === "error") return { error: d.value.text, exact: true, answered: true };
  return { value: d.value };
}

function show(rec: RedisCallRecord | undefined): string {
  if (rec === undefined) return "(none)";
  const reply = rec.reply ?? Buffer.alloc(0);
  const bytes = reply.length > 80 ? JSON.stringify(reply.subarray(0, 80).toString("latin1")) + `… (${reply.length} bytes)` : JSON.stringify(reply.toString("latin1"));
  return `${rec.command.join(" ")} → status ${rec.status}${rec.failure ? ` (${rec.failure})` : ""} ${bytes}`;
}

const sameCommand = (a: string[], b: string[]) => a.length === b.length && a.every((x, k) => x === b[k]);

/**
 * Skips the SCRIPT LOADs the plugin sends at start to warm Redis's script cache: their replies
 * are ignored and they change no balance, so any reply to them is fine.
 */
function skipScriptLoads(calls: readonly RedisCallRecord[], at: { i: number }): void {
  while (at.i < calls.length && calls[at.i].command[0]?.toUpperCase() === "SCRIPT") at.i++;
}

/**
 * One command as the client sends it: with its one retry after a NOAUTH error (a fresh call), and
 * its resends after TRYAGAIN while the waits add up to less than the timeout.
 */
function takeOne(calls: readonly RedisCallRecord[], at: { i: number }, what: string): { rec: RedisCallRecord; view: View } {
  skipScriptLoads(calls, at);
  const rec = calls[at.i];
  at.i++;
  let view = viewOf(rec);
  let noauthRetried = false;
  let tries = 0;
  let waited = 0;
  for (;;) {
    let again = false;
    if ("error" in view && view.answered && view.error.includes("NOAUTH") && !noauthRetried) {
      noauthRetried = true;
      tries = 0;
      waited = 0;
      again = true;
    } else if ("error" in view && view.answered && view.error.startsWith("TRYAGAIN")) {
      const wait = TRYAGAIN_WAITS_MS[tries] ?? TRYAGAIN_WAIT_MAX_MS;
      if (waited + wait < TIMEOUT_MS) {
        tries++;
        waited += wait;
        again = true;
      }
    }
    if (!again) return { rec, view };
    skipScriptLoads(calls, at);
    const next = calls[at.i];
    expectThat(next !== undefined && sameCommand(next.command, rec.command), () => `${what}: after ${show(calls[at.i - 1])} the same command must be sent again, got ${show(next)}`);
    at.i++;
    view = viewOf(next);
  }
}

/** Walks the calls a command made (with its one NOAUTH retry); returns the final view. */
function takeCommand(calls: readonly RedisCallRecord[], at: { i: number }, expected: string[], what: string): View {
  skipScriptLoads(calls, at);
  const first = calls[at.i];
  expectThat(first !== undefined && sameCommand(first.command, expected), () => `${what}: expected command ${expected.join(" ")}, got ${show(first)}`);
  return takeOne(calls, at, what).view;
}

/**
 * The settlement of the chat: Higress's DECRBY of the usage, or the settlement script (run by
 * SHA, sent in full after NOSCRIPT) carrying the key and minus the usage. Returns the final view.
 */
function takeSettlement(calls: readonly RedisCallRecord[], at: { i: number }): { view: View; script: boolean } {
  skipScriptLoads(calls, at);
  const first = calls[at.i];
  const plain = first !== undefined && sameCommand(first.command, ["DECRBY", KEY, String(CHARGE)]);
  const script = first !== undefined && (first.command[0] === "EVALSHA" || first.command[0] === "EVAL") && first.command.includes(KEY) && first.command.includes(String(-CHARGE));
  expectThat(plain || script, () => `the charge: expected DECRBY ${KEY} ${CHARGE} or the settlement script for it, got ${show(first)}`);
  const { rec, view } = takeOne(calls, at, "the charge");
  if (rec.command[0] === "EVALSHA" && "error" in view && view.answered && view.error.startsWith("NOSCRIPT")) {
    skipScriptLoads(calls, at);
    const full = calls[at.i];
    expectThat(full !== undefined && full.command[0] === "EVAL" && sameCommand(full.command.slice(2), rec.command.slice(2)),
      () => `NOSCRIPT must be answered by sending the script once, got ${show(full)}`);
    return { view: takeOne(calls, at, "the charge (EVAL)").view, script: true };
  }
  return { view, script };
}

/** The 503 for an error; its reason is known exactly unless the reply was unreadable or had no text. */
function errorAnswer(view: { error: string; exact: boolean }): [Answer, boolean] {
  return [redisError(view.error), !view.exact || view.error === ""];
}

function positive(v: RefValue): boolean {
  if (v.type === "integer") return v.value > 0n;
  if (v.type === "bulk" || v.type === "simple") {
    const n = atoi(v.text);
    return n !== null && n > 0n;
  }
  return false;
}

async function runOp(vm: PluginVm, op: Op): Promise<ExchangeResult> {
  switch (op) {
    case "chat": return chat(vm, CONSUMER, jsonResponse(usageJson(USAGE[0], USAGE[1])));
    case "query": return adminGet(vm, `?consumer=${CONSUMER}`);
    case "refresh": return adminPost(vm, "refresh", `consumer=${CONSUMER}&quota=5`);
    case "delta": return adminPost(vm, "delta", `consumer=${CONSUMER}&value=-3`);
  }
}

const FIRST_COMMAND: Record<Op, string[]> = {
  chat: ["GET", KEY],
  query: ["GET", KEY],
  refresh: ["SET", KEY, "5"],
  delta: ["DECRBY", KEY, "3"],
};

export const respReply = defineProperty<RespCase>({
  name: "resp-reply",
  description: "any Redis reply bytes, for chat and admin calls: no trap, the contract's answer, only the allowed commands",
  arbitrary: () => fc.record({
    op: fc.constantFrom<Op>("chat", "query", "refresh", "delta"),
    replies: fc.array(respBytesArb, { minLength: 1, maxLength: 3 }),
  }),
  async check(env: FuzzEnv, c: RespCase): Promise<void> {
    const fake = await env.fake();
    fake.reset(c.replies.map((r) => Buffer.from(r)), Buffer.from(":1\r\n"));
    // The tick runs (it sends TRYAGAIN'd commands again), as it does in Envoy.
    const { vm, configured } = await env.vm(CONFIG, "fake", { tickTimer: true });
    try {
      expectThat(configured, () => "the fuzz config was refused");
      const r = await runOp(vm, c.op);
      // Done: nothing in flight, nothing waiting to be sent again (the tick is back to its slow pace).
      await vm.signal.waitUntil(() => vm.tickPeriodMs !== 10 && vm.redisCalls.every((rec) => rec.status !== undefined), 5_000, () => "the calls to end");
      expectNoTrap(vm);
      const calls = [...vm.redisCalls];
      const at = { i: 0 };
      const view = takeCommand(calls, at, FIRST_COMMAND[c.op], c.op);
      const context = () => `\ncalls:\n${calls.map(show).join("\n")}`;
      try {
        if (c.op === "chat") {
          if ("error" in view || !positive(view.value)) {
            expectAnswer(r, ANSWERS.noQuota, "chat with this balance reply");
          } else {
            expectPassed(r, "chat with a positive balance");
            const { view: charge, script } = takeSettlement(calls, at);
            // Refused by Redis: logged at error, dropped. Not answered (or unreadable): kept for a
            // retry from the tick with a warning, or (single-attempt mode) logged at error.
            // Redis's "not now" errors (loading after a restart, failing over…) count as not answered.
            const transient = "error" in charge && TRANSIENT.some((p) => charge.error.startsWith(p));
            // The settlement script answers a negative number when it refused to write.
            const scriptRefused = script && "value" in charge && charge.value.type === "integer" && charge.value.value < 0n;
            const refused = ("error" in charge && charge.answered && !transient) || scriptRefused;
            const unanswered = "error" in charge && (!charge.answered || transient);
            const line = `charge of ${CHARGE} tokens to ${KEY} failed`;
            const lost = vm.logs.filter((l) => l.level === LogLevel.Error && l.message.includes(line)).length;
            const retried = vm.logs.filter((l) => l.level === LogLevel.Warn && l.message.includes(line) && l.message.endsWith("will retry")).length;
            const ok = refused ? lost === 1 && retried === 0 : unanswered ? lost + retried === 1 : lost + retried === 0;
            // A charge kept for a retry may already have been sent again by the once-a-second tick.
            if (unanswered) {
              const settlement = calls[at.i - 1].command;
              while (at.i < calls.length && (sameCommand(calls[at.i].command, settlement) || sameCommand(calls[at.i].command.slice(2), settlement.slice(2)))) at.i++;
            }
            expectThat(ok, () => `a charge that was ${refused ? "refused by Redis" : unanswered ? "not answered" : "accepted"} must be logged ${refused ? "at error once" : unanswered ? "once (at warn: will retry, or at error)" : "never"}; error lines ${lost}, retry lines ${retried}`);
          }
        } else if (c.op === "query") {
          if ("error" in view) {
            const [want, prefix] = errorAnswer(view);
            expectAnswer(r, want, "query with an error reply", prefix);
          } else {
            const v = view.value;
            if (v.type === "null") expectQueryAnswer(r, CONSUMER, 0n, "query of a null reply");
            else if (v.type === "integer") expectQueryAnswer(r, CONSUMER, v.value, "query of an integer reply");
            else if (v.type === "bulk" || v.type === "simple") {
              const n = atoi(v.text);
              if (n !== null) expectQueryAnswer(r, CONSUMER, n, "query of an integer string");
              else expectAnswer(r, redisError(`quota value of ${CONSUMER} is not an integer`), "query of a non-integer string");
            } else expectAnswer(r, redisError(""), `query of a ${v.type} reply`, true);
          }
        } else {
          const ok = c.op === "refresh" ? ANSWERS.refreshed : ANSWERS.delta;
          if ("error" in view) {
            const [want, prefix] = errorAnswer(view);
            expectAnswer(r, want, `${c.op} with an error reply`, prefix);
          } else {
            expectAnswer(r, ok, `${c.op} with a non-error reply`);
          }
        }
        skipScriptLoads(calls, at);
        expectThat(at.i === calls.length, () => `no other Redis command may be sent, but ${calls.length - at.i} more were`);
      } catch (err) {
        (err as Error).message += context();
        throw err;
      }
    } finally {
      await env.dispose(vm);
    }
  },
});
