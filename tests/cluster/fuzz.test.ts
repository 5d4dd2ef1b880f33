// Random consumer names and prefixes against a real Redis Cluster: the cluster's own CLUSTER
// KEYSLOT puts every key the plugin derives for a consumer in its balance key's slot, and requests
// through the plugin for many consumers at once never meet CROSSSLOT and never share a derived key.
import * as fc from "fast-check";
import { PluginVm } from "../../host";
import { BASE_CONFIG, chat, jsonResponse, openAiJson } from "../quota/fixture";
import { ClusterFixture } from "./cluster-fixture";
import { KeysModule, consumerArb, crc16, loadKeys, nameArb, prefixArb } from "./keys-module";

jest.setTimeout(120_000);

let fx: ClusterFixture;
let m: KeysModule;
beforeAll(async () => {
  fx = await ClusterFixture.start();
  m = loadKeys();
}, 60_000);
afterAll(async () => fx?.stop());

async function clusterSlot(key: string): Promise<number> {
  return Number(await fx.client.command("CLUSTER", "KEYSLOT", key));
}

test("the cluster's CLUSTER KEYSLOT agrees: every derived key of a consumer in its balance key's slot", async () => {
  await fc.assert(fc.asyncProperty(prefixArb, nameArb, fc.boolean(), async (prefix, name, anonymous) => {
    const k = m.keys(prefix, anonymous ? "anonymous:" + name : name, anonymous);
    const [balance, window, marker] = await Promise.all([k.balance, k.window, k.marker].map(clusterSlot));
    // A consumer: the balance key's own slot, as Redis sees it. An anonymous client: the slot of its
    // whole subject, whatever braces the client wrote.
    const expected = anonymous ? crc16(Buffer.from(prefix + "anonymous:" + name, "utf8")) & 16383 : balance;
    return window === expected && marker === expected && balance === expected;
  }), { numRuns: 1500 });
});

function errorReplies(vm: PluginVm): string[] {
  return vm.redisCalls.filter((c) => c.reply !== undefined && c.reply[0] === 0x2d).map((c) => c.reply!.toString().trim())
    .filter((e) => !e.startsWith("-NOSCRIPT"));
}

test("requests for many random consumers under random prefixes: no CROSSSLOT, balances exact, no derived key shared", async () => {
  await fc.assert(fc.asyncProperty(prefixArb, fc.uniqueArray(consumerArb, { minLength: 3, maxLength: 8 }), async (prefix, consumers) => {
    await fx.flush();
    const vm = await fx.plugin({
      ...BASE_CONFIG,
      redis_key_prefix: prefix,
      reservation: { mode: "fixed", tokens: 50 },
      limits: [{ unit: "requests", limit: 100, window: "day" }, { unit: "tokens", limit: 100_000, window: "day" }],
    });
    try {
      // Names that make the same balance key are the same account: count per balance key.
      const accounts = new Map<string, number>();
      for (const [i, c] of consumers.entries()) {
        await fx.setBalance(c, 1000, prefix);
        const r = await chat(vm, c, jsonResponse(openAiJson(i + 1, 2)));
        if (r.local !== null) throw new Error(`${JSON.stringify(c)} refused: ${r.local.status} ${r.local.body}`);
        accounts.set(prefix + c, (accounts.get(prefix + c) ?? 0) + 1);
      }
      await vm.idle();
      for (const [i, c] of consumers.entries()) {
        if ((await fx.balance(c, prefix)) !== String(1000 - (i + 3))) throw new Error(`${JSON.stringify(c)}: balance ${await fx.balance(c, prefix)}`);
      }
      // Two windows per account, each counting only that account's request.
      const counters = await fx.client.keys("ai_quota_state:*");
      if (counters.length !== 2 * accounts.size) throw new Error(`${counters.length} window counters for ${accounts.size} accounts`);
      const requests = await Promise.all(counters.filter((k) => k.includes(":requests:")).map((k) => fx.client.command("GET", k)));
      if (!requests.every((v) => v === "1")) throw new Error(`request counters ${JSON.stringify(requests)}`);
      const errors = errorReplies(vm);
      if (errors.length > 0) throw new Error(errors.join("; "));
      return true;
    } finally {
      await vm.close();
    }
  }), { numRuns: 25 });
});
