// Builds tiny wasm binaries by hand for the loader's tests: a module importing whatever the test
// names, exporting memory and (optionally) the ABI version marker. Small counts only (< 128).

type Val = "i32" | "i64";
const VAL: Record<Val, number> = { i32: 0x7f, i64: 0x7e };

export interface ImportSpec {
  module: string;
  name: string;
  params: Val[];
  results: Val[];
}

function str(s: string): number[] {
  return [s.length, ...Buffer.from(s)];
}

function section(id: number, body: number[]): number[] {
  return [id, body.length, ...body];
}

export function buildModule(imports: ImportSpec[], options: { abiVersion?: boolean } = {}): Uint8Array {
  const abi = options.abiVersion ?? true;
  const types = imports.map((i) => [0x60, i.params.length, ...i.params.map((p) => VAL[p]), i.results.length, ...i.results.map((r) => VAL[r])]);
  const markerType = types.length;
  types.push([0x60, 0, 0]);
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  out.push(...section(1, [types.length, ...types.flat()]));
  out.push(...section(2, [imports.length, ...imports.flatMap((imp, i) => [...str(imp.module), ...str(imp.name), 0x00, i])]));
  if (abi) out.push(...section(3, [1, markerType]));
  out.push(...section(5, [1, 0x00, 1]));
  const exports = [[...str("memory"), 0x02, 0]];
  if (abi) exports.push([...str("proxy_abi_version_0_2_1"), 0x00, imports.length]);
  out.push(...section(7, [exports.length, ...exports.flat()]));
  if (abi) out.push(...section(10, [1, 2, 0x00, 0x0b]));
  return Uint8Array.from(out);
}
