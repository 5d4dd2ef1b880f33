// The Kubernetes resources we ship, against the rules that decide whether they work: the CRD schemas
// the API server validates them with (Higress's and Istio's, with Istio's CEL rules), and Higress's
// own rule for McpBridge `dns` domains (registry/direct/watcher.go), under which a registry whose
// domain has no dot is dropped with "invalid domain format" and its service never exists.
import * as fs from "fs";
import { HIGRESS_DNS_DOMAIN, readKubernetesYaml, registryProblem } from "../../host/higress-controller";
import { higressResources, isObject, Json, readYamlDocuments, repoPath, shippedYamlFiles, yamlFilesUnder } from "./plugin-configs";
import { crdProblems, goParseRequestURIScheme, loadSchema } from "./schema-check";

const higressCrds = loadSchema("higress-crds.json") as unknown as Parameters<typeof crdProblems>[0];
const istioCrds = loadSchema("istio-wasmplugin-crd.json") as unknown as Parameters<typeof crdProblems>[0];

function resources(): Array<{ file: string; doc: Json }> {
  const out: Array<{ file: string; doc: Json }> = [];
  for (const file of [...yamlFilesUnder("higress"), ...yamlFilesUnder("envoy")]) {
    for (const doc of readYamlDocuments(file)) out.push({ file, doc });
  }
  return out;
}

const KINDS_WITH_CRDS = ["WasmPlugin", "McpBridge"];

describe("every custom resource passes its CRD's schema", () => {
  const all = resources().filter((r) => isObject(r.doc) && KINDS_WITH_CRDS.includes(String(r.doc.kind)));

  test("there are Higress WasmPlugins, McpBridges and an Istio WasmPlugin to check", () => {
    const kinds = all.map((r) => (isObject(r.doc) ? `${String(r.doc.apiVersion)} ${String(r.doc.kind)}` : ""));
    expect(new Set(kinds)).toEqual(new Set(["extensions.higress.io/v1alpha1 WasmPlugin", "networking.higress.io/v1 McpBridge", "extensions.istio.io/v1alpha1 WasmPlugin"]));
  });

  test.each(all.map((r) => [`${r.file} ${isObject(r.doc) && isObject(r.doc.metadata) ? String(r.doc.metadata.name) : ""}`, r.doc] as const))("%s", (_name, doc) => {
    const problems = crdProblems(higressCrds, doc) ?? crdProblems(istioCrds, doc);
    expect(problems).toEqual([]);
  });

  test("the checker refuses what the API server refuses", () => {
    const plugin = {
      apiVersion: "extensions.higress.io/v1alpha1",
      kind: "WasmPlugin",
      metadata: { name: "x", namespace: "higress-system" },
      spec: { url: "file:///x.wasm", phase: "LATE", priority: "750", matchRules: [{ ingress: ["r"], configDisabled: true }] },
    };
    expect(crdProblems(higressCrds, plugin)).toEqual([
      "spec.phase: must be one of UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS",
      "spec.priority: must be of type integer",
      "spec.matchRules[0].configDisabled: unknown field",
    ]);
    const istio = { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: "x" }, spec: { url: "ftp://host/x.wasm", selector: {}, targetRefs: [] } };
    expect(crdProblems(istioCrds, istio)).toEqual(["spec.url: url must have schema one of [http, https, file, oci]", "spec: only one of targetRefs or selector can be set"]);
  });
});

describe("Istio's url rule, as the API server evaluates it (Go's url.ParseRequestURI under CEL's isURL/url)", () => {
  test.each([
    ["oci://registry.example.com/ai-quota-envoy:1.2.3", "oci"],
    ["file:///opt/plugins/ai-quota.wasm", "file"],
    ["https://example.com/ai-quota.wasm", "https"],
    // Go allows < and > in a host, so the placeholder passes the rule: it only fails when the image is pulled.
    ["oci://<your-registry>/ai-quota-envoy:<version>", "oci"],
    ["oci://registry example/x", null],
    ["oci://host:port/x", null],
    ["registry.example.com/x", null],
  ])("%s -> scheme %j", (url, scheme) => {
    expect(goParseRequestURIScheme(url)).toBe(scheme);
  });

  test("the Istio example says at the top what to replace, starting with its url placeholder", () => {
    const text = require("fs").readFileSync(require("path").join(__dirname, "../../envoy/istio-wasmplugin.yaml"), "utf8") as string;
    const head = text.slice(0, text.indexOf("apiVersion:"));
    expect(head).toMatch(/REPLACE BEFORE APPLYING/);
    for (const what of ["spec.url", "store.cluster", "store.token"]) expect(head).toContain(what);
  });
});

describe("McpBridge registries pass Higress's rules", () => {
  const bridges = higressResources().filter((r) => r.doc.kind === "McpBridge");

  test("one McpBridge per deployment, named default in higress-system (the only one Higress reads)", () => {
    expect(bridges.map((b) => b.file).sort()).toEqual(["higress/mcpbridge.yaml", "higress/standalone/mcpbridges/default.yaml"]);
    for (const b of bridges) expect(isObject(b.doc.metadata) && [b.doc.metadata.name, b.doc.metadata.namespace]).toEqual(["default", "higress-system"]);
  });

  test.each(bridges.map((b) => [b.file, b.doc] as const))("%s: every registry is accepted", (_file, doc) => {
    const registries = isObject(doc.spec) && Array.isArray(doc.spec.registries) ? doc.spec.registries.filter(isObject) : [];
    expect(registries.length).toBeGreaterThan(0);
    for (const reg of registries) expect({ name: reg.name, problem: registryProblem(reg) }).toEqual({ name: reg.name, problem: "" });
  });

  test.each([
    ["redis", false],
    ["llm-mock", false],
    ["redis.ai-quota.internal", true],
    ["redis-service.default.svc.cluster.local", true],
    ["redis.dns1", false], // the last label is letters only
    ["-redis.internal", false],
  ])("the dns domain rule: %s -> %s", (domain, ok) => {
    expect(HIGRESS_DNS_DOMAIN.test(domain)).toBe(ok);
    expect(registryProblem({ name: "r", type: "dns", domain }) === "").toBe(ok);
  });
});

test.each(shippedYamlFiles())("%s means the same to Kubernetes (YAML 1.1 scalars) as to a YAML 1.2 reader", (file) => {
  expect(readKubernetesYaml(fs.readFileSync(repoPath(file), "utf8"))).toEqual(readYamlDocuments(file));
});
