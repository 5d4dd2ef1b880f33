// Loads the deployment files this repository ships (envoy/, higress/, docker-compose.yml)
// and finds every ai-quota plugin configuration embedded in them.
//
// allShippedPluginConfigs() is meant to be fed, config by config, into the real plugin in
// the test host: whatever a user copies from these files must start the plugin.

import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { deliverIstioWasmPlugin, deliverWasmPlugin, readKubernetesYaml } from "../../host/higress-controller";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export interface ShippedPluginConfig {
  /** Where the config was found: "<repo-relative file>#<path inside the document>". */
  source: string;
  config: object;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function repoPath(rel: string): string {
  return path.join(REPO_ROOT, rel);
}

/** Parses every YAML document of a file; any YAML error or warning throws. */
export function readYamlDocuments(rel: string): Json[] {
  const text = fs.readFileSync(repoPath(rel), "utf8");
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  if (!Array.isArray(docs)) {
    // parseAllDocuments returns an EmptyStream for a file without documents.
    return [];
  }
  const out: Json[] = [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      throw new Error(`${rel}: ${problems.map((p) => p.message).join("; ")}`);
    }
    const value = doc.toJS({ maxAliasCount: 0 }) as Json;
    if (value !== null) out.push(value);
  }
  return out;
}

/** Repo-relative paths of the YAML files under a directory (recursive, sorted). */
export function yamlFilesUnder(relDir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = repoPath(rel);
    if (!fs.existsSync(abs)) return;
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const child = path.posix.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (/\.ya?ml$/.test(entry.name)) out.push(child);
    }
  };
  walk(relDir);
  return out.sort();
}

/** Every shipped YAML file: envoy/**, higress/** and docker-compose.yml. */
export function shippedYamlFiles(): string[] {
  const files = [...yamlFilesUnder("envoy"), ...yamlFilesUnder("higress")];
  if (fs.existsSync(repoPath("docker-compose.yml"))) files.push("docker-compose.yml");
  return files;
}

// ---------------------------------------------------------------------------
// Higress WasmPlugin resources

export interface Resource {
  file: string;
  index: number;
  doc: JsonObject;
}

export function higressResources(): Resource[] {
  const out: Resource[] = [];
  for (const file of yamlFilesUnder("higress")) {
    readYamlDocuments(file).forEach((doc, index) => {
      if (isObject(doc)) out.push({ file, index, doc });
    });
  }
  return out;
}

function metadataName(doc: JsonObject): string | undefined {
  const meta = doc.metadata;
  return isObject(meta) && typeof meta.name === "string" ? meta.name : undefined;
}

export function wasmPlugins(name?: string): Resource[] {
  return higressResources().filter(
    (r) => r.doc.kind === "WasmPlugin" && (name === undefined || metadataName(r.doc) === name),
  );
}

// ---------------------------------------------------------------------------
// Envoy wasm filters

export const WASM_FILTER_NAME = "envoy.filters.http.wasm";
export const WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
export const STRING_VALUE_TYPE = "type.googleapis.com/google.protobuf.StringValue";
const TYPED_STRUCT_TYPES = new Set([
  "type.googleapis.com/udpa.type.v1.TypedStruct",
  "type.googleapis.com/xds.type.v3.TypedStruct",
]);

export interface EnvoyWasmFilter {
  file: string;
  /** Path of the filter object inside the document, e.g. "static_resources.listeners[0]...". */
  where: string;
  /** The filter's http_filters list and its index in it. */
  chain: Json[];
  index: number;
  /** extensions.filters.http.wasm.v3.Wasm `config` (a PluginConfig). */
  pluginConfig: JsonObject;
}

