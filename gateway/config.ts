// The gateway's configuration file (YAML):
//   consumers: [{name, credential}]   key-auth consumers (Authorization: Bearer <credential>)
//   auth: true | false                run the key-auth stage (default true)
//   plugin: {...}                     the ai-quota config, exactly as in a Higress WasmPlugin
//   upstream: mock | <http(s) URL>    where allowed requests go (default mock)
// Every problem is a ConfigError naming the file and the field.
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { ConfigError, firstLine } from "./errors";

export interface Consumer {
  name: string;
  credential: string;
}

export type Upstream = { kind: "mock" } | { kind: "url"; url: URL };

export interface GatewayConfig {
  consumers: Consumer[];
  auth: boolean;
  /** The plugin config, passed to the plugin as JSON. */
  plugin: Record<string, unknown>;
  upstream: Upstream;
}

const KEYS = ["consumers", "auth", "plugin", "upstream"];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

// A header value the consumer name travels in: printable, no control characters.
const HEADER_SAFE = /^[^\x00-\x1f\x7f]+$/;
// A bearer token: no whitespace or control characters (it could never be sent).
const TOKEN_SAFE = /^[^\s\x00-\x1f\x7f]+$/;

function parseConsumers(v: unknown, fail: (msg: string) => never): Consumer[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(`consumers must be a list of {name, credential}, got ${describe(v)}`);
  const seen = new Map<string, string>();
  return v.map((item, i) => {
    const at = `consumers[${i}]`;
    if (!isObject(item)) fail(`${at} must be a mapping with name and credential, got ${describe(item)}`);
    for (const k of Object.keys(item)) if (k !== "name" && k !== "credential") fail(`${at} has an unknown key "${k}" (expected name, credential)`);
    const { name, credential } = item;
    if (typeof name !== "string" || name === "") fail(`${at}.name must be a non-empty string, got ${describe(name)}`);
    if (!HEADER_SAFE.test(name)) fail(`${at}.name must not contain control characters`);
    if (typeof credential !== "string" || credential === "") fail(`${at}.credential must be a non-empty string, got ${describe(credential)}`);
    if (!TOKEN_SAFE.test(credential)) fail(`${at}.credential must not contain whitespace or control characters`);
    const other = seen.get(credential);
    if (other !== undefined) fail(`${at}.credential duplicates the credential of ${other}`);
    seen.set(credential, at);
    return { name, credential };
  });
}

function parseUpstream(v: unknown, fail: (msg: string) => never): Upstream {
  if (v === undefined || v === null || v === "mock") return { kind: "mock" };
  if (typeof v !== "string") fail(`upstream must be "mock" or an http(s) URL, got ${describe(v)}`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    fail(`upstream must be "mock" or an http(s) URL, got "${v}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(`upstream URL must be http or https, got "${v}"`);
  if (url.search !== "" || url.hash !== "") fail(`upstream URL must not have a query or fragment, got "${v}"`);
  return { kind: "url", url };
}

/** Validates an already parsed document; `file` only names it in messages. */
export function validateConfig(doc: unknown, file: string): GatewayConfig {
  const fail: (msg: string) => never = (msg) => {
    throw new ConfigError(`${file}: ${msg}`);
  };
  if (doc === null || doc === undefined) fail("the file is empty (expected a mapping with plugin, consumers, upstream)");
  if (!isObject(doc)) fail(`the file must hold a mapping (plugin, consumers, auth, upstream), got ${describe(doc)}`);
  const root = doc as Record<string, unknown>;
  for (const k of Object.keys(root)) if (!KEYS.includes(k)) fail(`unknown key "${k}" (expected ${KEYS.join(", ")})`);

  const auth = root.auth ?? true;
  if (typeof auth !== "boolean") fail(`auth must be true or false, got ${describe(root.auth)}`);
  const consumers = parseConsumers(root.consumers, fail);
  if (auth && consumers.length === 0) fail("consumers must list at least one {name, credential} when auth is on");
  if (root.plugin === undefined || root.plugin === null) fail("plugin is required (the ai-quota config, as in a Higress WasmPlugin)");
  if (!isObject(root.plugin)) fail(`plugin must be a mapping (the ai-quota config), got ${describe(root.plugin)}`);
  return { consumers, auth: auth as boolean, plugin: root.plugin as Record<string, unknown>, upstream: parseUpstream(root.upstream, fail) };
}

export function parseConfigText(text: string, file: string): GatewayConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) throw new ConfigError(`${file}: not valid YAML: ${firstLine(doc.errors[0])}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${firstLine(err)}`);
  }
  return validateConfig(value, file);
}

export function loadConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : firstLine(err);
    throw new ConfigError(`${file}: cannot read the config file: ${why}`);
  }
  return parseConfigText(text, file);
}
