// Drives one benchmark request through a VM, as the tests do, and waits until the VM has nothing
// in flight (the charge after the response included), so that consecutive requests never overlap.
import { PluginVm } from "../host";
import { Scenario } from "./scenarios";

export interface RequestOutcome {
  status: number | null;
  reachedUpstream: boolean;
}

export async function runRequest(vm: PluginVm, s: Scenario, onUpstream?: () => void): Promise<RequestOutcome> {
  let reachedUpstream = false;
  const stream = vm.newStream({
    record: false,
    onUpstream: () => {
      if (reachedUpstream) return;
      reachedUpstream = true;
      onUpstream?.();
    },
  });
  const response = s.response;
  const result = await stream.run({
    request: { headers: s.request.headers, body: s.request.body },
    response: response === undefined ? undefined : () => ({ headers: response.headers, body: response.chunks }),
  });
  await vm.idle();
  return { status: result.status, reachedUpstream };
}

/** Runs `total` requests with at most `concurrency` in flight on the same VM. */
export async function runConcurrent(vm: PluginVm, pick: (i: number) => Scenario, total: number, concurrency: number, onProgress?: (done: number) => void): Promise<number> {
  let next = 0;
  let done = 0;
  let failures = 0;
  async function worker(): Promise<void> {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const s = pick(i);
      const stream = vm.newStream({ record: false });
      const response = s.response;
      const result = await stream.run({
        request: { headers: s.request.headers, body: s.request.body },
        response: response === undefined ? undefined : () => ({ headers: response.headers, body: response.chunks }),
      });
      if (result.status !== s.expectStatus) failures++;
      done++;
      onProgress?.(done);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  await vm.idle();
  return failures;
}
