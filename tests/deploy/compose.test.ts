// Static checks of docker-compose.yml, and a parse of every shipped YAML file.

import * as fs from "fs";
import * as path from "path";
import { isObject, readYamlDocuments, repoPath, shippedYamlFiles, wasmPlugins } from "./plugin-configs";
import { jsonSchemaProblems, loadSchema } from "./schema-check";
import { bindMounts, COMPOSE_FILE, composeFile, composeServices, publishedPorts } from "./compose";

test.each(shippedYamlFiles())("%s parses without YAML errors or warnings", (file) => {
  expect(() => readYamlDocuments(file)).not.toThrow();
});

describe("docker-compose.yml", () => {
  test("has the redis, llm-mock and higress services; Higress is a versioned all-in-one release", () => {
    const services = composeServices();
    expect(Object.keys(services)).toEqual(expect.arrayContaining(["redis", "llm-mock", "higress"]));
    expect(String(services.redis.image)).toMatch(/^redis:7\.\d+\.\d+$/);
    expect(typeof services["llm-mock"].image).toBe("string");
    expect(String(services.higress.image)).toMatch(/^higress-registry\.cn-hangzhou\.cr\.aliyuncs\.com\/higress\/all-in-one:\d+\.\d+\.\d+$/);
    expect(String(services["redis-rest"].image)).toMatch(/^hiett\/serverless-redis-http:\d+\.\d+\.\d+$/);
  });

  test("every image names a fixed release: a tag, never latest", () => {
    for (const [name, svc] of Object.entries(composeServices())) {
      const image = String(svc.image);
      const tag = /:([^/:]+)$/.exec(image)?.[1];
      expect({ service: name, image, pinned: tag !== undefined && !/latest/.test(tag) }).toEqual({ service: name, image, pinned: true });
    }
  });

  test("the Node image is a supported Node.js release line", () => {
    // Node.js release schedule: 22 is in maintenance until 2027-04-30, 24 until 2028-04-30; 20 ended 2026-04-30.
    const SUPPORTED = [22, 24];
    const m = /^node:(\d+)(?:[.-].*)?$/.exec(String(composeServices()["llm-mock"].image));
    expect(m).not.toBeNull();
    expect(SUPPORTED).toContain(Number(m?.[1]));
  });

  test("what a service waits for reports healthy first: depends_on service_healthy on a service with a healthcheck", () => {
    const services = composeServices();
    const waitedFor = new Set<string>();
    for (const [name, svc] of Object.entries(services)) {
      if (svc.depends_on === undefined) continue;
      // The long form: the short one only waits for the container to start.
      expect({ service: name, longForm: isObject(svc.depends_on) }).toEqual({ service: name, longForm: true });
      if (!isObject(svc.depends_on)) continue;
      for (const [dep, cond] of Object.entries(svc.depends_on)) {
        const condition = isObject(cond) ? cond.condition : undefined;
        const oneShot = services[dep]?.command !== undefined && dep === "higress-config";
        expect({ service: name, dep, condition }).toEqual({ service: name, dep, condition: oneShot ? "service_completed_successfully" : "service_healthy" });
        if (condition === "service_healthy") waitedFor.add(dep);
      }
    }
    expect([...waitedFor].sort()).toEqual(["llm-mock", "redis", "redis-rest"]);
    for (const dep of waitedFor) {
      const hc = services[dep].healthcheck;
      expect({ dep, test: isObject(hc) && Array.isArray(hc.test) && hc.test[0] === "CMD" }).toEqual({ dep, test: true });
    }
  });

  test("the wasm modules are bind mounts that fail when the file is missing (create_host_path: false)", () => {
    const mounts = Object.values(composeServices()).flatMap((svc) => bindMounts(svc)).filter((m) => m.source.startsWith("./build/"));
    expect(mounts.map((m) => m.source).sort()).toEqual(["./build/ai-quota-envoy.wasm", "./build/ai-quota.wasm"]);
    for (const m of mounts) expect(m).toMatchObject({ longSyntax: true, createHostPath: false, readOnly: true });
  });

  test("higress mounts build/ai-quota.wasm read-only where the standalone WasmPlugin loads it", () => {
    const higress = composeServices().higress;
    const wasm = bindMounts(higress).filter((m) => m.source === "./build/ai-quota.wasm");
    expect(wasm).toHaveLength(1);
    expect(wasm[0].readOnly).toBe(true);
    const plugin = wasmPlugins("ai-quota").find((r) => r.file === "higress/standalone/wasmplugins/ai-quota.yaml");
    const url = plugin !== undefined && isObject(plugin.doc.spec) ? String(plugin.doc.spec.url) : "";
    expect(url).toBe(`file://${wasm[0].target}`);
  });

  test("higress publishes the documented ports: 8080 HTTP, 8443 HTTPS, 8001 console", () => {
    const ports = publishedPorts(composeServices().higress);
    expect(ports.get(8080)).toBe(8080);
    expect(ports.get(8443)).toBe(8443);
    expect(ports.get(8001)).toBe(8001);
    const text = fs.readFileSync(repoPath(COMPOSE_FILE), "utf8");
    for (const p of ["8080", "8443", "8001", "6379", "10000"]) expect(text).toMatch(new RegExp(`^#\\s+${p}\\s`, "m"));
  });

  test("higress keeps its configuration in a volume at /data, seeded from higress/standalone before it starts", () => {
    const file = composeFile();
    const services = composeServices();
    const volumes = Array.isArray(services.higress.volumes) ? services.higress.volumes.map(String) : [];
    const data = volumes.find((v) => v.split(":")[1] === "/data");
    expect(data).toBeDefined();
    const volumeName = String(data).split(":")[0];
    expect(isObject(file.volumes) && volumeName in file.volumes).toBe(true);

    const seeders = Object.entries(services).filter(([, svc]) =>
      bindMounts(svc).some((m) => m.source === "./higress/standalone" && m.readOnly),
    );
    expect(seeders).toHaveLength(1);
    const [seederName, seeder] = seeders[0];
    const seederVolumes = Array.isArray(seeder.volumes) ? seeder.volumes.map(String) : [];
    expect(seederVolumes).toContain(`${volumeName}:/data`);
    const dependsOn = services.higress.depends_on;
    expect(isObject(dependsOn) && isObject(dependsOn[seederName]) && dependsOn[seederName].condition).toBe(
      "service_completed_successfully",
    );
  });

  test("the envoy service is opt-in (a profile): it runs the plain-Envoy build, next to the Higress gateway", () => {
    const envoy = composeServices().envoy;
    expect(envoy).toBeDefined();
    expect(Array.isArray(envoy.profiles) && envoy.profiles.length > 0).toBe(true);
  });

  test("every bind-mount source exists in the repository (build/ is produced by npm run build)", () => {
    for (const [name, svc] of Object.entries(composeServices())) {
      for (const m of bindMounts(svc)) {
        expect(m.source.startsWith("./")).toBe(true);
        if (m.source.startsWith("./build/")) continue;
        expect({ service: name, source: m.source, exists: fs.existsSync(path.join(repoPath("."), m.source)) }).toEqual({
          service: name,
          source: m.source,
          exists: true,
        });
      }
    }
  });

  test("follows the Compose Specification's schema", () => {
    const schema = loadSchema("compose-spec.json");
    expect(jsonSchemaProblems(schema, schema, composeFile())).toEqual([]);
  });

  test("the schema check refuses what docker compose refuses", () => {
    const schema = loadSchema("compose-spec.json");
    const broken = JSON.parse(JSON.stringify(composeFile()));
    broken.services.higress.depends_on.redis.condition = "service_ready";
    broken.services.redis.healthcheck.intervall = "2s";
    broken.services["llm-mock"].volumes = [{ type: "bind", source: "./x", target: "/x", bind: { create_host_paths: false } }];
    const problems = jsonSchemaProblems(schema, schema, broken);
    expect(problems).toEqual([
      "services.redis.healthcheck.intervall: not allowed",
      "services.llm-mock.volumes[0]: matches 0 of oneOf (exactly one needed)",
      "services.higress.depends_on: matches 0 of oneOf (exactly one needed)",
    ]);
  });

  test("no unescaped $ (compose would interpolate it)", () => {
    const text = fs.readFileSync(repoPath(COMPOSE_FILE), "utf8").replace(/\$\$/g, "");
    expect(text).not.toContain("$");
  });

  test("Redis and the console are bound to the loopback interface only", () => {
    const services = composeServices();
    const redisPorts = Array.isArray(services.redis.ports) ? services.redis.ports.map(String) : [];
    for (const p of redisPorts) expect(p.startsWith("127.0.0.1:")).toBe(true);
    const higressPorts = Array.isArray(services.higress.ports) ? services.higress.ports.map(String) : [];
    expect(higressPorts.filter((p) => p.endsWith(":8001"))).toEqual(["127.0.0.1:8001:8001"]);
  });
});
