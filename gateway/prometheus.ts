// GET /stats/prometheus: the plugin's metrics (proxy_define_metric) in Prometheus text format.
// Counters and gauges are one sample each; histograms get cumulative buckets (Envoy's default
// bounds), _sum and _count. Names are sanitized to [a-zA-Z0-9_:] and may not start with a digit.
import { MetricType } from "../host";
import type { MetricsSnapshot } from "../host";

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Envoy's default histogram bucket bounds. */
const BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export function sanitizeName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, "_");
  return s === "" || /^[0-9]/.test(s) ? "_" + s : s;
}

function histogram(name: string, samples: number[]): string[] {
  const lines = [`# TYPE ${name} histogram`];
  for (const bound of BUCKETS) lines.push(`${name}_bucket{le="${bound}"} ${samples.filter((v) => v <= bound).length}`);
  lines.push(`${name}_bucket{le="+Inf"} ${samples.length}`);
  lines.push(`${name}_sum ${samples.reduce((a, b) => a + b, 0)}`);
  lines.push(`${name}_count ${samples.length}`);
  return lines;
}

function typeName(type: MetricType | undefined): string {
  return type === MetricType.Counter ? "counter" : type === MetricType.Gauge ? "gauge" : "untyped";
}

export function renderPrometheus(snapshot: MetricsSnapshot, types: ReadonlyMap<string, MetricType> = new Map()): string {
  const lines: string[] = [];
  const used = new Set<string>();
  for (const raw of Object.keys(snapshot).sort()) {
    const name = sanitizeName(raw);
    if (used.has(name)) continue; // two plugin names that sanitize alike: the first one wins
    used.add(name);
    const value = snapshot[raw];
    if (Array.isArray(value)) lines.push(...histogram(name, value));
    else lines.push(`# TYPE ${name} ${typeName(types.get(raw))}`, `${name} ${value}`);
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}
