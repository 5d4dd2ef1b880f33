// Entry of the Higress build: the ABI callbacks, Higress's Redis callback, the plugin's root, and
// Redis through Higress's host calls (or an HTTP store, when the config names one) as the quota store.
export * from "./abi/exports";
export * from "./abi/redis_exports";
import "./abi/abort";
import { setRootContextFactory } from "./abi/dispatcher";
import { newQuotaPlugin, setStoreFactory } from "./quota/plugin";
import { openHigressStore } from "./store/factories";

setRootContextFactory(newQuotaPlugin);
setStoreFactory(openHigressStore);
