// An asc transform (scripts/build.mjs passes it to asc), run on the compiled module before optimization:
// gives assembly/abi/gc.ts managedBytes() the value of the minimal runtime's byte count
// (~lib/rt/tcms `total`, a module-private global the language cannot name). A module that does not
// use gc.ts, or keeps the incremental runtime (test modules), is left alone; one that uses gc.ts
// with neither runtime's count fails the build.
const MANAGED_BYTES = "assembly/abi/gc/managedBytes";
const RUNTIME_TOTAL = "~lib/rt/tcms/total";
const INCREMENTAL = "~lib/rt/itcms/total";

export default class GcTransform {
  afterCompile(module) {
    const binaryen = this.binaryen;
    const fn = module.getFunction(MANAGED_BYTES);
    if (fn === 0) return;
    if (module.getGlobal(INCREMENTAL) !== 0) return; // a test module: it collects by itself
    if (module.getGlobal(RUNTIME_TOTAL) === 0) {
      throw new Error(`asc-transform: ${MANAGED_BYTES} is used but ${RUNTIME_TOTAL} does not exist (asconfig must use runtime "minimal")`);
    }
    binaryen.Function.setBody(fn, module.global.get(RUNTIME_TOTAL, binaryen.i32));
  }
}
