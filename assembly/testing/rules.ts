// Test-only entry: per-route configuration (quota/rules.ts) over bytes, for jest. Same protocol as
// testing/parsers.ts: write the input at `input_alloc(size)`, call `run_*` with its length, read
// the returned number of bytes at `output_ptr()` (JSON text).
import "../abi/abort";
export { input_alloc, output_ptr } from "./_io";
import { input, clamp, emit, fields } from "./_io";
import { quoteJsonString } from "../json/quote";
import { decodeUtf8 } from "../util/utf8";
import { QuotaConfig } from "../quota/config";
import { RulesResult, matchRule, parseRules, stripPort, virtualHostName } from "../quota/rules";


function strings(list: Array<string>): string {
  const parts = new Array<string>(list.length);
  for (let i = 0; i < list.length; i++) parts[i] = quoteJsonString(list[i]);
  return "[" + parts.join(",") + "]";
}

/** What a test needs to tell configs apart. */
function configJson(c: QuotaConfig): string {
  const store = c.store.http !== null ? "http:" + c.store.http!.cluster : "redis:" + c.store.redis.clusterName();
  return `{"admin_consumer":${quoteJsonString(c.adminConsumer)},"redis_key_prefix":${quoteJsonString(c.redisKeyPrefix)},"store":${quoteJsonString(store)}}`;
}

function resultJson(r: RulesResult): string {
  const global = r.global;
  let s = `{"error":${quoteJsonString(r.error)},"warnings":${strings(r.warnings)},"global":${global === null ? "null" : configJson(global)},"rules":[`;
  for (let i = 0; i < r.rules.length; i++) {
    const rule = r.rules[i];
    if (i > 0) s += ",";
    s += `{"index":${rule.index.toString()},"category":${(<i32>rule.category).toString()},"routes":${strings(rule.routes.values())},"services":${strings(rule.services.values())},"prefixes":${strings(rule.routePrefixes)},"config":${configJson(rule.config)}}`;
  }
  return s + `],"needs":{"route":${r.needsRouteName() ? "true" : "false"},"cluster":${r.needsClusterName() ? "true" : "false"},"authority":${r.needsAuthority() ? "true" : "false"}}}`;
}

/** The configuration JSON: `{"error","warnings","global","rules","needs"}`. */
export function run_parse_rules(len: i32): i32 {
  return emit(resultJson(parseRules(input.subarray(0, clamp(len)))));
}

/**
 * Input "config\0route_name\0cluster_name\0authority": `{"error":..,"rule":i|null,"global":bool}`,
 * where `global` says the request falls back to the global config.
 */
export function run_match(len: i32): i32 {
  const f = fields(len);
  while (f.length < 4) f.push("");
  const r = parseRules(utf8(f[0]));
  if (r.error.length > 0) return emit(`{"error":${quoteJsonString(r.error)},"rule":null,"global":false}`);
  const i = matchRule(r.rules, f[1], f[2], f[3]);
  if (i >= 0) return emit(`{"error":"","rule":${r.rules[i].index.toString()},"global":false}`);
  return emit(`{"error":"","rule":null,"global":${r.global !== null ? "true" : "false"}}`);
}

export function run_strip_port(len: i32): i32 {
  return emit(quoteJsonString(stripPort(decodeUtf8(input.dataStart, clamp(len)))));
}

/** The host `_match_domain_` compares: the port stripped, then virtualHostName. */
export function run_virtual_host_name(len: i32): i32 {
  return emit(quoteJsonString(virtualHostName(stripPort(decodeUtf8(input.dataStart, clamp(len))))));
}

function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}
