// The cluster harness and the cluster-aware bridge themselves: a real cluster that agrees on its
// slots, commands routed by slot, MOVED and ASK followed as Envoy's Redis client follows them.
import { RespError } from "../../host";
import { keySlot } from "../../host/redis-cluster";
import { adminGet, adminPost } from "../quota/fixture";
import { ClusterFixture } from "./cluster-fixture";

let fx: ClusterFixture;
beforeAll(async () => { fx = await ClusterFixture.start(); }, 60_000);
afterAll(async () => fx?.stop());
beforeEach(async () => fx.flush());

test("three masters share the 16384 slots; keySlot is the cluster's own CLUSTER KEYSLOT", async () => {
  expect(fx.cluster.nodes.length).toBe(3);
  expect((await fx.client.masters()).length).toBe(3);
  for (const key of ["a", "chat_quota:alice", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "x}y", "\u00e9t\u00e9"]) {
    expect(keySlot(key)).toBe(await fx.client.command("CLUSTER", "KEYSLOT", key));
  }
});

test("the plugin's commands go to each key's master: admin refresh and query for consumers all over the cluster", async () => {
  const vm = await fx.plugin();
  const consumers = Array.from({ length: 12 }, (_, i) => `consumer-${i}`);
  const owners = new Set<number>();
  for (const c of consumers) owners.add((await fx.cluster.ownerOf(keySlot("chat_quota:" + c))).port);
  expect(owners.size).toBe(3);
  for (const [i, c] of consumers.entries()) expect((await adminPost(vm, "admin", "refresh", `consumer=${c}&quota=${100 + i}`)).local?.status).toBe(200);
  for (const [i, c] of consumers.entries()) {
    expect(JSON.parse((await adminGet(vm, "admin", `?consumer=${c}`)).local!.body.toString())).toEqual({ consumer: c, quota: 100 + i });
  }
  expect(fx.routes.every((r) => r.via === "slot")).toBe(true);
  // One command per refresh and per query, each sent to the master that owns its key's slot.
  expect(fx.routes.length).toBe(2 * consumers.length);
  expect(new Set(fx.routes.map((r) => r.slot))).toEqual(new Set(consumers.map((c) => keySlot("chat_quota:" + c))));
  for (const r of fx.routes) {
    expect(r.slot).not.toBeNull();
    expect(r.address).toBe(`127.0.0.1:${(await fx.cluster.ownerOf(r.slot!)).port}`);
  }
});

test("MOVED after a slot moved: followed to the new master, and the slot map refreshed", async () => {
  const vm = await fx.plugin();
  await fx.setBalance("moving", 42);
  expect((await adminGet(vm, "admin", "?consumer=moving")).local?.body.toString()).toBe('{"consumer":"moving","quota":42}');
  const slot = keySlot("chat_quota:moving");
  const owner = await fx.cluster.ownerOf(slot);
  const target = fx.cluster.nodes.find((n) => n.id !== owner.id)!;
  await fx.cluster.migration(slot, target).run();
  fx.routes.length = 0;
  expect((await adminGet(vm, "admin", "?consumer=moving")).local?.body.toString()).toBe('{"consumer":"moving","quota":42}');
  expect(fx.routes.map((r) => [r.via, r.address])).toEqual([["slot", `127.0.0.1:${owner.port}`], ["moved", `127.0.0.1:${target.port}`]]);
  fx.routes.length = 0;
  await vm.newStream().run({ request: { headers: [[":method", "GET"], [":path", "/v1/chat/completions/quota?consumer=moving"], [":authority", "gw"], [":scheme", "http"], ["x-mse-consumer", "admin"]] } });
  expect(fx.routes.map((r) => r.via)).toEqual(["slot"]);
  expect(fx.routes[0].address).toBe(`127.0.0.1:${target.port}`);
});

test("ASK while a slot migrates: sent to the importing master after ASKING", async () => {
  const vm = await fx.plugin();
  await fx.setBalance("asked", 7);
  const slot = keySlot("chat_quota:asked");
  const owner = await fx.cluster.ownerOf(slot);
  const target = fx.cluster.nodes.find((n) => n.id !== owner.id)!;
  const m = fx.cluster.migration(slot, target);
  await m.begin();
  await m.moveKeys();
  fx.routes.length = 0;
  expect((await adminGet(vm, "admin", "?consumer=asked")).local?.body.toString()).toBe('{"consumer":"asked","quota":7}');
  expect(fx.routes.map((r) => [r.via, r.address])).toEqual([["slot", `127.0.0.1:${owner.port}`], ["ask", `127.0.0.1:${target.port}`]]);
  // Without ASKING the importing master would not answer for the slot.
  await expect((async () => {
    const c = await (await import("../../host")).RedisClient.connect(target.port);
    try { return await c.command("GET", "chat_quota:asked"); } finally { c.close(); }
  })()).rejects.toBeInstanceOf(RespError);
  await m.finish();
});
