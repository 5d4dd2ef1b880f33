// assembly/util/path.ts and assembly/quota/routes.ts through build/test/routes.wasm: how a request
// path is normalised and routed. The properties play the attacker: a path that any modelled
// upstream (or proxy chain in front of it) would serve as a generation endpoint is never left
// unmetered; the plugin agrees with the reference model in fuzz/model/path.ts.
import fc from "fast-check";
import { canonicalSuffix as modelSuffix, decodeOnce, pathViews, routeTarget } from "../../fuzz/model/path";
import { loadParsers } from "./parsers_module";

const m = loadParsers("routes");
afterEach(() => expect(m.logs).toEqual([]));

interface Views { folded: string; plain: string; cut: string; dotdot: boolean }
const normalize = (raw: string | Uint8Array): Views => m.json("normalize", typeof raw === "string" ? Buffer.from(raw, "latin1") : raw);
const suffixOf = (s: string): string | null => m.json("canonical_suffix", s);

function configure(suffixes: unknown[] | null, adminPath = "/quota"): string {
  return m.text("routes_config", `${suffixes === null ? "" : JSON.stringify(suffixes)}\u0000${adminPath}`);
}
function route(target: string): { operation: string; api: string; rawQuery: string } {
  return m.json("route", target);
}

describe("normalisation", () => {
  test.each([
    // [raw path (latin1 bytes), canonical form]
    ["/v1/chat/completions", "/v1/chat/completions"],
    ["", ""],
    ["/", ""],
    ["/V1/Chat/COMPLETIONS", "/v1/chat/completions"],
    ["/v1/chat/completions/", "/v1/chat/completions"],
    ["/v1/chat/completions///", "/v1/chat/completions"],
    ["//v1//chat///completions", "/v1/chat/completions"],
    ["/v1/./chat/./completions/.", "/v1/chat/completions"],
    ["/v1/chat/x/../completions", "/v1/chat/completions"],
    ["/../../v1/chat/completions", "/v1/chat/completions"],
    ["/v1/chat/completions/..", "/v1/chat"],
    ["/v1\\chat\\completions", "/v1/chat/completions"],
    ["/v1/chat/complet%69ons", "/v1/chat/completions"],
    ["/v1/chat/complet%2569ons", "/v1/chat/completions"], // decoded twice
    ["/v1/chat/complet%252569ons", "/v1/chat/completions"], // three times
    ["/v1/chat/complet%%369ons", "/v1/chat/completions"], // "%%36" → "%6", then "%69" → "i"
    ["/v1/chat/complet%6%39ons", "/v1/chat/completions"], // "%39" → "9" completes "%69"
    ["/v1/chat%2Fcompletions", "/v1/chat/completions"],
    ["/v1/chat%2fcompletions", "/v1/chat/completions"],
    ["/v1/chat%5Ccompletions", "/v1/chat/completions"],
    ["/v1/chat/%2e%2e/chat/completions", "/v1/chat/completions"],
    ["/v1/chat/%2E/completions", "/v1/chat/completions"],
    ["/v1/%63%68%61%74/completions", "/v1/chat/completions"],
    ["/v1/chat/completions%zz", "/v1/chat/completions%zz"], // a bad escape stays
    ["/v1/chat/completions%", "/v1/chat/completions%"],
    ["/v1/chat/completions%00", "/v1/chat/completions\u0000"],
    ["/v1/chat/complet\u00c4\u00b1ons", "/v1/chat/completions"], // ı (UTF-8 C4 B1)
    ["/v1/me\u00c3\u009fages", "/v1/messages"], // ß → ss
    ["/v1/chat/completion\u00c5\u00bf", "/v1/chat/completions"], // ſ
    [":\u00ef\u00ac\u0086reamGenerateContent", "/:streamgeneratecontent"], // ﬆ ligature
    ["/v1/chat/completions;x=1", "/v1/chat/completions;x=1"],
  ])("%j → %j", (raw, plain) => {
    expect(normalize(raw).plain).toBe(Buffer.from(plain, "utf8").toString("latin1"));
  });

  test("';' path parameters are cut in the second reading", () => {
    expect(normalize("/v1/chat/completions;jsessionid=1")).toMatchObject({ plain: "/v1/chat/completions;jsessionid=1", cut: "/v1/chat/completions" });
    expect(normalize("/v1/x/..;/chat/completions")).toMatchObject({ cut: "/v1/chat/completions", dotdot: true });
  });

  test("'..' is flagged; the decoded, folded path is kept for the across-dots reading", () => {
    expect(normalize("/V1/chat/a%2Fb/../completions")).toEqual({
      folded: "/v1/chat/a/b/../completions", plain: "/v1/chat/a/completions", cut: "/v1/chat/a/completions", dotdot: true,
    });
    expect(normalize("/v1/./chat").dotdot).toBe(false);
  });

  test("a 64 KiB path of escapes and dot segments is read in linear time", () => {
    const raw = "/" + "%25".repeat(20_000) + "2e%2e/" + "x/../".repeat(5_000) + "v1/chat/completions";
    const started = process.hrtime.bigint();
    expect(normalize(raw).plain.endsWith("/v1/chat/completions")).toBe(true);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2_000); // a generous bound; quadratic would be minutes
  });
});

