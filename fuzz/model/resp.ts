// A reference RESP2 reply decoder with the plugin's documented limits (assembly/redis/resp.ts
// header comment): exactly one complete reply, lengths checked, -1 is the only negative length,
// arrays nested at most maxDepth deep (a top-level array is depth 1), at most maxElements values
// in all, no RESP3 types, no trailing bytes. Written from RESP's specification, recursively.
import { atoiBytes, decodeUtf8 } from "./text";

export type RefValue =
  | { type: "simple"; text: string }
  | { type: "error"; text: string }
  | { type: "integer"; value: bigint }
  | { type: "bulk"; text: string }
  | { type: "array"; items: RefValue[] }
  | { type: "null" };

export type RefResult = { ok: true; value: RefValue } | { ok: false; why: string };

class Fail extends Error {}

export function refDecode(b: Uint8Array, maxDepth = 8, maxElements = 4096): RefResult {
  let pos = 0;
  let elements = 0;
  const line = (): Uint8Array => {
    // Up to CR LF; a lone LF or a CR without LF is malformed.
    for (let p = pos; p < b.length; p++) {
      if (b[p] === 0x0a) throw new Fail("bare LF");
      if (b[p] === 0x0d) {
        if (p + 1 >= b.length) throw new Fail("truncated");
        if (b[p + 1] !== 0x0a) throw new Fail("CR without LF");
        const out = b.subarray(pos, p);
        pos = p + 2;
        return out;
      }
    }
    throw new Fail("truncated");
  };
  const int = (): bigint => {
    const v = atoiBytes(line());
    if (v === null) throw new Fail("bad integer");
    return v;
  };
  const value = (depth: number): RefValue => {
    if (pos >= b.length) throw new Fail("truncated");
    if (elements >= maxElements) throw new Fail("too many elements");
    elements++;
    const t = b[pos++];
    switch (t) {
      case 0x2b: return { type: "simple", text: decodeUtf8(line()) };
      case 0x2d: return { type: "error", text: decodeUtf8(line()) };
      case 0x3a: return { type: "integer", value: int() };
      case 0x24: {
        const n = int();
        if (n === -1n) return { type: "null" };
        if (n < 0n) throw new Fail("negative length");
        if (BigInt(b.length - pos) < n + 2n) throw new Fail("truncated bulk");
        const end = pos + Number(n);
        if (b[end] !== 0x0d || b[end + 1] !== 0x0a) throw new Fail("bulk length mismatch");
        const text = decodeUtf8(b.subarray(pos, end));
        pos = end + 2;
        return { type: "bulk", text };
      }
      case 0x2a: {
        const n = int();
        if (n === -1n) return { type: "null" };
        if (n < 0n) throw new Fail("negative length");
        if (depth >= maxDepth) throw new Fail("too deep");
        if (n > BigInt(Math.floor((b.length - pos) / 3))) throw new Fail("truncated array");
        if (n > BigInt(maxElements - elements)) throw new Fail("too many elements");
        const items: RefValue[] = [];
        for (let i = 0n; i < n; i++) items.push(value(depth + 1));
        return { type: "array", items };
      }
      default:
        throw new Fail(`type byte 0x${t.toString(16)}`);
    }
  };
  try {
    const v = value(0);
    if (pos !== b.length) return { ok: false, why: "trailing bytes" };
    return { ok: true, value: v };
  } catch (err) {
    if (err instanceof Fail) return { ok: false, why: err.message };
    throw err;
  }
}
