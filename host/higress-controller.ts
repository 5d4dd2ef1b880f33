// What the Higress controller makes of our Kubernetes resources, for tests: the exact plugin
// configuration a WasmPlugin delivers to the gateway, and the route_name / cluster_name a request
// on an Ingress carries.
//
// Sources:
//   - alibaba/higress pkg/ingress/config/ingress_config.go:
//       AddOrUpdateWasmPlugin: a WasmPlugin outside the controller's namespace (POD_NAMESPACE,
//       default higress-system: pkg/config/envs.go) is ignored; a conversion error drops it;
//       convertIstioWasmPlugin: spec.pluginConfig, when set, is delivered as it is; otherwise
//       defaultConfig (unless defaultConfigDisable) is the top level, and every matchRule not
//       configDisable'd becomes an entry of `_rules_`: its config plus `_match_route_` (the
//       `ingress` names as written; for a routeType other than HTTP, the type's name instead),
//       `_match_service_` and `_match_domain_`; a rule with none of them fails the whole plugin;
//       no valid rule and defaultConfigDisable: the plugin is not delivered at all.
//   - higress-group/istio pilot/pkg/model/extensions.go buildPluginConfig: a config with no fields
//     becomes an empty configuration; otherwise protomarshal.ToJSON (pkg/util/protomarshal, the
//     legacy jsonpb Marshaler: golang/protobuf jsonpb/encode.go) as a StringValue: compact, Struct
//     keys sorted, values through encoding/json (go-json.ts).
//   - Route names: pkg/ingress/kube/common/tool.go GenerateUniqueRouteName: "<name>" for an Ingress
//     in the controller's namespace, else "<namespace>/<name>" (WrapperHTTPRoute.Meta); Istio's
//     TranslateRoute (pilot/pkg/networking/core/route/route.go) names the Envoy route after it.
//   - Cluster names: Istio's BuildSubsetKey, "outbound|<port>|<subset>|<host>"; a McpBridge registry
//     named N of type T is the service "N.T" (registry/direct/watcher.go Run).
//   - YAML is read as Kubernetes reads it (sigs.k8s.io/yaml over go-yaml: YAML 1.1 scalars) and
//     numbers are float64 in a Struct.
import { parseAllDocuments } from "yaml";
import { GoValue, goJsonFloat, goJsonMarshal, goJsonQuote, goStringCompare } from "./go-json";

/** POD_NAMESPACE's default: where the controller reads WasmPlugins and McpBridges. */
export const HIGRESS_SYSTEM_NAMESPACE = "higress-system";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Every document of a YAML text as Kubernetes decodes it (YAML 1.1 scalars). */
export function readKubernetesYaml(text: string): Json[] {
  const docs = parseAllDocuments(text, { version: "1.1", uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  const out: Json[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join("; "));
    const v = d.toJS({ maxAliasCount: 0 }) as Json;
    if (v !== null) out.push(v);
  }
  return out;
}

/** jsonpb of a google.protobuf.Struct / Value (numbers are double; NaN and infinities as strings). */
export function jsonpbMarshal(v: Json): string {
  if (v === null) return "null";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return '"NaN"';
    if (v === Infinity) return '"Infinity"';
    if (v === -Infinity) return '"-Infinity"';
    return goJsonFloat(v);
  }
  if (typeof v === "boolean" || typeof v === "string") return goJsonMarshal(v as GoValue);
  if (Array.isArray(v)) return "[" + v.map(jsonpbMarshal).join(",") + "]";
  const keys = Object.keys(v).sort(goStringCompare);
  return "{" + keys.map((k) => goJsonQuote(k) + ":" + jsonpbMarshal(v[k])).join(",") + "}";
}

export interface Delivery {
  /** False: the gateway gets no such plugin at all. */
  delivered: boolean;
  /** The plugin configuration ("" when empty). */
  configuration: string;
  /** Why it is not delivered, as the controller would log it. */
  reason: string;
}

function strings(v: Json | undefined): string[] {
  return Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : String(x))) : [];
}

function isTrue(v: Json | undefined): boolean {
  return v === true;
}

interface Conversion {
  /** False: convertIstioWasmPlugin returned nil (the plugin is not delivered). */
  delivered: boolean;
  /** The Struct that becomes the configuration (null: none). */
  config: JsonObject | null;
  error: string;
}

/** convertIstioWasmPlugin. */
export function convertWasmPluginConfig(spec: JsonObject): Conversion {
  if (isObject(spec.pluginConfig)) return { delivered: true, config: spec.pluginConfig, error: "" };
  let config: JsonObject | null = null;
  if (!isTrue(spec.defaultConfigDisable) && isObject(spec.defaultConfig)) config = { ...spec.defaultConfig };
  let hasValidRule = false;
  const rules = Array.isArray(spec.matchRules) ? spec.matchRules : [];
  if (rules.length > 0) {
    if (config === null) config = {};
    const values: Json[] = [];
    for (const rule of rules) {
      if (!isObject(rule) || isTrue(rule.configDisable)) continue;
      const v: JsonObject = isObject(rule.config) ? { ...rule.config } : {};
      let valid = false;
      const routeType = typeof rule.routeType === "string" ? rule.routeType : "HTTP";
      const ingresses = strings(rule.ingress).map((ing) => (routeType !== "HTTP" ? routeType : ing));
      if (ingresses.length > 0) {
        valid = true;
        v._match_route_ = ingresses;
      }
      const services = strings(rule.service);
      if (services.length > 0) {
        valid = true;
        v._match_service_ = services;
      }
      const domains = strings(rule.domain);
      if (domains.length > 0) {
        valid = true;
        v._match_domain_ = domains;
      }
      if (!valid) return { delivered: false, config: null, error: "invalid match rule has no match condition" };
      values.push(v);
    }
    if (values.length > 0) {
      hasValidRule = true;
      config._rules_ = values;
    }
  }
  if (!hasValidRule && isTrue(spec.defaultConfigDisable)) return { delivered: false, config: null, error: "" };
  return { delivered: true, config, error: "" };
}