describe("configured suffixes", () => {
  test.each([
    ["/v1/chat/completions", "/v1/chat/completions"],
    [":generateContent", ":generatecontent"],
    ["completions", "completions"],
    ["/V1/Messages/", "/v1/messages"],
    ["//v1//messages", "/v1/messages"],
    ["/v1/chat%2Fcompletions", "/v1/chat/completions"],
    ["/", null],
    ["///", null],
    ["/v1/../messages", null],
    ["/v1/./messages", null],
    ["..", null],
  ])("%j → %j", (text, canonical) => {
    expect(suffixOf(text)).toBe(canonical);
    expect(modelSuffix(text)).toBe(canonical);
  });

  test.each([
    [["/v1/chat/completions", " "], ""],
    [[], "enable_path_suffixes must not be empty"],
    [["", "  "], "enable_path_suffixes must not be empty"],
    ["x", "enable_path_suffixes must be a list of path suffixes"],
    [[1], "enable_path_suffixes[0] must be a string"],
    [["/ok", "/"], "enable_path_suffixes[1] must name a path end"],
    [["/v1/../x"], "enable_path_suffixes[0] must name a path end"],
    [["/v1/chat/completions?x"], "enable_path_suffixes[0] must be a path suffix without '?' or '#'"],
  ])("%j → %j", (value, error) => {
    const got = m.text("routes_config", `${JSON.stringify(value)}\u0000/quota`);
    if (error === "") expect(got).toBe("");
    else expect(got).toContain(error);
  });

  test.each([["/"], [""], ["//"], ["/.."], ["/./"], ["/x/../quota"]])("admin_path %j is refused", (adminPath) => {
    expect(configure(null, adminPath)).toContain("admin_path must name a path below /v1/chat/completions");
  });

  test("admin_path without a leading '/' is Higress's: the admin API ends the chat path's last segment", () => {
    expect(configure(null, "quota")).toBe("");
    expect(route("/v1/chat/completionsquota?consumer=a")).toEqual({ operation: "query", api: "", rawQuery: "consumer=a" });
  });
});

