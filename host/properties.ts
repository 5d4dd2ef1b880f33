// proxy_get_property: the attribute names Envoy offers (a subset a quota plugin can use) and
// Envoy's encoding of values: strings as bytes, integers as 8 little-endian bytes, header maps in
// the pairs serialization. A name Envoy does not know is looked up in the stream's filter state
// under `wasm.<name>`, which is where proxy_set_property stores it.
import { HeaderMap, serializePairs } from "./header-map";

/** What a stream knows about itself, as Envoy's StreamInfo and header maps would tell. */
export interface StreamFacts {
  /** Null when Envoy would not hand the headers out now (after the phase continued). */
  requestHeaders(): HeaderMap | null;
  responseHeaders(): HeaderMap | null;
  responseTrailers(): HeaderMap | null;
  readonly sourceAddress: string;
  readonly destinationAddress: string;
  readonly routeName: string;
  readonly clusterName: string;
  readonly protocol: string;
  readonly connectionId: number;
  readonly startTimeNanos: bigint;
  readonly requestBodyBytes: number;
  readonly responseBodyBytes: number;
  readonly responseCode: number | null;
  readonly responseCodeDetails: string | null;
  readonly filterState: Map<string, Buffer>;
}

export interface PluginFacts {
  name: string;
  rootId: string;
  vmId: string;
}

/** Envoy's filter-state key for a property the plugin sets. */
export const WASM_STATE_PREFIX = "wasm.";

function str(s: string | undefined | null): Buffer | null {
  return s === undefined || s === null ? null : Buffer.from(s, "utf8");
}

function int64(n: number | bigint | null): Buffer | null {
  if (n === null) return null;
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
}

function hostAndPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  return i < 0 ? { host: address, port: 0 } : { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** A header map, or one header of it (repeated values joined with a comma) when a name follows. */
function headersValue(map: HeaderMap | null, rest: string[]): Buffer | null {
  if (map === null || rest.length > 1) return null;
  if (rest.length === 0) return serializePairs(map.pairs());
  const values = map.pairs().filter(([k]) => k === rest[0].toLowerCase()).map(([, v]) => v);
  return values.length === 0 ? null : str(values.join(","));
}

function requestField(s: StreamFacts, field: string | undefined, rest: string[]): Buffer | null {
  if (field === "headers") return headersValue(s.requestHeaders(), rest);
  if (rest.length > 0) return null;
  const h = s.requestHeaders();
  const path = h?.get(":path");
  switch (field) {
    case "path": return str(path);
    case "url_path": return path === undefined ? null : str(path.split("?")[0]);
    case "query": return path === undefined ? null : str(path.includes("?") ? path.slice(path.indexOf("?") + 1) : "");
    case "host": return str(h?.get(":authority"));
    case "scheme": return str(h?.get(":scheme"));
    case "method": return str(h?.get(":method"));
    case "referer": return str(h?.get("referer"));
    case "useragent": return str(h?.get("user-agent"));
    case "id": return str(h?.get("x-request-id"));
    case "protocol": return str(s.protocol);
    case "time": return int64(s.startTimeNanos);
    case "size": return int64(s.requestBodyBytes);
    default: return null;
  }
}

function responseField(s: StreamFacts, field: string | undefined, rest: string[]): Buffer | null {
  if (field === "headers") return headersValue(s.responseHeaders(), rest);
  if (field === "trailers") return headersValue(s.responseTrailers(), rest);
  if (rest.length > 0) return null;
  switch (field) {
    case "code": return int64(s.responseCode);
    case "code_details": return str(s.responseCodeDetails);
    case "size": return int64(s.responseBodyBytes);
    default: return null;
  }
}

function peerField(address: string, field: string | undefined, rest: string[]): Buffer | null {
  if (rest.length > 0) return null;
  if (field === "address") return str(address);
  if (field === "port") return int64(hostAndPort(address).port);
  return null;
}

/** Splits a NUL-separated property path the way Envoy does (a trailing NUL adds no segment). */
export function splitPropertyPath(raw: Buffer): string[] {
  const parts: string[] = [];
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf(0, start);
    if (end < 0) end = raw.length;
    parts.push(raw.subarray(start, end).toString("utf8"));
    start = end + 1;
  }
  return parts;
}

/** The property's bytes, or null for NotFound. Without a stream only plugin-level names resolve. */
export function resolveProperty(path: string[], plugin: PluginFacts, stream: StreamFacts | null): Buffer | null {
  const [top, field, ...rest] = path;
  if (top === undefined) return null;
  const only = (v: string): Buffer | null => (field === undefined ? str(v) : null);
  switch (top) {
    case "plugin_name": return only(plugin.name);
    case "plugin_root_id": return only(plugin.rootId);
    case "plugin_vm_id": return only(plugin.vmId);
  }
  if (stream === null) return null;
  switch (top) {
    case "request": return requestField(stream, field, rest);
    case "response": return responseField(stream, field, rest);
    case "source": return peerField(stream.sourceAddress, field, rest);
    case "destination": return peerField(stream.destinationAddress, field, rest);
    case "route_name": return only(stream.routeName);
    case "cluster_name": return only(stream.clusterName);
    case "connection_id": return field === undefined ? int64(stream.connectionId) : null;
    case "connection":
      if (rest.length > 0) return null;
      if (field === "mtls") return Buffer.from([0]);
      if (field === "id") return int64(stream.connectionId);
      return null;
    case "filter_state":
      return field !== undefined && rest.length === 0 ? stream.filterState.get(field) ?? null : null;
    default:
      // Any other name is a wasm property kept in filter state; it has no sub-fields.
      return field === undefined ? stream.filterState.get(WASM_STATE_PREFIX + top) ?? null : null;
  }
}
