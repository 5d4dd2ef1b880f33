// What the fuzz properties run against: the real build/ai-quota.wasm in the Node proxy-wasm host,
// a real redis-server, and a scripted fake Redis. Everything is started on first use and bounded.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { PluginVm, PluginVmOptions, RedisClient, RedisServer, startRedis } from "../host";
import { FakeRedis } from "./fake-redis";

export const ROOT = path.resolve(__dirname, "..");
export const PLUGIN_WASM = path.join(ROOT, "build/ai-quota.wasm");
export const PARSERS_WASM = path.join(ROOT, "build/test/parsers.wasm");

export type RedisTarget = "real" | "fake" | "none";

/** A VM reused across cases is replaced after this many, so its records stay small. */
const SHARED_VM_CASES = 1000;

export class FuzzEnv {
  private wasmBytes: Buffer | null = null;
  private redisServer: RedisServer | null = null;
  private client: RedisClient | null = null;
  private fakeServer: FakeRedis | null = null;
  private readonly shared = new Map<string, { vm: PluginVm; uses: number }>();
  private readonly vms = new Set<PluginVm>();

  get wasm(): Buffer {
    this.wasmBytes ??= readFileSync(PLUGIN_WASM);
    return this.wasmBytes;
  }

  async redis(): Promise<{ server: RedisServer; client: RedisClient }> {
    if (this.redisServer === null) this.redisServer = await startRedis();
    if (this.client === null) this.client = await RedisClient.connect(this.redisServer.port, { timeoutMs: 10_000 });
    return { server: this.redisServer, client: this.client };
  }

  async fake(): Promise<FakeRedis> {
    this.fakeServer ??= await FakeRedis.start();
    return this.fakeServer;
  }

  /** A fresh, started VM; its Redis clusters all resolve to `target`. A config object is sent as JSON, bytes as they are. */
  async vm(config: object | string | Buffer, target: RedisTarget, options: Partial<PluginVmOptions> = {}): Promise<{ vm: PluginVm; configured: boolean }> {
    let address: { host: string; port: number } | undefined;
    if (target === "real") address = { host: "127.0.0.1", port: (await this.redis()).server.port };
    else if (target === "fake") address = { host: "127.0.0.1", port: (await this.fake()).port };
    const vm = await PluginVm.load({ wasmBytes: this.wasm, redis: { resolve: () => address }, ...options });
    this.vms.add(vm);
    const configured = await vm.start("", typeof config === "string" || Buffer.isBuffer(config) ? config : JSON.stringify(config));
    return { vm, configured };
  }

  /** A VM shared by the cases of one property: replaced when it trapped or has served enough. */
  async sharedVm(key: string, config: object, target: RedisTarget): Promise<PluginVm> {
    const entry = this.shared.get(key);
    if (entry !== undefined && !entry.vm.failed && entry.uses < SHARED_VM_CASES) {
      entry.uses++;
      entry.vm.logs.length = 0;
      return entry.vm;
    }
    if (entry !== undefined) await this.dispose(entry.vm);
    const { vm, configured } = await this.vm(config, target);
    if (!configured) throw new Error(`the plugin refused the fuzz config:\n${vm.logText()}`);
    this.shared.set(key, { vm, uses: 1 });
    return vm;
  }

  /** Throws the shared VM away (after a failure, so the next case starts clean). */
  async dropShared(key: string): Promise<void> {
    const entry = this.shared.get(key);
    this.shared.delete(key);
    if (entry !== undefined) await this.dispose(entry.vm);
  }

  async dispose(vm: PluginVm): Promise<void> {
    this.vms.delete(vm);
    await vm.close();
  }

  async close(): Promise<void> {
    for (const vm of this.vms) await vm.close();
    this.vms.clear();
    this.shared.clear();
    this.client?.close();
    this.client = null;
    if (this.redisServer !== null) await this.redisServer.stop();
    this.redisServer = null;
    if (this.fakeServer !== null) await this.fakeServer.stop();
    this.fakeServer = null;
  }
}
