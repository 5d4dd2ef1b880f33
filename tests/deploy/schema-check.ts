// Checks of the deploy files against the rules the real tools apply: the CRDs' OpenAPI schemas as
// the Kubernetes API server validates them (apiextensions structural schemas; unknown fields are
// refused, as `kubectl apply` does with its default strict field validation), the CEL rules those
// CRDs carry, and the Compose Specification's JSON Schema (draft-07) as docker compose reads it.
// The schemas are in schemas/ (see schemas/README.md for where each comes from).
//
// Each checker knows exactly the keywords its schemas use and throws on any other, so a schema
// update cannot silently weaken a check.
import * as fs from "fs";
import * as path from "path";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

function isObject(v: unknown): v is { [key: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function loadSchema(name: string): Schema {
  return JSON.parse(fs.readFileSync(path.join(__dirname, "schemas", name), "utf8")) as Schema;
}

// ---------------------------------------------------------------------------
// Go's url.ParseRequestURI (src/net/url/url.go: parse with viaRequest, getScheme, parseAuthority,
// parseHost, validOptionalPort, unescape, shouldEscape), which CEL's isURL() and url() run in the
// API server (k8s.io/apiserver/pkg/cel/library/urls.go). Returns the scheme, or null on error.

function isHexDigit(c: string): boolean {
  return /^[0-9a-fA-F]$/.test(c);
}

/** shouldEscape(c, encodeHost) for ASCII c. */
function hostCharNeedsEscape(c: string): boolean {
  if (/^[a-zA-Z0-9]$/.test(c)) return false;
  if ("!$&'()*+,;=:[]<>\"".includes(c)) return false;
  if ("-_.~".includes(c)) return false;
  return true;
}

/** unescape(s, mode): null on a bad %-escape, or (host mode) a character a host may not have. */
function goUnescapeOk(s: string, host: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "%") {
      if (i + 2 >= s.length || !isHexDigit(s[i + 1]) || !isHexDigit(s[i + 2])) return false;
      // Hosts may %-encode only non-ASCII bytes (outside an IPv6 zone, not used here).
      if (host && parseInt(s.slice(i + 1, i + 3), 16) < 0x80) return false;
      i += 2;
    } else if (host && c.charCodeAt(0) < 0x80 && hostCharNeedsEscape(c)) return false;
  }
  return true;
}

function validOptionalPort(port: string): boolean {
  return port === "" || /^:[0-9]*$/.test(port);
}

function goParseHostOk(host: string): boolean {
  if (host.startsWith("[")) {
    const i = host.lastIndexOf("]");
    if (i < 0 || !validOptionalPort(host.slice(i + 1))) return false;
  } else {
    const i = host.lastIndexOf(":");
    if (i >= 0 && !validOptionalPort(host.slice(i))) return false;
  }
  return goUnescapeOk(host, true);
}

export function goParseRequestURIScheme(raw: string): string | null {
  for (let i = 0; i < raw.length; i++) {
    const b = raw.charCodeAt(i);
    if (b < 0x20 || b === 0x7f) return null;
  }
  let scheme = "";
  let rest = raw;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ":") {
      if (i === 0) return null; // missing protocol scheme
      scheme = raw.slice(0, i).toLowerCase();
      rest = raw.slice(i + 1);
    }
    break;
  }
  const q = rest.indexOf("?");
  if (q >= 0) rest = rest.slice(0, q);
  if (!rest.startsWith("/")) {
    if (scheme !== "") return scheme; // opaque
    return null; // invalid URI for request
  }
  if (scheme !== "" && rest.startsWith("//")) {
    let authority = rest.slice(2);
    const slash = authority.indexOf("/");
    rest = slash >= 0 ? authority.slice(slash) : "";
    if (slash >= 0) authority = authority.slice(0, slash);
    const at = authority.lastIndexOf("@");
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) return null;
      if (!goUnescapeOk(userinfo, false)) return null;
    }
    if (!goParseHostOk(authority.slice(at + 1))) return null;
  }
  return goUnescapeOk(rest, false) ? scheme : null;
}

// ---------------------------------------------------------------------------
// CRD OpenAPI v3 schemas.

/** The CEL rules of the CRDs we check, by their exact text; a rule not listed here fails the check. */
const CEL_RULES: Record<string, (self: Json, value: Json) => boolean> = {
  '!self.contains("*")': (self) => typeof self === "string" && !self.includes("*"),
  'self.all(key, !key.contains("*"))': (self) => isObject(self) && Object.keys(self).every((k) => !k.includes("*")),
  "self.all(key, key.size() != 0)": (self) => isObject(self) && Object.keys(self).every((k) => k.length !== 0),
  "self.size() == 0": (self) => (typeof self === "string" || Array.isArray(self) ? self.length === 0 : isObject(self) && Object.keys(self).length === 0),
  '(has(self.valueFrom) ? self.valueFrom : "") != "HOST" || !has(self.value)': (self) => !isObject(self) || self.valueFrom !== "HOST" || !("value" in self),
  "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1": (self) =>
    isObject(self) && ["selector", "targetRef", "targetRefs"].filter((k) => k in self).length <= 1,
  'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "oci", "file"]) : (isURL("http://" + self) &&\nurl("http://" + self).getScheme() in ["", "http", "https", "oci", "file"])': (self) => {
    if (typeof self !== "string") return false;
    const allowed = ["", "http", "https", "oci", "file"];
    const direct = goParseRequestURIScheme(self);
    if (direct !== null) return allowed.includes(direct);
    const prefixed = goParseRequestURIScheme("http://" + self);
    return prefixed !== null && allowed.includes(prefixed);
  },
};

