// Test-only entry: path normalisation and routing, client identity and addresses, model weights,
// exposed to jest over bytes (same calling convention as parsers.ts: write the input into
// `input_alloc(size)`, call `run_*` with its length, read the returned byte count at `output_ptr()`).
// Inputs with several fields separate them with NUL bytes.
import "../abi/abort";
export { input_alloc, output_ptr } from "./_io";
import { input, clamp, emit, fields } from "./_io";
import { HeaderPair } from "../abi/headers";
import { JsonValue, parseJsonString, quoteJsonString } from "../json";
import { Operation, Routes, apiKindName, parseRoutes, routeOf } from "../quota/routes";
import { IdentityKind, anonymousKey, clientAddress, readRequestLine, xffEntryFromRight } from "../quota/identity";
import { parseWeights } from "../quota/weights";
import { canonicalSuffix, matchSuffix, normalizePath } from "../util/path";
import { decodeUtf8 } from "../util/utf8";


/** Bytes as a JSON string of code points 0..255 (exact, whatever the bytes are). */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return quoteJsonString(s);
}

// ---- paths ----

/** The raw input bytes as a path: `{"folded":..,"plain":..,"cut":..,"dotdot":b}` (latin1 strings). */
export function run_normalize(len: i32): i32 {
  const p = normalizePath(input, 0, clamp(len));
  return emit(`{"folded":${latin1(p.folded)},"plain":${latin1(p.plain)},"cut":${latin1(p.cut)},"dotdot":${p.hasDotDot ? "true" : "false"}}`);
}

/** Input "suffix": its canonical form (latin1 string) or null. */
export function run_canonical_suffix(len: i32): i32 {
  const c = canonicalSuffix(decodeUtf8(input.dataStart, clamp(len)));
  return emit(c === null ? "null" : latin1(c));
}

/** Input "suffix\0raw path bytes": matchSuffix's code (0 none, 1 plain, 2 cut, 3 across dots), or -1 for a bad suffix. */
export function run_match(len: i32): i32 {
  const n = clamp(len);
  let i = 0;
  while (i < n && input[i] != 0) i++;
  const suffix = canonicalSuffix(decodeUtf8(input.dataStart, i));
  if (suffix === null) return emit("-1");
  const start = i < n ? i + 1 : n;
  return emit(matchSuffix(normalizePath(input, start, n), suffix).toString());
}

// ---- routes ----

let routes: Routes | null = null;

/** Input "suffixes JSON (or empty for the default)\0admin_path": "" or the config error. */
export function run_routes_config(len: i32): i32 {
  const f = fields(len);
  let json: JsonValue | null = null;
  if (f[0].length > 0) {
    json = parseJsonString(f[0]).value;
    if (json === null) return emit("bad test input: JSON");
  }
  const r = parseRoutes(json, "enable_path_suffixes", f.length > 1 ? f[1] : "/quota");
  routes = r.routes;
  return emit(r.error);
}

function operationName(op: Operation): string {
  switch (op) {
    case Operation.Chat: return "metered";
    case Operation.AdminQuery: return "query";
    case Operation.AdminRefresh: return "refresh";
    case Operation.AdminDelta: return "delta";
    default: return "none";
  }
}

/** Input ":path" (routes from the last run_routes_config): `{"operation":..,"api":..,"rawQuery":..}`. */
export function run_route(len: i32): i32 {
  const r = routes;
  if (r === null) return emit(`{"error":"no routes"}`);
  const route = routeOf(decodeUtf8(input.dataStart, clamp(len)), r);
  const api = route.operation == Operation.Chat ? apiKindName(route.api) : "";
  return emit(`{"operation":"${operationName(route.operation)}","api":"${api}","rawQuery":${quoteJsonString(route.rawQuery)}}`);
}

// ---- identity ----

function kindName(k: IdentityKind): string {
  switch (k) {
    case IdentityKind.Missing: return "missing";
    case IdentityKind.Empty: return "empty";
    case IdentityKind.Invalid: return "invalid";
    default: return "valid";
  }
}

/** Input "name\0value\0name\0value…": readRequestLine's view as JSON. */
export function run_request_line(len: i32, trustConsumerHeader: i32): i32 {
  const f = fields(len);
  const headers = new Array<HeaderPair>();
  for (let i = 0; i + 1 < f.length; i += 2) headers.push(new HeaderPair(f[i], f[i + 1]));
  const line = readRequestLine(headers, trustConsumerHeader != 0);
  return emit(`{"kind":"${kindName(line.identity.kind)}","consumer":${quoteJsonString(line.identity.consumer)},"path":${quoteJsonString(line.path)},` +
    `"forwardedFor":${quoteJsonString(line.forwardedFor)},"ignored":${line.consumerIgnored ? "true" : "false"}}`);
}

/** Input "peer\0x-forwarded-for": anonymousKey(peer, xff, hops). */
export function run_anonymous_key(len: i32, hops: i32): i32 {
  const f = fields(len);
  return emit(quoteJsonString(anonymousKey(f[0], f.length > 1 ? f[1] : "", hops)));
}

/** Input "x-forwarded-for": the entry after skipping `skip` from the right. */
export function run_xff_entry(len: i32, skip: i32): i32 {
  return emit(quoteJsonString(xffEntryFromRight(decodeUtf8(input.dataStart, clamp(len)), skip)));
}

/** Input "address": how the key names it ("" when not an IP address). */
export function run_client_address(len: i32): i32 {
  return emit(quoteJsonString(clientAddress(decodeUtf8(input.dataStart, clamp(len)))));
}

// ---- weights ----

/** Input "weights JSON\0reported model\0requested model": `{"cost":"N"}` or `{"error":..}`. */
export function run_cost(len: i32, inputTokens: i64, outputTokens: i64): i32 {
  const f = fields(len);
  const json = parseJsonString(f[0]).value;
  if (json === null) return emit(`{"error":"bad test input: JSON"}`);
  const r = parseWeights(json);
  const w = r.weights;
  if (w === null) return emit(`{"error":${quoteJsonString(r.error)}}`);
  const cost = w.cost(f.length > 1 ? f[1] : "", inputTokens, outputTokens, f.length > 2 ? f[2] : "");
  return emit(`{"cost":"${cost.toString()}"}`);
}
