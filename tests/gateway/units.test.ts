// The gateway's small pieces: the command line, the config file, key-auth and the metrics page.
import { INVALID_KEY, KeyAuth, MULTIPLE_KEYS, NO_KEY, addConsumer } from "../../gateway/auth";
import { parseCli, parseRedisAddress } from "../../gateway/cli";
import { parseConfigText, validateConfig } from "../../gateway/config";
import { ConfigError } from "../../gateway/errors";
import { renderPrometheus, sanitizeName } from "../../gateway/prometheus";
import { MetricType } from "../../host";

describe("command line", () => {
  test("defaults", () => {
    expect(parseCli([])).toEqual({ configPath: "examples/local.yaml", port: 8080, host: "127.0.0.1", redis: null, logLevel: "info", help: false });
  });

  test("every option", () => {
    expect(parseCli(["--config", "x.yaml", "--port", "0", "--host", "0.0.0.0", "--redis", "10.0.0.2:6380", "--log-level", "debug"])).toEqual({
      configPath: "x.yaml", port: 0, host: "0.0.0.0", redis: { host: "10.0.0.2", port: 6380 }, logLevel: "debug", help: false,
    });
  });

  test("Redis addresses", () => {
    expect(parseRedisAddress("6379")).toEqual({ host: "127.0.0.1", port: 6379 });
    expect(parseRedisAddress("[::1]:7000")).toEqual({ host: "::1", port: 7000 });
    for (const bad of ["redis", "h:0", "h:70000", "h:", ":x"]) expect(() => parseRedisAddress(bad)).toThrow(ConfigError);
  });

  test.each([[["--port", "-1"]], [["--port", "65536"]], [["extra"]], [["--nope"]], [["--config"]]])("%j is refused", (args) => {
    expect(() => parseCli(args)).toThrow(ConfigError);
  });
});

describe("config file", () => {
  const plugin = { admin_consumer: "a", redis: { service_name: "r" } };

  test("defaults: auth on, upstream mock", () => {
    expect(validateConfig({ consumers: [{ name: "n", credential: "c" }], plugin }, "f")).toEqual({
      consumers: [{ name: "n", credential: "c" }], auth: true, plugin, upstream: { kind: "mock" },
    });
  });

  test("a URL upstream", () => {
    const c = parseConfigText("auth: false\nupstream: https://api.example.com/openai\nplugin: {admin_consumer: a, redis: {service_name: r}}\n", "f");
    expect(c.upstream).toEqual({ kind: "url", url: new URL("https://api.example.com/openai") });
    expect(c.consumers).toEqual([]);
  });

  test.each([
    ["duplicate keys", "plugin: {}\nplugin: {}\n", /not valid YAML/],
    ["auth on without consumers", "plugin: {admin_consumer: a}\n", /consumers must list at least one/],
    ["a consumer with an unknown key", "consumers: [{name: a, credential: b, key: c}]\nplugin: {}\n", /consumers\[0\] has an unknown key "key"/],
    ["a name with a newline", 'consumers: [{name: "a\\nb", credential: b}]\nplugin: {}\n', /consumers\[0\]\.name must not contain control characters/],
    ["a credential with a space", 'consumers: [{name: a, credential: "b c"}]\nplugin: {}\n', /consumers\[0\]\.credential must not contain whitespace/],
    ["plugin a string", "auth: false\nplugin: admin\n", /plugin must be a mapping/],
    ["an upstream with a query", "auth: false\nupstream: http://x/?a=1\nplugin: {}\n", /must not have a query/],
    ["an upstream number", "auth: false\nupstream: 8080\nplugin: {}\n", /upstream must be "mock" or an http\(s\) URL, got number 8080/],
  ])("%s", (_what, text, message) => {
    expect(() => parseConfigText(text, "gw.yaml")).toThrow(message);
    expect(() => parseConfigText(text, "gw.yaml")).toThrow(/^gw\.yaml: /);
  });
});

describe("key-auth", () => {
  const auth = new KeyAuth([{ name: "consumer1", credential: "credential1" }]);

  test("Bearer <credential> → the consumer; the identity header is appended after the client's", () => {
    expect(auth.check([["authorization", "Bearer credential1"]])).toEqual({ ok: true, consumer: "consumer1" });
    expect(auth.check([["authorization", "bearer   credential1 "]])).toEqual({ ok: true, consumer: "consumer1" });
    expect(addConsumer([[":path", "/"], ["x-mse-consumer", "spoof"]], "consumer1")).toEqual([[":path", "/"], ["x-mse-consumer", "spoof"], ["x-mse-consumer", "consumer1"]]);
  });

  test("denials", () => {
    const body = (h: Array<[string, string]>) => {
      const r = auth.check(h);
      return r.ok ? null : [r.status, r.body];
    };
    expect(body([])).toEqual([401, NO_KEY]);
    expect(body([["authorization", ""]])).toEqual([401, NO_KEY]);
    expect(body([["authorization", "Bearer credential2"]])).toEqual([401, INVALID_KEY]);
    expect(body([["authorization", "Bearer"]])).toEqual([401, INVALID_KEY]);
    expect(body([["authorization", "Bearer credential1"], ["authorization", "Bearer credential1"]])).toEqual([401, MULTIPLE_KEYS]);
  });
});

describe("metrics page", () => {
  test("names sanitized, types from the definitions, histograms with buckets", () => {
    expect(sanitizeName("ai-quota.requests admitted")).toBe("ai_quota_requests_admitted");
    expect(sanitizeName("9lives")).toBe("_9lives");
    const text = renderPrometheus(
      { "ai_quota.tokens": 42, "ai_quota.inflight": 3, "other": 1, "ai_quota.latency": [1, 20, 5000] },
      new Map([["ai_quota.tokens", MetricType.Counter], ["ai_quota.inflight", MetricType.Gauge], ["ai_quota.latency", MetricType.Histogram]]),
    );
    expect(text).toContain("# TYPE ai_quota_tokens counter\nai_quota_tokens 42\n");
    expect(text).toContain("# TYPE ai_quota_inflight gauge\nai_quota_inflight 3\n");
    expect(text).toContain("# TYPE other untyped\nother 1\n");
    expect(text).toContain('# TYPE ai_quota_latency histogram\nai_quota_latency_bucket{le="0.5"} 0\nai_quota_latency_bucket{le="1"} 1\n');
    expect(text).toContain('ai_quota_latency_bucket{le="25"} 2\n');
    expect(text).toContain('ai_quota_latency_bucket{le="+Inf"} 3\nai_quota_latency_sum 5021\nai_quota_latency_count 3\n');
  });

  test("no metrics → an empty page", () => {
    expect(renderPrometheus({})).toBe("");
  });
});