/** The PluginConfig of a wasm filter entry, whether typed directly or as a TypedStruct. */
export function wasmPluginConfigOf(filter: JsonObject): JsonObject | undefined {
  const typed = filter.typed_config;
  if (!isObject(typed)) return undefined;
  const atType = typed["@type"];
  if (atType === WASM_TYPE) return isObject(typed.config) ? typed.config : undefined;
  if (typeof atType === "string" && TYPED_STRUCT_TYPES.has(atType) && typed.type_url === WASM_TYPE) {
    const value = typed.value;
    return isObject(value) && isObject(value.config) ? value.config : undefined;
  }
  return undefined;
}

/** Every envoy.filters.http.wasm entry of every http_filters list in envoy/**. */
export function envoyWasmFilters(): EnvoyWasmFilter[] {
  const out: EnvoyWasmFilter[] = [];
  for (const file of yamlFilesUnder("envoy")) {
    const visit = (node: Json, where: string): void => {
      if (Array.isArray(node)) {
        node.forEach((child, i) => visit(child, `${where}[${i}]`));
        return;
      }
      if (!isObject(node)) return;
      for (const [key, child] of Object.entries(node)) {
        const childWhere = where === "" ? key : `${where}.${key}`;
        if (key === "http_filters" && Array.isArray(child)) {
          child.forEach((filter, index) => {
            if (isObject(filter) && filter.name === WASM_FILTER_NAME) {
              const pluginConfig = wasmPluginConfigOf(filter);
              if (pluginConfig === undefined) {
                throw new Error(`${file}#${childWhere}[${index}]: wasm filter without a Wasm config`);
              }
              out.push({ file, where: `${childWhere}[${index}]`, chain: child, index, pluginConfig });
            }
          });
        }
        visit(child, childWhere);
      }
    };
    readYamlDocuments(file).forEach((doc, i) => visit(doc, i === 0 ? "" : `doc${i}`));
  }
  return out;
}

/** Whether a wasm filter runs ai-quota (root_id, or the module's file name). */
export function isAiQuotaFilter(f: EnvoyWasmFilter): boolean {
  if (f.pluginConfig.root_id === "ai-quota") return true;
  const vm = f.pluginConfig.vm_config;
  if (!isObject(vm) || !isObject(vm.code) || !isObject(vm.code.local)) return false;
  const filename = vm.code.local.filename;
  return typeof filename === "string" && path.posix.basename(filename).startsWith("ai-quota");
}

/** Decodes a PluginConfig `configuration` (an Any holding a StringValue of JSON). */
export function decodeEnvoyConfiguration(pluginConfig: JsonObject): Json {
  const any = pluginConfig.configuration;
  if (!isObject(any)) throw new Error("no configuration");
  if (any["@type"] !== STRING_VALUE_TYPE) {
    throw new Error(`configuration @type is ${String(any["@type"])}, expected ${STRING_VALUE_TYPE}`);
  }
  if (typeof any.value !== "string") throw new Error("configuration value is not a string");
  return JSON.parse(any.value) as Json;
}

// ---------------------------------------------------------------------------
// All shipped ai-quota configs

/**
 * Every ai-quota plugin configuration embedded in the shipped files: each `matchRules[i].config`
 * and any non-empty `defaultConfig` of a WasmPlugin named ai-quota under higress/, and the JSON
 * `configuration` of each ai-quota wasm filter under envoy/.
 */
