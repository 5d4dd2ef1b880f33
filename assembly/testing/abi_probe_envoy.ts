// The probe plugin (_probe.ts) as plain Envoy runs it: no Redis host calls imported.
export * from "../abi/exports";
export * from "../abi/abi_0_2_1";
import "../abi/abort";
import "./_probe";
