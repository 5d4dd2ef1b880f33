// Every answer the plugin gives itself, with the status, body and response-code details of
// Higress's ai-quota. Keeping them in one table is what makes the drop-in promise checkable.
import { HeaderPair } from "../abi/headers";
import { sendLocalResponse } from "../abi/hostcalls";
import { logDebug } from "../abi/log";
import { count, metrics } from "../metrics/metrics";
import { quoteJsonString } from "../json/quote";

const TEXT = "text/plain";
const JSON_TYPE = "application/json";

function send(status: u32, details: string, contentType: string, body: string): void {
  const headers = new Array<HeaderPair>();
  headers.push(new HeaderPair("content-type", contentType));
  sendLocalResponse(status, details, String.UTF8.encode(body), headers);
}

export function denyNoKey(): void {
  count(metrics().deniedNoKey);
  send(401, "ai-quota.no_key", TEXT, "Request denied by ai quota check. No Key Authentication information found.");
}

export function denyUnauthorizedConsumer(): void {
  count(metrics().deniedUnauthorized);
  send(403, "ai-quota.unauthorized", TEXT, "Request denied by ai quota check. Unauthorized consumer.");
}

export function denyNoQuota(status: u32, asJson: bool): void {
  count(metrics().deniedNoQuota);
  if (!asJson) {
    send(status, "ai-quota.noquota", TEXT, "Request denied by ai quota check, No quota left");
    return;
  }
  send(status, "ai-quota.noquota", JSON_TYPE, openAiError("No quota left", "insufficient_quota"));
}

/** A windowed limit is full: an OpenAI-style error, and when to come back. */
export function denyWindow(status: u32, message: string, retryAfterSeconds: i64): void {
  count(metrics().deniedWindow);
  const headers = new Array<HeaderPair>();
  headers.push(new HeaderPair("content-type", JSON_TYPE));
  headers.push(new HeaderPair("retry-after", retryAfterSeconds.toString()));
  sendLocalResponse(status, "ai-quota.window_exceeded", String.UTF8.encode(openAiError(message, "rate_limit_exceeded")), headers);
}

function openAiError(message: string, type: string): string {
  return "{\"error\":{\"message\":" + quoteJsonString(message) + ",\"type\":\"" + type + "\",\"param\":null,\"code\":\"quota_exceeded\"}}";
}

// Every 403 whose details are ai-quota.unauthorized (Higress's reason for a refused admin call,
// malformed ones included) counts in ai_quota.requests.denied.unauthorized: the metric and the
// reason an operator sees in the access log always agree.
export function denyNotAdmin(): void {
  count(metrics().deniedUnauthorized);
  send(403, "ai-quota.unauthorized", TEXT, "Request denied by ai quota check. Unauthorized admin consumer.");
}

export function denyQueryWithoutConsumer(): void {
  count(metrics().deniedUnauthorized);
  send(403, "ai-quota.unauthorized", TEXT, "Request denied by ai quota check. consumer can't be empty.");
}

export function denyBadRefresh(): void {
  count(metrics().deniedUnauthorized);
  send(403, "ai-quota.unauthorized", TEXT, "Request denied by ai quota check. consumer can't be empty and quota must be integer.");
}

export function denyBadDelta(): void {
  count(metrics().deniedUnauthorized);
  send(403, "ai-quota.unauthorized", TEXT, "Request denied by ai quota check. consumer can't be empty and value must be integer.");
}

export function answerQuota(queryJson: string): void {
  send(200, "ai-quota.queryquota", JSON_TYPE, queryJson);
}

/** The spend history of a consumer (admin_usage.ts). */
export function answerUsage(json: string): void {
  send(200, "ai-quota.usage", JSON_TYPE, json);
}

/** Not in Higress: a usage query with a bad date or range, or with spend_history off. */
export function denyBadUsageQuery(problem: string): void {
  send(400, "ai-quota.bad_usage_query", TEXT, "Request denied by ai quota check. " + problem + ".");
}

export function answerRefreshed(): void {
  send(200, "ai-quota.refreshquota", TEXT, "refresh quota successful");
}

export function answerDelta(): void {
  send(200, "ai-quota.deltaquota", TEXT, "delta quota successful");
}

export function answerRedisError(reason: string): void {
  count(metrics().redisErrors);
  send(503, "ai-quota.error", TEXT, "redis error:" + reason);
}

/** Not in Higress (it buffers any size): an admin body past our cap is refused instead. */
export function denyBodyTooLarge(): void {
  count(metrics().deniedTooLarge);
  send(413, "ai-quota.body_too_large", TEXT, "Request denied by ai quota check. Request body too large.");
}

/**
 * Not in Higress: a Responses API request in background mode. Its usage only exists on a later
 * retrieve the gateway cannot tie to this request, so it would be free; the operator may choose to
 * charge an estimate instead (responses_background: estimate).
 */
export function denyBackground(): void {
  count(metrics().deniedBackground);
  const body = "{\"error\":{\"message\":\"Background responses are not available through this gateway.\",\"type\":\"invalid_request_error\",\"param\":\"background\",\"code\":\"background_not_metered\"}}";
  send(400, "ai-quota.background", JSON_TYPE, body);
}

/**
 * Not in Higress: a metered body the plugin cannot read exactly as its upstream will (see
 * request/verdict.ts). Reading it some way would be a guess at what the model is asked, and at
 * whether it reports usage.
 */
export function denyUnreadableBody(): void {
  count(metrics().deniedUnreadable);
  const body = "{\"error\":{\"message\":\"The request body cannot be read unambiguously: send one UTF-8 JSON object with lower-case keys and a boolean stream_options.include_usage.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"unreadable_body\"}}";
  send(400, "ai-quota.unreadable_body", JSON_TYPE, body);
}

/** Not in Higress: a consumer header that cannot name a consumer (sent twice, control bytes, too long). */
export function denyBadConsumer(problem: string): void {
  count(metrics().deniedBadConsumer);
  logDebug("ai-quota: invalid x-mse-consumer: " + problem);
  send(401, "ai-quota.bad_consumer", TEXT, "Request denied by ai quota check. Invalid consumer identity.");
}

/** Not in Higress: a tier header (tier_header) sent twice or naming no configured tier. */
export function denyBadTier(problem: string): void {
  count(metrics().deniedBadTier);
  logDebug("ai-quota: invalid tier: " + problem);
  send(401, "ai-quota.bad_tier", TEXT, "Request denied by ai quota check. Invalid tier.");
}

/**
 * Not in Higress (it passes them): a path on a metered route that is neither metered nor in
 * `other_paths.allow`, with `other_paths.action: refuse` (the default).
 */
export function denyOtherPath(): void {
  count(metrics().otherRefused);
  const body = "{\"error\":{\"message\":\"This endpoint is not available through this gateway: its usage cannot be metered.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"path_not_metered\"}}";
  send(403, "ai-quota.path_not_metered", JSON_TYPE, body);
}
