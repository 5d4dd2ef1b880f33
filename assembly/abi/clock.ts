// The host's wall clock, for code above the ABI layer.
import { currentTimeNanos } from "./hostcalls";

export function nowSeconds(): i64 {
  return <i64>(currentTimeNanos() / 1_000_000_000);
}

export function nowNanos(): u64 {
  return currentTimeNanos();
}
