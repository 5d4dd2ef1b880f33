// Who is calling. Higress's auth plugins *add* `x-mse-consumer`; they do not remove one the client
// sent. Envoy's single-header lookup returns the first value, which would be the client's: so we
// read every value, and a request carrying the header more than once names nobody.
import { HeaderPair, headerMapReader, nameBytes, serializeHeaders } from "../abi/headers";
import { decodeUtf8 } from "../util/utf8";
import { hexDigit } from "../util/hex";
import { addText, beginText, endText } from "../util/text";

const CONSUMER_HEADER = "x-mse-consumer";
const MAX_CONSUMER_BYTES = 256;
const CONSUMER_NAME = nameBytes(CONSUMER_HEADER);
const PATH_NAME = nameBytes(":path");
const METHOD_NAME = nameBytes(":method");
const FORWARDED_FOR_NAME = nameBytes("x-forwarded-for");
const REQUEST_ID_NAME = nameBytes("x-request-id");

export enum IdentityKind {
  /** No consumer header at all (Higress: 401). */
  Missing,
  /** The header is there but empty (Higress: 403). */
  Empty,
  /** Repeated, or not a possible consumer name: refused, charged to nobody. */
  Invalid,
  Valid,
}

export class Identity {
  constructor(public kind: IdentityKind, public consumer: string, public problem: string) {}
}

/** What the request headers say; the one instance is refilled by each read (use it at once). */
export class RequestLine {
  identity: Identity = new Identity(IdentityKind.Missing, "", "");
  /** `:path` as text: set by readRequestLine only (the request flow routes pathPtr/pathLen). */
  path: string = "";
  /** `:path`'s bytes, inside the header map's block (valid while it is). */
  pathPtr: usize = 0;
  pathLen: usize = 0;
  /** `:method`'s bytes, likewise (0, 0 when absent). */
  methodPtr: usize = 0;
  methodLen: usize = 0;
  /** Every x-forwarded-for value, joined with ',' in order (as Envoy joins a repeated header). */
  forwardedFor: string = "";
  requestId: string = "";
  /** The request carried x-mse-consumer and it was ignored (trustConsumerHeader false). */
  consumerIgnored: bool = false;
  /** How often the tier header (tiers.ts) was sent, and its value when once and at most 256 bytes. */
  tierCount: i32 = 0;
  tierValue: string = "";
}

const line = new RequestLine();

/**
 * Reads the consumer and the `:path` from one pass over the request headers, serialized as the
 * host hands them over ([block, block + len)), in place: only what is used is decoded. With
 * `trustConsumerHeader` false (a route with anonymous clients and no declared auth stage) the
 * consumer header is the client's own words: it is ignored and the request is anonymous.
 */
export function readRequestLineAt(block: usize, len: usize, trustConsumerHeader: bool, wantForwardedFor: bool = true, tierHeader: ArrayBuffer | null = null): RequestLine {
  let count = 0;
  let tierCount = 0;
  let tierValue = "";
  let consumerPtr: usize = 0;
  let consumerLen: usize = 0;
  let forwardedCount = 0;
  let requestId = "";
  line.pathPtr = 0;
  line.pathLen = 0;
  line.methodPtr = 0;
  line.methodLen = 0;
  line.path = "";
  const r = headerMapReader;
  if (r.reset(block, len)) {
    while (r.next()) {
      if (r.nameIs(CONSUMER_NAME)) {
        count++;
        consumerPtr = r.value;
        consumerLen = r.valueLen;
      } else if (r.nameIs(PATH_NAME)) {
        line.pathPtr = r.value;
        line.pathLen = r.valueLen;
      } else if (r.nameIs(METHOD_NAME)) {
        line.methodPtr = r.value;
        line.methodLen = r.valueLen;
      } else if (wantForwardedFor && r.nameIs(FORWARDED_FOR_NAME)) {
        // Repeated headers join in one builder: a request with many of them costs their size, once.
        if (forwardedCount == 0) beginText();
        else addText(",");
        addText(decodeUtf8(r.value, <i32>r.valueLen));
        forwardedCount++;
      } else if (tierHeader !== null && r.nameIs(tierHeader)) {
        tierCount++;
        // A longer value names no tier (tier names are short): kept as a value no tier has.
        tierValue = r.valueLen <= <usize>MAX_CONSUMER_BYTES ? decodeUtf8(r.value, <i32>r.valueLen) : "\n";
      } else if (r.nameIs(REQUEST_ID_NAME) && r.valueLen <= 512) {
        const v = decodeUtf8(r.value, <i32>r.valueLen);
        if (v.length <= 128) requestId = v;
      }
    }
  }
  line.forwardedFor = forwardedCount == 0 ? "" : endText();
  line.requestId = requestId;
  // Trusted only where the consumer header is: otherwise the request is anonymous and has no tier.
  line.tierCount = trustConsumerHeader ? tierCount : 0;
  line.tierValue = trustConsumerHeader ? tierValue : "";
  const id = line.identity;
  if (!trustConsumerHeader) {
    setIdentity(id, IdentityKind.Missing, "", "");
    line.consumerIgnored = count > 0;
  } else {
    identityOf(id, count, consumerPtr, consumerLen);
    line.consumerIgnored = false;
  }
  return line;
}

