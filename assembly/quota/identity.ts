// Who is calling. Higress's auth plugins *add* `x-mse-consumer`; they do not remove one the client
// sent. Envoy's single-header lookup returns the first value, which would be the client's: so we
// read every value, and a request carrying the header more than once names nobody.
import { HeaderPair } from "../abi/headers";

const CONSUMER_HEADER = "x-mse-consumer";
const MAX_CONSUMER_BYTES = 256;

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

export class RequestLine {
  constructor(public identity: Identity, public path: string, public forwardedFor: string, public requestId: string) {}
}

/** Reads the consumer and the `:path` from one pass over the request headers. */
export function readRequestLine(headers: Array<HeaderPair>): RequestLine {
  let count = 0;
  let consumer = "";
  let path = "";
  let forwardedFor = "";
  let requestId = "";
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i].name;
    if (name == CONSUMER_HEADER) {
      count++;
      consumer = headers[i].value;
    } else if (name == ":path") {
      path = headers[i].value;
    } else if (name == "x-forwarded-for" && forwardedFor.length == 0) {
      forwardedFor = headers[i].value;
    } else if (name == "x-request-id" && headers[i].value.length <= 128) {
      requestId = headers[i].value;
    }
  }
  return new RequestLine(identityOf(count, consumer), path, forwardedFor, requestId);
}

function identityOf(count: i32, consumer: string): Identity {
  if (count == 0) return new Identity(IdentityKind.Missing, "", "");
  if (count > 1) return new Identity(IdentityKind.Invalid, "", "x-mse-consumer sent more than once");
  if (consumer.length == 0) return new Identity(IdentityKind.Empty, "", "");
  const problem = consumerProblem(consumer);
  if (problem.length > 0) return new Identity(IdentityKind.Invalid, "", problem);
  return new Identity(IdentityKind.Valid, consumer, "");
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

/**
 * The key of an anonymous client: the peer's address without its port, or the first
 * x-forwarded-for hop when the operator trusts the proxies in front. "" when there is none.
 */
export function anonymousKey(peer: string, forwardedFor: string, trustForwardedFor: bool): string {
  let address = "";
  if (trustForwardedFor && forwardedFor.length > 0) {
    const comma = forwardedFor.indexOf(",");
    address = (comma < 0 ? forwardedFor : forwardedFor.substring(0, comma)).trim();
  } else {
    address = hostOf(peer);
  }
  if (address.length == 0 || address.length > 64 || consumerProblem(address).length > 0) return "";
  return "anonymous:" + address;
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
