// Event-driven waiting with a bound: every state change in the host calls notify(), and a
// waiter resolves as soon as its condition holds. No polling, no sleeps; a wait that outlives its
// bound rejects with a description of what it was waiting for.

interface Waiter {
  check(): boolean;
  done(): void;
}

export class Signal {
  private readonly waiters = new Set<Waiter>();

  notify(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.delete(w);
        w.done();
      }
    }
  }

  waitUntil(condition: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check: condition,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.add(waiter);
    });
  }
}
