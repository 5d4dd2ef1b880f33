// Per-route configuration. A Higress WasmPlugin's `matchRules` reach the plugin as
//   {"_rules_": [{"_match_route_": ["<route>"], …a complete config}, …], …global config keys}
// and every Higress SDK unwraps that the same way. We follow wasm-go (higress-group/wasm-go,
// pkg/matcher/rule_matcher.go: ParseRuleConfig, GetMatchConfig, hostMatch, serviceMatch,
// stripPortFromHost; pkg/wrapper/plugin_wrapper.go: OnPluginStart) in every decision:
//   - no `_rules_` and no other key, or not a JSON object: the whole thing is the global config;
//   - the top-level keys other than `_rules_` (when there are any) are the global config; when it
//     does not parse and valid rules exist, the rules still apply (wasm-go says nothing then; we
//     warn), and with no rules its error is the error;
//   - rules in order; each names routes, domains, services or route prefixes; a rule with a route
//     is a route rule (route + service when it also names services; its domains are then ignored),
//     else a domain rule, else a service rule, else a route-prefix rule;
//   - each rule is a complete config of its own (not merged with the global one); a rule that
//     does not parse, or that names nothing to match, refuses the whole configuration;
//   - a request takes the first rule it matches, else the global config, else nothing at all.
// A top-level `_plugin_id_` (non-empty) is dropped before anything else, as OnPluginStart does.
// One deliberate difference: `_match_domain_` compares hosts as Envoy picks a virtual host, without
// regard to ASCII case and without one trailing dot (virtualHostName); wasm-go compares them raw.
import { JsonType, JsonValue, parseJson } from "../json/parser";
import { asciiLower } from "../util/text";
import { utf8Bytes } from "../util/utf8";
import { QuotaConfig, parseConfig } from "./config";

export const RULES_KEY = "_rules_";
const MATCH_ROUTE_KEY = "_match_route_";
const MATCH_DOMAIN_KEY = "_match_domain_";
const MATCH_SERVICE_KEY = "_match_service_";
const MATCH_ROUTE_PREFIX_KEY = "_match_route_prefix_";
const PLUGIN_ID_KEY = "_plugin_id_";
const MATCH_KEYS: Array<string> = [MATCH_ROUTE_KEY, MATCH_DOMAIN_KEY, MATCH_SERVICE_KEY, MATCH_ROUTE_PREFIX_KEY];

export enum MatchCategory {
  Route,
  Host,
  Service,
  RoutePrefix,
  RouteAndService,
}

enum HostMatchType {
  Prefix,
  Exact,
  Suffix,
}

class HostMatcher {
  constructor(public type: HostMatchType, public host: string) {}

  matches(host: string): bool {
    if (this.type == HostMatchType.Suffix) return host.endsWith(this.host);
    if (this.type == HostMatchType.Prefix) return host.startsWith(this.host);
    return host == this.host;
  }
}

/** One entry of `_rules_`: what it matches, and its own config. */
export class QuotaRule {
  category: MatchCategory = MatchCategory.Route;
  routes: Set<string> = new Set<string>();
  services: Set<string> = new Set<string>();
  routePrefixes: Array<string> = new Array<string>();
  hosts: Array<HostMatcher> = new Array<HostMatcher>();

  constructor(public index: i32, public config: QuotaConfig) {}

  /** GetMatchConfig's test for one rule; `cluster` is Envoy's cluster_name, `authority` the :authority header. */
  matches(route: string, cluster: string, authority: string): bool {
    switch (this.category) {
      case MatchCategory.Host: return this.hostMatch(authority);
      case MatchCategory.Route: return this.routes.has(route);
      case MatchCategory.Service: return this.serviceMatch(cluster);
      case MatchCategory.RouteAndService: return this.routes.has(route) && this.serviceMatch(cluster);
      default: {
        const prefixes = this.routePrefixes;
        for (let i = 0; i < prefixes.length; i++) {
          if (route.startsWith(prefixes[i])) return true;
        }
        return false;
      }
    }
  }

  private hostMatch(authority: string): bool {
    const host = virtualHostName(stripPort(authority));
    const hosts = this.hosts;
    for (let i = 0; i < hosts.length; i++) {
      if (hosts[i].matches(host)) return true;
    }
    return false;
  }

  /**
   * A cluster named `outbound|<port>|<subset>|<fqdn>` (exactly four parts) matches a service written
   * `<fqdn>` or `<fqdn>:<port>`. wasm-go tries each configured name split at its last ':' first,
   * then whole; the two lookups below decide the same.
   */
  private serviceMatch(cluster: string): bool {
    const parts = cluster.split("|");
    if (parts.length != 4) return false;
    const port = parts[1];
    const fqdn = parts[3];
    if (this.services.has(fqdn)) return true;
    return !port.includes(":") && this.services.has(fqdn + ":" + port);
  }
}

