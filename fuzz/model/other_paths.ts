// The default `other_paths.allow` list, as the contract states it (README, docs/metering.md "Other
// paths on a metered route"), written from that text, not from the plugin's code: which requests to
// a path the plugin does not meter pass untouched; every other one is refused by default.

/** [methods, the path's last segments] of each default entry; "*" one segment, "*x" one that ends with x. */
const DEFAULT_ALLOW: Array<[string[], string[]]> = [
  ...["/models", "/models/*", "/api/tags", "/api/version", "/api/ps", "/health", "/healthz", "/ready", "/readyz", "/livez", "/ping", "/version", "/info"]
    .map((p): [string[], string[]] => [["GET", "HEAD"], p.slice(1).split("/")]),
  [["POST"], ["v1", "messages", "count_tokens"]],
  [["POST"], ["models", "*:counttokens"]],
];

/** Whether a request with this method and `:path` (as the bytes the plugin receives) passes the default allow list. */
export function allowedByDefault(method: string, path: Buffer): boolean {
  let end = path.length;
  const q = path.findIndex((b) => b === 0x3f || b === 0x23);
  if (q >= 0) end = q;
  let p = path.subarray(0, end);
  if (p.length > 1 && p[p.length - 1] === 0x2f) p = p.subarray(0, p.length - 1);
  if (p.length < 2 || p[0] !== 0x2f) return false;
  // Only a plain path: printable ASCII without % \ ; and no empty or dot-led segments.
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c <= 0x20 || c >= 0x7f || c === 0x25 || c === 0x5c || c === 0x3b) return false;
    if (i > 0 && p[i - 1] === 0x2f && (c === 0x2f || c === 0x2e)) return false;
  }
  const segments = p.toString("latin1").slice(1).toLowerCase().split("/");
  return DEFAULT_ALLOW.some(([methods, want]) => methods.includes(method) && lastSegmentsMatch(segments, want));
}

function lastSegmentsMatch(segments: string[], want: string[]): boolean {
  if (want.length > segments.length) return false;
  const tail = segments.slice(segments.length - want.length);
  return want.every((w, i) => {
    const s = tail[i];
    if (w === "*") return s.length > 0;
    if (w.startsWith("*")) return s.length > w.length - 1 && s.endsWith(w.slice(1));
    return s === w;
  });
}
