// The Grafana dashboard (deploy/grafana/ai-quota.json), built with Grafana's own
// @grafana/grafana-foundation-sdk: `npx tsx scripts/dashboard.ts` writes it, and
// tests/deploy/prometheus.test.ts checks the committed file is this output and runs every panel's
// query against a real Prometheus scraping the gateway. Metric names: README, "Metrics".
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { DashboardBuilder, DatasourceVariableBuilder, RowBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as TimeseriesBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { PanelBuilder as StatBuilder } from "@grafana/grafana-foundation-sdk/stat";

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

/** The reasons a request is refused: one counter each, ai_quota_requests_denied_<reason>. */
export const DENIAL_REASONS = ["no_key", "unauthorized", "bad_consumer", "noquota", "window", "body_too_large", "background"];

/**
 * The rate of several counters, one series per counter with its name's last part as `label`. One
 * term per counter: a rate over a {__name__=~...} selector drops the names and the series collide.
 */
export function ratesBy(label: string, prefix: string, parts: string[]): string {
  const terms = parts.map((p) => `label_replace(rate(${prefix}${p}[$__rate_interval]), "${label}", "${p}", "", "")`);
  return `sum by (${label}) (${terms.join(" or ")})`;
}

export interface PanelQuery {
  title: string;
  expr: string;
  legend: string;
}

/** The panels, in order: what each shows and its PromQL. */
export const PANELS: PanelQuery[] = [
  { title: "Admitted requests /s", expr: "sum(rate(ai_quota_requests_admitted[$__rate_interval]))", legend: "admitted" },
  { title: "Denied requests /s by reason", expr: ratesBy("reason", "ai_quota_requests_denied_", DENIAL_REASONS), legend: "{{reason}}" },
  { title: "Tokens charged /s", expr: "sum(rate(ai_quota_tokens_charged[$__rate_interval]))", legend: "tokens" },
  { title: "Admin API calls /s", expr: "sum(rate(ai_quota_admin_requests[$__rate_interval]))", legend: "admin" },
  { title: "Redis errors /s", expr: "sum(rate(ai_quota_redis_errors[$__rate_interval]))", legend: "errors" },
  { title: "Redis rejected and TRYAGAIN /s", expr: ratesBy("reply", "ai_quota_redis_", ["rejected", "tryagain"]), legend: "{{reply}}" },
  { title: "Settlements pending", expr: "sum(ai_quota_settlements_pending)", legend: "pending" },
  { title: "Settlements failed, retried, estimated /s", expr: ratesBy("outcome", "ai_quota_settlements_", ["failed", "retried", "estimated"]), legend: "{{outcome}}" },
];

function query(p: PanelQuery): DataqueryBuilder {
  return new DataqueryBuilder().expr(p.expr).legendFormat(p.legend).refId("A");
}

export function buildDashboard(): object {
  const b = new DashboardBuilder("ai-quota")
    .uid("ai-quota")
    .tags(["ai-quota", "envoy", "higress"])
    .description("ai-quota plugin: admissions, denials by reason, tokens charged, Redis errors, settlements (metrics: the ai-quota README)")
    .refresh("30s")
    .time({ from: "now-6h", to: "now" })
    .withVariable(new DatasourceVariableBuilder("datasource").label("Prometheus").type("prometheus"))
    .withRow(new RowBuilder("Traffic"));
  const [admitted, denied, tokens, admin, redisErrors, redisOther, pending, settlements] = PANELS;
  for (const p of [admitted, denied, tokens, admin]) b.withPanel(new TimeseriesBuilder().title(p.title).datasource(DATASOURCE).withTarget(query(p)).span(12).height(8));
  b.withRow(new RowBuilder("Redis and settlements"));
  b.withPanel(new TimeseriesBuilder().title(redisErrors.title).datasource(DATASOURCE).withTarget(query(redisErrors)).span(12).height(8));
  b.withPanel(new TimeseriesBuilder().title(redisOther.title).datasource(DATASOURCE).withTarget(query(redisOther)).span(12).height(8));
  b.withPanel(new StatBuilder().title(pending.title).datasource(DATASOURCE).withTarget(query(pending)).span(12).height(8));
  b.withPanel(new TimeseriesBuilder().title(settlements.title).datasource(DATASOURCE).withTarget(query(settlements)).span(12).height(8));
  return b.build();
}

export const DASHBOARD_FILE = path.resolve(__dirname, "../deploy/grafana/ai-quota.json");

export function dashboardJson(): string {
  return JSON.stringify(buildDashboard(), null, 2) + "\n";
}

if (require.main === module) {
  writeFileSync(DASHBOARD_FILE, dashboardJson());
  console.log(`wrote ${path.relative(process.cwd(), DASHBOARD_FILE)}`);
}
