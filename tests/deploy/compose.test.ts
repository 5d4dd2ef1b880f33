// Static checks of docker-compose.yml, and a parse of every shipped YAML file.

import * as fs from "fs";
import * as path from "path";
import { isObject, readYamlDocuments, repoPath, shippedYamlFiles, wasmPlugins } from "./plugin-configs";
import { bindMounts, COMPOSE_FILE, composeFile, composeServices, publishedPorts } from "./compose";

test.each(shippedYamlFiles())("%s parses without YAML errors or warnings", (file) => {
  expect(() => readYamlDocuments(file)).not.toThrow();
});

describe("docker-compose.yml", () => {
  test("has the redis, llm-mock and higress services", () => {
    const services = composeServices();
    expect(Object.keys(services)).toEqual(expect.arrayContaining(["redis", "llm-mock", "higress"]));
    expect(services.redis.image).toBe("redis:7");
    expect(typeof services["llm-mock"].image).toBe("string");
    expect(services.higress.image).toBe("higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/all-in-one:latest");
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
