// Makes a counting variant of a module for the bench (never shipped): the same code, plus three
// exported i64 counters the bench reads before and after each request.
//
//   __bench_allocations   managed objects allocated: calls of the runtime's __new (tcms or itcms)
//   __bench_reallocations managed objects resized: calls of __renew (arrays growing, strings built)
//   __bench_ops           wasm operations executed: Binaryen IR nodes, counted per straight-line
//                         region (a block, a loop body, an if arm) on entry to it. A region left by
//                         a branch still counts whole, and memory.copy/fill count 1 whatever their
//                         length: a deterministic measure of the module's own work, host calls
//                         excluded (each call to an import counts 1).
//
// The input must carry a name section (asc --debug) to find the runtime's functions; the output
// drops it. With --profile, every function also gets an exported counter `prof:<name>` of the
// operations run in its own body (bench/profile.ts prints them).
// Usage: node scripts/counting-build.mjs [--profile] in.wasm out.wasm
import { readFileSync, writeFileSync } from "node:fs";
import binaryen from "binaryen";

const ALLOC = ["~lib/rt/tcms/__new", "~lib/rt/itcms/__new"];
const REALLOC = ["~lib/rt/tcms/__renew", "~lib/rt/itcms/__renew"];

export function countingModule(bytes, profile = false) {
  const m = binaryen.readBinary(bytes);
  m.setFeatures(binaryen.Features.All);
  const i64 = binaryen.i64;
  for (const g of ["__bench_allocations", "__bench_reallocations", "__bench_ops"]) {
    m.addGlobal(g, i64, true, m.i64.const(0n));
    m.addGlobalExport(g, g);
  }
  const bump = (global, n) => m.global.set(global, m.i64.add(m.global.get(global, i64), m.i64.const(BigInt(n))));
  let fnGlobal = null;
  let fnAllocGlobal = null;
  // Profiling: calls of __new in the region being counted (counted on entry, as operations are).
  let regionAllocs = 0;
  const count = (n) => {
    if (fnGlobal === null) return bump("__bench_ops", n);
    const list = [bump("__bench_ops", n), bump(fnGlobal, n)];
    if (regionAllocs > 0) list.push(bump(fnAllocGlobal, regionAllocs));
    regionAllocs = 0;
    return m.block(null, list, binaryen.none);
  };

  // The IR nodes a region runs unconditionally (nested regions count themselves); instruments them.
  function walk(e) {
    if (e === 0) return 0;
    const id = binaryen.getExpressionId(e);
    if (!KNOWN.has(id)) throw new Error(`counting-build: expression kind ${id} not handled`);
    if (LEAVES.has(id)) return 1;
    const info = binaryen.getExpressionInfo(e);
    switch (info.id) {
      case binaryen.BlockId: {
        const outer = regionAllocs;
        regionAllocs = 0;
        let n = 1;
        for (const c of info.children) n += walk(c);
        binaryen.Block.insertChildAt(e, 0, count(n));
        regionAllocs = outer;
        return 0;
      }
      case binaryen.LoopId:
        binaryen.Loop.setBody(e, region(info.body));
        return 1;
      case binaryen.IfId: {
        const n = 1 + walk(info.condition);
        binaryen.If.setIfTrue(e, region(info.ifTrue));
        if (info.ifFalse !== 0) binaryen.If.setIfFalse(e, region(info.ifFalse));
        return n;
      }
      case binaryen.BreakId: return 1 + walk(info.condition) + walk(info.value);
      case binaryen.SwitchId: return 1 + walk(info.condition) + walk(info.value);
      case binaryen.CallId:
        if (ALLOC.includes(info.target)) regionAllocs++;
        return 1 + sum(info.operands);
      case binaryen.CallIndirectId: return 1 + walk(info.target) + sum(info.operands);
      case binaryen.LocalSetId: case binaryen.GlobalSetId: case binaryen.DropId: case binaryen.UnaryId:
      case binaryen.MemoryGrowId:
        return 1 + walk(info.value ?? info.delta);
      case binaryen.ReturnId: return 1 + walk(info.value);
      case binaryen.LoadId: return 1 + walk(info.ptr);
      case binaryen.StoreId: return 1 + walk(info.ptr) + walk(info.value);
      case binaryen.BinaryId: return 1 + walk(info.left) + walk(info.right);
      case binaryen.SelectId: return 1 + walk(info.ifTrue) + walk(info.ifFalse) + walk(info.condition);
      case binaryen.MemoryCopyId: return 1 + walk(info.dest) + walk(info.source) + walk(info.size);
      case binaryen.MemoryFillId: return 1 + walk(info.dest) + walk(info.value) + walk(info.size);
      default:
        throw new Error(`counting-build: expression kind ${info.id} not handled`);
    }
  }
  function sum(list) {
    let n = 0;
    for (const c of list) n += walk(c);
    return n;
  }
  /** A region's expression, its count first (a block counts itself). */
  function region(e) {
    if (binaryen.getExpressionId(e) === binaryen.BlockId) {
      walk(e);
      return e;
    }
    const outer = regionAllocs;
    regionAllocs = 0;
    const n = walk(e);
    const r = m.block(null, [count(n), e], binaryen.getExpressionType(e));
    regionAllocs = outer;
    return r;
  }

  const KNOWN = new Set(["Block", "Loop", "If", "Break", "Switch", "Call", "CallIndirect", "LocalSet", "GlobalSet", "Drop", "Unary",
    "MemoryGrow", "Return", "Load", "Store", "Binary", "Select", "MemoryCopy", "MemoryFill", "LocalGet", "GlobalGet", "Const", "Nop",
    "Unreachable", "MemorySize"].map((k) => binaryen[`${k}Id`]));
  const LEAVES = new Set(["LocalGet", "GlobalGet", "Const", "Nop", "Unreachable", "MemorySize"].map((k) => binaryen[`${k}Id`]));
  let found = 0;
  for (let i = 0, n = m.getNumFunctions(); i < n; i++) {
    const f = m.getFunctionByIndex(i);
    const info = binaryen.getFunctionInfo(f);
    if (info.module !== "") continue; // an import
    if (profile) {
      fnGlobal = `__prof_${i}`;
      m.addGlobal(fnGlobal, i64, true, m.i64.const(0n));
      m.addGlobalExport(fnGlobal, `prof:${info.name}`);
      fnAllocGlobal = `__prof_alloc_${i}`;
      m.addGlobal(fnAllocGlobal, i64, true, m.i64.const(0n));
      m.addGlobalExport(fnAllocGlobal, `alloc:${info.name}`);
      regionAllocs = 0;
    }
    const body = region(info.body);
    const extra = ALLOC.includes(info.name) ? "__bench_allocations" : REALLOC.includes(info.name) ? "__bench_reallocations" : null;
    if (extra !== null) found++;
    binaryen.Function.setBody(f, extra === null ? body : m.block(null, [bump(extra, 1), body], binaryen.getExpressionType(body)));
  }
  if (found === 0) throw new Error("counting-build: no __new/__renew found (was the input built with --debug?)");
  if (!m.validate()) throw new Error("counting-build: the instrumented module does not validate");
  binaryen.setDebugInfo(false);
  const out = m.emitBinary();
  m.dispose();
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const argv = process.argv.slice(2);
  const profile = argv[0] === "--profile";
  const [input, output] = profile ? argv.slice(1) : argv;
  if (!input || !output) {
    console.error("usage: node scripts/counting-build.mjs [--profile] in.wasm out.wasm");
    process.exit(2);
  }
  writeFileSync(output, countingModule(readFileSync(input), profile));
}
