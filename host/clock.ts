// The time `proxy_get_current_time_nanoseconds` reports: the system clock by default, or a
// manual clock that tests set and advance (quota windows, timeouts measured by the plugin).

export interface Clock {
  nowNanos(): bigint;
}

export const systemClock: Clock = {
  nowNanos: () => BigInt(Date.now()) * 1_000_000n,
};

export class ManualClock implements Clock {
  private nanos: bigint;

  /** Starts at `start` (a Date or epoch milliseconds); default 2025-01-01T00:00:00Z. */
  constructor(start: Date | number = Date.UTC(2025, 0, 1)) {
    this.nanos = ManualClock.toNanos(start);
  }

  private static toNanos(t: Date | number): bigint {
    const ms = typeof t === "number" ? t : t.getTime();
    return BigInt(Math.round(ms * 1000)) * 1000n;
  }

  nowNanos(): bigint {
    return this.nanos;
  }

  set(t: Date | number): void {
    this.nanos = ManualClock.toNanos(t);
  }

  advance(ms: number): void {
    this.nanos += BigInt(Math.round(ms * 1000)) * 1000n;
  }
}
