// The plugin's root context: one per configuration, holding the parsed config and the Redis client
// that all of its streams share.
import { HttpContext, RootContext } from "../abi/context";
import { logError, logInfo, logWarn } from "../abi/log";
import { pluginConfiguration } from "../abi/plugin";
import { RedisClient } from "../redis/client";
import { QuotaConfig, parseConfig } from "./config";
import { QuotaStream } from "./stream";

export class QuotaPlugin extends RootContext {
  config: QuotaConfig | null = null;
  redis: RedisClient | null = null;

  onConfigure(size: u32): bool {
    const result = parseConfig(pluginConfiguration(size));
    for (let i = 0; i < result.warnings.length; i++) logWarn("ai-quota: " + result.warnings[i]);
    const config = result.config;
    if (config === null) {
      logError("ai-quota: invalid config: " + result.error);
      return false;
    }
    const redis = new RedisClient(config.redis);
    redis.init();
    this.config = config;
    this.redis = redis;
    logInfo("ai-quota: configured, redis cluster " + redis.cluster);
    return true;
  }

  newHttpContext(id: u32): HttpContext | null {
    const config = this.config;
    const redis = this.redis;
    if (config === null || redis === null) return null;
    return new QuotaStream(id, this, config, redis);
  }

  onRedisCallResponse(calloutId: u32, status: u32, size: u32): void {
    const redis = this.redis;
    if (redis !== null) redis.onResponse(calloutId, status, size);
  }
}

export function newQuotaPlugin(id: u32): RootContext {
  return new QuotaPlugin(id);
}
