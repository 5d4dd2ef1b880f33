// Builds tiny wasm binaries by hand for the loader's tests: a module importing whatever the test
// names, exporting memory and (optionally) ABI version markers and empty callbacks. Small counts
// only (< 128). Also rewrites a compiled module's export names (renameExport), so a test can run
// the probe plugin as a module declaring another ABI.

type Val = "i32" | "i64";
const VAL: Record<Val, number> = { i32: 0x7f, i64: 0x7e };

export interface ImportSpec {
  module: string;
  name: string;
  params: Val[];
  results: Val[];
}

export interface ModuleOptions {
  /** Export proxy_abi_version_0_2_1 (default true); ignored when `abiVersions` is given. */
  abiVersion?: boolean;
  /** ABI marker suffixes to export, in this order (e.g. ["0_2_100", "0_2_1"]). */
  abiVersions?: string[];
  /** proxy_on_* callbacks to export, each answering the given constant (headers/body callbacks: 3 params, 1 result). */
  callbacks?: Record<string, number>;
}

function str(s: string): number[] {
  return [...uleb(Buffer.byteLength(s)), ...Buffer.from(s)];
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export function buildModule(imports: ImportSpec[], options: ModuleOptions = {}): Uint8Array {
  const markers = options.abiVersions ?? ((options.abiVersion ?? true) ? ["0_2_1"] : []);
  const callbacks = Object.entries(options.callbacks ?? {});
  const types = imports.map((i) => [0x60, i.params.length, ...i.params.map((p) => VAL[p]), i.results.length, ...i.results.map((r) => VAL[r])]);
  const markerType = types.length;
  types.push([0x60, 0, 0]);
  const callbackType = types.length;
  types.push([0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7f]);
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  out.push(...section(1, [...uleb(types.length), ...types.flat()]));
  out.push(...section(2, [...uleb(imports.length), ...imports.flatMap((imp, i) => [...str(imp.module), ...str(imp.name), 0x00, ...uleb(i)])]));
  // Functions: one empty body shared by the markers, then one per callback.
  const functions = [...(markers.length > 0 ? [markerType] : []), ...callbacks.map(() => callbackType)];
  if (functions.length > 0) out.push(...section(3, [...uleb(functions.length), ...functions]));
  out.push(...section(5, [1, 0x00, 1]));
  const exports = [[...str("memory"), 0x02, 0]];
  for (const m of markers) exports.push([...str(`proxy_abi_version_${m}`), 0x00, ...uleb(imports.length)]);
  callbacks.forEach(([name], i) => exports.push([...str(name), 0x00, ...uleb(imports.length + (markers.length > 0 ? 1 : 0) + i)]));
  out.push(...section(7, [...uleb(exports.length), ...exports.flat()]));
  const bodies: number[][] = [];
  if (markers.length > 0) bodies.push([0, 0x0b]);
  for (const [, answer] of callbacks) bodies.push([0, 0x41, ...sleb(answer), 0x0b]);
  if (bodies.length > 0) out.push(...section(10, [...uleb(bodies.length), ...bodies.flatMap((b) => [...uleb(b.length), ...b])]));
  return Uint8Array.from(out);
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** The same module with export `from` renamed to `to` (the export section re-encoded; nothing else moves). */
export function renameExport(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const b = Buffer.from(bytes);
  let pos = 8;
  const readUleb = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = b[pos++];
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
  };
  const parts: Buffer[] = [b.subarray(0, 8)];
  let renamed = false;
  while (pos < b.length) {
    const start = pos;
    const id = b[pos++];
    const size = readUleb();
    const bodyStart = pos;
    const end = bodyStart + size;
    if (id !== 7) {
      parts.push(b.subarray(start, end));
      pos = end;
      continue;
    }
    const count = readUleb();
    const entries: number[] = [...uleb(count)];
    for (let i = 0; i < count; i++) {
      const len = readUleb();
      const name = b.subarray(pos, pos + len).toString("utf8");
      pos += len;
      const kind = b[pos++];
      const index = readUleb();
      if (name === from) renamed = true;
      entries.push(...str(name === from ? to : name), kind, ...uleb(index));
    }
    parts.push(Buffer.from(section(7, entries)));
    pos = end;
  }
  if (!renamed) throw new Error(`renameExport: the module has no export named ${from}`);
  return Buffer.concat(parts);
}