/** The same over pairs (tests), with `path` decoded as well. */
export function readRequestLine(headers: Array<HeaderPair>, trustConsumerHeader: bool): RequestLine {
  const map = serializeHeaders(headers);
  const l = readRequestLineAt(changetype<usize>(map), <usize>map.byteLength, trustConsumerHeader);
  l.path = decodeUtf8(l.pathPtr, <i32>l.pathLen);
  return l;
}

@inline
function setIdentity(id: Identity, kind: IdentityKind, consumer: string, problem: string): void {
  id.kind = kind;
  id.consumer = consumer;
  id.problem = problem;
}

function identityOf(id: Identity, count: i32, ptr: usize, len: usize): void {
  if (count == 0) { setIdentity(id, IdentityKind.Missing, "", ""); return; }
  if (count > 1) { setIdentity(id, IdentityKind.Invalid, "", "x-mse-consumer sent more than once"); return; }
  if (len == 0) { setIdentity(id, IdentityKind.Empty, "", ""); return; }
  // Longer than the limit in bytes is refused without decoding: decoding never shortens it (an
  // invalid subpart of 1 to 3 bytes becomes U+FFFD, 3 bytes), and consumerProblem checks this first.
  if (len > <usize>MAX_CONSUMER_BYTES) { setIdentity(id, IdentityKind.Invalid, "", "consumer name longer than 256 bytes"); return; }
  const consumer = decodeUtf8(ptr, <i32>len);
  const problem = consumerProblem(consumer);
  if (problem.length > 0) { setIdentity(id, IdentityKind.Invalid, "", problem); return; }
  setIdentity(id, IdentityKind.Valid, consumer, "");
}

/** "" when the name is acceptable, else what is wrong with it. */
export function consumerProblem(name: string): string {
  if (String.UTF8.byteLength(name) > MAX_CONSUMER_BYTES) return "consumer name longer than 256 bytes";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c == 0x7f) return "control character in consumer name";
    // What invalid UTF-8 in the header decodes to: the name as sent is not text.
    if (c == 0xfffd) return "consumer name is not valid UTF-8";
    // Envoy joins repeated headers with commas on some paths; a comma names no consumer.
    if (c == 0x2c) return "comma in consumer name";
  }
  return "";
}

// Anonymous clients are keyed by address, the way Envoy finds the client address
// (source/common/http/conn_manager_utility.cc, mutateRequestHeaders; Utility::getLastAddressFromXFF
// in source/common/http/utility.cc):
// - 0 trusted hops: the peer, `source.address`. That property is the downstream remote address
//   Envoy's connection manager settled on (filter_manager_.setDownstreamRemoteAddress in
//   conn_manager_impl.cc), so when Envoy itself is configured with xff_num_trusted_hops it is
//   already the client Envoy trusts.
// - N trusted hops: N proxies the operator runs sit in front of the gateway, and the client is
//   the N-th x-forwarded-for entry from the right as the nearest of them sent it. A gateway with
//   use_remote_address (Higress's and Istio's gateways) appends the peer to x-forwarded-for before
//   any filter runs, so the plugin skips N entries from the right of what it sees and takes the
//   next. Everything left of that entry is written by the client and never read.
// - Fewer entries than that, or an entry that is not an IP address: the peer, as Envoy falls back.
// IPv6 clients are keyed by their /64: one subscriber gets a whole /64 and could otherwise rotate
// through it to escape the limit. IPv4-mapped IPv6 addresses are keyed as IPv4.

/** The key of an anonymous client ("anonymous:<address>"), or "" when there is no address. */
export function anonymousKey(peer: string, forwardedFor: string, xffNumTrustedHops: i32): string {
  let address = "";
  if (xffNumTrustedHops > 0) address = clientAddress(xffEntryFromRight(forwardedFor, xffNumTrustedHops));
  if (address.length == 0) {
    const host = hostOf(peer);
    address = clientAddress(host);
    // A peer that is not an IP address (a pipe, an internal listener) is still one peer.
    if (address.length == 0 && host.length <= 64 && consumerProblem(host).length == 0) address = host;
  }
  if (address.length == 0) return "";
  return "anonymous:" + address;
}

/**
 * Envoy's Utility::getLastAddressFromXFF on the text alone: drop `skip` entries from the right,
 * then the entry after the last remaining ',', trimmed; "" when fewer than skip + 1 entries.
 */