describe("default routes: every generation endpoint of the upstreams, in every spelling", () => {
  beforeEach(() => expect(configure(null)).toBe(""));

  test.each([
    // OpenAI, vLLM, SGLang
    ["/v1/chat/completions", "openai-chat"],
    ["/v1/completions", "openai-completions"],
    ["/v1/responses", "openai-responses"],
    ["/v1/embeddings", "openai-embeddings"],
    // Azure OpenAI, DeepSeek, Gemini's OpenAI-compatible API, gateways with a prefix
    ["/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "openai-chat"],
    ["/chat/completions", "openai-chat"],
    ["/v1beta/openai/chat/completions", "openai-chat"],
    ["/v1beta/openai/embeddings", "openai-embeddings"],
    ["/openai/v1/responses", "openai-responses"],
    // Anthropic (and vLLM's Anthropic-compatible route)
    ["/v1/messages", "anthropic-messages"],
    ["/anthropic/v1/messages?beta=true", "anthropic-messages"],
    // Gemini
    ["/v1beta/models/gemini-2.0-flash:generateContent", "gemini-generate"],
    ["/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", "gemini-stream"],
    ["/v1/projects/p/locations/l/publishers/google/models/gemini-2.0-flash:generateContent", "gemini-generate"],
    ["/v1beta/models/gemini-2.0-flash%3AgenerateContent", "gemini-generate"],
    // vLLM's SageMaker-style dispatcher, SGLang's native API
    ["/invocations", "other"],
    ["/generate", "native-generate"], // TGI's or SGLang's (was "other": issue 23 reads their usage)
    ["/api/generate", "ollama-generate"],
    ["/api/chat", "ollama-chat"],
    ["/api/embed", "ollama-embed"],
    ["/api/embeddings", "ollama-embed"],
    ["/generate_stream", "tgi-generate-stream"],
    ["/completion", "llamacpp-completion"],
    ["/infill", "llamacpp-infill"],
    ["/encode", "sglang-encode"],
    // What works since Higress: escapes, query, fragment, absolute form
    ["/v1/chat/complet%69ons", "openai-chat"],
    ["/v1/chat%2Fcompletions", "openai-chat"],
    ["/v1/chat/completions?x=1", "openai-chat"],
    ["/v1/chat/completions#frag", "openai-chat"],
    ["http://h/v1/chat/completions", "openai-chat"],
    ["https://u@h:8443/v1/chat/completions?x", "openai-chat"],
    ["//h/v1/chat/completions", "openai-chat"],
    ["mailto:x/v1/chat/completions", "openai-chat"], // Go reads no path here; the literal reading is metered
    // Attacker spellings
    ["/V1/CHAT/COMPLETIONS", "openai-chat"],
    ["/v1/chat/completions/", "openai-chat"],
    ["/v1//chat//completions", "openai-chat"],
    ["/v1/chat/./completions", "openai-chat"],
    ["/v1/chat/x/../completions", "openai-chat"],
    ["/v1/chat/completions/x/..", "openai-chat"],
    ["/v1/chat/complet%2569ons", "openai-chat"],
    ["/v1/chat/completions;x", "openai-chat"],
    ["/v1\\chat\\completions", "openai-chat"],
    ["/v1/chat/complet\u0131ons", "openai-chat"],
    ["/v1/me\u00dfages", "anthropic-messages"],
    ["/v1/chat/a%2Fb/../completions", "openai-chat"], // ".." eats "a%2Fb" where %2F is kept, "b" where it is decoded
    ["/v1/chat/completions/%252e%252e/..", "openai-chat"], // ".." eats "%2e%2e" where decoded once
    // Over-metered on purpose: with a "..", readings differ, so the suffix's segments in order suffice.
    ["/v1/chat/completions/..", "openai-chat"],
    ["/v1/chat/completions/../models", "openai-chat"],
  ])("%j is metered as %s", (target, api) => {
    expect(route(target)).toMatchObject({ operation: "metered", api });
  });

  test.each([
    ["/v1/models"],
    ["/v1/messages/count_tokens"],
    ["/v1/messages/batches"],
    ["/v1/batches"],
    ["/v1/files"],
    ["/v1/responses/resp_1"],
    ["/v1/chat/completions/chatcmpl-1/messages"],
    ["/v1beta/models/gemini-2.0-flash:countTokens"],
    ["/v1beta/models/gemini-2.0-flash:batchGenerateContent"],
    ["/v1beta/models/text-embedding-004:embedContent"],
    ["/v1/audio/transcriptions"],
    ["/v1/images/generations"],
    ["/v1/threads/t/runs"],
    ["/tokenize"],
    ["/health"],
    ["/v1/chat/completions/x"],
    ["/v1/chat/completionsx"],
    ["/v1/chat/completions%3Fx"], // an encoded '?' is part of the path, not a query
    ["/v1/chat/completions%00"],
      ["/?/v1/chat/completions"],
    ["/#/v1/chat/completions"],
  ])("%j is not metered", (target) => {
    expect(route(target).operation).toBe("none");
  });

  test.each([
    ["/v1/chat/completions/quota?consumer=a", "query", "consumer=a"],
    ["/v1/chat/completions/quota/refresh", "refresh", ""],
    ["/v1/chat/completions/quota/delta", "delta", ""],
    ["/gw/v1/chat/completions/quota", "query", ""],
    ["/v1/chat/completions/QUOTA/", "query", ""],
    ["/v1/chat/completions/quota%2Frefresh", "refresh", ""],
    ["/v1/chat/completions/quota/%72efresh", "refresh", ""],
  ])("the admin API: %j → %s", (target, operation, rawQuery) => {
    expect(route(target)).toEqual({ operation, api: "", rawQuery });
  });

  test("the admin API is not under the other suffixes (Higress PR 3748)", () => {
    expect(route("/v1/messages/quota").operation).toBe("none");
    expect(route("/v1/responses/quota/refresh").operation).toBe("none");
  });
});

describe("enable_path_suffixes", () => {
  test("Higress's default: only its two paths are metered, by suffix", () => {
    expect(configure(["/v1/chat/completions", "/v1/messages"])).toBe("");
    expect(route("/v1/chat/completions").operation).toBe("metered");
    expect(route("/x/V1/MESSAGES/").operation).toBe("metered");
    expect(route("/v1/completions").operation).toBe("none");
    expect(route("/chat/completions").operation).toBe("none");
  });

  test("a custom suffix is metered as Other; the admin API stays at /v1/chat/completions (Higress's test)", () => {
    expect(configure(["/invoke"])).toBe("");
    expect(route("/llm/invoke")).toMatchObject({ operation: "metered", api: "other" });
    expect(route("/v1/chat/completions").operation).toBe("none");
    expect(route("/v1/chat/completions/quota").operation).toBe("query");
  });

  test("the API kind comes from the path, whatever suffix matched", () => {
    expect(configure(["completions", ":generateContent"])).toBe("");
    expect(route("/v1/chat/completions")).toMatchObject({ operation: "metered", api: "openai-chat" });
    expect(route("/v1/completions")).toMatchObject({ operation: "metered", api: "openai-completions" });
    expect(route("/x/mycompletions")).toMatchObject({ operation: "metered", api: "other" });
    expect(route("/v1beta/models/m:streamGenerateContent")).toMatchObject({ operation: "none" });
  });

  test("admin_path: the operator's own, normalised too", () => {
    expect(configure(null, "/admin/Quota")).toBe("");
    expect(route("/v1/chat/completions/admin/quota/refresh").operation).toBe("refresh");
    expect(route("/v1/chat/completions/quota").operation).toBe("none");
  });
});

// ---- properties ----

// Upstream readings: how a server, or a proxy chain in front of it, turns the raw path into the
// route it serves. Each is written from that software's documented behaviour, independently of
// the plugin. Paths are latin1 strings of their bytes here.
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
const bytesOf = (s: string): Buffer => Buffer.from(s, "latin1");
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Decodes only escapes of unreserved characters (Envoy's normalize_path, RFC 3986 6.2.2.2). */
function decodeUnreserved(raw: Uint8Array): string {
  return latin1(raw).replace(/%([0-9a-fA-F]{2})/g, (all, h: string) => {
    const c = String.fromCharCode(parseInt(h, 16));
    return UNRESERVED.test(c) ? c : all;
  });
}

/** RFC 3986 5.2.4 remove_dot_segments on an absolute path (keeps empty segments). */
function removeDotSegments(path: string): string {
  const input = path.split("/");
  const out: string[] = [];
  input.forEach((s, i) => {
    const last = i === input.length - 1;
    if (s === "." || s === "..") {
      if (s === ".." && out.length > 1) out.pop();
      if (last) out.push("");
      return;
    }
    out.push(s);
  });
  return out.join("/");
}

/** Go's path.Clean (what net/http's ServeMux redirects to): merged, dots resolved, no trailing '/'. */
function clean(path: string): string {
  const out: string[] = [];
  for (const s of path.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") out.pop();
    else out.push(s);
  }
  return "/" + out.join("/");
}

const envoyNormalized = (raw: Uint8Array): string => removeDotSegments(decodeUnreserved(raw).replace(/\\/g, "/")).replace(/\/+/g, "/");

const UPSTREAMS: Array<[string, (raw: Uint8Array) => string]> = [
  ["uvicorn/Starlette (vLLM, SGLang): decode once", (raw) => latin1(decodeOnce(raw))],
  ["Go net/http: decode once, Clean", (raw) => clean(latin1(decodeOnce(raw)))],
  ["nginx (decode, merge, dots) → app (decode)", (raw) => latin1(decodeOnce(bytesOf(clean(latin1(decodeOnce(raw))))))],
  ["Envoy sidecar normalize_path + merge_slashes → app", (raw) => latin1(decodeOnce(bytesOf(envoyNormalized(raw))))],
  ["Envoy sidecar, UNESCAPE_AND_FORWARD slashes → app", (raw) => latin1(decodeOnce(bytesOf(envoyNormalized(raw).replace(/%2f/gi, "/").replace(/%5c/gi, "\\"))))],
  ["dots resolved on the raw path, then decoded", (raw) => latin1(decodeOnce(bytesOf(removeDotSegments(latin1(raw)))))],
  ["Tomcat: ';params' cut, decode, dots", (raw) => removeDotSegments(latin1(decodeOnce(bytesOf(latin1(raw).split("/").map((s) => s.split(";")[0]).join("/")))))],
  ["two decoding proxies, then Clean", (raw) => clean(latin1(decodeOnce(decodeOnce(raw))))],
];

/** Generation endpoints as the upstreams serve them (exact paths, case-sensitive). */
const ENDPOINTS = [
  "/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/embeddings", "/v1/messages",
  "/v1beta/models/gemini-2.0-flash:generateContent", "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
  "/v1beta/openai/chat/completions", "/invocations", "/generate",
];

const servedBy = (routed: string, endpoint: string): boolean => routed.replace(/\/+$/, "").endsWith(endpoint);
/** A case-insensitive server (.NET, or Python with casefold) on the Go reading of a UTF-8 path. */
const servedCaseInsensitively = (raw: Uint8Array, endpoint: string): boolean => {
  const routed = clean(Buffer.from(decodeOnce(raw)).toString("utf8")).replace(/\/+$/, "");
  return routed.toUpperCase().endsWith(endpoint.toUpperCase()) || routed.toLowerCase().endsWith(endpoint.toLowerCase());
};

/** The path bytes the plugin reads: the target's UTF-8 before the first '?' or '#'. */
function pluginPath(target: string): Buffer {
  const b = Buffer.from(target, "utf8");
  const end = b.findIndex((c) => c === 0x3f || c === 0x23);
  return end < 0 ? b : b.subarray(0, end);
}

/** What the upstream receives: Envoy turns an absolute-form target into an origin-form path. */
function upstreamPath(target: string): Buffer {
  const p = pluginPath(target);
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(latin1(p));
  return absolute === null ? p : p.subarray(absolute[0].length);
}

/** Percent-encodes a character's UTF-8 bytes `depth` times, in the given hex case. */
function encode(c: string, depth: number, upper: boolean): string {
  let s = latin1(Buffer.from(c, "utf8"));
  for (let d = 0; d < depth; d++) {
    s = [...bytesOf(s)].map((b) => "%" + b.toString(16).padStart(2, "0")).join("");
    if (upper) s = s.toUpperCase();
  }
  return s;
}

/** One character of an endpoint as an attacker may spell it; `keep`: the weight of leaving it. */
const spelledChar = (c: string, keep: number) => fc.oneof(
  { weight: keep, arbitrary: fc.constant(c) },
  { weight: 2, arbitrary: fc.constant(c.toUpperCase()) },
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([d, u]) => encode(c, d, u)) },
  ...(c === "/" ? [
    { weight: 2, arbitrary: fc.constantFrom("//", "\\", "%2F", "%2f", "%5C", "%252F", "/./", "/%2e/", "/x/../", "/x/%2e%2e/", "/x;p/../", "/a%2Fb/../", "/a%2Fb/../../x/", "/%2e%2e/x/../", "/..;/x/../") },
  ] : []),
  ...(c === "i" ? [{ weight: 1, arbitrary: fc.constant("\u0131") }] : []),
  ...(c === "s" ? [{ weight: 1, arbitrary: fc.constantFrom("\u017f", "\u00df") }] : []),
);