export class RulesResult {
  constructor(
    /** The config for requests no rule matches; null: such requests pass untouched. */
    public global: QuotaConfig | null,
    public rules: Array<QuotaRule>,
    /** Non-empty when the configuration is refused; it names the rule at fault. */
    public error: string,
    public warnings: Array<string>,
  ) {}

  /** Whether matching needs `route_name` (a host call per request). */
  needsRouteName(): bool {
    for (let i = 0; i < this.rules.length; i++) {
      const c = this.rules[i].category;
      if (c == MatchCategory.Route || c == MatchCategory.RouteAndService || c == MatchCategory.RoutePrefix) return true;
    }
    return false;
  }

  needsClusterName(): bool {
    for (let i = 0; i < this.rules.length; i++) {
      const c = this.rules[i].category;
      if (c == MatchCategory.Service || c == MatchCategory.RouteAndService) return true;
    }
    return false;
  }

  needsAuthority(): bool {
    for (let i = 0; i < this.rules.length; i++) {
      if (this.rules[i].category == MatchCategory.Host) return true;
    }
    return false;
  }
}

function refused(error: string, warnings: Array<string>): RulesResult {
  return new RulesResult(null, new Array<QuotaRule>(), error, warnings);
}

/** The configuration as Higress delivers it: a plain config, or rules with an optional global config. */
export function parseRules(data: Uint8Array): RulesResult {
  const warnings = new Array<string>();
  const parsed = parseJson(data);
  const root = parsed.value;
  // Not a JSON object, or an empty one: wasm-go hands it whole to the config parser, which refuses it.
  if (root === null || root.type != JsonType.Object || root.keys.length == 0) return plain(data);
  const dropped = pluginIdDropped(root);
  const top = dropped ? withoutKeys(root, [PLUGIN_ID_KEY]) : root;
  if (!top.has(RULES_KEY)) return dropped ? plainValue(top) : plain(data);

  const rulesValue = top.get(RULES_KEY);
  const globalKeys = distinctKeysExcept(top, RULES_KEY);

  let global: QuotaConfig | null = null;
  let globalError = "";
  if (globalKeys > 0) {
    const g = parseConfigValue(withoutKeys(top, [RULES_KEY]));
    for (let i = 0; i < g.warnings.length; i++) warnings.push(g.warnings[i]);
    global = g.config;
    globalError = g.error;
  }

  const items = arrayItems(rulesValue);
  if (items.length == 0) {
    if (global !== null) return new RulesResult(global, new Array<QuotaRule>(), "", warnings);
    if (globalKeys == 0) return refused("_rules_ has no rules and there is no global config", warnings);
    return refused("_rules_ has no rules and the global config is invalid: " + globalError, warnings);
  }

  const rules = new Array<QuotaRule>();
  for (let i = 0; i < items.length; i++) {
    const name = "_rules_[" + i.toString() + "]";
    const item = items[i];
    const routes = matchStrings(item, MATCH_ROUTE_KEY, true);
    const domains = matchStrings(item, MATCH_DOMAIN_KEY, false);
    const services = matchStrings(item, MATCH_SERVICE_KEY, true);
    const prefixes = matchStrings(item, MATCH_ROUTE_PREFIX_KEY, true);
    if (routes.length + domains.length + services.length + prefixes.length == 0) {
      return refused(name + ": needs at least one of " + MATCH_KEYS.join(", "), warnings);
    }
    const c = parseConfigValue(withoutKeys(item, MATCH_KEYS));
    for (let w = 0; w < c.warnings.length; w++) warnings.push(name + ": " + c.warnings[w]);
    const config = c.config;
    if (config === null) return refused(name + ": " + c.error, warnings);

    const rule = new QuotaRule(i, config);
    for (let k = 0; k < routes.length; k++) rule.routes.add(routes[k]);
    for (let k = 0; k < services.length; k++) rule.services.add(services[k]);
    for (let k = 0; k < prefixes.length; k++) {
      if (!rule.routePrefixes.includes(prefixes[k])) rule.routePrefixes.push(prefixes[k]);
    }
    for (let k = 0; k < domains.length; k++) rule.hosts.push(hostMatcher(domains[k]));
    if (routes.length > 0) rule.category = services.length > 0 ? MatchCategory.RouteAndService : MatchCategory.Route;
    else if (domains.length > 0) rule.category = MatchCategory.Host;
    else if (services.length > 0) rule.category = MatchCategory.Service;
    else rule.category = MatchCategory.RoutePrefix;
    rules.push(rule);
  }
  if (globalKeys > 0 && global === null) {
    warnings.push("the global config (the keys beside _rules_) is invalid and not used, so requests no rule matches pass untouched: " + globalError);
  }
  return new RulesResult(global, rules, "", warnings);
}

/** The index in `rules` of the first rule the request matches, or -1. */
export function matchRule(rules: Array<QuotaRule>, route: string, cluster: string, authority: string): i32 {
  for (let i = 0; i < rules.length; i++) {
    if (rules[i].matches(route, cluster, authority)) return i;
  }
  return -1;
}

