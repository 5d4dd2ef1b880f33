// The key-auth stage, as Higress's key-auth plugin runs before ai-quota: the credential comes in
// `Authorization: Bearer <credential>`; a known one ADDS `x-mse-consumer: <name>` to the request
// (a header the client sent under that name stays: ai-quota must defend itself, and does);
// a missing or unknown one is answered 401 here and never reaches the plugin.
import type { HeaderPairs } from "../host";
import type { Consumer } from "./config";

export const CONSUMER_HEADER = "x-mse-consumer";

export type AuthOutcome =
  | { ok: true; consumer: string }
  | { ok: false; status: number; headers: HeaderPairs; body: string };

// Higress key-auth's wording (its README's error table).
export const NO_KEY = "Request denied by Key Auth check. No API key found in request.";
export const INVALID_KEY = "Request denied by Key Auth check. Invalid API key.";
export const MULTIPLE_KEYS = "Request denied by Key Auth check. Multi API key found in request.";

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function deny(body: string): AuthOutcome {
  return { ok: false, status: 401, headers: [["content-type", "text/plain"], ["www-authenticate", "Key realm=ai-quota-gateway"]], body };
}

export class KeyAuth {
  private readonly byCredential: Map<string, string>;

  constructor(consumers: readonly Consumer[]) {
    this.byCredential = new Map(consumers.map((c) => [c.credential, c.name]));
  }

  check(headers: HeaderPairs): AuthOutcome {
    const values = headers.filter(([k, v]) => k === "authorization" && v.trim() !== "").map(([, v]) => v);
    if (values.length === 0) return deny(NO_KEY);
    if (values.length > 1) return deny(MULTIPLE_KEYS);
    const token = BEARER.exec(values[0])?.[1];
    const name = token === undefined ? undefined : this.byCredential.get(token);
    if (name === undefined) return deny(INVALID_KEY);
    return { ok: true, consumer: name };
  }
}

/** Appends the identity header after everything the client sent, as key-auth's AddHttpRequestHeader does. */
export function addConsumer(headers: HeaderPairs, consumer: string): HeaderPairs {
  return [...headers, [CONSUMER_HEADER, consumer]];
}