const OPENAPI_KEYWORDS = new Set([
  "type", "properties", "required", "items", "enum", "format", "nullable", "pattern", "minLength", "maxLength",
  "minItems", "maxItems", "maxProperties", "minProperties", "maximum", "minimum", "additionalProperties", "anyOf", "oneOf", "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-validations", "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
]);

function typeOk(type: Json, v: Json): boolean {
  switch (type) {
    case "object": return isObject(v);
    case "array": return Array.isArray(v);
    case "string": return typeof v === "string";
    case "integer": return typeof v === "number" && Number.isInteger(v);
    case "number": return typeof v === "number";
    case "boolean": return typeof v === "boolean";
    default: throw new Error(`schema type ${String(type)} is not known to the checker`);
  }
}

/** What the API server would refuse in `value` under `schema`; [] when nothing. */
export function openApiProblems(schema: Schema, value: Json, at = ""): string[] {
  for (const k of Object.keys(schema)) if (!OPENAPI_KEYWORDS.has(k)) throw new Error(`${at}: schema keyword ${k} is not known to the checker`);
  const out: string[] = [];
  const where = at === "" ? "<root>" : at;
  if (value === null) return schema.nullable === true ? [] : [`${where}: null is not allowed`];
  if (schema["x-kubernetes-int-or-string"] === true) {
    if (!(typeof value === "string" || (typeof value === "number" && Number.isInteger(value)))) out.push(`${where}: must be an integer or a string`);
  } else if (schema.type !== undefined && !typeOk(schema.type, value)) {
    return [`${where}: must be of type ${String(schema.type)}`];
  }
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((s) => isObject(s) && openApiProblems(s, value, at).length === 0)) out.push(`${where}: matches none of anyOf`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${where}: must be one of ${schema.enum.join(", ")}`);
  if (typeof value === "string") {
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value)) out.push(`${where}: must match ${schema.pattern}`);
    const len = [...value].length;
    if (typeof schema.maxLength === "number" && len > schema.maxLength) out.push(`${where}: longer than ${schema.maxLength}`);
    if (typeof schema.minLength === "number" && len < schema.minLength) out.push(`${where}: shorter than ${schema.minLength}`);
  }
  if (typeof value === "number") {
    if (typeof schema.maximum === "number" && value > schema.maximum) out.push(`${where}: above ${schema.maximum}`);
    if (typeof schema.minimum === "number" && value < schema.minimum) out.push(`${where}: below ${schema.minimum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) out.push(`${where}: more than ${schema.maxItems} items`);
    if (typeof schema.minItems === "number" && value.length < schema.minItems) out.push(`${where}: fewer than ${schema.minItems} items`);
    if (isObject(schema.items)) value.forEach((item, i) => out.push(...openApiProblems(schema.items as Schema, item, `${at}[${i}]`)));
  }
  if (isObject(value)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    const count = Object.keys(value).length;
    if (typeof schema.maxProperties === "number" && count > schema.maxProperties) out.push(`${where}: more than ${schema.maxProperties} fields`);
    if (typeof schema.minProperties === "number" && count < schema.minProperties) out.push(`${where}: fewer than ${schema.minProperties} fields`);
    for (const key of Array.isArray(schema.required) ? schema.required : []) {
      if (!(String(key) in value)) out.push(`${where}: ${String(key)} is required`);
    }
    for (const [key, child] of Object.entries(value)) {
      const childAt = at === "" ? key : `${at}.${key}`;
      if (isObject(props[key])) out.push(...openApiProblems(props[key] as Schema, child, childAt));
      else if (isObject(schema.additionalProperties)) out.push(...openApiProblems(schema.additionalProperties, child, childAt));
      else if (schema["x-kubernetes-preserve-unknown-fields"] !== true && schema.additionalProperties !== true) out.push(`${childAt}: unknown field`);
    }
  }
  for (const rule of Array.isArray(schema["x-kubernetes-validations"]) ? schema["x-kubernetes-validations"] : []) {
    if (!isObject(rule) || typeof rule.rule !== "string") continue;
    const check = CEL_RULES[rule.rule];
    if (check === undefined) throw new Error(`${where}: CEL rule not known to the checker: ${rule.rule}`);
    if (!check(value, value)) out.push(`${where}: ${String(rule.message ?? rule.rule)}`);
  }
  return out;
}

interface CrdSet {
  [name: string]: { group: string; kind: string; versions: { [version: string]: Schema } };
}

