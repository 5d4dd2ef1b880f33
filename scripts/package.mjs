// `npm run package`: an OCI image layout per build, in the form Istio's and Higress's Wasm image
// fetcher (istio/istio pkg/wasm/imagefetcher.go) reads as the "compat" variant: an OCI image
// manifest, an OCI image config, and ONE layer `application/vnd.oci.image.layer.v1.tar+gzip`
// holding `plugin.wasm` (the fetcher takes the last layer and looks for that file name). This is
// the variant the fetcher tries first for an OCI manifest, and the one Higress's own plugin images
// use; its "oci artifact" variant (`application/vnd.module.wasm.content.layer.v1+wasm`) must have
// exactly two layers there, which we have no second file for.
//
//   build/oci/ai-quota        build/ai-quota.wasm        (Higress, tag <version>)
//   build/oci/ai-quota-envoy  build/ai-quota-envoy.wasm  (plain Envoy / Istio, tag <version>)
//
// Reproducible: the same .wasm, version and revision give the same bytes, so the same manifest
// digest (the one a WasmPlugin pins): the tar entry has fixed mode, owner and mtime 0, gzip has no
// name and mtime 0, JSON is written with sorted keys, and nothing records the time of the build.
//
// `--pin` also writes each image's manifest digest into its WasmPlugin (higress/wasmplugin.yaml,
// envoy/istio-wasmplugin.yaml: `sha256:` next to `url:`), which tests/deploy/oci.test.ts checks.
// `--out DIR` writes the layouts under DIR instead of build/oci; `--revision R` overrides the
// source revision read from git; `--json` prints what was written as JSON.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const MEDIA = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
};

export const BUILDS = [
  { build: "higress", wasm: "build/ai-quota.wasm", name: "ai-quota" },
  { build: "envoy", wasm: "build/ai-quota-envoy.wasm", name: "ai-quota-envoy" },
];

/** What the .wasm is made of: the revision names the last commit that changed one of these. */
const SOURCES = ["assembly", "asconfig.json", "scripts/build.mjs", "scripts/asc-transform.mjs", "package.json", "package-lock.json"];

/** The WasmPlugin that pins each build's image by its digest (`--pin` writes them). */
export const PINNED = { higress: "higress/wasmplugin.yaml", envoy: "envoy/istio-wasmplugin.yaml" };

function git(args) {
  const r = spawnSync("git", args, { cwd: ROOT, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * The source revision: the last commit that changed what the module is built from (not HEAD, so
 * that committing a new pin does not change the digest it pins), with "-dirty" when those files
 * differ from it in the work tree. A shallow clone cannot tell, so it is refused.
 */
export function sourceRevision() {
  if (git(["rev-parse", "--is-shallow-repository"]) === "true") throw new Error("shallow git clone: the source revision is unknown (fetch the history or pass --revision)");
  const rev = git(["log", "-1", "--format=%H", "--", ...SOURCES]);
  if (!rev) throw new Error("no git revision for the sources (not a git work tree?): pass --revision");
  const dirty = git(["status", "--porcelain", "--", ...SOURCES]);
  return dirty ? `${rev}-dirty` : rev;
}

/** JSON with object keys sorted at every level, no spaces: one byte string per value. */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function sha256(bytes) {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

function octal(n, width) {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** A POSIX ustar archive with one regular file: owner 0:0, mode 0644, mtime 0. */
export function tarOneFile(name, data) {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write(octal(0o644, 8), 100, "ascii");
  header.write(octal(0, 8), 108, "ascii");
  header.write(octal(0, 8), 116, "ascii");
  header.write(octal(data.length, 12), 124, "ascii");
  header.write(octal(0, 12), 136, "ascii");
  header.fill(" ", 148, 156); // the checksum counts its own field as spaces
  header.write("0", 156, "ascii");
  header.write("ustar\0", 257, "ascii");
  header.write("00", 263, "ascii");
  let sum = 0;
  for (const b of header) sum += b;
  header.write(octal(sum, 7) + " ", 148, "ascii");
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad, Buffer.alloc(1024)]);
}

/** The image's blobs and manifest for one module. */
export function imageFor(wasm, annotations) {
  const tar = tarOneFile("plugin.wasm", wasm);
  // gzip's header from zlib carries no file name and mtime 0; level fixed so the bytes are too.
  const layer = gzipSync(tar, { level: 9 });
  const config = Buffer.from(canonicalJson({ architecture: "wasm", os: "unknown", rootfs: { type: "layers", diff_ids: [sha256(tar)] } }));
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MEDIA.layer, digest: sha256(layer), size: layer.length }],
      annotations,
    }),
  );
  return { layer, config, manifest, digest: sha256(manifest) };
}

