// Requests and responses the properties send through the plugin, and the contract's answers.
import { ExchangeResult, HeaderPairs, PluginVm, ResponseSpec } from "../host";
import { violated } from "./property";

export const KEY_PREFIX = "chat_quota:";
export const CHAT_PATH = "/v1/chat/completions";
export const ADMIN = "admin";

export function requestHeaders(method: string, p: string, consumer: string | null, extra: HeaderPairs = []): HeaderPairs {
  const h: HeaderPairs = [[":method", method], [":path", p], [":authority", "gateway.test"], [":scheme", "http"]];
  if (consumer !== null) h.push(["x-mse-consumer", consumer]);
  return [...h, ...extra];
}

export function usageJson(prompt: number | bigint, completion: number | bigint): string {
  return `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":0}}`;
}

export function jsonResponse(body: string | Array<string | Uint8Array> | Uint8Array): ResponseSpec {
  return { headers: [[":status", "200"], ["content-type", "application/json"]], body };
}

export function sseResponse(body: string | Array<string | Uint8Array>): ResponseSpec {
  return { headers: [[":status", "200"], ["content-type", "text/event-stream"]], body };
}

export async function chat(vm: PluginVm, consumer: string | null, response: ResponseSpec, filterState?: Record<string, string | Uint8Array>): Promise<ExchangeResult> {
  return vm.newStream({ filterState }).run({
    request: { headers: requestHeaders("POST", CHAT_PATH, consumer, [["content-type", "application/json"]]), body: '{"model":"gpt-4o","messages":[]}' },
    response: () => response,
  });
}

export async function adminGet(vm: PluginVm, query: string, consumer: string | null = ADMIN): Promise<ExchangeResult> {
  return vm.newStream().run({ request: { headers: requestHeaders("GET", `${CHAT_PATH}/quota${query}`, consumer) } });
}

export async function adminPost(vm: PluginVm, op: "refresh" | "delta", body: string | Array<string | Uint8Array>, consumer: string | null = ADMIN): Promise<ExchangeResult> {
  const headers = requestHeaders("POST", `${CHAT_PATH}/quota/${op}`, consumer, [["content-type", "application/x-www-form-urlencoded"]]);
  return vm.newStream().run({ request: { headers, body } });
}

/** The contract's answers (shared/BRIEF.md), as status, details and body. */
export const ANSWERS = {
  noKey: { status: 401, details: "ai-quota.no_key", body: "Request denied by ai quota check. No Key Authentication information found." },
  badConsumer: { status: 401, details: "ai-quota.bad_consumer", body: "Request denied by ai quota check. Invalid consumer identity." },
  unauthorized: { status: 403, details: "ai-quota.unauthorized", body: "Request denied by ai quota check. Unauthorized consumer." },
  noQuota: { status: 403, details: "ai-quota.noquota", body: "Request denied by ai quota check, No quota left" },
  notAdmin: { status: 403, details: "ai-quota.unauthorized", body: "Request denied by ai quota check. Unauthorized admin consumer." },
  queryNoConsumer: { status: 403, details: "ai-quota.unauthorized", body: "Request denied by ai quota check. consumer can't be empty." },
  badRefresh: { status: 403, details: "ai-quota.unauthorized", body: "Request denied by ai quota check. consumer can't be empty and quota must be integer." },
  badDelta: { status: 403, details: "ai-quota.unauthorized", body: "Request denied by ai quota check. consumer can't be empty and value must be integer." },
  refreshed: { status: 200, details: "ai-quota.refreshquota", body: "refresh quota successful" },
  delta: { status: 200, details: "ai-quota.deltaquota", body: "delta quota successful" },
  tooLarge: { status: 413, details: "ai-quota.body_too_large", body: "Request denied by ai quota check. Request body too large." },
  pathNotMetered: { status: 403, details: "ai-quota.path_not_metered", body: "{\"error\":{\"message\":\"This endpoint is not available through this gateway: its usage cannot be metered.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"path_not_metered\"}}" },
} as const;

export type Answer = { status: number; details: string; body: string };

export function redisError(reason: string): Answer {
  return { status: 503, details: "ai-quota.error", body: "redis error:" + reason };
}

function describe(r: ExchangeResult): string {
  if (r.local) return `local ${r.local.status} ${r.local.details} ${JSON.stringify(r.local.body.toString("utf8").slice(0, 300))}`;
  return `status ${r.status}, upstream ${r.upstream ? "reached" : "not reached"}, reset ${r.resetReason}`;
}

/** The client got exactly this local answer. `bodyPrefix`: only the start of the body is known. */
export function expectAnswer(r: ExchangeResult, want: Answer, what: string, bodyPrefix = false): void {
  const l = r.local;
  const body = l?.body.toString("utf8") ?? "";
  const ok = l !== null && l.status === want.status && l.details === want.details && (bodyPrefix ? body.startsWith(want.body) : body === want.body);
  if (!ok) violated(`${what}: expected ${want.status} ${want.details} ${JSON.stringify(want.body)}${bodyPrefix ? "…" : ""}, got ${describe(r)}`);
}

/** A query answer: the JSON is compared parsed (Go and we may escape differently), the quota exactly. */
export function expectQueryAnswer(r: ExchangeResult, consumer: string, quota: bigint, what: string): void {
  const l = r.local;
  const body = l?.body.toString("utf8") ?? "";
  let parsedConsumer: unknown;
  try {
    parsedConsumer = JSON.parse(body).consumer;
  } catch {
    parsedConsumer = undefined;
  }
  const m = /"quota":(-?[0-9]+)}$/.exec(body);
  const ok = l !== null && l.status === 200 && l.details === "ai-quota.queryquota" && parsedConsumer === consumer && m !== null && BigInt(m[1]) === quota;
  if (!ok) violated(`${what}: expected 200 query answer for ${JSON.stringify(consumer)} with quota ${quota}, got ${describe(r)}`);
}

/** The request went upstream and the client got the upstream's answer. */
export function expectPassed(r: ExchangeResult, what: string): void {
  if (r.local !== null || r.upstream === null || r.status !== 200) violated(`${what}: expected the request to pass upstream, got ${describe(r)}`);
}
