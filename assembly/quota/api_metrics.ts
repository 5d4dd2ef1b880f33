// Counters per API format (routes.ts ApiKind): what flows through the route, by format. Defined on
// first use of each format, so a route that only carries chat defines only chat's.
import { MetricType } from "../abi/types";
import { defineMetric } from "../abi/hostcalls";
import { count, countBy } from "./metrics";
import { ApiKind, apiKindName } from "./routes";

/** One past the largest ApiKind (the last member of the enum). */
const KINDS = <i32>ApiKind.BedrockConverseStream + 1;
/** Defined ids + 1 (0: not defined yet), requests at [kind], units at [KINDS + kind]. */
const ids = new StaticArray<u32>(KINDS * 2);

/** `ai_quota.api.<format>.requests|units`; dashes become '_' (Prometheus names keep only [a-zA-Z0-9_:]). */
function metricFor(kind: ApiKind, units: bool): u32 {
  const k = <i32>kind;
  const at = units ? KINDS + k : k;
  const known = unchecked(ids[at]);
  if (known != 0) return known - 1;
  const name = "ai_quota.api." + apiKindName(kind).replaceAll("-", "_") + (units ? ".units" : ".requests");
  const id = defineMetric(MetricType.Counter, name);
  unchecked(ids[at] = id + 1);
  return id;
}

/** A request of this format was admitted. */
export function countApiRequest(kind: ApiKind): void {
  if (kind == ApiKind.None || <i32>kind >= KINDS) return;
  count(metricFor(kind, false));
}

/** Units charged to requests of this format (as ai_quota.tokens.charged counts them). */
export function countApiUnits(kind: ApiKind, units: i64): void {
  if (kind == ApiKind.None || <i32>kind >= KINDS || units <= 0) return;
  countBy(metricFor(kind, true), units);
}