export function allShippedPluginConfigs(): ShippedPluginConfig[] {
  const out: ShippedPluginConfig[] = [];
  for (const r of wasmPlugins("ai-quota")) {
    const spec = r.doc.spec;
    if (!isObject(spec)) continue;
    const docTag = r.index === 0 ? "" : `doc${r.index}.`;
    if (isObject(spec.defaultConfig) && Object.keys(spec.defaultConfig).length > 0) {
      out.push({ source: `${r.file}#${docTag}spec.defaultConfig`, config: spec.defaultConfig });
    }
    if (Array.isArray(spec.matchRules)) {
      spec.matchRules.forEach((rule, i) => {
        if (isObject(rule) && isObject(rule.config)) {
          out.push({ source: `${r.file}#${docTag}spec.matchRules[${i}].config`, config: rule.config });
        }
      });
    }
  }
  for (const f of envoyWasmFilters().filter(isAiQuotaFilter)) {
    const config = decodeEnvoyConfiguration(f.pluginConfig);
    if (!isObject(config)) throw new Error(`${f.file}#${f.where}: configuration is not a JSON object`);
    out.push({ source: `${f.file}#${f.where}.typed_config.config.configuration`, config });
  }
  for (const r of istioWasmPlugins("ai-quota")) {
    const spec = r.doc.spec;
    if (isObject(spec) && isObject(spec.pluginConfig)) {
      out.push({ source: `${r.file}#${r.index === 0 ? "" : `doc${r.index}.`}spec.pluginConfig`, config: spec.pluginConfig });
    }
  }
  return out;
}

export interface DeliveredPluginConfig {
  source: string;
  /** The configuration bytes the plugin receives, exactly. */
  configuration: string;
  /** True for the plain-Envoy build (an HTTP store), false for the Higress build. */
  envoyBuild: boolean;
}

/**
 * Every ai-quota configuration the shipped files make a host deliver to the plugin: each ai-quota
 * WasmPlugin under higress/ through the Higress controller emulation (host/higress-controller.ts,
 * with Kubernetes' YAML reading), each ai-quota wasm filter's `configuration` string under envoy/
 * as Envoy passes it, and the Istio WasmPlugin's pluginConfig as Istio marshals it.
 */
export function deliveredPluginConfigs(): DeliveredPluginConfig[] {
  const out: DeliveredPluginConfig[] = [];
  for (const file of yamlFilesUnder("higress")) {
    for (const doc of readKubernetesYaml(fs.readFileSync(repoPath(file), "utf8"))) {
      if (!isObject(doc) || doc.kind !== "WasmPlugin" || !isObject(doc.metadata) || doc.metadata.name !== "ai-quota") continue;
      const d = deliverWasmPlugin(doc);
      if (!d.delivered) throw new Error(`${file}: the controller would not deliver it: ${d.reason}`);
      out.push({ source: `${file} (as Higress delivers it)`, configuration: d.configuration, envoyBuild: false });
    }
  }
  for (const f of envoyWasmFilters().filter(isAiQuotaFilter)) {
    const any = f.pluginConfig.configuration;
    const value = isObject(any) && typeof any.value === "string" ? any.value : "";
    out.push({ source: `${f.file}#${f.where}`, configuration: value, envoyBuild: true });
  }
  for (const r of istioWasmPlugins("ai-quota")) {
    out.push({ source: `${r.file} (as Istio delivers it)`, configuration: deliverIstioWasmPlugin(r.doc).configuration, envoyBuild: true });
  }
  return out;
}

/** Istio WasmPlugin resources (extensions.istio.io) under envoy/. */
export function istioWasmPlugins(name?: string): Resource[] {
  const out: Resource[] = [];
  for (const file of yamlFilesUnder("envoy")) {
    readYamlDocuments(file).forEach((doc, index) => {
      if (!isObject(doc) || doc.kind !== "WasmPlugin") return;
      if (typeof doc.apiVersion !== "string" || !doc.apiVersion.startsWith("extensions.istio.io/")) return;
      if (name === undefined || metadataName(doc) === name) out.push({ file, index, doc });
    });
  }
  return out;
}

// ---------------------------------------------------------------------------
// The Higress ai-quota configuration contract

/** Top-level keys Higress's ai-quota accepts (README "Configuration Description"). */
export const KNOWN_TOP_LEVEL_KEYS: readonly string[] = ["admin_consumer", "admin_path", "redis_key_prefix", "redis"];
/** ai-quota's own key for where balances live (`store.type: http` for the plain-Envoy build). */
export const STORE_KEY = "store";
export const KNOWN_STORE_KEYS: readonly string[] = ["type", "cluster", "path", "authority", "token", "timeout"];

