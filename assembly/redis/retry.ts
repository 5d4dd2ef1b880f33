// Commands sent again a little later, from the root context's tick.
//
// While a Redis Cluster moves a slot, a command on several keys of that slot (every scripted
// admission: balance, marker, windows) is answered TRYAGAIN until the move completes: some of its
// keys are on the old node, some on the new one, or not yet anywhere. Cluster clients (go-redis,
// Jedis, redis-py) wait a few milliseconds and send it again; so does the Redis client here, for
// as long as the command's `redis.timeout` allows, so a live migration costs latency, not refusals.
//
// A proxy-wasm plugin has one timer per root context, the tick. It normally runs once a second
// (settlement retries); while anything waits here it runs every FAST_TICK_MS, and it goes back to
// BASE_TICK_MS as soon as nothing does. Envoy restarts the root's timer with the new period at once
// (proxy-wasm-cpp-host src/context.cc ContextBase::setTimerPeriod → Envoy
// source/extensions/common/wasm/wasm.cc Wasm::setTimerPeriod), so the first retry waits one fast
// tick, not the rest of a second. The once-a-second work keeps its pace: onTick says which ticks
// are the slow ones.
import { tickEvery } from "../abi/plugin";

/** The tick's normal period. */
export const BASE_TICK_MS: u32 = 1000;
/** The tick's period while a command waits to be sent again. */
export const FAST_TICK_MS: u32 = 10;
/** The longest wait between two tries, in fast ticks. */
const MAX_DELAY_TICKS: i32 = 10;
/** Commands waiting at most (beyond it a TRYAGAIN is answered at once): bounded memory. */
const MAX_WAITING: i32 = 10000;

/** Something to do again later; `run` sends it. */
export class Delayed {
  /** Fast ticks left before `run`. */
  ticksLeft: i32 = 0;
  run(): void {}
}

let waiting = new Array<Delayed>();
let fast = false;
let fastTicks: i32 = 0;

/**
 * The wait before try number `attempt` (1, 2, …): 1, 2, 4, 8, then 10 fast ticks
 * (10 ms, 20 ms, 40 ms, 80 ms, 100 ms…).
 */
export function delayTicks(attempt: i32): i32 {
  if (attempt >= 4) return MAX_DELAY_TICKS;
  const d = 1 << (attempt - 1);
  return d < MAX_DELAY_TICKS ? d : MAX_DELAY_TICKS;
}

/** Queues `d` to run after `ticks` fast ticks; false when the queue is full (then it is not kept). */
export function runLater(d: Delayed, ticks: i32): bool {
  if (waiting.length >= MAX_WAITING) return false;
  d.ticksLeft = ticks;
  waiting.push(d);
  if (!fast) {
    fast = true;
    fastTicks = 0;
    tickEvery(FAST_TICK_MS);
  }
  return true;
}

/**
 * Called on every tick of the root context: runs what is due. True when this tick is also one of
 * the once-a-second ticks (every tick when the tick is not fast).
 */
export function onTick(): bool {
  if (!fast) return true;
  const due = waiting;
  waiting = new Array<Delayed>();
  for (let i = 0; i < due.length; i++) {
    const d = due[i];
    d.ticksLeft--;
    if (d.ticksLeft <= 0) d.run();
    else waiting.push(d);
  }
  fastTicks++;
  const slow = fastTicks >= <i32>(BASE_TICK_MS / FAST_TICK_MS);
  if (slow) fastTicks = 0;
  if (waiting.length == 0) {
    fast = false;
    tickEvery(BASE_TICK_MS);
    return true;
  }
  return slow;
}
