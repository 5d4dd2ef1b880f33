// Between Node's HTTP/1.1 messages and Envoy-style header maps: the request becomes `:method`,
// `:path`, `:authority`, `:scheme` plus every header lower-cased in arrival order (repeats kept);
// responses carry `:status`. Connection-specific headers are dropped as Envoy's codec drops them.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { HeaderPairs } from "../host";

/** Headers about one hop, never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "http2-settings"]);

function pairsOf(raw: string[], skip: (name: string) => boolean): HeaderPairs {
  const pairs: HeaderPairs = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!skip(name)) pairs.push([name, raw[i + 1]]);
  }
  return pairs;
}

/**
 * The request as Envoy hands it to filters at the edge: pseudo-headers first, hop-by-hop headers
 * gone, and a fresh x-request-id (Envoy replaces a client's at the edge unless told to keep it).
 */
export function requestHeaderPairs(req: IncomingMessage): HeaderPairs {
  return [
    [":method", req.method ?? "GET"],
    [":path", req.url ?? "/"],
    [":authority", req.headers.host ?? ""],
    [":scheme", "http"],
    ...pairsOf(req.rawHeaders, (n) => n === "host" || n === "x-request-id" || HOP_BY_HOP.has(n)),
    ["x-request-id", randomUUID()],
  ];
}

/** Whether a request has a body to stream (Node has already checked the framing). */
export function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

export function responseHeaderPairs(res: IncomingMessage): HeaderPairs {
  return [[":status", String(res.statusCode ?? 502)], ...pairsOf(res.rawHeaders, (n) => HOP_BY_HOP.has(n))];
}

/** Whether an upstream response is headers-only (its body callbacks never run). */
export function responseIsHeadersOnly(method: string, res: IncomingMessage): boolean {
  const status = res.statusCode ?? 0;
  return method === "HEAD" || status === 204 || status === 304 || res.headers["content-length"] === "0";
}

export function pseudo(pairs: HeaderPairs, name: string): string | undefined {
  return pairs.find(([k]) => k === name)?.[1];
}

/** Regular headers as the flat [name, value, …] list Node accepts, minus pseudo and hop-by-hop ones. */
export function flatHeaders(pairs: HeaderPairs, drop: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const [k, v] of pairs) {
    if (k.startsWith(":") || HOP_BY_HOP.has(k) || drop.includes(k)) continue;
    out.push(k, v);
  }
  return out;
}
