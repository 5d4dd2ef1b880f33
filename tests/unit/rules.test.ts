// Per-route configuration (assembly/quota/rules.ts) against wasm-go's rule matcher
// (higress-group/wasm-go pkg/matcher/rule_matcher.go), through build/test/rules.wasm.
import { loadParsers } from "./parsers_module";

const m = loadParsers("rules");

const REDIS = { service_name: "redis.dns", service_port: 6379 };
const cfg = (admin: string, extra: object = {}): Record<string, unknown> => ({ admin_consumer: admin, redis: REDIS, ...extra });

interface Parsed {
  error: string;
  warnings: string[];
  global: { admin_consumer: string; redis_key_prefix: string; store: string } | null;
  rules: Array<{ index: number; category: number; routes: string[]; services: string[]; prefixes: string[]; config: { admin_consumer: string } }>;
  needs: { route: boolean; cluster: boolean; authority: boolean };
}

// MatchCategory in rules.ts (wasm-go's Category order).
const ROUTE = 0;
const HOST = 1;
const SERVICE = 2;
const ROUTE_PREFIX = 3;
const ROUTE_AND_SERVICE = 4;

function parse(config: unknown): Parsed {
  return m.json("parse_rules", typeof config === "string" ? config : JSON.stringify(config)) as Parsed;
}

function match(config: unknown, route: string, cluster: string, authority: string): { error: string; rule: number | null; global: boolean } {
  return m.json("match", [JSON.stringify(config), route, cluster, authority].join("\0"));
}

afterAll(() => {
  // Nothing may have reached the abort handler.
  expect(m.logs).toEqual([]);
});

