// Reads the import and export lists of a wasm binary *with* function signatures. The JS API only
// gives names, and a JS function accepts any arity, so without this a module declaring
// `proxy_log(i32, i64)` would link here yet be refused by Envoy ("import type mismatch").

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";
export type ExternKind = "function" | "table" | "memory" | "global" | "tag";

export interface FuncSig {
  params: ValType[];
  results: ValType[];
}

export interface ModuleImport {
  module: string;
  name: string;
  kind: ExternKind;
  sig?: FuncSig;
}

export interface ModuleExport {
  name: string;
  kind: ExternKind;
  sig?: FuncSig;
}

export interface ModuleShape {
  imports: ModuleImport[];
  exports: ModuleExport[];
}

const VAL_TYPES: Record<number, ValType> = {
  0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref",
};
const KINDS: ExternKind[] = ["function", "table", "memory", "global", "tag"];

/** `(i32, i64) -> i32`, the form used in load errors. */
export function formatSig(sig: FuncSig): string {
  return `(${sig.params.join(", ")}) -> ${sig.results.length === 0 ? "()" : sig.results.join(", ")}`;
}

export function sameSig(a: FuncSig, b: FuncSig): boolean {
  return a.params.join() === b.params.join() && a.results.join() === b.results.join();
}

class Reader {
  constructor(private readonly bytes: Uint8Array, public pos = 0) {}

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  byte(): number {
    if (this.pos >= this.bytes.length) throw new Error("wasm binary: unexpected end");
    return this.bytes[this.pos++];
  }

  /** Unsigned LEB128; values past 2^53 (memory64 limits) lose precision, which is fine here. */
  uleb(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
  }

  name(): string {
    const len = this.uleb();
    const s = Buffer.from(this.bytes.subarray(this.pos, this.pos + len)).toString("utf8");
    this.pos += len;
    return s;
  }

  valType(): ValType {
    const b = this.byte();
    const t = VAL_TYPES[b];
    if (t === undefined) throw new Error(`wasm binary: unsupported value type 0x${b.toString(16)}`);
    return t;
  }

  limits(): void {
    const flags = this.byte();
    this.uleb();
    if (flags & 1) this.uleb();
  }
}

export function inspectWasm(bytes: Uint8Array): ModuleShape {
  const r = new Reader(bytes);
  const magic = [0x00, 0x61, 0x73, 0x6d];
  for (const m of magic) if (r.byte() !== m) throw new Error("not a wasm binary (bad magic)");
  r.pos = 8; // magic + version

  const types: FuncSig[] = [];
  const funcTypes: number[] = []; // type index of every function: imported first, then defined
  const imports: ModuleImport[] = [];
  const rawExports: Array<{ name: string; kind: ExternKind; index: number }> = [];

  while (!r.done) {
    const id = r.byte();
    const size = r.uleb();
    const end = r.pos + size;
    if (id === 1) {
      for (let n = r.uleb(); n > 0; n--) {
        const form = r.byte();
        if (form !== 0x60) throw new Error(`wasm binary: unsupported type form 0x${form.toString(16)}`);
        const params: ValType[] = [];
        for (let p = r.uleb(); p > 0; p--) params.push(r.valType());
        const results: ValType[] = [];
        for (let q = r.uleb(); q > 0; q--) results.push(r.valType());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = r.uleb(); n > 0; n--) {
        const module = r.name();
        const name = r.name();
        const kind = KINDS[r.byte()];
        if (kind === "function") {
          const t = r.uleb();
          funcTypes.push(t);
          imports.push({ module, name, kind, sig: types[t] });
        } else {
          if (kind === "table") { r.byte(); r.limits(); }
          else if (kind === "memory") r.limits();
          else if (kind === "global") { r.valType(); r.byte(); }
          else if (kind === "tag") { r.byte(); r.uleb(); }
          else throw new Error("wasm binary: unknown import kind");
          imports.push({ module, name, kind });
        }
      }
    } else if (id === 3) {
      for (let n = r.uleb(); n > 0; n--) funcTypes.push(r.uleb());
    } else if (id === 7) {
      for (let n = r.uleb(); n > 0; n--) {
        const name = r.name();
        const kind = KINDS[r.byte()];
        rawExports.push({ name, kind, index: r.uleb() });
      }
    }
    r.pos = end;
  }

  const exports = rawExports.map((e): ModuleExport =>
    e.kind === "function" ? { name: e.name, kind: e.kind, sig: types[funcTypes[e.index]] } : { name: e.name, kind: e.kind },
  );
  return { imports, exports };
}
