// Measurement hooks on a PluginVm:
// - timing: every proxy_on_* export the VM calls is wrapped with process.hrtime.bigint, so "wasm
//   time" is the time spent inside the module's callbacks, host calls they make included, waits on
//   Redis excluded (a callback never waits). Every host function the module imports is timed too
//   (PluginVmOptions.wrapHostCall): "own wasm time" is the wasm time less the host calls, i.e. the
//   module's own code. `vm.drive` is wrapped too: "host time" is all the synchronous work the host
//   does for a request (filter bookkeeping plus the callbacks). The timers' own cost is measured
//   (timerCosts) and taken out.
// - census (a separate VM on the counting build of the module, scripts/counting-build.mjs, so that
//   counting never slows a timed run): host calls by name, managed allocations, wasm operations,
//   bytes the host copies into the VM's memory (GuestMemory.copyOut, the proxy_on_memory_allocate-
//   backed returns), and each Redis command with the phase and callback it was sent from.
import { PluginVm, PluginVmOptions, decodeCommand } from "../host";

type ExportFn = (...args: number[]) => unknown;

/** The VM's export table (a private field of PluginVm: a host hook would make this unnecessary). */
function exportsOf(vm: PluginVm): { get(): Record<string, ExportFn>; set(e: Record<string, ExportFn>): void } {
  const holder = vm as unknown as { exports: Record<string, ExportFn> };
  if (typeof holder.exports !== "object" || holder.exports === null || typeof holder.exports.proxy_on_context_create !== "function") {
    throw new Error("bench: PluginVm no longer keeps its exports in `exports`; update bench/instrument.ts");
  }
  return { get: () => holder.exports, set: (e) => { holder.exports = e; } };
}

/** Wraps each proxy_on_* callback (not the allocator, which only ever runs nested in one). */
function wrapCallbacks(vm: PluginVm, around: (name: string, call: () => unknown) => unknown): void {
  const table = exportsOf(vm);
  const wrapped: Record<string, ExportFn> = {};
  for (const [name, fn] of Object.entries(table.get())) {
    if (typeof fn !== "function" || !name.startsWith("proxy_on_") || name === "proxy_on_memory_allocate") {
      wrapped[name] = fn;
      continue;
    }
    wrapped[name] = (...args: number[]) => around(name, () => fn(...args));
  }
  table.set(wrapped);
}

export interface Totals {
  /** Inside proxy_on_* callbacks, the host calls they make included. */
  wasmNs: number;
  /** Of wasmNs: inside host functions (as timed, timer cost included). */
  hostCallNs: number;
  hostCalls: number;
  /** Of wasmNs: inside the host's proxy_redis_call (encoding check and the TCP write to Redis). */
  redisSendNs: number;
  /** All synchronous host work (vm.drive), callbacks included. */
  hostNs: number;
  callbacks: number;
}

export class Meter implements Totals {
  wasmNs = 0;
  hostCallNs = 0;
  hostCalls = 0;
  redisSendNs = 0;
  hostNs = 0;
  callbacks = 0;
  /** Per callback name: total ns and calls, over the meter's life. */
  readonly byCallback = new Map<string, { ns: number; calls: number }>();

  snapshot(): Totals {
    return { wasmNs: this.wasmNs, hostCallNs: this.hostCallNs, hostCalls: this.hostCalls, redisSendNs: this.redisSendNs, hostNs: this.hostNs, callbacks: this.callbacks };
  }

  since(before: Totals): Totals {
    return {
      wasmNs: this.wasmNs - before.wasmNs,
      hostCallNs: this.hostCallNs - before.hostCallNs,
      hostCalls: this.hostCalls - before.hostCalls,
      redisSendNs: this.redisSendNs - before.redisSendNs,
      hostNs: this.hostNs - before.hostNs,
      callbacks: this.callbacks - before.callbacks,
    };
  }

  resetBreakdown(): void {
    this.byCallback.clear();
  }
}

