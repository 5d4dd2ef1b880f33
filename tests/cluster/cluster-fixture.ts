// Shared setup for the Redis Cluster tests: a real three-master cluster per test file
// (host/redis-cluster.ts), VMs whose Redis calls go through the cluster-aware bridge
// (host/redis-cluster-bridge.ts), and balances read and written through a cluster client.
import { PluginVm, PluginVmOptions } from "../../host";
import { ClusterClient, RedisCluster, startRedisCluster } from "../../host/redis-cluster";
import { ClusterRouteEvent } from "../../host/redis-cluster-bridge";
import { BASE_CONFIG, PLUGIN_WASM, watchVm } from "../quota/fixture";

export class ClusterFixture {
  /** Every hop of every command the VMs sent (cleared by flush). */
  readonly routes: ClusterRouteEvent[] = [];
  private vms: PluginVm[] = [];

  private constructor(public readonly cluster: RedisCluster, public readonly client: ClusterClient) {}

  static async start(): Promise<ClusterFixture> {
    const cluster = await startRedisCluster();
    return new ClusterFixture(cluster, await cluster.client());
  }

  async vm(config: object | string = BASE_CONFIG, options: Partial<PluginVmOptions> = {}): Promise<{ vm: PluginVm; configured: boolean }> {
    const seed = this.cluster.seed;
    const routing = { onRoute: (e: ClusterRouteEvent) => this.routes.push(e) };
    const vm = await PluginVm.load({
      wasmPath: PLUGIN_WASM,
      redis: { resolve: (name) => (name.endsWith("||redis.static") || name.endsWith("||redis") ? { ...seed, cluster: routing } : undefined) },
      ...options,
    });
    this.vms.push(vm);
    // The host-rule violation check after each test (tests/quota/fixture.ts), as for QuotaFixture's VMs.
    watchVm(vm);
    const configured = await vm.start("", typeof config === "string" ? config : JSON.stringify(config));
    return { vm, configured };
  }

  async plugin(config: object = BASE_CONFIG, options: Partial<PluginVmOptions> = {}): Promise<PluginVm> {
    const { vm, configured } = await this.vm(config, options);
    if (!configured) throw new Error(`plugin refused its config:\n${vm.logText()}`);
    return vm;
  }

  async setBalance(consumer: string, value: number | string | bigint, prefix = "chat_quota:"): Promise<void> {
    await this.client.command("SET", prefix + consumer, String(value));
  }

  async balance(consumer: string, prefix = "chat_quota:"): Promise<string | null> {
    const v = await this.client.command("GET", prefix + consumer);
    return v === null ? null : String(v);
  }

  /** Empties every master and its script cache. */
  async flush(): Promise<void> {
    await this.client.all("FLUSHALL");
    await this.client.all("SCRIPT", "FLUSH");
    this.routes.length = 0;
  }

  async stop(): Promise<void> {
    for (const vm of this.vms) await vm.close();
    this.client.close();
    await this.cluster.stop();
  }
}