const attackTarget = fc.tuple(
  fc.constantFrom(...ENDPOINTS),
  fc.constantFrom(10, 50, 250),
  fc.constantFrom("", "", "/gw", "/api/x", "/a/b/c/../..", "http://h", "//h", "/%2e%2e"),
  fc.constantFrom("", "", "", "/", "//", "/.", "/x/..", "/%2e%2e", "/x/%2e%2e", ";p", "/..;", "?q=/", "#f", "%2F", "/%252e%252e/..", "/x%2F../.."),
).chain(([endpoint, keep, prefix, tail]) =>
  fc.tuple(...[...endpoint].map((c) => spelledChar(c, keep))).map((chars) => ({ endpoint, target: prefix + chars.join("") + tail })));

const randomTarget = fc.array(fc.constantFrom("/", "//", ".", "..", "%2e", "%2E", "%2F", "%25", "%5C", "\\", ";", "v1", "chat", "completions", "messages",
  ":generateContent", "x", "%", "2", "f", "?", "#", "\u0131", "\u00df"), { maxLength: 16 }).map((a) => a.join(""));

describe("properties", () => {
  test("arbitrary bytes never trap; the canonical forms are fixed points", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      const v = normalize(b);
      expect(normalize(bytesOf(v.plain)).plain).toBe(v.plain);
      expect(normalize(bytesOf(v.cut)).plain).toBe(v.cut);
      if (/^[\x20-\x7e]+$/.test(v.plain)) expect(suffixOf(v.plain)).toBe(v.plain);
      m.run("route", b);
    }), { seed: 11, numRuns: 3000 });
  });

  test("normalisation and routing agree with the reference model (fuzz/model/path.ts)", () => {
    expect(configure(null)).toBe("");
    fc.assert(fc.property(fc.oneof(attackTarget.map((a) => a.target), randomTarget), (target) => {
      const raw = pluginPath(target);
      const want = pathViews(raw);
      const got = normalize(raw);
      expect({ plain: got.plain, cut: got.cut, dotdot: got.dotdot }).toEqual({ plain: want.plain, cut: want.cut, dotdot: want.dotdot });
      const r = route(target);
      expect({ operation: r.operation, api: r.api }).toEqual(routeTarget(target));
    }), { seed: 12, numRuns: 3000 });
  });

  test("never unmetered: a target any modelled upstream serves as a generation endpoint is metered", () => {
    expect(configure(null)).toBe("");
    fc.assert(fc.property(fc.oneof({ weight: 4, arbitrary: attackTarget.map((a) => a.target) }, { weight: 1, arbitrary: randomTarget }), (target) => {
      const raw = upstreamPath(target);
      for (const endpoint of ENDPOINTS) {
        for (const [name, read] of UPSTREAMS) {
          if (servedBy(read(raw), endpoint)) expect({ upstream: name, endpoint, target, operation: route(target).operation }).not.toMatchObject({ operation: "none" });
        }
        if (servedCaseInsensitively(raw, endpoint)) expect({ upstream: "case-insensitive", endpoint, target, operation: route(target).operation }).not.toMatchObject({ operation: "none" });
      }
    }), { seed: 13, numRuns: 4000 });
  });

  test("the attack generator reaches every upstream reading (so the property above can fail)", () => {
    const served = new Map<string, number>();
    fc.assert(fc.property(attackTarget, ({ endpoint, target }) => {
      const raw = upstreamPath(target);
      if (latin1(raw).endsWith(endpoint)) return; // spelled plainly: proves nothing about normalising
      for (const [name, read] of UPSTREAMS) if (servedBy(read(raw), endpoint)) served.set(name, (served.get(name) ?? 0) + 1);
      if (servedCaseInsensitively(raw, endpoint)) served.set("case-insensitive", (served.get("case-insensitive") ?? 0) + 1);
    }), { seed: 14, numRuns: 1000 });
    for (const name of [...UPSTREAMS.map(([n]) => n), "case-insensitive"]) expect({ name, served: (served.get(name) ?? 0) >= 50 }).toEqual({ name, served: true });
  });
});
