// Reference semantics of the admin API's inputs, from Go's net/url documentation (ParseQuery,
// QueryUnescape/PathUnescape, url.Parse's Path and RawQuery), plus the plugin's documented
// deviations: decoded bytes that are not UTF-8 read as U+FFFD, at most `maxPairs` '&' pieces
// are read, and a path with a bad escape is kept raw instead of failing.
import { DEFAULT_SUFFIXES, routeTarget } from "./path";
import { decodeUtf8, utf8 } from "./text";

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Percent-decoding ('+' is a space in query mode); null on a bad escape. */
export function unescapeBytes(b: Uint8Array, plusIsSpace: boolean): Uint8Array | null {
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x25) {
      if (i + 2 >= b.length) return null;
      const h = hex(b[i + 1]);
      const l = hex(b[i + 2]);
      if (h < 0 || l < 0) return null;
      out.push(h * 16 + l);
      i += 2;
    } else if (c === 0x2b && plusIsSpace) {
      out.push(0x20);
    } else {
      out.push(c);
    }
  }
  return Uint8Array.from(out);
}

export type Pairs = Array<[string, string]>;

/** url.ParseQuery over the UTF-8 bytes of `s`. */
export function parseQuery(s: string, maxPairs = 1000): Pairs {
  const b = utf8(s);
  const out: Pairs = [];
  if (b.length === 0) return out;
  let start = 0;
  for (let pieces = 0; start < b.length && pieces < maxPairs; pieces++) {
    let amp = b.indexOf(0x26, start);
    if (amp < 0) amp = b.length;
    const piece = b.subarray(start, amp);
    start = amp + 1;
    if (piece.length === 0 || piece.includes(0x3b)) continue;
    const eq = piece.indexOf(0x3d);
    const key = unescapeBytes(eq < 0 ? piece : piece.subarray(0, eq), true);
    const value = eq < 0 ? new Uint8Array(0) : unescapeBytes(piece.subarray(eq + 1), true);
    if (key === null || value === null) continue;
    out.push([decodeUtf8(key), decodeUtf8(value)]);
  }
  return out;
}

export function first(pairs: Pairs, key: string): string | null {
  const p = pairs.find(([k]) => k === key);
  return p === undefined ? null : p[1];
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** url.Parse(raw): Path (PathUnescape'd; raw when an escape is bad) and RawQuery. */
export function splitPath(raw: string): { path: string; rawQuery: string } {
  let b = utf8(raw);
  const hash = b.indexOf(0x23);
  if (hash >= 0) b = b.subarray(0, hash);
  let rest = b;
  let scheme = false;
  if (rest.length > 0 && isAlpha(rest[0])) {
    let i = 1;
    while (i < rest.length && (isAlpha(rest[i]) || (rest[i] >= 0x30 && rest[i] <= 0x39) || rest[i] === 0x2b || rest[i] === 0x2d || rest[i] === 0x2e)) i++;
    if (i < rest.length && rest[i] === 0x3a) {
      scheme = true;
      rest = rest.subarray(i + 1);
    }
  }
  const q = rest.indexOf(0x3f);
  const rawQuery = q >= 0 ? decodeUtf8(rest.subarray(q + 1)) : "";
  let p = q >= 0 ? rest.subarray(0, q) : rest;
  if (scheme && (p.length === 0 || p[0] !== 0x2f)) return { path: "", rawQuery };
  if (p.length >= 2 && p[0] === 0x2f && p[1] === 0x2f && (scheme || p.length < 3 || p[2] !== 0x2f)) {
    const slash = p.indexOf(0x2f, 2);
    p = slash < 0 ? p.subarray(p.length) : p.subarray(slash);
  }
  const decoded = unescapeBytes(p, false);
  return { path: decodeUtf8(decoded ?? p), rawQuery };
}

export type Route = "none" | "chat" | "query" | "refresh" | "delta";

/** The plugin's routing of a request target (model/path.ts), with the default metered suffixes. */
export function routeOf(target: string, adminPath = "/quota"): Route {
  const route = routeTarget(target, DEFAULT_SUFFIXES, adminPath);
  return route.operation === "metered" ? "chat" : route.operation;
}

/** The identity rules: what the plugin answers before routing, or the consumer name. */
export type IdentityOutcome =
  | { kind: "missing" }
  | { kind: "empty" }
  | { kind: "invalid" }
  | { kind: "valid"; consumer: string };

/** `values`: every x-mse-consumer value as the plugin receives it (decoded from UTF-8). */
export function identityOf(values: string[]): IdentityOutcome {
  if (values.length === 0) return { kind: "missing" };
  if (values.length > 1) return { kind: "invalid" };
  const v = values[0];
  if (v.length === 0) return { kind: "empty" };
  if (utf8(v).length > 256) return { kind: "invalid" };
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2c || c === 0xfffd) return { kind: "invalid" };
  }
  return { kind: "valid", consumer: v };
}
