// Plugin configurations: arbitrary bytes, arbitrary JSON, and configs shaped like the real one
// with every field mutated (wrong types, out of range, integers as strings, numbers beyond 64
// bits, exponents, duplicated keys, nesting past the parser's limit, megabyte strings, invalid
// UTF-8). proxy_on_configure answers true or false and never traps; false always comes with an
// error log line naming the problem. For the shaped configs the answer itself is predicted from
// the contract's rules (shared/BRIEF.md), and so is the Redis cluster the plugin initialises;
// a configured plugin then answers a chat call with the contract's 403 noquota (Redis is
// unreachable here) and a call without consumer with 401.
import fc from "fast-check";
import { LogLevel } from "../../host";
import { FuzzEnv } from "../env";
import { ANSWERS, CHAT_PATH, expectAnswer, requestHeaders } from "../http";
import { J, fromJs, lit, obj, serialize } from "../model/usage";
import { atoi } from "../model/text";
import { defineProperty, expectNoTrap, expectThat } from "../property";
import { junk } from "./usage-body";

export type ConfigCase =
  | { kind: "shaped"; doc: J }
  | { kind: "json"; text: string }
  | { kind: "bytes"; bytes: Uint8Array };

// ---- generators ----

const anyJson: fc.Arbitrary<J> = fc.jsonValue({ maxDepth: 2 }).map(fromJs);

/** A field: mostly good, sometimes absent, sometimes bad (so that a fair share of configs is valid). */
function field(good: fc.Arbitrary<J>, bad: fc.Arbitrary<J>): fc.Arbitrary<J | null> {
  return fc.oneof(
    { weight: 14, arbitrary: good },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: bad },
  );
}

const str = (s: string) => lit(JSON.stringify(s));

const goodName = fc.oneof(
  fc.constantFrom("admin", "a b", "\u8ba1\u8d39", "x".repeat(300)).map(str),
  fc.string({ minLength: 1, maxLength: 10 }).map(str),
);
const badAny = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom("5", "null", "true", "[]", "{}", '""', "1.5", "-0").map(lit) },
  { weight: 15, arbitrary: anyJson },
  { weight: 10, arbitrary: junk },
  { weight: 4, arbitrary: fc.constant<J>({ t: "deep", depth: 70 }) },
  { weight: 1, arbitrary: fc.constant(lit(JSON.stringify("y".repeat(1 << 20)))) },
);

function intField(min: number, max: number): fc.Arbitrary<J | null> {
  return field(
    fc.oneof(
      fc.integer({ min, max }).map((n) => lit(String(n))),
      fc.integer({ min, max }).map((n) => str(String(n))),
      fc.constantFrom(lit("0"), lit("null"), lit(String(max)), str("+" + max)),
    ),
    fc.oneof(
      fc.constantFrom(String(max + 1), String(min - 1), "-1", "63.5", "1e3", "6379.0", "1E2", "9223372036854775808", "-9223372036854775809", "1e400", "-0.0").map(lit),
      fc.constantFrom("http", "", " 80", "80 ", "0x50", "1.0", "-9223372036854775808", "9223372036854775807", "\u0661").map(str),
      badAny,
    ),
  );
}

const redisObject = fc.record({
  service_name: field(fc.constantFrom("redis.static", "redis", "r.default.svc.cluster.local", "a?b", "x|y", "\u00e9.static", "s".repeat(2000)).map(str), badAny),
  service_port: intField(0, 65535),
  username: field(fc.constantFrom("", "quota", "u:1").map(str), badAny),
  password: field(fc.constantFrom("", "pw", "p@ss word").map(str), badAny),
  timeout: intField(0, 3_600_000),
  database: intField(0, 1 << 30),
  extra: fc.option(fc.tuple(fc.constantFrom("servicename", "port", "db", "tls"), anyJson), { freq: 4 }),
});

/** `spend_history`: an object with ttl_days good or bad, or not an object (the oracle is exact for these). */
const spendHistory = field(
  fc.option(fc.oneof(
    fc.integer({ min: 1, max: 3660 }).map((n) => lit(String(n))),
    fc.constantFrom("0", "3661", "-1", "1.5", '"90"', "true", "[]", "{}", "null").map(lit),
  ), { freq: 4 }).map((t) => obj(t === null ? [] : [["ttl_days", t]])),
  fc.constantFrom("5", "true", "[]", '""', '"on"').map(lit),
);

