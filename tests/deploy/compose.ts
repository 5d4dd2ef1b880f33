// Reading docker-compose.yml for the deploy tests.

import { isObject, Json, JsonObject, readYamlDocuments } from "./plugin-configs";

export const COMPOSE_FILE = "docker-compose.yml";

export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
  /** Long syntax `bind.create_host_path`; the short syntax always creates a missing source. */
  createHostPath: boolean;
  longSyntax: boolean;
}

export function composeFile(): JsonObject {
  const docs = readYamlDocuments(COMPOSE_FILE);
  if (docs.length !== 1 || !isObject(docs[0])) throw new Error(`${COMPOSE_FILE}: expected one mapping`);
  return docs[0];
}

export function composeServices(): Record<string, JsonObject> {
  const services = composeFile().services;
  if (!isObject(services)) throw new Error(`${COMPOSE_FILE}: no services`);
  const out: Record<string, JsonObject> = {};
  for (const [name, svc] of Object.entries(services)) {
    if (!isObject(svc)) throw new Error(`${COMPOSE_FILE}: service ${name} is not a mapping`);
    out[name] = svc;
  }
  return out;
}

/** Volumes of a service, short ("src:dst[:mode]") or long syntax. */
export function serviceVolumes(svc: JsonObject): BindMount[] {
  const volumes: Json | undefined = svc.volumes;
  if (volumes === undefined) return [];
  if (!Array.isArray(volumes)) throw new Error("volumes is not a list");
  return volumes.map((v): BindMount => {
    if (typeof v === "string") {
      const parts = v.split(":");
      if (parts.length < 2 || parts.length > 3) throw new Error(`cannot read volume "${v}"`);
      const mode = parts[2] ?? "rw";
      return { source: parts[0], target: parts[1], readOnly: mode.split(",").includes("ro"), createHostPath: true, longSyntax: false };
    }
    if (isObject(v) && typeof v.source === "string" && typeof v.target === "string") {
      const bind = isObject(v.bind) ? v.bind : {};
      return { source: v.source, target: v.target, readOnly: v.read_only === true, createHostPath: bind.create_host_path !== false, longSyntax: true };
    }
    throw new Error(`cannot read volume ${JSON.stringify(v)}`);
  });
}

/** Bind mounts only: sources that are paths (named volumes have bare names). */
export function bindMounts(svc: JsonObject): BindMount[] {
  return serviceVolumes(svc).filter((m) => m.source.startsWith(".") || m.source.startsWith("/"));
}

/** Host-side view of the published ports: container port -> host port (short syntax). */
export function publishedPorts(svc: JsonObject): Map<number, number> {
  const out = new Map<number, number>();
  const ports: Json | undefined = svc.ports;
  if (ports === undefined) return out;
  if (!Array.isArray(ports)) throw new Error("ports is not a list");
  for (const p of ports) {
    const text = String(p).replace(/\/(tcp|udp)$/, "");
    const parts = text.split(":");
    const container = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : container;
    if (!Number.isInteger(container) || !Number.isInteger(host)) throw new Error(`cannot read port "${String(p)}"`);
    out.set(container, host);
  }
  return out;
}

/** The aliases a service has on the default network (long-syntax `networks`). */
export function networkAliases(svc: JsonObject): string[] {
  const networks = svc.networks;
  if (!isObject(networks) || !isObject(networks.default) || !Array.isArray(networks.default.aliases)) return [];
  return networks.default.aliases.map(String);
}
