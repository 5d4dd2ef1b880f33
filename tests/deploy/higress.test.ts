// Static checks of the Higress resources under higress/ (Kubernetes) and
// higress/standalone/ (the all-in-one container's configuration directory).

import * as fs from "fs";
import * as path from "path";
import {
  aiQuotaConfigProblems,
  allShippedPluginConfigs,
  higressResources,
  isObject,
  Json,
  JsonObject,
  readYamlDocuments,
  repoPath,
  Resource,
  wasmPlugins,
  yamlFilesUnder,
} from "./plugin-configs";
import { bindMounts, composeServices, networkAliases } from "./compose";

const K8S_AI_QUOTA = "higress/wasmplugin.yaml";
const STANDALONE_DIR = "higress/standalone";
const STANDALONE_AI_QUOTA = `${STANDALONE_DIR}/wasmplugins/ai-quota.yaml`;

// Higress WasmPlugin spec fields (api/extensions/v1alpha1/wasmplugin.proto in alibaba/higress).
const WASMPLUGIN_SPEC_FIELDS = new Set([
  "url",
  "sha256",
  "imagePullPolicy",
  "imagePullSecret",
  "verificationKey",
  "pluginConfig",
  "pluginName",
  "phase",
  "priority",
  "failStrategy",
  "vmConfig",
  "defaultConfig",
  "matchRules",
  "defaultConfigDisable",
]);
const MATCH_RULE_FIELDS = new Set(["ingress", "domain", "config", "configDisable", "service", "routeType"]);
// Insertion order in the filter chain: AUTHN, AUTHZ, STATS are placed before Istio's
// authn/authz/stats filters; UNSPECIFIED_PHASE at the end, right before the router.
const PHASE_ORDER = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"];

// The configuration example of Higress's ai-quota README, which higress/wasmplugin.yaml ships,
// with Redis named as its McpBridge registry (redis.dns) rather than as a Kubernetes Service: with
// Higress's default onlyPushRouteCluster a Service no route uses never reaches the gateway.
const README_EXAMPLE_CONFIG = {
  redis_key_prefix: "chat_quota:",
  admin_consumer: "consumer3",
  admin_path: "/quota",
  redis: { service_name: "redis.dns", service_port: 6379, timeout: 2000 },
};

function spec(r: Resource): JsonObject {
  const s = r.doc.spec;
  if (!isObject(s)) throw new Error(`${r.file}: no spec`);
  return s;
}

function phaseOf(r: Resource): string {
  const p = spec(r).phase;
  return p === undefined ? "UNSPECIFIED_PHASE" : String(p);
}

function priorityOf(r: Resource): number {
  const p = spec(r).priority;
  // The CRD's priority is an Int32Value; the all-in-one scripts sometimes quote it.
  const n = typeof p === "string" ? Number(p) : p;
  return typeof n === "number" && Number.isInteger(n) ? n : 0;
}

/** Whether plugin a's request callbacks run before plugin b's on the same route. */
function runsBefore(a: Resource, b: Resource): boolean {
  const pa = PHASE_ORDER.indexOf(phaseOf(a));
  const pb = PHASE_ORDER.indexOf(phaseOf(b));
  if (pa !== pb) return pa < pb;
  return priorityOf(a) > priorityOf(b);
}

function matchRules(r: Resource): JsonObject[] {
  const rules = spec(r).matchRules;
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) throw new Error(`${r.file}: matchRules is not a list`);
  return rules.map((rule) => {
    if (!isObject(rule)) throw new Error(`${r.file}: a match rule is not a mapping`);
    return rule;
  });
}