describe("what the configuration JSON becomes", () => {
  test("a plain config is the global config: no rules, nothing to read per request", () => {
    const r = parse(cfg("admin"));
    expect(r).toEqual({
      error: "",
      warnings: [],
      global: { admin_consumer: "admin", redis_key_prefix: "chat_quota:", store: expect.stringContaining("outbound|6379||redis.dns") },
      rules: [],
      needs: { route: false, cluster: false, authority: false },
    });
  });

  test("what the Higress controller delivers for one matchRule: a route rule, no global config", () => {
    const r = parse({ _rules_: [{ _match_route_: ["default/llm-route"], ...cfg("consumer3") }] });
    expect(r.error).toBe("");
    expect(r.warnings).toEqual([]); // the _match_* keys are not config keys, and not reported as unknown
    expect(r.global).toBeNull();
    expect(r.rules).toHaveLength(1);
    expect(r.rules[0]).toMatchObject({ index: 0, category: ROUTE, routes: ["default/llm-route"], config: { admin_consumer: "consumer3" } });
    expect(r.needs).toEqual({ route: true, cluster: false, authority: false });
  });

  test("keys beside _rules_ are the global config; _rules_ itself is not reported as unknown", () => {
    const r = parse({ ...cfg("global"), _rules_: [{ _match_domain_: ["a.example.com"], ...cfg("rule0") }] });
    expect(r.error).toBe("");
    expect(r.warnings).toEqual([]);
    expect(r.global?.admin_consumer).toBe("global");
    expect(r.rules.map((x) => x.config.admin_consumer)).toEqual(["rule0"]);
    expect(r.needs).toEqual({ route: false, cluster: false, authority: true });
  });

  test("each rule is a complete config: nothing is inherited from the global one", () => {
    const r = parse({ ...cfg("global", { redis_key_prefix: "g:" }), _rules_: [{ _match_route_: ["r"], admin_consumer: "x" }] });
    expect(r.error).toBe("_rules_[0]: redis is required");
    expect(r.rules).toEqual([]);
  });

  test("an invalid global config does not stop valid rules; it is reported and not used", () => {
    const r = parse({ admin_path: "/q", _rules_: [{ _match_route_: ["r"], ...cfg("rule0") }] });
    expect(r.error).toBe("");
    expect(r.global).toBeNull();
    expect(r.rules).toHaveLength(1);
    expect(r.warnings).toEqual([expect.stringMatching(/^the global config .* is invalid and not used.*: admin_consumer is required$/)]);
  });

  test("an invalid global config with no rules refuses the configuration, with the global's error", () => {
    expect(parse({ admin_path: "/q", _rules_: [] }).error).toBe("_rules_ has no rules and the global config is invalid: admin_consumer is required");
    expect(parse({ admin_path: "/q", _rules_: null }).error).toBe("_rules_ has no rules and the global config is invalid: admin_consumer is required");
  });

  test("no rules and no global config refuses the configuration", () => {
    expect(parse({ _rules_: [] }).error).toBe("_rules_ has no rules and there is no global config");
  });

  test("a valid global config with an empty _rules_ is a plain config", () => {
    const r = parse({ ...cfg("g"), _rules_: [] });
    expect(r.error).toBe("");
    expect(r.global?.admin_consumer).toBe("g");
    expect(r.rules).toEqual([]);
  });

  test("errors and warnings name the rule", () => {
    const bad = parse({ _rules_: [{ _match_route_: ["a"], ...cfg("a") }, { _match_route_: ["b"], admin_consumer: "b", redis: {} }] });
    expect(bad.error).toBe("_rules_[1]: redis.service_name is required");
    expect(bad.rules).toEqual([]);
    const warned = parse({ _rules_: [{ _match_route_: ["a"], ...cfg("a", { colour: "red" }) }] });
    expect(warned.error).toBe("");
    expect(warned.warnings).toEqual(["_rules_[0]: unknown config key colour is ignored"]);
  });

  test("one invalid rule refuses the whole configuration, even beside a valid global config", () => {
    expect(parse({ ...cfg("g"), _rules_: [{ _match_route_: ["a"], admin_consumer: "" }] }).error).toBe("_rules_[0]: admin_consumer is required");
  });

  test("a rule that names nothing to match refuses the configuration", () => {
    const names = "_match_route_, _match_domain_, _match_service_, _match_route_prefix_";
    expect(parse({ _rules_: [{ _match_route_: ["a"], ...cfg("a") }, cfg("b")] }).error).toBe(`_rules_[1]: needs at least one of ${names}`);
    // Empty route, service and prefix names are dropped (wasm-go keeps only non-empty ones).
    expect(parse({ _rules_: [{ _match_route_: [""], _match_service_: [""], _match_route_prefix_: [""], ...cfg("a") }] }).error).toBe(`_rules_[0]: needs at least one of ${names}`);
    expect(parse({ _rules_: ["not an object"] }).error).toBe(`_rules_[0]: needs at least one of ${names}`);
  });

  test("categories combine as in wasm-go: route wins, route + service together, then domain, service, prefix", () => {
    const r = parse({
      _rules_: [
        { _match_route_: ["r"], _match_domain_: ["d.example"], ...cfg("route") },
        { _match_route_: ["r"], _match_service_: ["svc"], ...cfg("route+service") },
        { _match_domain_: ["d.example"], _match_service_: ["svc"], _match_route_prefix_: ["p"], ...cfg("domain") },
        { _match_service_: ["svc"], _match_route_prefix_: ["p"], ...cfg("service") },
        { _match_route_prefix_: ["p", "p"], ...cfg("prefix") },
      ],
    });
    expect(r.error).toBe("");
    expect(r.rules.map((x) => x.category)).toEqual([ROUTE, ROUTE_AND_SERVICE, HOST, SERVICE, ROUTE_PREFIX]);
    expect(r.rules[4].prefixes).toEqual(["p"]);
    expect(r.needs).toEqual({ route: true, cluster: true, authority: true });
  });

  test("gjson's reading of lists: a single value is a list of one, _rules_ as one object is one rule", () => {
    const r = parse({ _rules_: { _match_route_: "only", ...cfg("a") } });
    expect(r.error).toBe("");
    expect(r.rules).toHaveLength(1);
    expect(r.rules[0].routes).toEqual(["only"]);
  });

  test("a non-empty _plugin_id_ is dropped before the keys are counted; an empty one counts as a global key", () => {
    const rule = { _match_route_: ["r"], ...cfg("a") };
    expect(parse({ _plugin_id_: "p1", _rules_: [rule] })).toMatchObject({ error: "", warnings: [], global: null });
    const empty = parse({ _plugin_id_: "", _rules_: [rule] });
    expect(empty.global).toBeNull();
    expect(empty.warnings).toEqual([expect.stringMatching(/global config .*: admin_consumer is required$/)]);
    expect(parse({ _plugin_id_: "p1", ...cfg("g") }).global?.admin_consumer).toBe("g");
  });

  test("what is not a JSON object is refused with the config parser's own error", () => {
    expect(parse("[1]").error).toBe("config must be a JSON object");
    expect(parse("{").error).toMatch(/^config is not valid JSON/);
    expect(parse("{}").error).toBe("admin_consumer is required");
    expect(parse("").error).toMatch(/^config is not valid JSON/);
  });
});

