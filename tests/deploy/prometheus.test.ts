// Metrics as people watch them: a real Prometheus (Debian's prometheus 2.x) scrapes the local
// gateway's /stats/prometheus, answers a PromQL query for every metric the README lists and for
// every panel of the shipped Grafana dashboard; promtool checks and unit-tests the shipped alert
// rules. Every wait polls the query API until the sample is there, bounded; no sleeps.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DASHBOARD_FILE, DENIAL_REASONS, PANELS, dashboardJson } from "../../scripts/dashboard";
import { GatewayProcess, ROOT } from "../gateway/gateway-process";
import { send } from "../gateway/http-client";
import { Service, freePort, pollUntil, requireTool } from "./tools";

const prometheus = requireTool("prometheus", "prometheus");
const promtool = requireTool("prometheus", "promtool");
const RULES = path.join(ROOT, "deploy/prometheus");

/** The metric names of the README's Metrics section, as written there (dotted, braces expanded). */
export function readmeMetrics(): string[] {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = /^## Metrics\n([\s\S]*?)^## /m.exec(readme);
  if (!section) throw new Error("README has no Metrics section");
  const names: string[] = [];
  for (const m of section[1].matchAll(/`(ai_quota\.[a-z_.]*?)(?:\{([a-z_,\s]+)\})?`/g)) {
    if (m[2] === undefined) names.push(m[1]);
    else for (const part of m[2].split(",")) names.push(m[1] + part.trim());
  }
  return names;
}

/** Envoy's Prometheus name for a proxy_define_metric name (prometheus_stats.cc metricName). */
const promName = (defined: string) => defined.replace(/[^a-zA-Z0-9_]/g, "_");

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

let gw: GatewayProcess | null = null;
let prom: Service | null = null;
let api = "";
const tmp = mkdtempSync(path.join(os.tmpdir(), "ai-quota-prom-"));

async function query(expr: string): Promise<Sample[]> {
  const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
  return body.data!.result;
}

/** The query's samples once `ok` holds for them (Prometheus scrapes every second). */
function queryUntil(expr: string, ok: (r: Sample[]) => boolean, timeoutMs = 15_000): Promise<Sample[]> {
  return pollUntil(async () => {
    const r = await query(expr);
    return ok(r) ? r : undefined;
  }, `PromQL ${expr}`, timeoutMs, 200);
}

const USER = { authorization: "Bearer credential1", "content-type": "application/json" };
const ADMIN = { authorization: "Bearer credential3", "content-type": "application/x-www-form-urlencoded" };
const CHAT = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "Say hello to the quota gateway" }] });

