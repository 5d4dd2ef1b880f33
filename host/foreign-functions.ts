// proxy_call_foreign_function (cpp-host src/exports.cc call_foreign_function): the name and
// arguments are read from the VM (InvalidMemoryAccess when out of bounds); a name the host has not
// registered answers NotFound; otherwise the function's own status. Only Higress's
// `inject_encoded_data_to_filter_chain` is modelled (higress-profile.ts); Envoy's own foreign
// functions (compress, declare_property, expr_*, …) are not, and answer NotFound here.
import { Status } from "./abi-types";

export const INJECT_ENCODED_DATA = "inject_encoded_data_to_filter_chain";

/** InjectEncodedDataToFilterChainArguments { body = 1 (bytes), endstream = 2 (bool) }, or null (ParseFromArray fails). */
export function parseInjectArguments(args: Buffer): { body: Buffer; endStream: boolean } | null {
  let at = 0;
  let body = Buffer.alloc(0);
  let endStream = false;
  const varint = (): bigint | null => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (at >= args.length) return null;
      const b = args[at++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, v);
    }
    return null;
  };
  while (at < args.length) {
    const tag = varint();
    if (tag === null || tag >> 3n === 0n) return null;
    const field = tag >> 3n;
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const v = varint();
      if (v === null) return null;
      if (field === 2n) endStream = v !== 0n;
    } else if (wire === 2) {
      const n = varint();
      if (n === null || n > BigInt(args.length - at)) return null;
      const bytes = args.subarray(at, at + Number(n));
      at += Number(n);
      if (field === 1n) body = Buffer.from(bytes);
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (at + n > args.length) return null;
      at += n;
    } else {
      return null;
    }
  }
  return { body, endStream };
}

export interface ForeignHost {
  /** Data for the response's next filters (none here: the client), or false without a stream. */
  injectEncodedData(body: Buffer, endStream: boolean): void;
}

export function callForeignFunction(name: string, args: Buffer, registered: readonly string[], host: ForeignHost): Status {
  if (!registered.includes(name)) return Status.NotFound;
  if (name === INJECT_ENCODED_DATA) {
    const parsed = parseInjectArguments(args);
    if (parsed === null) return Status.BadArgument;
    // Context::injectEncodedDataToFilterChain: Ok whether or not a stream is there (encoder_callbacks_ null: nothing).
    host.injectEncodedData(parsed.body, parsed.endStream);
    return Status.Ok;
  }
  return Status.NotFound;
}