/** Loads a VM whose callbacks and host calls are timed into the returned meter. */
export async function loadTimed(options: PluginVmOptions): Promise<{ vm: PluginVm; meter: Meter }> {
  const meter = new Meter();
  const vm = await PluginVm.load({
    ...options,
    wrapHostCall: (_name, impl) => (...args) => {
      const t0 = process.hrtime.bigint();
      try {
        return impl(...args);
      } finally {
        meter.hostCallNs += Number(process.hrtime.bigint() - t0);
        meter.hostCalls++;
      }
    },
  });
  instrumentTiming(vm, meter);
  return { vm, meter };
}

export function instrumentTiming(vm: PluginVm, meter = new Meter()): Meter {
  let inCallback = false;
  wrapCallbacks(vm, (name, call) => {
    if (inCallback) return call();
    inCallback = true;
    const t0 = process.hrtime.bigint();
    try {
      return call();
    } finally {
      const ns = Number(process.hrtime.bigint() - t0);
      meter.wasmNs += ns;
      meter.callbacks++;
      const entry = meter.byCallback.get(name);
      if (entry === undefined) meter.byCallback.set(name, { ns, calls: 1 });
      else {
        entry.ns += ns;
        entry.calls++;
      }
      inCallback = false;
    }
  });
  // The host's proxy_redis_call writes to the Redis socket synchronously (Envoy queues the
  // command and flushes later): timed apart so that the plugin's own work can be told from it.
  const redisCall = vm.redisCall.bind(vm);
  vm.redisCall = (cluster: string, query: Buffer) => {
    const t0 = process.hrtime.bigint();
    try {
      return redisCall(cluster, query);
    } finally {
      meter.redisSendNs += Number(process.hrtime.bigint() - t0);
    }
  };
  const drive = vm.drive.bind(vm);
  let driving = false;
  vm.drive = <T>(fn: () => T): T => {
    if (driving) return drive(fn);
    driving = true;
    const t0 = process.hrtime.bigint();
    try {
      return drive(fn);
    } finally {
      meter.hostNs += Number(process.hrtime.bigint() - t0);
      driving = false;
    }
  };
  return meter;
}

export interface TimerCosts {
  /** Per timed callback: what an empty callback measures. */
  callbackNs: number;
  /** Per host call: what the host-call timer measures around an empty host function. */
  hostInnerNs: number;
  /** Per host call: what the host-call timer adds to the callback's time beyond hostInnerNs. */
  hostOuterNs: number;
}

/**
 * The timers' own costs, measured the way the timed VMs use them: an empty "callback" that makes
 * `calls` empty "host calls", with and without the host-call timer. Median of rounds.
 */