/** What is wrong with a `store` block; [] when nothing. */
function storeProblems(store: Json): string[] {
  if (!isObject(store)) return ["store: an object"];
  const problems: string[] = [];
  for (const key of Object.keys(store)) {
    if (!KNOWN_STORE_KEYS.includes(key)) problems.push(`unknown key "store.${key}"`);
  }
  if (store.type !== "http" && store.type !== "redis") problems.push("store.type: http or redis");
  if (store.type !== "http") return problems;
  if (typeof store.cluster !== "string" || store.cluster === "") problems.push("store.cluster: required, a non-empty string");
  if ("path" in store && (typeof store.path !== "string" || !store.path.startsWith("/"))) problems.push("store.path: a string starting with /");
  for (const key of ["authority", "token"]) {
    if (key in store && typeof store[key] !== "string") problems.push(`store.${key}: a string`);
  }
  if ("timeout" in store && (!isInteger(store.timeout) || store.timeout <= 0)) problems.push("store.timeout: a positive integer (milliseconds)");
  return problems;
}
/** Keys of the `redis` object. */
export const KNOWN_REDIS_KEYS: readonly string[] = [
  "service_name",
  "service_port",
  "username",
  "password",
  "timeout",
  "database",
];

function isInteger(v: Json | undefined): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

/** What is wrong with an ai-quota config against the Higress contract; [] when nothing. */
export function aiQuotaConfigProblems(config: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(config)) return ["config is not an object"];
  for (const key of Object.keys(config)) {
    if (!KNOWN_TOP_LEVEL_KEYS.includes(key) && key !== STORE_KEY) problems.push(`unknown key "${key}"`);
  }
  const admin = config.admin_consumer;
  if (typeof admin !== "string" || admin === "") problems.push("admin_consumer: required, a non-empty string");
  if ("admin_path" in config) {
    const p = config.admin_path;
    if (typeof p !== "string" || !p.startsWith("/")) problems.push("admin_path: a string starting with /");
  }
  if ("redis_key_prefix" in config && typeof config.redis_key_prefix !== "string") {
    problems.push("redis_key_prefix: a string");
  }
  if (STORE_KEY in config) problems.push(...storeProblems(config[STORE_KEY]));
  const httpStore = isObject(config[STORE_KEY]) && config[STORE_KEY].type === "http";
  const redis = config.redis;
  if (httpStore && redis === undefined) return problems;
  if (!isObject(redis)) {
    problems.push(httpStore ? "redis: an object when present" : "redis: required, an object");
    return problems;
  }
  for (const key of Object.keys(redis)) {
    if (!KNOWN_REDIS_KEYS.includes(key)) problems.push(`unknown key "redis.${key}"`);
  }
  if (typeof redis.service_name !== "string" || redis.service_name === "") {
    problems.push("redis.service_name: required, a non-empty string");
  }
  if ("service_port" in redis) {
    const port = redis.service_port;
    if (!isInteger(port) || port < 1 || port > 65535) problems.push("redis.service_port: an integer in 1..65535");
  }
  for (const key of ["username", "password"]) {
    if (key in redis && typeof redis[key] !== "string") problems.push(`redis.${key}: a string`);
  }
  if ("timeout" in redis) {
    const t = redis.timeout;
    if (!isInteger(t) || t <= 0) problems.push("redis.timeout: a positive integer (milliseconds)");
  }
  if ("database" in redis) {
    const db = redis.database;
    if (!isInteger(db) || db < 0) problems.push("redis.database: an integer >= 0");
  }
  return problems;
}

/** The key structure of a JSON value: objects become sorted key -> shape, leaves their type. */
export function shapeOf(value: Json): Json {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) out[key] = shapeOf(value[key]);
    return out;
  }
  return value === null ? "null" : typeof value;
}
