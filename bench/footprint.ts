// Footprint: module size (raw and gzip), VM load/start/configure time, and linear memory after a
// warm-up and after a long run of mixed requests.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { PluginVm, PluginVmOptions } from "../host";
import { runConcurrent } from "./run";
import { Scenario } from "./scenarios";
import { median } from "./stats";

export interface SizeFigures {
  rawBytes: number;
  gzipBytes: number;
}

export function moduleSize(path: string): SizeFigures {
  const bytes = readFileSync(path);
  return { rawBytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
}

export interface StartFigures {
  /** Compile + instantiate (PluginVm.load), ms. */
  loadMs: number;
  /** _initialize, root context, proxy_on_vm_start and proxy_on_configure (vm.start), ms. */
  startConfigureMs: number;
  totalMs: number;
  samples: number;
}

export async function startTime(wasmPath: string, options: Partial<PluginVmOptions>, config: string, samples: number): Promise<StartFigures> {
  const bytes = readFileSync(wasmPath);
  const load: number[] = [];
  const start: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    const vm = await PluginVm.load({ ...options, wasmBytes: bytes });
    const t1 = process.hrtime.bigint();
    const ok = await vm.start("", config);
    const t2 = process.hrtime.bigint();
    if (!ok) throw new Error(`bench: ${wasmPath} refused its config:\n${vm.logText()}`);
    await vm.close();
    load.push(Number(t1 - t0) / 1e6);
    start.push(Number(t2 - t1) / 1e6);
    total.push(Number(t2 - t0) / 1e6);
  }
  return { loadMs: median(load), startConfigureMs: median(start), totalMs: median(total), samples };
}

export interface MemoryFigures {
  warmupRequests: number;
  afterWarmupBytes: number;
  requests: number;
  concurrency: number;
  afterRunBytes: number;
  /** Linear memory at each tenth of the run. */
  checkpoints: Array<{ requests: number; bytes: number }>;
  failures: number;
  seconds: number;
  flat: boolean;
}

export async function memorySoak(vm: PluginVm, mix: Scenario[], warmup: number, requests: number, concurrency: number, log: (s: string) => void): Promise<MemoryFigures> {
  const pick = (i: number) => mix[i % mix.length];
  let failures = await runConcurrent(vm, pick, warmup, concurrency);
  const afterWarmupBytes = vm.memoryBytes();
  const checkpoints: Array<{ requests: number; bytes: number }> = [];
  const step = Math.max(1, Math.floor(requests / 10));
  const t0 = process.hrtime.bigint();
  failures += await runConcurrent(vm, pick, requests, concurrency, (done) => {
    if (done % step === 0) {
      checkpoints.push({ requests: done, bytes: vm.memoryBytes() });
      log(`  memory: ${done} requests, ${vm.memoryBytes()} bytes`);
    }
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const afterRunBytes = vm.memoryBytes();
  if (vm.failed) throw new Error(`bench: the VM failed during the memory run: ${vm.trapped?.message}`);
  return { warmupRequests: warmup, afterWarmupBytes, requests, concurrency, afterRunBytes, checkpoints, failures, seconds, flat: afterRunBytes === afterWarmupBytes };
}
