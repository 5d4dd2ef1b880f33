// One fuzz property: inputs from a fast-check arbitrary, and a check that runs one input against
// the real plugin and throws (a PropertyViolation, or anything else) when the plugin misbehaves.
import fc from "fast-check";
import { PluginVm } from "../host";
import { FuzzEnv } from "./env";

export interface FuzzProperty<T = any> {
  /** Stable name: regression files and --only refer to it. */
  name: string;
  description: string;
  arbitrary(): fc.Arbitrary<T>;
  check(env: FuzzEnv, input: T): Promise<void>;
}

export class PropertyViolation extends Error {}

export function violated(message: string): never {
  throw new PropertyViolation(message);
}

export function expectThat(ok: boolean, message: () => string): void {
  if (!ok) violated(message());
}

/** The first quality bar: the VM did not trap (message names the trap and the last logs). */
export function expectNoTrap(vm: PluginVm): void {
  if (vm.trapped !== null) violated(`the plugin trapped: ${vm.trapped.message}\nlast log lines:\n${vm.logText().split("\n").slice(-8).join("\n")}`);
}

export function defineProperty<T>(p: FuzzProperty<T>): FuzzProperty<T> {
  return p;
}

/** `arb` one time in `oneIn`, else null (fc.option's freq is the other way round). */
export function sometimes<T>(arb: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}