export function xffEntryFromRight(xff: string, skip: i32): string {
  let end = xff.length;
  for (let i = 0; i < skip; i++) {
    const comma = lastComma(xff, end);
    if (comma < 0) return "";
    end = comma;
  }
  return trimOws(xff.substring(lastComma(xff, end) + 1, end));
}

/** The index of the last ',' before `end`, or -1. */
function lastComma(s: string, end: i32): i32 {
  for (let i = end - 1; i >= 0; i--) if (s.charCodeAt(i) == 0x2c) return i;
  return -1;
}

/** Envoy trims with StringUtil::ltrim/rtrim: spaces, tabs, CR, LF, FF, VT. */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return s.substring(a, b);
}

function isOws(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a || c == 0x0c || c == 0x0b;
}

/**
 * An IP address as the key names it: IPv4 as dotted decimal; IPv6 as its /64 network
 * ("2001:db8:1:2::/64"); "" when `text` is neither.
 */
export function clientAddress(text: string): string {
  const v4 = parseIpv4(text, 0, text.length);
  if (v4 >= 0) return ipv4Text(<u32>v4);
  const groups = parseIpv6(text);
  if (groups === null) return "";
  const g = groups;
  // ::ffff:a.b.c.d
  if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff) return ipv4Text(<u32>g[6] << 16 | <u32>g[7]);
  return hex16(g[0]) + ":" + hex16(g[1]) + ":" + hex16(g[2]) + ":" + hex16(g[3]) + "::/64";
}

function ipv4Text(a: u32): string {
  return (a >> 24).toString() + "." + ((a >> 16) & 0xff).toString() + "." + ((a >> 8) & 0xff).toString() + "." + (a & 0xff).toString();
}

function hex16(v: i32): string {
  return (<u32>v).toString(16);
}

/** Dotted-quad IPv4 in [start, end) (four decimal parts 0..255, no leading zeros), or -1. */
function parseIpv4(s: string, start: i32, end: i32): i64 {
  let value: i64 = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const from = i;
    let part = 0;
    while (i < end && i - from < 3) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      part = part * 10 + (c - 0x30);
      i++;
    }
    const digits = i - from;
    if (digits == 0 || part > 255 || (digits > 1 && s.charCodeAt(from) == 0x30)) return -1;
    value = value << 8 | <i64>part;
    parts++;
    if (parts < 4) {
      if (i >= end || s.charCodeAt(i) != 0x2e) return -1;
      i++;
    }
  }
  return i == end ? value : -1;
}

/** RFC 4291 text form (hex groups, one "::", an IPv4 tail), as inet_pton reads it; null if not one. */
function parseIpv6(s: string): Array<i32> | null {
  const n = s.length;
  if (n < 2 || n > 45) return null;
  const groups = new Array<i32>(8);
  let count = 0;
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) == 0x3a) {
    if (s.charCodeAt(1) != 0x3a) return null;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    if (count == 8) return null;
    // An IPv4 tail takes the last two groups.
    const dot = s.indexOf(".", i);
    const colon = s.indexOf(":", i);
    if (dot >= 0 && (colon < 0 || dot < colon)) {
      if (count > 6) return null;
      const v4 = parseIpv4(s, i, n);
      if (v4 < 0) return null;
      groups[count++] = <i32>(v4 >> 16);
      groups[count++] = <i32>(v4 & 0xffff);
      i = n;
      break;
    }
    let v = 0;
    const from = i;
    while (i < n && i - from < 4) {
      const c = s.charCodeAt(i);
      const h = hexDigit(<u32>c);
      if (h < 0) break;
      v = v << 4 | h;
      i++;
    }
    if (i == from) return null;
    groups[count++] = v;
    if (i == n) break;
    if (s.charCodeAt(i) != 0x3a) return null;
    i++;
    if (i < n && s.charCodeAt(i) == 0x3a) {
      if (gap >= 0) return null;
      gap = count;
      i++;
    } else if (i == n) {
      return null;
    }
  }
  if (gap < 0) return count == 8 ? groups : null;
  if (count == 8) return null;
  const out = new Array<i32>(8);
  for (let k = 0; k < 8; k++) out[k] = 0;
  for (let k = 0; k < gap; k++) out[k] = groups[k];
  const tail = count - gap;
  for (let k = 0; k < tail; k++) out[8 - tail + k] = groups[gap + k];
  return out;
}

/** "10.0.0.1:5000" → "10.0.0.1"; "[::1]:5000" → "::1"; an address without a port is kept. */
function hostOf(peer: string): string {
  if (peer.startsWith("[")) {
    const end = peer.indexOf("]");
    return end < 0 ? "" : peer.substring(1, end);
  }
  const colon = peer.lastIndexOf(":");
  if (colon < 0 || peer.indexOf(":") != colon) return peer;
  return peer.substring(0, colon);
}
