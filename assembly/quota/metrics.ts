// The plugin's counters, defined once per VM through proxy_define_metric. Names follow Envoy's
// dotted style under the plugin's prefix (Envoy shows them under `wasmcustom.`).
import { MetricType } from "../abi/types";
import { defineMetric, incrementMetric, recordMetric } from "../abi/hostcalls";

export class Metrics {
  admitted: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.admitted");
  deniedNoKey: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.no_key");
  deniedUnauthorized: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.unauthorized");
  deniedBadConsumer: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.bad_consumer");
  deniedNoQuota: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.noquota");
  /** A tier header sent twice or naming no configured tier (tiers.ts). */
  deniedBadTier: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.bad_tier");
  deniedWindow: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.window");
  deniedTooLarge: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.body_too_large");
  deniedBackground: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.background");
  deniedUnreadable: u32 = defineMetric(MetricType.Counter, "ai_quota.requests.denied.unreadable_body");
  /** Requests to paths neither metered nor admin, by what `other_paths` did with them (other_paths.ts). */
  otherRefused: u32 = defineMetric(MetricType.Counter, "ai_quota.other_paths.refused");
  otherAllowed: u32 = defineMetric(MetricType.Counter, "ai_quota.other_paths.allowed");
  otherPassed: u32 = defineMetric(MetricType.Counter, "ai_quota.other_paths.passed");
  otherCharged: u32 = defineMetric(MetricType.Counter, "ai_quota.other_paths.charged");
  /** `shadow: true`: requests the balance or a window would have refused, admitted instead. */
  shadowNoQuota: u32 = defineMetric(MetricType.Counter, "ai_quota.shadow.noquota");
  shadowWindow: u32 = defineMetric(MetricType.Counter, "ai_quota.shadow.window");
  /** Settlements that charged an estimate because the answer reported no (or partial) usage. */
  estimated: u32 = defineMetric(MetricType.Counter, "ai_quota.settlements.estimated");
  adminCalls: u32 = defineMetric(MetricType.Counter, "ai_quota.admin.requests");
  tokensCharged: u32 = defineMetric(MetricType.Counter, "ai_quota.tokens.charged");
  settlementsFailed: u32 = defineMetric(MetricType.Counter, "ai_quota.settlements.failed");
  redisErrors: u32 = defineMetric(MetricType.Counter, "ai_quota.redis.errors");
  /** Redis answered an error retrying cannot fix (CROSSSLOT, WRONGTYPE…): admissions denied, settlements logged. */
  redisRejected: u32 = defineMetric(MetricType.Counter, "ai_quota.redis.rejected");
  /** Commands sent again after a TRYAGAIN (a Redis Cluster moving their slot). */
  redisTryAgain: u32 = defineMetric(MetricType.Counter, "ai_quota.redis.tryagain");
  settlementsPending: u32 = defineMetric(MetricType.Gauge, "ai_quota.settlements.pending");
  settlementsRetried: u32 = defineMetric(MetricType.Counter, "ai_quota.settlements.retried");
}

let instance: Metrics | null = null;

/** The VM's counters, defined on first use (after the host is ready, never at module start). */
export function metrics(): Metrics {
  let m = instance;
  if (m === null) {
    m = new Metrics();
    instance = m;
  }
  return m;
}

export function count(id: u32): void {
  incrementMetric(id, 1);
}

export function countBy(id: u32, n: i64): void {
  if (n > 0) incrementMetric(id, n);
}

export function gauge(id: u32, value: i64): void {
  recordMetric(id, <u64>(value < 0 ? 0 : value));
}