/** What the gateway receives for a WasmPlugin resource (a parsed document). */
export function deliverWasmPlugin(doc: Json, systemNamespace = HIGRESS_SYSTEM_NAMESPACE): Delivery {
  if (!isObject(doc) || !isObject(doc.spec)) return { delivered: false, configuration: "", reason: "not a WasmPlugin" };
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const namespace = typeof meta.namespace === "string" ? meta.namespace : "default";
  if (namespace !== systemNamespace) return { delivered: false, configuration: "", reason: `namespace ${namespace} is not ${systemNamespace}` };
  const { delivered, config, error } = convertWasmPluginConfig(doc.spec);
  if (error !== "") return { delivered: false, configuration: "", reason: `invalid wasmPlugin: ${error}` };
  if (!delivered) return { delivered: false, configuration: "", reason: "config disabled" };
  const configuration = config !== null && Object.keys(config).length > 0 ? jsonpbMarshal(config) : "";
  return { delivered: true, configuration, reason: "" };
}

/** Istio's configuration for an istio WasmPlugin (extensions.istio.io): its pluginConfig. */
export function deliverIstioWasmPlugin(doc: Json): Delivery {
  if (!isObject(doc) || !isObject(doc.spec)) return { delivered: false, configuration: "", reason: "not a WasmPlugin" };
  const pc = doc.spec.pluginConfig;
  const configuration = isObject(pc) && Object.keys(pc).length > 0 ? jsonpbMarshal(pc) : "";
  return { delivered: true, configuration, reason: "" };
}

/** The Envoy route name of the routes made from an Ingress. */
export function routeNameOf(ingress: Json, systemNamespace = HIGRESS_SYSTEM_NAMESPACE): string {
  const meta = isObject(ingress) && isObject(ingress.metadata) ? ingress.metadata : {};
  const name = String(meta.name);
  const namespace = typeof meta.namespace === "string" ? meta.namespace : "default";
  return namespace === systemNamespace ? name : `${namespace}/${name}`;
}

export function clusterNameOf(host: string, port: number, subset = ""): string {
  return `outbound|${port}|${subset}|${host}`;
}

/**
 * The upstream cluster of an Ingress's first path: the `higress.io/destination` annotation
 * ("<service>:<port>", one destination), else the Kubernetes Service backend.
 */
export function ingressClusterName(ingress: Json): string {
  if (!isObject(ingress)) throw new Error("not an Ingress");
  const meta = isObject(ingress.metadata) ? ingress.metadata : {};
  const namespace = typeof meta.namespace === "string" ? meta.namespace : "default";
  const annotations = isObject(meta.annotations) ? meta.annotations : {};
  const destination = annotations["higress.io/destination"];
  if (typeof destination === "string") {
    const m = /^([^\s:]+):(\d+)$/.exec(destination.trim());
    if (m === null) throw new Error(`unsupported higress.io/destination: ${destination}`);
    return clusterNameOf(m[1], Number(m[2]));
  }
  const spec = isObject(ingress.spec) ? ingress.spec : {};
  const rule = Array.isArray(spec.rules) && isObject(spec.rules[0]) ? spec.rules[0] : {};
  const paths = isObject(rule.http) && Array.isArray(rule.http.paths) ? rule.http.paths : [];
  const backend = isObject(paths[0]) && isObject(paths[0].backend) ? paths[0].backend : {};
  const service = isObject(backend.service) ? backend.service : {};
  const port = isObject(service.port) ? Number(service.port.number) : NaN;
  if (typeof service.name !== "string" || !Number.isInteger(port)) throw new Error("the Ingress has no service backend");
  return clusterNameOf(`${service.name}.${namespace}.svc.cluster.local`, port);
}

/** The service name a McpBridge registry entry becomes. */
export function registryServiceName(registry: JsonObject): string {
  return `${String(registry.name)}.${String(registry.type)}`;
}

/**
 * registry/direct/watcher.go's domainRegex: every `dns` registry domain (comma-separated list) must
 * match, or the registry is dropped with "invalid domain format".
 */
export const HIGRESS_DNS_DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/;

/** Why a McpBridge registry would be dropped ("" when it is accepted), for the static and dns types. */
export function registryProblem(registry: JsonObject): string {
  const type = registry.type;
  const domain = typeof registry.domain === "string" ? registry.domain : "";
  for (const ep of domain.split(",")) {
    if (type === "dns" && !HIGRESS_DNS_DOMAIN.test(ep)) return `invalid domain format:${ep}`;
    if (type === "static") {
      const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(ep);
      if (m === null) return `invalid endpoint:${ep} with static type`;
    }
  }
  return "";
}
