// When garbage is collected. The modules are built with AssemblyScript's minimal runtime (asconfig:
// TLSF allocator, a two-colour mark & sweep that runs only when called): no shadow stack, no write
// barrier, no collector steps inside allocations. Its one rule is that a collection must not run
// while a managed object is referenced only from the wasm stack — true whenever no callback is
// running. So every exported callback is bracketed by enter()/leave(), and the outermost leave()
// collects once the managed heap has grown enough since the last collection (as Go's GOGC=100:
// twice what survived the last collection, and at least GROWTH_FLOOR more) — or sooner, before
// garbage would make the allocator grow linear memory (which never shrinks): when the managed heap
// passes CAPACITY_SHARE of the memory there is, unless what survives needs that room anyway.
//
// The runtime's byte count (~lib/rt/tcms `total`) is not visible to code: scripts/asc-transform.mjs
// (which scripts/build.mjs passes to asc) replaces managedBytes()'s body with a read of it. A module
// built without the transform sees 0 and collects every FALLBACK_CALLBACKS outermost callbacks
// instead. proxy_on_memory_allocate is not bracketed: it hands out unmanaged blocks and may run
// inside a host call, i.e. inside a callback.

/** ASC_RUNTIME of the minimal runtime (std/assembly/shared/runtime.ts Runtime.Minimal). */
const MINIMAL_RUNTIME: i32 = 1;

/** Growth of the managed heap between collections at least (bytes). */
const GROWTH_FLOOR: usize = 256 << 10;
/** The share of linear memory (above the static data) garbage may fill before a collection, in eighths. */
const CAPACITY_EIGHTHS: usize = 5;
/** Garbage allowed at least between collections, whatever the memory (bytes). */
const GARBAGE_FLOOR: usize = 64 << 10;

/** Without the byte count: collect after this many outermost callbacks. */
const FALLBACK_CALLBACKS: u32 = 256;

let depth: i32 = 0;
let threshold: usize = GROWTH_FLOOR;
let callbacks: u32 = 0;

/** Bytes of all managed objects now (the runtime's count; see the top of this file). */
export function managedBytes(): usize {
  return 0;
}

/** A callback starts. */
// @ts-ignore: decorator
@inline
export function enter(): void {
  depth++;
}

/** A callback ends: at the outermost one, collect when the heap has grown past the threshold. */
// @ts-ignore: decorator
@inline
export function leave(): void {
  // (Test modules built with the incremental runtime collect by themselves.)
  if (--depth == 0 && ASC_RUNTIME == MINIMAL_RUNTIME) maybeCollect();
}

function maybeCollect(): void {
  const bytes = managedBytes();
  if (bytes >= threshold || (bytes == 0 && ++callbacks >= FALLBACK_CALLBACKS)) collect();
}

function collect(): void {
  __collect();
  callbacks = 0;
  const live = managedBytes();
  let limit = live + max<usize>(live, GROWTH_FLOOR);
  // Before the allocator would have to grow memory: most of what there is, less what survived.
  const capacity = ((<usize>memory.size() << 16) - __heap_base) * CAPACITY_EIGHTHS / 8;
  if (capacity > live + GARBAGE_FLOOR && capacity < limit) limit = capacity;
  else if (capacity <= live + GARBAGE_FLOOR) limit = min<usize>(limit, live + GARBAGE_FLOOR * 4);
  threshold = limit;
}