/** Writes one OCI image layout (oci-layout, index.json, blobs/sha256/*) with the image under `tag`. */
export function writeLayout(dir, image, tag) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  for (const blob of [image.layer, image.config, image.manifest]) writeFileSync(join(dir, "blobs", "sha256", sha256(blob).slice(7)), blob);
  writeFileSync(join(dir, "oci-layout"), canonicalJson({ imageLayoutVersion: "1.0.0" }));
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{ mediaType: MEDIA.manifest, digest: image.digest, size: image.manifest.length, annotations: { "org.opencontainers.image.ref.name": tag } }],
  };
  writeFileSync(join(dir, "index.json"), canonicalJson(index));
}

/** Packages every build; returns what was written. */
export function packageAll({ outDir = join(ROOT, "build", "oci"), revision = sourceRevision() } = {}) {
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
  const results = [];
  for (const b of BUILDS) {
    const file = join(ROOT, b.wasm);
    if (!existsSync(file)) throw new Error(`${b.wasm} is missing: run npm run build first`);
    const wasm = readFileSync(file);
    const image = imageFor(wasm, {
      "org.opencontainers.image.title": b.name,
      "org.opencontainers.image.version": version,
      "org.opencontainers.image.revision": revision,
      "io.ai-quota.build": b.build,
      "module.wasm.image/variant": "compat",
    });
    const dir = join(outDir, b.name);
    writeLayout(dir, image, version);
    results.push({ ...b, dir, tag: version, digest: image.digest, wasmDigest: sha256(wasm), revision });
  }
  return results;
}

const PIN_LINE = /^(\s*)sha256:.*$/m;

/** The digest higress/wasmplugin.yaml pins (hex, as the WasmPlugin's `sha256` field takes it). */
export function pinnedDigest(text) {
  const m = /^\s*sha256:\s*"?([0-9a-f]{64})"?\s*$/m.exec(text);
  return m ? m[1] : null;
}

/** Writes `digest` into the WasmPlugin's `sha256:` line (placed after `url:` when absent). */
export function pin(text, digest) {
  const hex = digest.replace(/^sha256:/, "");
  if (PIN_LINE.test(text)) return text.replace(PIN_LINE, (_all, indent) => `${indent}sha256: ${hex}`);
  return text.replace(/^(\s*)url: .*$/m, (line, indent) => `${line}\n${indent}sha256: ${hex}`);
}

function main(argv) {
  const arg = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const out = arg("--out");
  const revision = arg("--revision");
  const results = packageAll({ ...(out ? { outDir: resolve(out) } : {}), ...(revision ? { revision } : {}) });
  if (argv.includes("--json")) console.log(JSON.stringify(results));
  else for (const r of results) {
    console.log(`${r.build}: ${relative(process.cwd(), r.dir) || "."} (oci layout, tag ${r.tag})`);
    console.log(`  image digest ${r.digest}  (plugin.wasm ${r.wasmDigest}, revision ${r.revision})`);
  }
  if (argv.includes("--pin")) {
    for (const r of results) {
      const file = join(ROOT, PINNED[r.build]);
      writeFileSync(file, pin(readFileSync(file, "utf8"), r.digest));
      console.log(`${PINNED[r.build]}: sha256 ${r.digest.slice(7)}`);
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`npm run package: ${err.message}`);
    process.exit(1);
  }
}