beforeAll(async () => {
  if (prometheus.path === null) return;
  gw = await GatewayProcess.launch(["--config", "examples/local.yaml", "--port", "0"]);
  const target = new URL(gw.url).host;
  const port = await freePort();
  const config = path.join(tmp, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "rule_files:",
      `  - ${path.join(RULES, "ai-quota.rules.yml")}`,
      "scrape_configs:",
      "  - job_name: ai-quota-gateway",
      "    metrics_path: /stats/prometheus",
      "    static_configs:",
      `      - targets: ["${target}"]`,
      "",
    ].join("\n"),
  );
  prom = Service.start(prometheus.path, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${path.join(tmp, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  await prom.waitFor(/Server is ready to receive web requests/, 20_000);
  api = `http://127.0.0.1:${port}`;

  // Traffic: an admin refresh (the plugin defines its metrics on first use), then, once Prometheus
  // has scraped them, two admitted chats, a chat with no key (refused by the gateway's key-auth,
  // before the plugin), one from a consumer at 0: each counter seen before and after it moves.
  expect((await send(`${gw.url}/v1/chat/completions/quota/refresh`, { headers: ADMIN, body: "consumer=consumer1&quota=10000" })).status).toBe(200);
  await queryUntil("ai_quota_admin_requests >= 1 and ai_quota_requests_denied_noquota == 0", (r) => r.length === 1);
  for (let i = 0; i < 2; i++) {
    const from = gw.lines.length;
    expect((await send(`${gw.url}/v1/chat/completions`, { headers: USER, body: CHAT })).status).toBe(200);
    await gw.waitForLine(/^POST \/v1\/chat\/completions 200 consumer1/, 10_000, from);
  }
  expect((await send(`${gw.url}/v1/chat/completions`, { headers: { "content-type": "application/json" }, body: CHAT })).status).toBe(401);
  expect((await send(`${gw.url}/v1/chat/completions`, { headers: { ...USER, authorization: "Bearer credential2" }, body: CHAT })).status).toBe(403);
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  await gw?.stop();
  gw?.kill();
  rmSync(tmp, { recursive: true, force: true });
});

test("the README lists the metrics the gateway exports, by the names Envoy gives them", async () => {
  const listed = readmeMetrics();
  expect(listed.length).toBeGreaterThan(10);
  if (gw === null) return;
  const r = await send(`${gw.url}/stats/prometheus`);
  const exported = [...r.body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]).sort();
  expect(exported).toEqual(listed.map(promName).sort());
});

prometheus.test("a real Prometheus scraping /stats/prometheus answers a query for every metric the README lists, with the traffic's counts", async () => {
  await queryUntil('up{job="ai-quota-gateway"}', (r) => r.length === 1 && r[0].value[1] === "1");
  const at = async (name: string) => Number((await queryUntil(name, (r) => r.length === 1))[0].value[1]);
  for (const name of readmeMetrics().map(promName)) await at(name);
  // The counts this traffic makes (each a lower bound of what the last scrape saw, waited for).
  const reached = (name: string, least: number) => queryUntil(`${name} >= ${least}`, (r) => r.length === 1);
  await reached("ai_quota_requests_admitted", 2);
  await reached("ai_quota_requests_denied_noquota", 1);
  await reached("ai_quota_admin_requests", 1);
  await reached("ai_quota_tokens_charged", 44); // 2 chats of 6 + 16 tokens
  expect(await at("ai_quota_redis_errors")).toBe(0);
  expect(await at("ai_quota_settlements_pending")).toBe(0);
}, 40_000);

prometheus.test("every panel of the Grafana dashboard is a query Prometheus answers with data", async () => {
  await queryUntil("ai_quota_tokens_charged", (r) => r.length === 1);
  for (const panel of PANELS) {
    // What Grafana puts for $__rate_interval with a 1 s scrape interval is at least 4 scrapes.
    const expr = panel.expr.replace(/\$__rate_interval/g, "10s");
    const result = await queryUntil(expr, (r) => r.length > 0);
    expect(result.every((s) => Number.isFinite(Number(s.value[1])))).toBe(true);
  }
  const reasons = await queryUntil(PANELS[1].expr.replace(/\$__rate_interval/g, "1m"), (r) => r.some((s) => s.metric.reason === "noquota" && Number(s.value[1]) > 0));
  expect(reasons.map((s) => s.metric.reason).sort()).toEqual([...DENIAL_REASONS].sort());
}, 40_000);

prometheus.test("Prometheus loads the shipped alert rules, and none fires on healthy traffic", async () => {
  const groups = await pollUntil(async () => {
    const res = await fetch(`${api}/api/v1/rules`);
    const body = (await res.json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string; state: string }> }> } };
    const rules = body.data.groups.flatMap((g) => g.rules);
    return rules.length > 0 && rules.every((r) => r.health === "ok") ? rules : undefined;
  }, "rules evaluated", 15_000);
  expect(groups.map((r) => r.name).sort()).toEqual(["AiQuotaDenialSpike", "AiQuotaRedisErrors", "AiQuotaSettlementFailures", "AiQuotaSettlementsPending"]);
  expect(groups.filter((r) => r.state !== "inactive")).toEqual([]);
});

promtool.test("promtool check rules and promtool test rules pass on deploy/prometheus", () => {
  const check = spawnSync(promtool.path!, ["check", "rules", "ai-quota.rules.yml"], { cwd: RULES, encoding: "utf8" });
  expect({ status: check.status, out: check.stdout + check.stderr }).toEqual({ status: 0, out: expect.stringContaining("SUCCESS: 4 rules found") });
  const unit = spawnSync(promtool.path!, ["test", "rules", "ai-quota.rules.test.yml"], { cwd: RULES, encoding: "utf8" });
  expect({ status: unit.status, out: unit.stdout + unit.stderr }).toEqual({ status: 0, out: expect.stringContaining("SUCCESS") });
});

test("deploy/grafana/ai-quota.json is what scripts/dashboard.ts generates (npx tsx scripts/dashboard.ts rewrites it)", () => {
  expect(readFileSync(DASHBOARD_FILE, "utf8")).toBe(dashboardJson());
  const doc = JSON.parse(dashboardJson()) as { panels: Array<{ type: string; targets?: Array<{ expr: string }> }> };
  const exprs = doc.panels.filter((p) => p.type !== "row").map((p) => p.targets![0].expr);
  expect(exprs).toEqual(PANELS.map((p) => p.expr));
});