describe("which rule a request takes (route_name, cluster_name, :authority)", () => {
  const rules = {
    ...cfg("global"),
    _rules_: [
      { _match_domain_: ["api.example.com", "*.corp.example", "llm-*"], ...cfg("domains") },
      { _match_route_: ["default/llm-route", "other"], ...cfg("routes") },
      { _match_service_: ["qwen.dns", "gpt.dns:443"], ...cfg("services") },
      { _match_route_: ["both"], _match_service_: ["svc.default.svc.cluster.local"], ...cfg("route+service") },
      { _match_route_prefix_: ["team-a/"], ...cfg("prefix") },
    ],
  };

  test.each([
    // [route, cluster, authority, rule index or null (global)]
    ["", "", "api.example.com", 0],
    ["", "", "api.example.com:8080", 0],
    ["", "", "API.example.com", 0], // ASCII case ignored, as Envoy picks a virtual host (wasm-go: case-sensitive)
    ["", "", "x.corp.example", 0],
    ["", "", "corp.example", null], // "*.corp.example" is the suffix ".corp.example"
    ["", "", "llm-gateway.internal:443", 0],
    ["default/llm-route", "", "elsewhere", 1],
    ["default/llm-route-2", "", "elsewhere", null],
    ["", "outbound|80||qwen.dns", "elsewhere", 2],
    ["", "outbound|443||gpt.dns", "elsewhere", 2],
    ["", "outbound|80||gpt.dns", "elsewhere", null],
    ["", "qwen.dns", "elsewhere", null], // not outbound|port|subset|fqdn
    ["", "outbound|80|v1|qwen.dns|x", "elsewhere", null],
    ["both", "outbound|8000||svc.default.svc.cluster.local", "elsewhere", 3],
    ["both", "outbound|8000||other.default.svc.cluster.local", "elsewhere", null],
    ["team-a/chat", "", "elsewhere", 4],
    ["team-b/chat", "", "elsewhere", null],
    // First match wins: the domain rule comes before the route rule.
    ["default/llm-route", "", "api.example.com", 0],
  ])("route %j, cluster %j, authority %j -> rule %j", (route, cluster, authority, expected) => {
    expect(match(rules, route, cluster, authority)).toEqual({ error: "", rule: expected, global: expected === null });
  });

  test("with no global config a request no rule matches gets nothing", () => {
    const only = { _rules_: [{ _match_route_: ["r"], ...cfg("a") }] };
    expect(match(only, "r", "", "h")).toEqual({ error: "", rule: 0, global: false });
    expect(match(only, "s", "", "h")).toEqual({ error: "", rule: null, global: false });
    expect(match(only, "", "", "h")).toEqual({ error: "", rule: null, global: false });
  });

  test("a route rule's domains are ignored; * matches every host; an empty domain matches an empty :authority", () => {
    const c = {
      _rules_: [
        { _match_route_: ["r"], _match_domain_: ["*"], ...cfg("route") },
        { _match_domain_: [""], ...cfg("empty") },
        { _match_domain_: ["*"], ...cfg("any") },
      ],
    };
    expect(match(c, "x", "", "").rule).toBe(1);
    expect(match(c, "x", "", "h").rule).toBe(2);
    expect(match(c, "r", "", "h").rule).toBe(0);
  });

  test.each([
    ["example.com:8080", "example.com"],
    ["example.com", "example.com"],
    ["[::1]:8080", "[::1]"],
    ["[::1]", "[::1]"],
    ["::1", ":"], // no brackets: cut at the last ':' (as wasm-go)
    ["host:", "host"],
  ])("the port is stripped from %j -> %j", (host, stripped) => {
    expect(m.json("strip_port", host)).toBe(stripped);
  });
});