/** `other_paths` entries: well-formed, malformed, and any printable ASCII (allowEntryValid decides). */
const allowEntry = fc.oneof(
  fc.constantFrom("/health", "GET /v1/models", "GET,HEAD /x/*", "* /ping", "POST /models/*:countTokens", "/a/b/c", "DELETE  /v1/files/*"),
  fc.constantFrom("get /x", "/", "health", "/a/../b", "/a//b", "/a*b", "/%41", "GET,* /x", "/a;b", "", "  ", "G3T /x", "/a?b", "/*x*", "POST"),
  fc.string({ maxLength: 14 }),
);

/** `other_paths`: an object with each field good or bad, or not an object. */
const otherPaths = field(
  fc.record({
    action: fc.option(fc.oneof(fc.constantFrom("refuse", "pass", "charge").map(str), fc.constantFrom('"deny"', '"Pass"', "1", "true", "[]").map(lit)), { freq: 3 }),
    request_cost: fc.option(fc.oneof(
      fc.integer({ min: 1, max: 1_000_000_000 }).map((n) => lit(String(n))),
      fc.constantFrom("0", "-1", "1000000001", "1.5", '"5"', "true", "null").map(lit),
    ), { freq: 3 }),
    allow: fc.option(fc.oneof(
      fc.array(allowEntry.map(str), { maxLength: 4 }).map((items): J => ({ t: "arr", items })),
      fc.constantFrom('"/health"', "5", "{}").map(lit),
      fc.array(fc.constantFrom("1", "null", "[]").map(lit), { minLength: 1, maxLength: 2 }).map((items): J => ({ t: "arr", items })),
    ), { freq: 3 }),
  }).map((o) => {
    const entries: Array<[string, J]> = [];
    for (const k of ["action", "request_cost", "allow"] as const) {
      const v = o[k];
      if (v !== null && v !== undefined) entries.push([k, v]);
    }
    return obj(entries);
  }),
  fc.constantFrom("5", "true", "[]", '"refuse"').map(lit),
);

/** `shadow`: a boolean, null, or something else. */
const shadowField = field(fc.constantFrom("true", "false", "null").map(lit), fc.constantFrom('"yes"', "1", "0", "[]").map(lit));

const shaped: fc.Arbitrary<J> = fc.record({
  admin_consumer: field(goodName, badAny),
  admin_path: field(fc.constantFrom("/quota", "/q", "", "/a/b", "quota", "/\u00e9").map(str), badAny),
  redis_key_prefix: field(fc.constantFrom("chat_quota:", "", "tq:", "{x}:").map(str), badAny),
  redis: field(redisObject.map((r) => {
    const entries: Array<[string, J]> = [];
    for (const k of ["service_name", "service_port", "username", "password", "timeout", "database"] as const) {
      const v = r[k];
      if (v !== null) entries.push([k, v]);
    }
    if (r.extra) entries.push([r.extra[0], r.extra[1]]);
    return obj(entries);
  }), badAny),
  spend_history: fc.option(spendHistory, { freq: 3 }),
  other_paths: fc.option(otherPaths, { freq: 3 }),
  shadow: fc.option(shadowField, { freq: 4 }),
  unknown: fc.option(fc.tuple(fc.constantFrom("admin_pth", "redisKeyPrefix", "rules", ""), anyJson), { freq: 4 }),
  duplicate: fc.option(fc.tuple(fc.constantFrom("admin_consumer", "redis", "admin_path"), fc.oneof(goodName, badAny)), { freq: 5 }),
  order: fc.boolean(),
}).map((c) => {
  const entries: Array<[string, J]> = [];
  for (const k of ["admin_consumer", "admin_path", "redis_key_prefix", "redis"] as const) {
    const v = c[k];
    if (v !== null) entries.push([k, v]);
  }
  if (c.spend_history !== null && c.spend_history !== undefined) entries.push(["spend_history", c.spend_history]);
  if (c.other_paths !== null && c.other_paths !== undefined) entries.push(["other_paths", c.other_paths]);
  if (c.shadow !== null && c.shadow !== undefined) entries.push(["shadow", c.shadow]);
  if (c.unknown) entries.push([c.unknown[0], c.unknown[1]]);
  if (c.duplicate) entries.splice(c.order ? 0 : entries.length, 0, [c.duplicate[0], c.duplicate[1]]);
  return obj(entries);
});