function strings(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Routes (ingress names) a plugin has an enabled match rule for. */
function routesOf(r: Resource): Set<string> {
  const out = new Set<string>();
  for (const rule of matchRules(r)) {
    if (rule.configDisable === true) continue;
    for (const ing of strings(rule.ingress)) out.add(ing);
  }
  return out;
}

function inDir(r: Resource, dir: string): boolean {
  return r.file.startsWith(`${dir}/`);
}

function only(list: Resource[], what: string): Resource {
  if (list.length !== 1) throw new Error(`expected exactly one ${what}, found ${list.length}`);
  return list[0];
}

const variants: { name: string; dir: string; aiQuotaFile: string; inDir: (r: Resource) => boolean }[] = [
  {
    name: "kubernetes",
    dir: "higress",
    aiQuotaFile: K8S_AI_QUOTA,
    inDir: (r) => inDir(r, "higress") && !inDir(r, STANDALONE_DIR),
  },
  { name: "standalone", dir: STANDALONE_DIR, aiQuotaFile: STANDALONE_AI_QUOTA, inDir: (r) => inDir(r, STANDALONE_DIR) },
];

describe("higress/: every YAML file", () => {
  const files = yamlFilesUnder("higress");

  test("there are files to check", () => {
    expect(files).toEqual(expect.arrayContaining([K8S_AI_QUOTA, "higress/key-auth.yaml", "higress/ai-statistics.yaml"]));
  });

  test.each(files)("%s parses and every document is a named Kubernetes object", (file) => {
    const docs = readYamlDocuments(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(isObject(doc)).toBe(true);
      if (!isObject(doc)) continue;
      expect(typeof doc.apiVersion).toBe("string");
      expect(typeof doc.kind).toBe("string");
      expect(isObject(doc.metadata) && typeof doc.metadata.name === "string").toBe(true);
    }
  });

  test("every WasmPlugin uses the Higress API and only fields of its spec", () => {
    const plugins = wasmPlugins();
    expect(plugins.length).toBeGreaterThanOrEqual(6);
    for (const r of plugins) {
      expect(r.doc.apiVersion).toBe("extensions.higress.io/v1alpha1");
      expect(isObject(r.doc.metadata) && r.doc.metadata.namespace).toBe("higress-system");
      for (const key of Object.keys(spec(r))) expect({ file: r.file, key, known: WASMPLUGIN_SPEC_FIELDS.has(key) }).toEqual({ file: r.file, key, known: true });
      expect(PHASE_ORDER).toContain(phaseOf(r));
      for (const rule of matchRules(r)) {
        for (const key of Object.keys(rule)) expect({ file: r.file, key, known: MATCH_RULE_FIELDS.has(key) }).toEqual({ file: r.file, key, known: true });
        expect(strings(rule.ingress).length + strings(rule.domain).length + strings(rule.service).length).toBeGreaterThan(0);
      }
    }
  });
});

describe.each(variants)("$name: ai-quota WasmPlugin", ({ aiQuotaFile, inDir: mine }) => {
  const aiQuota = (): Resource => only(wasmPlugins("ai-quota").filter(mine), "ai-quota WasmPlugin");

  test("lives in the expected file", () => {
    expect(aiQuota().file).toBe(aiQuotaFile);
  });

  test("kind, apiVersion, name", () => {
    const r = aiQuota();
    expect(r.doc.kind).toBe("WasmPlugin");
    expect(r.doc.apiVersion).toBe("extensions.higress.io/v1alpha1");
    expect(isObject(r.doc.metadata) && r.doc.metadata.name).toBe("ai-quota");
  });

  test("priority 750 in the default phase (UNSPECIFIED_PHASE)", () => {
    const s = spec(aiQuota());
    expect(s.priority).toBe(750);
    expect(s.phase === undefined || s.phase === "UNSPECIFIED_PHASE").toBe(true);
  });

  test("applies only through match rules, each with a valid ai-quota config", () => {
    const r = aiQuota();
    const s = spec(r);
    expect(s.defaultConfigDisable).toBe(true);
    const rules = matchRules(r);
    expect(rules.length).toBeGreaterThanOrEqual(1);
    for (const rule of rules) {
      expect(strings(rule.ingress).length).toBeGreaterThan(0);
      expect(aiQuotaConfigProblems(rule.config)).toEqual([]);
      // The required keys, spelled out.
      expect(isObject(rule.config) && typeof rule.config.admin_consumer).toBe("string");
      expect(isObject(rule.config) && isObject(rule.config.redis) && typeof rule.config.redis.service_name).toBe("string");
    }
  });

  test("key-auth runs before ai-quota on every ai-quota route and lets the admin consumer in", () => {
    const r = aiQuota();
    const keyAuth = only(wasmPlugins("key-auth").filter(mine), "key-auth WasmPlugin");
    // Higress: AUTHN-phase plugins run before default-phase ones; within a phase the
    // higher priority runs first, so a same-phase key-auth needs a priority above 750.
    expect(runsBefore(keyAuth, r)).toBe(true);
    if (phaseOf(keyAuth) === phaseOf(r)) expect(priorityOf(keyAuth)).toBeGreaterThan(750);

    const allowByRoute = new Map<string, string[]>();
    for (const rule of matchRules(keyAuth)) {
      for (const ing of strings(rule.ingress)) allowByRoute.set(ing, isObject(rule.config) ? strings(rule.config.allow) : []);
    }
    for (const rule of matchRules(r)) {
      const admin = isObject(rule.config) ? rule.config.admin_consumer : undefined;
      for (const ing of strings(rule.ingress)) {
        expect({ route: ing, covered: allowByRoute.has(ing) }).toEqual({ route: ing, covered: true });
        expect(allowByRoute.get(ing)).toContain(admin);
      }
    }
  });

  test("ai-statistics is in the same phase with a lower priority, on every ai-quota route", () => {
    const r = aiQuota();
    const stats = only(wasmPlugins("ai-statistics").filter(mine), "ai-statistics WasmPlugin");
    // Lower priority = nearer the upstream = sees the response first, so `ai_log` is
    // written before ai-quota handles the end of the response.
    expect(phaseOf(stats)).toBe(phaseOf(r));
    expect(priorityOf(stats)).toBeLessThan(priorityOf(r));
    const statsRoutes = routesOf(stats);
    const statsGlobal = spec(stats).defaultConfigDisable !== true;
    for (const ing of routesOf(r)) expect(statsGlobal || statsRoutes.has(ing)).toBe(true);
  });
});

describe.each(variants)("$name: key-auth", ({ inDir: mine }) => {
  const keyAuth = (): Resource => only(wasmPlugins("key-auth").filter(mine), "key-auth WasmPlugin");

  test("instance config: consumers with unique Bearer credentials read from the Authorization header", () => {
    const s = spec(keyAuth());
    const cfg = s.defaultConfig;
    expect(isObject(cfg)).toBe(true);
    if (!isObject(cfg)) return;
    for (const key of Object.keys(cfg)) expect(["global_auth", "consumers", "keys", "in_query", "in_header"]).toContain(key);
    expect(strings(cfg.keys).map((k) => k.toLowerCase())).toContain("authorization");
    expect(cfg.in_header).toBe(true);
    expect(Array.isArray(cfg.consumers)).toBe(true);
    const consumers = (Array.isArray(cfg.consumers) ? cfg.consumers : []).filter(isObject);
    expect(consumers.map((c) => c.name)).toEqual(["consumer1", "consumer2", "consumer3"]);
    const credentials = consumers.map((c) => c.credential);
    for (const c of credentials) expect(typeof c === "string" && /^Bearer \S+$/.test(c)).toBe(true);
    expect(new Set(credentials).size).toBe(credentials.length);
  });

  test("route config holds only a non-empty allow list of known consumers", () => {
    const r = keyAuth();
    const cfg = spec(r).defaultConfig;
    const names = new Set(
      (isObject(cfg) && Array.isArray(cfg.consumers) ? cfg.consumers : []).filter(isObject).map((c) => c.name),
    );
    const rules = matchRules(r);
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(isObject(rule.config) && Object.keys(rule.config)).toEqual(["allow"]);
      const allow = isObject(rule.config) ? strings(rule.config.allow) : [];
      expect(allow.length).toBeGreaterThan(0);
      for (const name of allow) expect(names.has(name)).toBe(true);
    }
  });
});

