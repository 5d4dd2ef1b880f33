// Entry of the Higress build: the ABI callbacks, Higress's Redis callback, the plugin's root, and
// Redis through Higress's host calls as the quota store.
export * from "./abi/exports";
export * from "./abi/redis_exports";
import "./abi/abort";
import { setRootContextFactory } from "./abi/dispatcher";
import { newQuotaPlugin, setStoreFactory } from "./quota/plugin";
import { openRedisStore } from "./store/redis_store";

setRootContextFactory(newQuotaPlugin);
setStoreFactory(openRedisStore);
