// Request headers and paths of any kind, with a real redis-server: consumer headers absent,
// empty, repeated, binary, control characters, commas, over 256 bytes; paths long, empty,
// binary, with schemes, authorities, escapes (good and bad), queries and fragments; hundreds of
// other headers; requests that end with trailers. The oracle applies the identity rules and then the routing of the contract
// (model/form.ts: Go's url.Parse for the path; model/path.ts: the path read every way an upstream might, suffix match), and predicts the answer exactly:
// 401/403 for identity, pass-through of what other_paths allows (model/other_paths.ts) or its 403,
// 403 noquota or a charged chat, the admin answers.
import fc from "fast-check";
import { HeaderPairs } from "../../host";
import { FuzzEnv } from "../env";
import { ADMIN, ANSWERS, KEY_PREFIX, expectAnswer, expectPassed, expectQueryAnswer, jsonResponse, usageJson } from "../http";
import { first, identityOf, parseQuery, routeOf, splitPath } from "../model/form";
import { wellFormed } from "../model/text";
import { allowedByDefault } from "../model/other_paths";
import { defineProperty, expectNoTrap, expectThat } from "../property";

const CONFIG = { admin_consumer: ADMIN, redis: { service_name: "redis.static" } };
const BALANCE = 100;

export interface HeadersCase {
  /** x-mse-consumer headers: the name as written (any case) and the value. */
  consumers: Array<[string, string]>;
  path: string;
  method: string;
  extra: Array<[string, string]>;
  /** The consumer has a balance (else its key is absent). */
  funded: boolean;
  /** Send an (empty) body after the headers instead of ending the request with them. */
  emptyBody: boolean;
  /** End the request with trailers. */
  trailers?: boolean;
}

const consumerValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("alice", "admin", "bob", "\u8ba1\u8d39-\u00fc", "a b", "x".repeat(256), "\u00e9".repeat(128)) },
  { weight: 3, arbitrary: fc.constantFrom("", "a,b", "a\tb", "x\u0000y", "\u007f", "a\r\nb", "x".repeat(257), "\u00e9".repeat(129), "\ud800", "a\udfffb", " ", "admin ", "Admin") },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 250, maxLength: 300 }) },
);

const consumerHeaders = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom("x-mse-consumer", "X-Mse-Consumer", "X-MSE-CONSUMER"), consumerValue).map((h) => [h]) },
  { weight: 1, arbitrary: fc.constant([] as Array<[string, string]>) },
  { weight: 2, arbitrary: fc.array(fc.tuple(fc.constantFrom("x-mse-consumer", "X-Mse-Consumer"), consumerValue), { minLength: 2, maxLength: 3 }) },
);

const pathPrefix = fc.constantFrom("", "", "", "/", "/openai", "http://h", "https://h:8080", "//h", "///", "x:", "HTTP://h", "/%2e%2e", "/a%2Fb", "/a%zz", "?", "#", "/a?b=/v1/chat/completions", "\u00e9", "a b");
const pathCore = fc.constantFrom(
  "/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions/quota", "/v1/chat/completions/quota/refresh", "/v1/chat/completions/quota/delta",
  "/v1/chat/completion", "/v1/chat/completions/", "/V1/chat/completions", "/v1/chat/completions%2Fquota", "/v1/chat/%63ompletions",
  "/v1/chat/completions/quota%2Frefresh", "/v1/chat/completions/quota/%72efresh", "", "/v1/chat/completions/quota/refresh/", "/v1/chat/completions/QUOTA",
  // Paths other_paths allows by default, and near misses.
  "/v1/models", "/v1/models/gpt-4o", "/v1/models/a/b", "/health", "/HEALTHZ/", "/v1/messages/count_tokens", "/v1beta/models/g:countTokens", "/v1beta/models/:countTokens",
  "/v1/images/generations", "/v1/mod%65ls", "/v1//models", "/v1/./models", "/v1\\models",
);
const pathSuffix = fc.constantFrom("", "", "", "?consumer=alice", "?consumer=", "#x", "?a#b", "?", "??consumer=bob", "?consumer=%zz", "%", "%4", "#/v1/chat/completions", "?consumer=admin&consumer=bob", "?consumer=%E8%AE%A1", "?x=1;consumer=bob", "?consumer=bob#?consumer=alice");

const pathArb = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(pathPrefix, pathCore, pathSuffix).map(([a, b, c]) => a + b + c) },
  { weight: 2, arbitrary: fc.tuple(fc.string({ unit: "binary", maxLength: 10 }), pathCore, fc.string({ unit: "binary", maxLength: 10 })).map(([a, b, c]) => a + b + c) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  // Long: 64 KiB and more in front of (or behind) the chat path.
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(60_000, 65_536, 70_000), fc.constantFrom("a", "/", "%41", "\u00e9"), pathCore, fc.boolean()).map(([n, unit, core, front]) =>
    front ? "/" + unit.repeat(Math.ceil(n / unit.length)) + core : core + "?consumer=" + unit.repeat(Math.ceil(n / unit.length))) },
);