export function timerCosts(rounds = 9, samples = 20_000, calls = 4): TimerCosts {
  const empty = (): number => 0;
  let inner = 0;
  let innerCalls = 0;
  const timed = (): number => {
    const t0 = process.hrtime.bigint();
    try {
      return empty();
    } finally {
      inner += Number(process.hrtime.bigint() - t0);
      innerCalls++;
    }
  };
  const outer = (fn: () => number): number => {
    let acc = 0;
    for (let i = 0; i < samples; i++) {
      const t0 = process.hrtime.bigint();
      try {
        for (let k = 0; k < calls; k++) fn();
      } finally {
        acc += Number(process.hrtime.bigint() - t0);
      }
    }
    return acc / samples;
  };
  const plain: number[] = [];
  const wrapped: number[] = [];
  const innerPer: number[] = [];
  for (let r = 0; r < rounds; r++) {
    plain.push(outer(empty));
    inner = 0;
    innerCalls = 0;
    wrapped.push(outer(timed));
    innerPer.push(inner / innerCalls);
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const hostInnerNs = med(innerPer);
  return { callbackNs: med(plain), hostInnerNs, hostOuterNs: Math.max(0, (med(wrapped) - med(plain)) / calls - hostInnerNs) };
}

export interface RedisSend {
  command: string[];
  /** "request": before the request reached the upstream (or was answered locally). */
  phase: "request" | "after";
  /** Which callback invocation sent it (for counting round trips). */
  callbackSeq: number;
  callback: string;
}

export class Census {
  phase: "request" | "after" = "request";
  hostCalls = new Map<string, number>();
  callbacks = new Map<string, number>();
  /** Bytes the host copied into the VM, by the callback that was running. */
  bytesInByCallback = new Map<string, number>();
  /** Bytes copied by proxy_get_buffer_bytes of the response body (buffer type 1). */
  responseBodyBytesIn = 0;
  /** Calls of proxy_on_memory_allocate by the host (one per host call returning data). */
  allocateCalls = 0;
  redis: RedisSend[] = [];
  private callbackName = "";
  private callbackSeq = 0;
  private pendingBytes = 0;

  reset(): void {
    this.phase = "request";
    this.hostCalls.clear();
    this.callbacks.clear();
    this.bytesInByCallback.clear();
    this.responseBodyBytesIn = 0;
    this.allocateCalls = 0;
    this.redis = [];
    this.pendingBytes = 0;
  }

  get bytesIn(): number {
    let n = 0;
    for (const v of this.bytesInByCallback.values()) n += v;
    return n;
  }

  /** Loads a VM whose host calls, copies and Redis commands are counted into this census. */
  static async load(wasmPath: string, options: Omit<Parameters<typeof PluginVm.load>[0], "wasmPath" | "onHostCall">): Promise<{ vm: PluginVm; census: Census }> {
    const census = new Census();
    let vmRef: PluginVm | null = null;
    const vm = await PluginVm.load({
      ...options,
      wasmPath,
      onHostCall: (name, args, result) => {
        census.hostCalls.set(name, (census.hostCalls.get(name) ?? 0) + 1);
        // Bytes copied in during this host call (copyOut runs inside it, before this trace).
        if (name === "proxy_get_buffer_bytes" && args[0] === 1) census.responseBodyBytesIn += census.pendingBytes;
        census.pendingBytes = 0;
        if (name === "proxy_redis_call" && result === 0 && vmRef !== null) {
          const query = vmRef.memory.read(Number(args[2]), Number(args[3]));
          const command = query === null ? null : decodeCommand(query);
          census.redis.push({ command: command ?? ["?"], phase: census.phase, callbackSeq: census.callbackSeq, callback: census.callbackName });
        }
      },
    });
    vmRef = vm;
    const copyOut = vm.memory.copyOut.bind(vm.memory);
    vm.memory.copyOut = (data: Uint8Array, ptrPtr: number, sizePtr: number): boolean => {
      census.pendingBytes += data.length;
      if (data.length > 0) census.allocateCalls++;
      const key = census.callbackName || "(outside callbacks)";
      census.bytesInByCallback.set(key, (census.bytesInByCallback.get(key) ?? 0) + data.length);
      return copyOut(data, ptrPtr, sizePtr);
    };
    wrapCallbacks(vm, (name, call) => {
      const prev = census.callbackName;
      census.callbackName = name;
      census.callbackSeq++;
      census.callbacks.set(name, (census.callbacks.get(name) ?? 0) + 1);
      try {
        return call();
      } finally {
        census.callbackName = prev;
      }
    });
    return { vm, census };
  }
}

/** The counters of a counting build (scripts/counting-build.mjs); all 0 for any other module. */
export interface Counters {
  allocations: number;
  reallocations: number;
  ops: number;
}

export function readCounters(vm: PluginVm): Counters {
  const n = (name: string) => Number(vm.exportedGlobal(name) ?? 0);
  return { allocations: n("__bench_allocations"), reallocations: n("__bench_reallocations"), ops: n("__bench_ops") };
}

export function countersSince(vm: PluginVm, before: Counters): Counters {
  const now = readCounters(vm);
  return { allocations: now.allocations - before.allocations, reallocations: now.reallocations - before.reallocations, ops: now.ops - before.ops };
}

export function isCountingBuild(vm: PluginVm): boolean {
  return vm.exportedGlobal("__bench_ops") !== undefined;
}
