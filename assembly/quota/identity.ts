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
  constructor(public identity: Identity, public path: string) {}
}

/** Reads the consumer and the `:path` from one pass over the request headers. */
export function readRequestLine(headers: Array<HeaderPair>): RequestLine {
  let count = 0;
  let consumer = "";
  let path = "";
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i].name;
    if (name == CONSUMER_HEADER) {
      count++;
      consumer = headers[i].value;
    } else if (name == ":path") {
      path = headers[i].value;
    }
  }
  return new RequestLine(identityOf(count, consumer), path);
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
    // Envoy joins repeated headers with commas on some paths; a comma names no consumer.
    if (c == 0x2c) return "comma in consumer name";
  }
  return "";
}
