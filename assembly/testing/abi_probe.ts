// The probe plugin (_probe.ts) as Higress runs it: with Higress's Redis host calls.
export * from "../abi/exports";
export * from "../abi/abi_0_2_1";
export * from "../abi/redis_exports";
import "../abi/abort";
import { redisCall, redisInit } from "../abi/redis_hostcalls";
import { useRedis } from "./_probe";

useRedis(redisInit, redisCall);
