// The probe plugin (_probe.ts) as plain Envoy runs it: no Redis host calls imported.
export * from "../abi/exports";
import "../abi/abort";
import "./_probe";
