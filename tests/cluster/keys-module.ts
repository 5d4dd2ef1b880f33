// Loads build/test/keys.wasm (from assembly/testing/keys.ts): the plugin's key layout, hash tags
// and scripts, for the key tests. Also Redis Cluster's slot rule, written here independently.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const WASM = join(__dirname, "..", "..", "build", "test", "keys.wasm");
const WA = (globalThis as any).WebAssembly;

export interface DerivedKeys {
  balance: string;
  window: string;
  marker: string;
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
  const logs: string[] = [];
  let memory: { buffer: ArrayBuffer } | null = null;
  const env = {
    proxy_log(level: number, ptr: number, size: number): number {
      logs.push(`[${level}] ${Buffer.from(new Uint8Array(memory!.buffer, ptr, size)).toString("utf8")}`);
      return 0;
    },
  };
  const instance = new WA.Instance(new WA.Module(readFileSync(WASM)), { env });
  const ex = instance.exports as Record<string, any>;
  memory = ex.memory;
  if (typeof ex._initialize === "function") ex._initialize();
  const write = (bytes: Buffer): number => {
    const ptr = ex.input_alloc(bytes.length) >>> 0;
    new Uint8Array(memory!.buffer, ptr, bytes.length).set(bytes);
    return bytes.length;
  };
  const out = (len: number): string => Buffer.from(new Uint8Array(memory!.buffer, ex.output_ptr() >>> 0, len >>> 0)).toString("utf8");
  return {
    logs,
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
