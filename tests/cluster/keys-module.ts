// Loads build/test/keys.wasm (from assembly/testing/keys.ts): the plugin's key layout, hash tags
// and scripts, for the key tests. Also Redis Cluster's slot rule, written here independently.
import * as fc from "fast-check";
import { loadParsers } from "../unit/parsers_module";

export interface DerivedKeys {
  balance: string;
  window: string;
  marker: string;
  usageDay: string;
  usageMonth: string;
}

export interface KeysModule {
  crc16(bytes: Buffer): number;
  slot(key: string): number;
  tagForSlot(slot: number): string;
  keys(prefix: string, name: string, anonymous: boolean): DerivedKeys;
  prefixProblem(prefix: string): string;
  script(n: number): string;
  scriptSha(n: number): string;
  logs: string[];
}

export function loadKeys(): KeysModule {
  const m = loadParsers("keys");
  const out = (len: number): string => m.output(len).toString("utf8");
  const write = (b: Buffer): number => m.write(b);
  const ex = m.exports;
  return {
    logs: m.logs,
    crc16: (bytes) => ex.run_crc16(write(bytes)) >>> 0,
    slot: (key) => ex.run_slot(write(Buffer.from(key, "utf8"))),
    tagForSlot: (slot) => out(ex.tag_for_slot(slot)),
    keys: (prefix, name, anonymous) => JSON.parse(out(ex.run_keys(write(Buffer.from(prefix + "\0" + name, "utf8")), anonymous ? 1 : 0))),
    prefixProblem: (prefix) => out(ex.run_prefix_problem(write(Buffer.from(prefix, "utf8")))),
    script: (n) => out(ex.script(n, 0)),
    scriptSha: (n) => out(ex.script(n, 1)),
  };
}

/** CRC16-XMODEM, bit by bit (Redis cluster spec, appendix: polynomial 0x1021, initial 0). */
export function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Redis Cluster's slot of a key: the first `{…}` with something inside, else the whole key. */
export function redisSlot(key: string | Buffer): number {
  const b = Buffer.isBuffer(key) ? key : Buffer.from(key, "utf8");
  const open = b.indexOf(0x7b);
  if (open >= 0) {
    const close = b.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(b.subarray(open + 1, close)) & 16383;
  }
  return crc16(b) & 16383;
}

/** Names as auth plugins and clients write them: braces, colons, digits, UTF-8, lone surrogates. */
export const nameArb = fc.string({
  unit: fc.oneof(
    fc.constantFrom("{", "}", ":", "a", "b", "1", " ", "anonymous:", "ai_quota_state:", "\u00e9", "\u{1F600}", "\ud800"),
    fc.string({ minLength: 1, maxLength: 3 }),
  ),
  minLength: 1,
  maxLength: 12,
});

/** Prefixes the plugin accepts (none overlapping its own namespaces). */
export const prefixArb = fc.oneof(
  fc.constantFrom("chat_quota:", "{quota}:", "q{", "}", "x}y:", "{}", "{a}{b}:", "team{a}:", "\u00e9:"),
  fc.string({ unit: fc.constantFrom("{", "}", ":", "q", "_"), minLength: 1, maxLength: 6 }),
).filter((p) => p.length > 0 && !"ai_quota_state:".startsWith(p) && !"ai_quota_settled:".startsWith(p) && !p.startsWith("ai_quota_state:") && !p.startsWith("ai_quota_settled:"));

/** Consumer names the plugin accepts in x-mse-consumer (see identity.ts): no control bytes, commas or invalid UTF-8. */
export const consumerArb = nameArb.filter((n) =>
  n.trim() === n && Buffer.byteLength(n) <= 256 && !/[\u0000-\u001f\u007f,\ufffd]/.test(n) && Buffer.from(n, "utf8").toString("utf8") === n);