const extraHeaders = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ unit: "binary", maxLength: 20 })), { maxLength: 8 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(10_000)).map((n) => Array.from({ length: n }, (_, i): [string, string] => [`x-h${i % 50}`, "v".repeat(i % 30)])) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("x-big", "cookie"), fc.constantFrom(65_536, 1 << 20)).map(([k, n]): Array<[string, string]> => [[k, "c".repeat(n)]]) },
);

function requestOf(c: HeadersCase): HeaderPairs {
  // Names that would change what the request is (pseudo-headers, the consumer header) are not extras.
  const extra = c.extra.filter(([k]) => !k.startsWith(":") && k.toLowerCase() !== "x-mse-consumer");
  return [[":method", c.method], [":path", c.path], [":authority", "gateway.test"], [":scheme", "http"], ...c.consumers, ...extra];
}

export const headers = defineProperty<HeadersCase>({
  name: "headers",
  description: "any consumer header, path and extra headers: no trap, the contract's answer for the identity and route",
  arbitrary: () => fc.record({
    consumers: consumerHeaders,
    path: pathArb,
    method: fc.constantFrom("GET", "POST", "PUT", "HEAD", "get", "", "g\u00e9t"),
    extra: extraHeaders,
    funded: fc.boolean(),
    emptyBody: fc.boolean(),
    trailers: fc.boolean(),
  }),
  async check(env: FuzzEnv, c: HeadersCase): Promise<void> {
    const { client } = await env.redis();
    await client.command("FLUSHALL");
    // What the plugin receives: the header bytes are UTF-8, so lone surrogates arrive as U+FFFD.
    const identity = identityOf(c.consumers.map(([, v]) => wellFormed(v)));
    const consumer = identity.kind === "valid" ? identity.consumer : null;
    if (consumer !== null && c.funded) await client.command("SET", KEY_PREFIX + consumer, String(BALANCE));
    const vm = await env.sharedVm("headers", CONFIG, "real");
    const callsBefore = vm.redisCalls.length;
    const r = await vm.newStream().run({
      request: { headers: requestOf(c), body: c.emptyBody ? "" : undefined, trailers: c.trailers === true ? [["x-trailer", "1"]] : undefined },
      response: () => jsonResponse(usageJson(1, 1)),
    });
    await vm.idle();
    expectNoTrap(vm);
    if (identity.kind === "missing") return expectAnswer(r, ANSWERS.noKey, "no consumer header");
    if (identity.kind === "empty") return expectAnswer(r, ANSWERS.unauthorized, "an empty consumer");
    if (identity.kind === "invalid") return expectAnswer(r, ANSWERS.badConsumer, "an invalid consumer header");
    const name = consumer!;
    const split = splitPath(wellFormed(c.path));
    const route = routeOf(wellFormed(c.path));
    const balance = async () => client.command("GET", KEY_PREFIX + name);
    switch (route) {
      case "none":
        // Not metered, not admin: the default other_paths refuses it unless its allow list has it.
        if (allowedByDefault(wellFormed(c.method), Buffer.from(wellFormed(c.path), "utf8"))) {
          expectPassed(r, `path ${JSON.stringify(split.path.slice(0, 80))} (not ours, allowed)`);
        } else {
          expectAnswer(r, ANSWERS.pathNotMetered, `path ${JSON.stringify(split.path.slice(0, 80))} (not ours, not allowed)`);
        }
        expectThat(vm.redisCalls.length === callsBefore, () => "a request that is not ours made Redis calls");
        return;
      case "chat":
        if (!c.funded) return expectAnswer(r, ANSWERS.noQuota, "chat without balance");
        expectPassed(r, "chat with a balance");
        expectThat((await balance()) === String(BALANCE - 2), () => "the chat call was not charged exactly its usage");
        return;
      default:
        break;
    }
    if (name !== ADMIN) return expectAnswer(r, ANSWERS.notAdmin, `${route} by a non-admin`);
    if (route === "refresh") return expectAnswer(r, ANSWERS.badRefresh, "refresh without a form");
    if (route === "delta") return expectAnswer(r, ANSWERS.badDelta, "delta without a form");
    const target = first(parseQuery(split.rawQuery), "consumer");
    if (target === null || target === "") return expectAnswer(r, ANSWERS.queryNoConsumer, "query without consumer");
    expectQueryAnswer(r, target, target === name && c.funded ? BigInt(BALANCE) : 0n, "query");
  },
});