const caseArb: fc.Arbitrary<ConfigCase> = fc.oneof(
  { weight: 6, arbitrary: shaped.map((doc): ConfigCase => ({ kind: "shaped", doc })) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }).map((text): ConfigCase => ({ kind: "json", text })) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      // A valid config with bytes flipped, cut or inserted.
      fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("flip", "cut", "insert")).map(([at, b, how]) => {
        const base = Buffer.from(JSON.stringify({ admin_consumer: "admin", redis: { service_name: "redis.static", service_port: 6379, timeout: 500 } }));
        const i = at % base.length;
        if (how === "cut") return new Uint8Array(base.subarray(0, i));
        if (how === "flip") { base[i] = b; return new Uint8Array(base); }
        return new Uint8Array(Buffer.concat([base.subarray(0, i), Buffer.from([b]), base.subarray(i)]));
      }),
    ).map((bytes): ConfigCase => ({ kind: "bytes", bytes })),
  },
);

// ---- the model ----

function get(o: J, key: string): J | null {
  if (o.t !== "obj") return null;
  for (let i = o.entries.length - 1; i >= 0; i--) if (o.entries[i].key === key) return o.entries[i].value;
  return null;
}

const isNull = (v: J | null) => v === null || (v.t === "lit" && v.text === "null");
const isString = (v: J) => v.t === "lit" && v.text.startsWith('"');

/** A string field: its value ("" when absent), or undefined when it is not a string. */
function strField(o: J, key: string): string | undefined {
  const v = get(o, key);
  if (isNull(v)) return "";
  return isString(v!) ? (JSON.parse((v as { text: string }).text) as string) : undefined;
}

/** An integer field: its value (0 when absent), or undefined when wrong or out of range. */
function intValue(o: J, key: string, min: bigint, max: bigint): bigint | undefined {
  const v = get(o, key);
  if (isNull(v)) return 0n;
  if (v!.t !== "lit") return undefined;
  const text = v!.text;
  let n: bigint | null = null;
  if (text.startsWith('"')) n = atoi(JSON.parse(text) as string);
  else if (!/[.eE]/.test(text)) n = atoi(text);
  if (n === null || n < min || n > max) return undefined;
  return n;
}

/** The Redis cluster a valid config initialises (the part the host resolves), or null when invalid. */
export function expectedCluster(doc: J): string | null {
  if (serialize([doc], { maxDepth: 64 }).errorAt >= 0 || doc.t !== "obj") return null;
  const admin = strField(doc, "admin_consumer");
  if (admin === undefined || admin === "" || strField(doc, "admin_path") === undefined || strField(doc, "redis_key_prefix") === undefined) return null;
  const redis = get(doc, "redis");
  if (redis === null || isNull(redis) || redis.t !== "obj") return null;
  const name = strField(redis, "service_name");
  const port = intValue(redis, "service_port", 0n, 65535n);
  if (strField(redis, "username") === undefined || strField(redis, "password") === undefined) return null;
  if (intValue(redis, "timeout", 0n, 3_600_000n) === undefined || intValue(redis, "database", 0n, 1n << 30n) === undefined) return null;
  if (name === undefined || name === "" || port === undefined) return null;
  if (!spendHistoryValid(get(doc, "spend_history"))) return null;
  if (!otherPathsValid(get(doc, "other_paths"))) return null;
  const shadow = get(doc, "shadow");
  if (!isNull(shadow) && !(shadow!.t === "lit" && (shadow!.text === "true" || shadow!.text === "false"))) return null;
  const p = port !== 0n ? port : name.endsWith(".static") ? 80n : 6379n;
  const full = `outbound|${p}||${name}?`;
  return full.slice(0, full.indexOf("?"));
}

/** absent or null; or an object whose ttl_days is absent, null, or an integer literal in 1..3660. */
function spendHistoryValid(v: J | null): boolean {
  if (isNull(v)) return true;
  if (v!.t !== "obj") return false;
  const t = get(v!, "ttl_days");
  if (isNull(t)) return true;
  if (t!.t !== "lit" || !/^-?\d+$/.test(t!.text)) return false;
  const n = BigInt(t!.text);
  return n >= 1n && n <= 3660n;
}

/**
 * `other_paths` as README's configuration table states it: an object; action one of refuse, pass,
 * charge; request_cost an integer 1..10^9; allow a list of strings, each "/path" or "METHODS /path".
 */