describe.each(variants)("$name: ai-statistics", ({ inDir: mine }) => {
  // Fields documented in the ai-statistics README (alibaba/higress plugins/wasm-go/extensions/ai-statistics).
  const CONFIG_FIELDS = [
    "attributes",
    "disable_openai_usage",
    "value_length_limit",
    "enable_path_suffixes",
    "enable_content_types",
    "session_id_header",
  ];
  const ATTRIBUTE_FIELDS = [
    "key",
    "value_source",
    "value",
    "default_value",
    "rule",
    "apply_to_log",
    "apply_to_span",
    "trace_span_key",
    "as_separate_log_field",
  ];
  const VALUE_SOURCES = [
    "fixed_value",
    "request_header",
    "request_body",
    "response_header",
    "response_body",
    "response_streaming_body",
  ];

  test("configs use documented fields only", () => {
    const r = only(wasmPlugins("ai-statistics").filter(mine), "ai-statistics WasmPlugin");
    const configs = matchRules(r).map((rule) => rule.config);
    if (isObject(spec(r).defaultConfig)) configs.push(spec(r).defaultConfig);
    for (const cfg of configs) {
      expect(isObject(cfg)).toBe(true);
      if (!isObject(cfg)) continue;
      for (const key of Object.keys(cfg)) expect(CONFIG_FIELDS).toContain(key);
      for (const attr of Array.isArray(cfg.attributes) ? cfg.attributes : []) {
        expect(isObject(attr)).toBe(true);
        if (!isObject(attr)) continue;
        for (const key of Object.keys(attr)) expect(ATTRIBUTE_FIELDS).toContain(key);
        expect(typeof attr.key).toBe("string");
        expect(VALUE_SOURCES).toContain(attr.value_source);
      }
    }
  });
});