/**
 * What the API server would refuse in a resource of one of `crds` (apiVersion, kind and the
 * version's schema; metadata is the API server's own and only needs a name). Null when no CRD of
 * the set serves that apiVersion and kind.
 */
export function crdProblems(crds: CrdSet, doc: Json): string[] | null {
  if (!isObject(doc) || typeof doc.apiVersion !== "string") return null;
  const [group, version] = doc.apiVersion.split("/");
  const crd = Object.values(crds).find((c) => c.group === group && c.kind === doc.kind);
  if (crd === undefined) return null;
  const schema = crd.versions[version];
  if (schema === undefined) return [`apiVersion ${doc.apiVersion}: version not served`];
  const out: string[] = [];
  if (!isObject(doc.metadata) || typeof doc.metadata.name !== "string") out.push("metadata.name is required");
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = doc;
  out.push(...openApiProblems(schema, rest));
  return out;
}

// ---------------------------------------------------------------------------
// JSON Schema draft-07, the keywords compose-spec.json uses.

const JSON_SCHEMA_KEYWORDS = new Set([
  "$schema", "$id", "$ref", "title", "description", "default", "deprecated", "definitions", "type", "properties",
  "patternProperties", "additionalProperties", "required", "items", "oneOf", "anyOf", "enum", "uniqueItems", "minimum",
  "maximum", "pattern", "minItems", "maxItems",
]);

function jsonTypeOk(type: string, v: Json): boolean {
  switch (type) {
    case "null": return v === null;
    case "object": return isObject(v);
    case "array": return Array.isArray(v);
    case "string": return typeof v === "string";
    case "integer": return typeof v === "number" && Number.isInteger(v);
    case "number": return typeof v === "number";
    case "boolean": return typeof v === "boolean";
    default: throw new Error(`JSON Schema type ${type} is not known to the checker`);
  }
}

/** Problems with `value` under a JSON Schema (draft-07 subset), resolving "#/definitions/…" in `root`. */
export function jsonSchemaProblems(root: Schema, schema: Json, value: Json, at = ""): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${at || "<root>"}: not allowed`];
  if (!isObject(schema)) throw new Error(`${at}: not a schema`);
  for (const k of Object.keys(schema)) if (!JSON_SCHEMA_KEYWORDS.has(k)) throw new Error(`${at}: JSON Schema keyword ${k} is not known to the checker`);
  const where = at === "" ? "<root>" : at;
  const out: string[] = [];
  if (typeof schema.$ref === "string") {
    const m = /^#\/definitions\/(.+)$/.exec(schema.$ref);
    if (m === null || !isObject(root.definitions) || root.definitions[m[1]] === undefined) throw new Error(`${at}: cannot resolve ${schema.$ref}`);
    out.push(...jsonSchemaProblems(root, root.definitions[m[1]], value, at));
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type.map(String) : [String(schema.type)];
    if (!types.some((t) => jsonTypeOk(t, value))) return [...out, `${where}: must be ${types.join(" or ")}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) out.push(`${where}: must be one of ${JSON.stringify(schema.enum)}`);
  if (Array.isArray(schema.oneOf)) {
    const passing = schema.oneOf.filter((s) => jsonSchemaProblems(root, s, value, at).length === 0).length;
    if (passing !== 1) out.push(`${where}: matches ${passing} of oneOf (exactly one needed)`);
  }
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((s) => jsonSchemaProblems(root, s, value, at).length === 0)) out.push(`${where}: matches none of anyOf`);
  if (typeof value === "string" && typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) out.push(`${where}: must match ${schema.pattern}`);
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) out.push(`${where}: below ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) out.push(`${where}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.items !== undefined) {
      if (Array.isArray(schema.items)) throw new Error(`${at}: tuple items are not known to the checker`);
      value.forEach((item, i) => out.push(...jsonSchemaProblems(root, schema.items as Json, item, `${at}[${i}]`)));
    }
    if (schema.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) out.push(`${where}: items must be unique`);
    if (typeof schema.minItems === "number" && value.length < schema.minItems) out.push(`${where}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === "number" && value.length > schema.maxItems) out.push(`${where}: more than ${schema.maxItems} items`);
  }
  if (isObject(value)) {
    for (const key of Array.isArray(schema.required) ? schema.required : []) {
      if (!(String(key) in value)) out.push(`${where}: ${String(key)} is required`);
    }
    const props = isObject(schema.properties) ? schema.properties : {};
    const patterns = isObject(schema.patternProperties) ? Object.entries(schema.patternProperties) : [];
    for (const [key, child] of Object.entries(value)) {
      const childAt = at === "" ? key : `${at}.${key}`;
      let matched = false;
      if (key in props) {
        matched = true;
        out.push(...jsonSchemaProblems(root, props[key], child, childAt));
      }
      for (const [pattern, sub] of patterns) {
        if (new RegExp(pattern, "u").test(key)) {
          matched = true;
          out.push(...jsonSchemaProblems(root, sub, child, childAt));
        }
      }
      if (!matched && schema.additionalProperties !== undefined) out.push(...jsonSchemaProblems(root, schema.additionalProperties, child, childAt));
    }
  }
  return out;
}
