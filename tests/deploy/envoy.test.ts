// Static checks of the plain-Envoy configuration envoy/envoy.yaml (the plain-Envoy build with an
// HTTP quota store) and of the Istio example envoy/istio-wasmplugin.yaml.

import * as fs from "fs";
import {
  aiQuotaConfigProblems,
  decodeEnvoyConfiguration,
  envoyWasmFilters,
  isAiQuotaFilter,
  isObject,
  istioWasmPlugins,
  Json,
  JsonObject,
  readYamlDocuments,
  repoPath,
  shapeOf,
  wasmPlugins,
} from "./plugin-configs";
import { bindMounts, composeServices } from "./compose";

const ENVOY_FILE = "envoy/envoy.yaml";
const ROUTER = "envoy.filters.http.router";

function bootstrap(): JsonObject {
  const docs = readYamlDocuments(ENVOY_FILE);
  expect(docs).toHaveLength(1);
  if (!isObject(docs[0])) throw new Error("not a mapping");
  return docs[0];
}

function listeners(): JsonObject[] {
  const sr = bootstrap().static_resources;
  return isObject(sr) && Array.isArray(sr.listeners) ? sr.listeners.filter(isObject) : [];
}

function clusters(): JsonObject[] {
  const sr = bootstrap().static_resources;
  return isObject(sr) && Array.isArray(sr.clusters) ? sr.clusters.filter(isObject) : [];
}

/** typed_config of every http_connection_manager of every listener. */
function connectionManagers(): JsonObject[] {
  const out: JsonObject[] = [];
  for (const l of listeners()) {
    for (const chain of Array.isArray(l.filter_chains) ? l.filter_chains : []) {
      const filters = isObject(chain) && Array.isArray(chain.filters) ? chain.filters : [];
      for (const f of filters) {
        if (isObject(f) && f.name === "envoy.filters.network.http_connection_manager" && isObject(f.typed_config)) {
          out.push(f.typed_config);
        }
      }
    }
  }
  return out;
}

function filterNames(hcm: JsonObject): string[] {
  return (Array.isArray(hcm.http_filters) ? hcm.http_filters : []).map((f) => (isObject(f) ? String(f.name) : ""));
}

function aiQuotaFilter(): ReturnType<typeof envoyWasmFilters>[number] {
  const found = envoyWasmFilters().filter((f) => f.file === ENVOY_FILE && isAiQuotaFilter(f));
  expect(found).toHaveLength(1);
  return found[0];
}