function otherPathsValid(v: J | null): boolean {
  if (isNull(v)) return true;
  if (v!.t !== "obj") return false;
  const action = get(v!, "action");
  if (!isNull(action) && !(action!.t === "lit" && ['"refuse"', '"pass"', '"charge"'].includes(action!.text))) return false;
  const cost = get(v!, "request_cost");
  if (!isNull(cost)) {
    if (cost!.t !== "lit" || !/^-?\d+$/.test(cost!.text)) return false;
    const n = BigInt(cost!.text);
    if (n < 1n || n > 1_000_000_000n) return false;
  }
  const allow = get(v!, "allow");
  if (isNull(allow)) return true;
  if (allow!.t !== "arr") return false;
  return allow!.items.every((item) => item.t === "lit" && isString(item) && allowEntryValid(JSON.parse(item.text) as string));
}

/**
 * An allow entry: optional upper-case methods (or a lone *) and a space, then "/" and plain
 * segments: non-empty, not "." or "..", printable ASCII without % \ ; ? # except a leading *
 * (a lone * is any segment); at most 16 segments.
 */
function allowEntryValid(entry: string): boolean {
  const text = entry.trim();
  let path = text;
  const space = text.indexOf(" ");
  if (space >= 0) {
    const methods = text.slice(0, space).split(",");
    const lone = methods.length === 1 && methods[0] === "*";
    if (!lone && !methods.every((m) => /^[A-Z]{1,16}$/.test(m))) return false;
    path = text.slice(space + 1).trim();
  }
  if (!path.startsWith("/") || path.length < 2) return false;
  const segments = path.slice(1).split("/");
  if (segments.length > 16) return false;
  return segments.every(segmentValid);
}

function segmentValid(seg: string): boolean {
  if (seg === "" || seg === "." || seg === "..") return false;
  if (seg === "*") return true;
  const rest = seg.startsWith("*") ? seg.slice(1) : seg;
  return /^[\x21-\x7e]*$/.test(rest) && !/[%\\;?#*]/.test(rest);
}

function configBytes(c: ConfigCase): Buffer {
  if (c.kind === "shaped") return serialize([c.doc]).bytes;
  if (c.kind === "json") return Buffer.from(c.text, "utf8");
  return Buffer.from(c.bytes);
}

export const config = defineProperty<ConfigCase>({
  name: "config",
  description: "any plugin config: configure answers true or false, never traps, false comes with an error log",
  arbitrary: () => caseArb,
  async check(env: FuzzEnv, c: ConfigCase): Promise<void> {
    const resolved: string[] = [];
    const { vm, configured } = await env.vm(configBytes(c), "none", {
      redis: { resolve: (name) => { resolved.push(name); return undefined; } },
    });
    try {
      expectNoTrap(vm);
      expectThat(typeof configured === "boolean", () => `configure answered ${String(configured)}`);
      const errors = vm.logs.filter((l) => l.level >= LogLevel.Error);
      if (!configured) {
        expectThat(errors.some((l) => /^ai-quota: invalid config: \S/.test(l.message)), () => `a refused config must log why at error; logged:\n${vm.logText()}`);
      } else {
        expectThat(errors.length === 0, () => `an accepted config logged errors:\n${vm.logText(LogLevel.Error)}`);
      }
      if (c.kind === "shaped") {
        const cluster = expectedCluster(c.doc);
        expectThat(configured === (cluster !== null), () => `configure answered ${configured}, the contract says ${cluster !== null}; logs:\n${vm.logText()}`);
        if (cluster !== null) expectThat(resolved[0] === cluster, () => `the plugin initialised ${JSON.stringify(resolved[0])}, expected ${JSON.stringify(cluster)}`);
      }
      if (configured) {
        const chatCall = await vm.newStream().run({ request: { headers: requestHeaders("POST", CHAT_PATH, "c"), body: "{}" } });
        expectAnswer(chatCall, ANSWERS.noQuota, "a chat call with Redis unreachable");
        const anonymous = await vm.newStream().run({ request: { headers: requestHeaders("GET", "/", null) } });
        expectAnswer(anonymous, ANSWERS.noKey, "a call without consumer");
        expectNoTrap(vm);
      }
    } finally {
      await env.dispose(vm);
    }
  },
});