describe("kubernetes: the services the config names exist in higress/", () => {
  const k8s = (): Resource[] => higressResources().filter((r) => !inDir(r, STANDALONE_DIR));

  test("the ai-quota config is Higress's README example", () => {
    const rules = matchRules(only(wasmPlugins("ai-quota").filter((r) => r.file === K8S_AI_QUOTA), "ai-quota"));
    expect(rules[0].config).toEqual(README_EXAMPLE_CONFIG);
  });

  test("the url is an oci:// placeholder, with the file:// alternative shown", () => {
    const r = only(wasmPlugins("ai-quota").filter((x) => x.file === K8S_AI_QUOTA), "ai-quota");
    expect(String(spec(r).url)).toMatch(/^oci:\/\//);
    expect(fs.readFileSync(repoPath(K8S_AI_QUOTA), "utf8")).toContain("file:///opt/plugins/ai-quota.wasm");
  });

  test("redis.service_name is a McpBridge registry in front of a Service of redis.yaml with that port", () => {
    const services = k8s().filter((r) => r.doc.kind === "Service");
    const bridge = only(k8s().filter((r) => r.doc.kind === "McpBridge"), "McpBridge");
    // Higress reads only the McpBridge named "default" in its own namespace (ingress_config.go AddOrUpdateMcpBridge).
    expect(isObject(bridge.doc.metadata) && [bridge.doc.metadata.name, bridge.doc.metadata.namespace]).toEqual(["default", "higress-system"]);
    const registries = (isObject(bridge.doc.spec) && Array.isArray(bridge.doc.spec.registries) ? bridge.doc.spec.registries : []).filter(isObject);
    for (const r of wasmPlugins("ai-quota").filter((x) => x.file === K8S_AI_QUOTA)) {
      for (const rule of matchRules(r)) {
        const redis = isObject(rule.config) && isObject(rule.config.redis) ? rule.config.redis : {};
        const reg = registries.find((g) => `${String(g.name)}.${String(g.type)}` === redis.service_name);
        expect({ service: redis.service_name, registered: reg !== undefined }).toEqual({ service: redis.service_name, registered: true });
        if (reg === undefined) continue;
        expect(reg.port).toBe(redis.service_port ?? 6379);
        const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(String(reg.domain));
        expect(m).not.toBeNull();
        if (m === null) continue;
        const svc = services.find((x) => isObject(x.doc.metadata) && x.doc.metadata.name === m[1] && x.doc.metadata.namespace === m[2]);
        expect(svc).toBeDefined();
        const ports = svc !== undefined && isObject(svc.doc.spec) && Array.isArray(svc.doc.spec.ports) ? svc.doc.spec.ports : [];
        expect(ports.filter(isObject).map((p) => p.port)).toContain(reg.port);
      }
    }
  });

  test("every route the plugins name is an Ingress whose paths cover the chat and admin paths", () => {
    const ingresses = k8s().filter((r) => r.doc.kind === "Ingress");
    const byName = new Map<string, Resource>();
    for (const r of ingresses) {
      if (!isObject(r.doc.metadata)) continue;
      const ns = String(r.doc.metadata.namespace ?? "default");
      const name = String(r.doc.metadata.name);
      // Higress names routes "<namespace>/<name>", or "<name>" in its own namespace.
      byName.set(ns === "higress-system" ? name : `${ns}/${name}`, r);
    }
    const aiQuota = only(wasmPlugins("ai-quota").filter((x) => x.file === K8S_AI_QUOTA), "ai-quota");
    for (const rule of matchRules(aiQuota)) {
      const adminPath = isObject(rule.config) ? String(rule.config.admin_path ?? "/quota") : "/quota";
      for (const ing of strings(rule.ingress)) {
        const r = byName.get(ing);
        expect({ route: ing, found: r !== undefined }).toEqual({ route: ing, found: true });
        if (r === undefined) continue;
        expect(ingressPrefixes(r.doc).some((p) => coversPath(p, `/v1/chat/completions${adminPath}/refresh`))).toBe(true);
        expect(ingressPrefixes(r.doc).some((p) => coversPath(p, "/v1/chat/completions"))).toBe(true);
      }
    }
  });
});

describe("standalone: the all-in-one configuration directory", () => {
  const standalone = (): Resource[] => higressResources().filter((r) => inDir(r, STANDALONE_DIR));

  test("files sit where the all-in-one apiserver reads them: <resource>/<metadata.name>.yaml", () => {
    const dirOf: Record<string, string> = { WasmPlugin: "wasmplugins", McpBridge: "mcpbridges", Ingress: "ingresses" };
    for (const r of standalone()) {
      const kind = String(r.doc.kind);
      expect(Object.keys(dirOf)).toContain(kind);
      const name = isObject(r.doc.metadata) ? String(r.doc.metadata.name) : "";
      expect(r.file).toBe(`${STANDALONE_DIR}/${dirOf[kind]}/${name}.yaml`);
      expect(isObject(r.doc.metadata) && r.doc.metadata.namespace).toBe("higress-system");
      expect(readYamlDocuments(r.file)).toHaveLength(1);
    }
  });

  test("ai-quota loads the module docker-compose.yml mounts into the higress service", () => {
    const r = only(wasmPlugins("ai-quota").filter((x) => x.file === STANDALONE_AI_QUOTA), "ai-quota");
    const url = String(spec(r).url);
    expect(url).toMatch(/^file:\/\/\//);
    const mounts = bindMounts(composeServices().higress).filter((m) => m.source === "./build/ai-quota.wasm");
    expect(mounts.map((m) => [m.target, m.readOnly])).toEqual([[url.slice("file://".length), true]]);
  });

  test("the standalone ai-quota config is the Kubernetes one (both name Redis redis.dns)", () => {
    const cfg = (file: string): JsonObject => {
      const rule = matchRules(only(wasmPlugins("ai-quota").filter((x) => x.file === file), "ai-quota"))[0];
      if (!isObject(rule.config)) throw new Error("no config");
      return rule.config;
    };
    expect(cfg(STANDALONE_AI_QUOTA)).toEqual(cfg(K8S_AI_QUOTA));
  });

  test("redis.service_name and every route destination are McpBridge registries of compose services", () => {
    const bridge = only(standalone().filter((r) => r.doc.kind === "McpBridge"), "McpBridge");
    expect(isObject(bridge.doc.metadata) && bridge.doc.metadata.name).toBe("default");
    const registries = (isObject(bridge.doc.spec) && Array.isArray(bridge.doc.spec.registries) ? bridge.doc.spec.registries : []).filter(isObject);
    // Higress names a registry's service "<name>.<type>".
    const byService = new Map(registries.map((reg) => [`${String(reg.name)}.${String(reg.type)}`, reg]));
    expect(byService.has("higress-console.static")).toBe(true);
    const services = composeServices();
    const checkDns = (service: string, port: Json | undefined): void => {
      const reg = byService.get(service);
      expect({ service, registered: reg !== undefined }).toEqual({ service, registered: true });
      if (reg === undefined) return;
      expect(reg.port).toBe(port);
      if (reg.type === "dns") {
        // The domain is a network alias of one compose service (dotted: Higress's domain rule).
        const owners = Object.entries(services).filter(([, svc]) => networkAliases(svc).includes(String(reg.domain)));
        expect({ domain: reg.domain, services: owners.length }).toEqual({ domain: reg.domain, services: 1 });
        if (owners.length !== 1) return;
        const svc = owners[0][1];
        const exposed = [...(Array.isArray(svc.expose) ? svc.expose : []), ...(Array.isArray(svc.ports) ? svc.ports : [])].map(String);
        const image = String(svc.image);
        // redis:7 listens on 6379 without saying so; the others must expose their port.
        expect(image.startsWith("redis:") ? port === 6379 : exposed.some((p) => p === String(port) || p.endsWith(`:${String(port)}`))).toBe(true);
      }
    };

    const aiQuota = only(wasmPlugins("ai-quota").filter((x) => x.file === STANDALONE_AI_QUOTA), "ai-quota");
    for (const rule of matchRules(aiQuota)) {
      const redis = isObject(rule.config) && isObject(rule.config.redis) ? rule.config.redis : {};
      checkDns(String(redis.service_name), redis.service_port ?? 6379);
    }
    const ingresses = standalone().filter((r) => r.doc.kind === "Ingress");
    expect(ingresses.length).toBeGreaterThan(0);
    for (const ing of ingresses) {
      const ann = isObject(ing.doc.metadata) && isObject(ing.doc.metadata.annotations) ? ing.doc.metadata.annotations : {};
      const dest = String(ann["higress.io/destination"]);
      const m = /^(.+):(\d+)$/.exec(dest);
      expect(m).not.toBeNull();
      if (m !== null) checkDns(m[1], Number(m[2]));
    }
  });

  test("every route the plugins name is an Ingress here, covering the chat and admin paths", () => {
    const names = new Map(
      standalone()
        .filter((r) => r.doc.kind === "Ingress")
        .map((r) => [isObject(r.doc.metadata) ? String(r.doc.metadata.name) : "", r] as const),
    );
    for (const plugin of wasmPlugins().filter((r) => inDir(r, STANDALONE_DIR))) {
      for (const ing of routesOf(plugin)) {
        const r = names.get(ing);
        expect({ route: ing, found: r !== undefined }).toEqual({ route: ing, found: true });
        if (r !== undefined) expect(ingressPrefixes(r.doc).some((p) => coversPath(p, "/v1/chat/completions/quota/refresh"))).toBe(true);
      }
    }
  });
});

describe("higress/README.md", () => {
  test("exists and names every file of higress/", () => {
    const readme = fs.readFileSync(repoPath("higress/README.md"), "utf8");
    for (const file of yamlFilesUnder("higress")) {
      const rel = path.posix.relative("higress", file);
      const shown = rel.startsWith("standalone/") ? "standalone/" : rel;
      expect(readme).toContain(shown);
    }
  });
});

test("allShippedPluginConfigs() returns every ai-quota config of higress/ and envoy/, all valid", () => {
  const configs = allShippedPluginConfigs();
  const sources = configs.map((c) => c.source);
  expect(sources).toEqual(
    expect.arrayContaining([
      `${K8S_AI_QUOTA}#spec.matchRules[0].config`,
      `${STANDALONE_AI_QUOTA}#spec.matchRules[0].config`,
    ]),
  );
  expect(sources.some((s) => s.startsWith("envoy/envoy.yaml#"))).toBe(true);
  for (const c of configs) expect({ source: c.source, problems: aiQuotaConfigProblems(c.config) }).toEqual({ source: c.source, problems: [] });
});

// ---------------------------------------------------------------------------

function ingressPrefixes(doc: JsonObject): string[] {
  const out: string[] = [];
  const s = doc.spec;
  const rules = isObject(s) && Array.isArray(s.rules) ? s.rules : [];
  for (const rule of rules) {
    const paths = isObject(rule) && isObject(rule.http) && Array.isArray(rule.http.paths) ? rule.http.paths : [];
    for (const p of paths) {
      if (isObject(p) && p.pathType === "Prefix" && typeof p.path === "string") out.push(p.path);
    }
  }
  return out;
}

/** Kubernetes Prefix matching: element-wise on "/"-separated segments. */
function coversPath(prefix: string, p: string): boolean {
  if (prefix === "/") return true;
  const trimmed = prefix.replace(/\/+$/, "");
  return p === trimmed || p.startsWith(`${trimmed}/`);
}
