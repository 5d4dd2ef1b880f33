// Static checks of the plain-Envoy configuration envoy/envoy.yaml.

import * as fs from "fs";
import {
  aiQuotaConfigProblems,
  decodeEnvoyConfiguration,
  envoyWasmFilters,
  isAiQuotaFilter,
  isObject,
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

  test("the wasm filter runs ai-quota in V8 from /etc/envoy/ai-quota.wasm", () => {
    const pc = aiQuotaFilter().pluginConfig;
    expect(pc.root_id).toBe("ai-quota");
    const vm = pc.vm_config;
    expect(isObject(vm)).toBe(true);
    if (!isObject(vm)) return;
    expect(vm.runtime).toBe("envoy.wasm.runtime.v8");
    expect(typeof vm.vm_id === "string" && vm.vm_id.length > 0).toBe(true);
    expect(isObject(vm.code) && isObject(vm.code.local) && vm.code.local.filename).toBe("/etc/envoy/ai-quota.wasm");
  });

  test("its configuration is a StringValue holding a valid ai-quota JSON config", () => {
    const config = decodeEnvoyConfiguration(aiQuotaFilter().pluginConfig);
    expect(aiQuotaConfigProblems(config)).toEqual([]);
    expect(isObject(config) && typeof config.admin_consumer).toBe("string");
    expect(isObject(config) && isObject(config.redis) && typeof config.redis.service_name).toBe("string");
  });

  test("the embedded config has the same shape as the Higress one", () => {
    const config = decodeEnvoyConfiguration(aiQuotaFilter().pluginConfig);
    const higress = wasmPlugins("ai-quota").find((r) => r.file === "higress/wasmplugin.yaml");
    const spec = higress !== undefined && isObject(higress.doc.spec) ? higress.doc.spec : {};
    const rule: Json = Array.isArray(spec.matchRules) ? spec.matchRules[0] : null;
    expect(isObject(rule)).toBe(true);
    if (!isObject(rule) || !isObject(rule.config) || !isObject(config)) return;
    expect(shapeOf(config)).toEqual(shapeOf(rule.config));
    // Same values apart from where Redis is.
    const redisless = (c: JsonObject): JsonObject => ({ ...c, redis: null });
    expect(redisless(config)).toEqual(redisless(rule.config));
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

  test("the module path it loads is where docker-compose.yml mounts build/ai-quota.wasm", () => {
    const pc = aiQuotaFilter().pluginConfig;
    const vm = isObject(pc.vm_config) ? pc.vm_config : {};
    const filename = isObject(vm.code) && isObject(vm.code.local) ? vm.code.local.filename : undefined;
    const envoy = composeServices().envoy;
    expect(envoy).toBeDefined();
    const mounts = bindMounts(envoy);
    expect(mounts).toContainEqual({ source: "./build/ai-quota.wasm", target: filename, readOnly: true });
    expect(mounts).toContainEqual({ source: "./envoy/envoy.yaml", target: "/etc/envoy/envoy.yaml", readOnly: true });
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

describe("envoy/README.md", () => {
  const readme = (): string => fs.readFileSync(repoPath("envoy/README.md"), "utf8");

  test("says the Higress build does not load in plain Envoy, and why", () => {
    const text = readme();
    expect(text).toContain("proxy_redis_call");
    expect(text).toMatch(/missing import/i);
    expect(text).toContain("build/ai-quota.wasm");
  });
});
