// `npm run package` as users ship it: the OCI layouts pushed by a real client (skopeo) into a real
// registry (Debian's docker-registry, distribution 2.8), then pulled back the way Istio's and
// Higress's Wasm image fetcher does (istio/istio pkg/wasm/imagefetcher.go, "compat" variant: the
// manifest by tag, its last layer by digest, `plugin.wasm` out of that tar.gz), and the digest the
// gateway compares with the WasmPlugin's `sha256` (the manifest's, cache.go) checked against
// higress/wasmplugin.yaml and envoy/istio-wasmplugin.yaml.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { Service, freePort, requireTool } from "./tools";

const ROOT = path.resolve(__dirname, "../..");
const registry = requireTool("docker-registry", "docker-registry", "registry");
const skopeo = requireTool("skopeo", "skopeo");
const both = registry.path !== null && skopeo.path !== null ? test : registry.path === null ? registry.test : skopeo.test;

interface Packaged {
  build: string;
  wasm: string;
  name: string;
  dir: string;
  tag: string;
  digest: string;
  wasmDigest: string;
  revision: string;
}

const sha256 = (b: Buffer) => "sha256:" + createHash("sha256").update(b).digest("hex");

function runPackage(outDir: string, extra: string[] = []): Packaged[] {
  const r = spawnSync(process.execPath, ["scripts/package.mjs", "--out", outDir, "--json", ...extra], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`scripts/package.mjs failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as Packaged[];
}

/** The file named `want` (by base name, as the fetcher looks) in a tar archive. */
function fileInTar(tar: Buffer, want: string): Buffer | null {
  let at = 0;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return null;
    const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/s, "").trim(), 8);
    const body = tar.subarray(at + 512, at + 512 + size);
    if (path.posix.basename(name) === want) return body;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return null;
}

// What go-containerregistry's remote.Get asks for (the fetcher's client).
const ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(",");

const tmp = mkdtempSync(path.join(os.tmpdir(), "ai-quota-oci-"));
let packaged: Packaged[] = [];
let reg: Service | null = null;
let base = "";

beforeAll(async () => {
  packaged = runPackage(path.join(tmp, "oci"));
  if (registry.path === null || skopeo.path === null) return;
  const port = await freePort();
  const config = path.join(tmp, "registry.yml");
  writeFileSync(config, `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(tmp, "storage")}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  reg = Service.start(registry.path, ["serve", config]);
  await reg.waitFor(new RegExp(`listening on 127\\.0\\.0\\.1:${port}`), 15_000);
  base = `127.0.0.1:${port}`;
}, 30_000);

afterAll(async () => {
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test("the same build packages to the same bytes (the digest a WasmPlugin pins is reproducible)", () => {
  const again = runPackage(path.join(tmp, "again"));
  expect(again.map((p) => p.digest)).toEqual(packaged.map((p) => p.digest));
  for (const p of packaged) {
    const a = readFileSync(path.join(p.dir, "index.json"));
    const b = readFileSync(path.join(tmp, "again", p.name, "index.json"));
    expect(a.equals(b)).toBe(true);
  }
  // ...and a different revision is a different image (the annotation is in the manifest).
  const other = runPackage(path.join(tmp, "other"), ["--revision", "0000000000000000000000000000000000000000"]);
  expect(other[0].digest).not.toBe(packaged[0].digest);
});

test("each layout: one OCI manifest, a tar.gz layer holding plugin.wasm, annotations for version, revision and build", () => {
  const version = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  expect(packaged.map((p) => p.build)).toEqual(["higress", "envoy"]);
  for (const p of packaged) {
    const index = JSON.parse(readFileSync(path.join(p.dir, "index.json"), "utf8"));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe(version);
    const blob = (d: string) => readFileSync(path.join(p.dir, "blobs", "sha256", d.slice(7)));
    const manifestBytes = blob(index.manifests[0].digest);
    expect(sha256(manifestBytes)).toBe(p.digest);
    const manifest = JSON.parse(manifestBytes.toString("utf8"));
    expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(["application/vnd.oci.image.layer.v1.tar+gzip"]);
    expect(manifest.annotations).toMatchObject({
      "org.opencontainers.image.version": version,
      "org.opencontainers.image.revision": p.revision,
      "io.ai-quota.build": p.build,
    });
    expect(p.revision).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
    const wasm = fileInTar(gunzipSync(blob(manifest.layers[0].digest)), "plugin.wasm");
    expect(wasm).not.toBeNull();
    expect(wasm!.equals(readFileSync(path.join(ROOT, p.wasm)))).toBe(true);
  }
});

both("pushed with skopeo into a real registry and pulled back as the fetcher does: the same .wasm bytes and manifest digest", async () => {
  for (const p of packaged) {
    const dest = `docker://${base}/${p.name}:${p.tag}`;
    const push = spawnSync(skopeo.path!, ["copy", "--preserve-digests", "--dest-tls-verify=false", `oci:${p.dir}:${p.tag}`, dest], { encoding: "utf8", timeout: 30_000 });
    expect({ status: push.status, stderr: push.stderr }).toEqual({ status: 0, stderr: "" });

    const res = await fetch(`http://${base}/v2/${p.name}/manifests/${p.tag}`, { headers: { Accept: ACCEPT } });
    expect(res.status).toBe(200);
    const manifestBytes = Buffer.from(await res.arrayBuffer());
    expect(res.headers.get("docker-content-digest")).toBe(p.digest);
    expect(sha256(manifestBytes)).toBe(p.digest);
    const manifest = JSON.parse(manifestBytes.toString("utf8"));
    // Not a Docker schema 2 manifest, so the fetcher reads it as the OCI "compat" variant.
    expect(manifest.mediaType).not.toBe("application/vnd.docker.distribution.manifest.v2+json");
    const layer = manifest.layers[manifest.layers.length - 1];
    expect(layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    const blobRes = await fetch(`http://${base}/v2/${p.name}/blobs/${layer.digest}`);
    expect(blobRes.status).toBe(200);
    const blob = Buffer.from(await blobRes.arrayBuffer());
    expect(sha256(blob)).toBe(layer.digest);
    const wasm = fileInTar(gunzipSync(blob), "plugin.wasm")!;
    expect(sha256(wasm)).toBe(p.wasmDigest);
    expect(wasm.equals(readFileSync(path.join(ROOT, p.wasm)))).toBe(true);
    // What the fetcher's isValidWasmBinary checks before it hands the file to Envoy.
    expect([...wasm.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);
  }
});

test.each([
  ["higress", "higress/wasmplugin.yaml"],
  ["envoy", "envoy/istio-wasmplugin.yaml"],
])("the %s image's digest is the one %s pins (sha256 next to url)", (build, file) => {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  expect(text).toMatch(/^ {2}url: oci:\/\/\S+\n {2}sha256: [0-9a-f]{64}\n/m);
  const pinned = /^ {2}sha256: ([0-9a-f]{64})$/m.exec(text)![1];
  const image = packaged.find((p) => p.build === build)!;
  if (`sha256:${pinned}` !== image.digest) {
    throw new Error(
      `${file} pins sha256:${pinned}, but this source (revision ${image.revision}) packages to ${image.digest}.\n` +
        `The module or its version changed: run \`npm run package -- --pin\` and commit ${file}` +
        (image.revision.endsWith("-dirty") ? " (after committing the module's sources: the revision is -dirty)." : "."),
    );
  }
});