/** A host without its port; an IPv6 literal keeps its brackets (wasm-go's stripPortFromHost). */
export function stripPort(host: string): string {
  const colon = host.lastIndexOf(":");
  if (colon < 0) return host;
  const bracket = host.lastIndexOf("]");
  if (bracket < 0 || bracket < colon) return host.substring(0, colon);
  return host;
}

/**
 * A host (port already stripped) as `_match_domain_` compares it: ASCII letters lowered, as Envoy
 * lowers both the Host header and its virtual hosts' domains before it picks one, and one trailing
 * dot dropped (`api.example.com.` names the same host; Envoy drops it only with the connection
 * manager's `strip_trailing_host_dot`). wasm-go compares the raw header case-sensitively; we
 * deliberately do not (docs/deploying.md), so a client cannot leave its rule by respelling the host.
 */
export function virtualHostName(host: string): string {
  const lowered = asciiLower(host);
  return lowered.endsWith(".") ? lowered.substring(0, lowered.length - 1) : lowered;
}

/**
 * `*.example.com` and `*` match by suffix, `api.*` by prefix, anything else exactly, each against
 * virtualHostName of the request's host; the configured domain is normalised the same way (a prefix
 * is only lowered: its end is not the end of a name).
 */
function hostMatcher(domain: string): HostMatcher {
  if (domain.startsWith("*")) return new HostMatcher(HostMatchType.Suffix, virtualHostName(domain.substring(1)));
  if (domain.endsWith("*")) return new HostMatcher(HostMatchType.Prefix, asciiLower(domain.substring(0, domain.length - 1)));
  return new HostMatcher(HostMatchType.Exact, virtualHostName(domain));
}

function plain(data: Uint8Array): RulesResult {
  const c = parseConfig(data);
  if (c.config === null) return refused(c.error, c.warnings);
  return new RulesResult(c.config, new Array<QuotaRule>(), "", c.warnings);
}

function plainValue(value: JsonValue): RulesResult {
  const c = parseConfigValue(value);
  if (c.config === null) return refused(c.error, c.warnings);
  return new RulesResult(c.config, new Array<QuotaRule>(), "", c.warnings);
}

/** config.ts parses bytes; a rule is re-serialized (at configure time only) to reach it. */
function parseConfigValue(value: JsonValue): ConfigParse {
  const r = parseConfig(utf8Bytes(value.toString()));
  return new ConfigParse(r.config, r.error, r.warnings);
}

class ConfigParse {
  constructor(public config: QuotaConfig | null, public error: string, public warnings: Array<string>) {}
}

/** OnPluginStart drops `_plugin_id_` when its value reads as a non-empty string. */
function pluginIdDropped(root: JsonValue): bool {
  const v = root.get(PLUGIN_ID_KEY);
  if (v === null) return false;
  return gjsonString(v).length > 0;
}

/** A copy of an object without some keys (all their occurrences); anything else is returned as is. */
function withoutKeys(value: JsonValue, keys: Array<string>): JsonValue {
  if (value.type != JsonType.Object || keys.length == 0) return value;
  const out = new JsonValue(JsonType.Object);
  for (let i = 0; i < value.keys.length; i++) {
    if (keys.includes(value.keys[i])) continue;
    out.keys.push(value.keys[i]);
    out.values.push(value.values[i]);
  }
  return out;
}

/** How many different keys an object has besides `except` (gjson's Map counts each key once). */
function distinctKeysExcept(obj: JsonValue, except: string): i32 {
  const seen = new Set<string>();
  for (let i = 0; i < obj.keys.length; i++) {
    if (obj.keys[i] != except) seen.add(obj.keys[i]);
  }
  return seen.size;
}

/** gjson's Array(): null or absent is empty, an array its items, any other value a list of itself. */
function arrayItems(v: JsonValue | null): Array<JsonValue> {
  if (v === null || v.type == JsonType.Null) return new Array<JsonValue>();
  if (v.type == JsonType.Array) return v.items;
  const one = new Array<JsonValue>();
  one.push(v);
  return one;
}

/**
 * The strings of a `_match_*` list, as wasm-go reads them: each item's string form, empty ones
 * dropped except for domains (an empty domain matches an empty :authority).
 */
function matchStrings(rule: JsonValue, key: string, dropEmpty: bool): Array<string> {
  const out = new Array<string>();
  if (rule.type != JsonType.Object) return out;
  const items = arrayItems(rule.get(key));
  for (let i = 0; i < items.length; i++) {
    const s = gjsonString(items[i]);
    if (dropEmpty && s.length == 0) continue;
    out.push(s);
  }
  return out;
}

/** gjson's String(): a string's text, a number or boolean as written, null as "", a container as JSON. */
function gjsonString(v: JsonValue): string {
  switch (v.type) {
    case JsonType.String: return v.stringValue;
    case JsonType.Null: return "";
    case JsonType.Number: return v.numberText;
    case JsonType.Bool: return v.boolValue ? "true" : "false";
    default: return v.toString();
  }
}
