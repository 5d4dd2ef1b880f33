// Entry of the Higress build: the ABI callbacks, Higress's Redis callback, and the plugin's root.
export * from "./abi/exports";
export * from "./abi/redis_exports";
import "./abi/abort";
import { setRootContextFactory } from "./abi/dispatcher";
import { newQuotaPlugin } from "./quota/plugin";

setRootContextFactory(newQuotaPlugin);