describe("envoy/envoy.yaml", () => {
  test("parses as one document", () => {
    bootstrap();
  });

  test("a listener on port 10000 with an HTTP connection manager", () => {
    const ports = listeners().map((l) =>
      isObject(l.address) && isObject(l.address.socket_address) ? l.address.socket_address.port_value : undefined,
    );
    expect(ports).toContain(10000);
    expect(connectionManagers()).toHaveLength(1);
    expect(connectionManagers()[0]["@type"]).toBe(
      "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    );
  });

  test("the ai-quota wasm filter comes before the router, which is last", () => {
    const names = filterNames(connectionManagers()[0]);
    const wasm = names.indexOf("envoy.filters.http.wasm");
    expect(wasm).toBeGreaterThanOrEqual(0);
    expect(names.indexOf(ROUTER)).toBe(names.length - 1);
    expect(wasm).toBeLessThan(names.indexOf(ROUTER));
    const f = aiQuotaFilter();
    expect(f.index).toBe(wasm);
  });

  test("the wasm filter runs ai-quota in V8 from /etc/envoy/ai-quota-envoy.wasm (the plain-Envoy build)", () => {
    const pc = aiQuotaFilter().pluginConfig;
    expect(pc.root_id).toBe("ai-quota");
    const vm = pc.vm_config;
    expect(isObject(vm)).toBe(true);
    if (!isObject(vm)) return;
    expect(vm.runtime).toBe("envoy.wasm.runtime.v8");
    expect(typeof vm.vm_id === "string" && vm.vm_id.length > 0).toBe(true);
    expect(isObject(vm.code) && isObject(vm.code.local) && vm.code.local.filename).toBe("/etc/envoy/ai-quota-envoy.wasm");
  });

  test("its configuration is a StringValue holding a valid ai-quota JSON config with an HTTP store", () => {
    const config = decodeEnvoyConfiguration(aiQuotaFilter().pluginConfig);
    expect(aiQuotaConfigProblems(config)).toEqual([]);
    expect(isObject(config) && typeof config.admin_consumer).toBe("string");
    // The plain-Envoy build has no Redis host calls: it refuses a config without store.type http.
    expect(isObject(config) && isObject(config.store) && config.store.type).toBe("http");
    expect(isObject(config) && config.redis).toBeUndefined();
  });

  test("the store's cluster is defined: STRICT_DNS to the redis-rest compose service, on a port it exposes", () => {
    const config = decodeEnvoyConfiguration(aiQuotaFilter().pluginConfig);
    const store = isObject(config) && isObject(config.store) ? config.store : {};
    const c = clusters().find((x) => x.name === store.cluster);
    expect(c).toBeDefined();
    if (c === undefined) return;
    expect(c.type).toBe("STRICT_DNS");
    const addresses = socketAddresses(c);
    expect(addresses).toEqual([{ address: "redis-rest", port_value: 80 }]);
    const svc = composeServices()["redis-rest"];
    expect(svc).toBeDefined();
    expect((Array.isArray(svc.expose) ? svc.expose.map(String) : [])).toContain("80");
    expect(store.authority).toBe("redis-rest");
    expect(store.path).toBe("/");
  });

  test("the store token is the REST endpoint's token in docker-compose.yml", () => {
    const config = decodeEnvoyConfiguration(aiQuotaFilter().pluginConfig);
    const store = isObject(config) && isObject(config.store) ? config.store : {};
    const svc = composeServices()["redis-rest"];
    const env = isObject(svc?.environment) ? svc.environment : {};
    expect(typeof store.token === "string" && store.token.length > 0).toBe(true);
    expect(env.SRH_TOKEN).toBe(store.token);
    expect(env.SRH_MODE).toBe("env");
    expect(String(env.SRH_CONNECTION_STRING)).toMatch(/^redis:\/\/redis:6379$/);
  });

  test("the embedded config has the same shape as the Higress one, apart from where balances live", () => {
    const config = decodeEnvoyConfiguration(aiQuotaFilter().pluginConfig);
    const higress = wasmPlugins("ai-quota").find((r) => r.file === "higress/wasmplugin.yaml");
    const spec = higress !== undefined && isObject(higress.doc.spec) ? higress.doc.spec : {};
    const rule: Json = Array.isArray(spec.matchRules) ? spec.matchRules[0] : null;
    expect(isObject(rule)).toBe(true);
    if (!isObject(rule) || !isObject(rule.config) || !isObject(config)) return;
    // Same keys and values apart from where balances live: `store` here, `redis` there.
    const storeless = (c: JsonObject): JsonObject => {
      const { redis: _redis, store: _store, ...rest } = c;
      return rest;
    };
    expect(shapeOf(storeless(config))).toEqual(shapeOf(storeless(rule.config)));
    expect(storeless(config)).toEqual(storeless(rule.config));
  });

  test("before ai-quota, a filter drops a client-sent x-mse-consumer (the identity ai-quota trusts)", () => {
    const hcm = connectionManagers()[0];
    const filters = (Array.isArray(hcm.http_filters) ? hcm.http_filters : []).filter(isObject);
    const wasm = aiQuotaFilter().index;
    const lua = filters.findIndex((f) => f.name === "envoy.filters.http.lua");
    expect(lua).toBeGreaterThanOrEqual(0);
    expect(lua).toBeLessThan(wasm);
    const typed = filters[lua].typed_config;
    const code =
      isObject(typed) && isObject(typed.default_source_code) ? String(typed.default_source_code.inline_string) : "";
    expect(code).toMatch(/function envoy_on_request/);
    expect(code).toMatch(/:remove\("x-mse-consumer"\)/);
  });

  test("every route goes to a defined cluster, llm_upstream", () => {
    const hcm = connectionManagers()[0];
    const rc = hcm.route_config;
    const vhosts = isObject(rc) && Array.isArray(rc.virtual_hosts) ? rc.virtual_hosts.filter(isObject) : [];
    const targets = new Set<string>();
    for (const vh of vhosts) {
      for (const r of Array.isArray(vh.routes) ? vh.routes.filter(isObject) : []) {
        if (isObject(r.route) && typeof r.route.cluster === "string") targets.add(r.route.cluster);
      }
    }
    expect([...targets]).toEqual(["llm_upstream"]);
    const names = clusters().map((c) => c.name);
    for (const t of targets) expect(names).toContain(t);
  });

  test("the module path it loads is where docker-compose.yml mounts build/ai-quota-envoy.wasm", () => {
    const pc = aiQuotaFilter().pluginConfig;
    const vm = isObject(pc.vm_config) ? pc.vm_config : {};
    const filename = isObject(vm.code) && isObject(vm.code.local) ? vm.code.local.filename : undefined;
    const envoy = composeServices().envoy;
    expect(envoy).toBeDefined();
    const mounts = bindMounts(envoy);
    expect(mounts).toContainEqual(expect.objectContaining({ source: "./build/ai-quota-envoy.wasm", target: filename, readOnly: true }));
    expect(mounts.map((m) => m.source)).not.toContain("./build/ai-quota.wasm");
    expect(mounts).toContainEqual(expect.objectContaining({ source: "./envoy/envoy.yaml", target: "/etc/envoy/envoy.yaml", readOnly: true }));
  });

  test("the upstream cluster points at a compose service on a port it exposes", () => {
    const services = composeServices();
    const c = clusters().find((x) => x.name === "llm_upstream");
    expect(c).toBeDefined();
    const la = c !== undefined && isObject(c.load_assignment) ? c.load_assignment : {};
    for (const ep of Array.isArray(la.endpoints) ? la.endpoints.filter(isObject) : []) {
      for (const lb of Array.isArray(ep.lb_endpoints) ? ep.lb_endpoints.filter(isObject) : []) {
        const sa =
          isObject(lb.endpoint) && isObject(lb.endpoint.address) && isObject(lb.endpoint.address.socket_address)
            ? lb.endpoint.address.socket_address
            : {};
        const svc = services[String(sa.address)];
        expect(svc).toBeDefined();
        const exposed = Array.isArray(svc.expose) ? svc.expose.map(String) : [];
        expect(exposed).toContain(String(sa.port_value));
      }
    }
  });
});

describe("docker-compose.yml, envoy profile", () => {
  test("envoy and its quota store (an Upstash-compatible REST server) are both behind the profile", () => {
    const services = composeServices();
    const envoy = services.envoy;
    const rest = services["redis-rest"];
    expect(rest).toBeDefined();
    expect(String(rest.image)).toMatch(/^hiett\/serverless-redis-http:\d+\.\d+\.\d+$/);
    expect(rest.profiles).toEqual(envoy.profiles);
    const deps = Array.isArray(envoy.depends_on) ? envoy.depends_on.map(String) : Object.keys(isObject(envoy.depends_on) ? envoy.depends_on : {});
    expect(deps).toEqual(expect.arrayContaining(["llm-mock", "redis-rest"]));
    // Not published on the host: only Envoy talks to it.
    expect(rest.ports).toBeUndefined();
  });
});

describe("envoy/istio-wasmplugin.yaml", () => {
  const plugin = (): JsonObject => {
    const found = istioWasmPlugins("ai-quota").filter((r) => r.file === "envoy/istio-wasmplugin.yaml");
    expect(found).toHaveLength(1);
    return found[0].doc;
  };

  test("an Istio WasmPlugin loading the plain-Envoy build on the ingress gateway", () => {
    const doc = plugin();
    expect(doc.apiVersion).toBe("extensions.istio.io/v1alpha1");
    const spec = isObject(doc.spec) ? doc.spec : {};
    expect(String(spec.url)).toMatch(/^oci:\/\/.*ai-quota-envoy:/);
    expect(isObject(spec.selector) && spec.selector.matchLabels).toEqual({ istio: "ingressgateway" });
    expect(spec.failStrategy).toBe("FAIL_CLOSE");
    // Istio's phases are AUTHN, AUTHZ, STATS; absent means the end of the chain, after them.
    expect(spec.phase === undefined || spec.phase === "UNSPECIFIED_PHASE").toBe(true);
  });

  test("its pluginConfig is the envoy.yaml config with an Istio cluster name", () => {
    const spec = plugin().spec;
    const config = isObject(spec) ? spec.pluginConfig : null;
    expect(aiQuotaConfigProblems(config)).toEqual([]);
    if (!isObject(config) || !isObject(config.store)) throw new Error("no store");
    expect(config.store.type).toBe("http");
    expect(config.store.cluster).toMatch(/^outbound\|\d+\|\|[a-z0-9.-]+$/);
    const envoyConfig = decodeEnvoyConfiguration(aiQuotaFilter().pluginConfig);
    if (!isObject(envoyConfig)) throw new Error("no envoy config");
    const { store: _a, ...rest } = config;
    const { store: _b, ...envoyRest } = envoyConfig;
    expect(rest).toEqual(envoyRest);
    expect(Object.keys(config.store).sort()).toEqual(Object.keys(isObject(envoyConfig.store) ? envoyConfig.store : {}).sort());
  });
});

describe("envoy/README.md", () => {
  const readme = (): string => fs.readFileSync(repoPath("envoy/README.md"), "utf8");

  test("says the Higress build does not load in plain Envoy, and why", () => {
    const text = readme();
    expect(text).toContain("proxy_redis_call");
    expect(text).toMatch(/missing import/i);
    expect(text).toContain("build/ai-quota.wasm");
  });

  test("says which build runs where: the plain-Envoy build with an HTTP store on Envoy and Istio", () => {
    const text = readme();
    expect(text).toContain("build/ai-quota-envoy.wasm");
    expect(text).toMatch(/store\.type: http/);
    expect(text).toMatch(/Upstash-compatible/);
    expect(text).toContain("istio-wasmplugin.yaml");
    expect(text).toContain("this build has no Redis host calls: set store.type to http");
  });
});

/** The socket addresses of a cluster's load assignment. */
function socketAddresses(c: JsonObject): Json[] {
  const out: Json[] = [];
  const la = isObject(c.load_assignment) ? c.load_assignment : {};
  for (const ep of Array.isArray(la.endpoints) ? la.endpoints.filter(isObject) : []) {
    for (const lb of Array.isArray(ep.lb_endpoints) ? ep.lb_endpoints.filter(isObject) : []) {
      if (isObject(lb.endpoint) && isObject(lb.endpoint.address) && isObject(lb.endpoint.address.socket_address)) {
        out.push(lb.endpoint.address.socket_address);
      }
    }
  }
  return out;
}
