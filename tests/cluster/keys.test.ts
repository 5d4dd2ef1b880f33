// The key layout (assembly/quota/keys.ts) without a cluster: the computed hash tags reach every
// slot, every derived key of a consumer lands in its balance key's slot for any name and prefix,
// no two subjects share a derived key, anonymous clients never share a consumer's keys, and the
// scripts' SHA-1 constants are the scripts'. tests/cluster/ checks the same on a real cluster.
import { createHash } from "node:crypto";
import * as fc from "fast-check";
import { PluginVm } from "../../host";
import { PLUGIN_WASM } from "../quota/fixture";
import { KeysModule, crc16, loadKeys, nameArb, prefixArb, redisSlot } from "./keys-module";

let m: KeysModule;
beforeAll(() => { m = loadKeys(); });
afterEach(() => expect(m.logs).toEqual([]));

test("CRC16 is Redis's (XMODEM): the reference vector and random bytes", () => {
  expect(m.crc16(Buffer.from("123456789"))).toBe(0x31c3);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => m.crc16(Buffer.from(bytes)) === crc16(Buffer.from(bytes))));
});

test("the slot rule is Redis's: first { with a non-empty part before the next }", () => {
  for (const [key, tag] of [["{user1000}.following", "user1000"], ["foo{}{bar}", "foo{}{bar}"], ["foo{{bar}}zap", "{bar"], ["foo{bar}{zap}", "bar"], ["x}y", "x}y"]]) {
    expect(m.slot(key)).toBe(crc16(Buffer.from(tag)) & 16383);
  }
  fc.assert(fc.property(nameArb, (key) => m.slot(key) === redisSlot(key)));
});

test("a computed tag exists for every one of the 16384 slots: 4 printable characters, no braces", () => {
  const seen = new Set<string>();
  for (let slot = 0; slot < 16384; slot++) {
    const tag = m.tagForSlot(slot);
    if (!/^[\x40-\x5f]{4}$/.test(tag) || redisSlot(tag) !== slot) throw new Error(`slot ${slot}: tag ${JSON.stringify(tag)} lands in ${redisSlot(tag)}`);
    seen.add(tag);
  }
  expect(seen.size).toBe(16384);
  expect(m.tagForSlot(-1)).toBe("");
  expect(m.tagForSlot(16384)).toBe("");
});

test("balance key is prefix + consumer; every derived key is outside the prefix, in the balance key's slot", () => {
  fc.assert(fc.property(prefixArb, nameArb, (prefix, name) => {
    const k = m.keys(prefix, name, false);
    const slot = redisSlot(prefix + name);
    // (Compared as the UTF-8 Redis sees: a lone surrogate is U+FFFD on both sides.)
    return k.balance === Buffer.from(prefix + name, "utf8").toString("utf8") && k.window.startsWith("ai_quota_state:{") && k.marker.startsWith("ai_quota_settled:{") &&
      redisSlot(k.window) === slot && redisSlot(k.marker) === slot &&
      k.usageDay.startsWith("ai_quota_state:{") && redisSlot(k.usageDay) === slot && redisSlot(k.usageMonth) === slot;
  }), { numRuns: 5000 });
});

test("the cases of issue 16: own tags, a } in the name or the prefix", () => {
  for (const [prefix, name] of [["chat_quota:", "team{a}"], ["chat_quota:", "x}y"], ["chat_quota:", "{ops}"], ["{quota}:", "alice"], ["chat_quota:", "}"], ["chat_quota:", "{}x}"]]) {
    const k = m.keys(prefix, name, false);
    const slot = redisSlot(prefix + name);
    expect([redisSlot(k.window), redisSlot(k.marker), redisSlot(k.usageDay), redisSlot(k.usageMonth)]).toEqual([slot, slot, slot, slot]);
  }
  // Readable where it can be: the whole balance key as the tag, or its own tag.
  expect(m.keys("chat_quota:", "alice", false).window).toBe("ai_quota_state:{chat_quota:alice}:c:16:chat_quota:alice:requests:day:1700000000");
  expect(m.keys("{quota}:", "alice", false).marker).toBe("ai_quota_settled:{quota}:c:13:{quota}:alice:id");
  expect(m.keys("chat_quota:", "alice", false).usageDay).toBe("ai_quota_state:{chat_quota:alice}:c:16:chat_quota:alice:usage:d:2026-12-07");
  expect(m.keys("chat_quota:", "alice", false).usageMonth).toBe("ai_quota_state:{chat_quota:alice}:c:16:chat_quota:alice:usage:m:2026-12");
  expect(m.keys("chat_quota:", "x}y", false).window).toMatch(/^ai_quota_state:\{[\x40-\x5f]{4}\}:c:14:chat_quota:x\}y:requests:day:1700000000$/);
});

test("a closed key space: no two subjects share a derived key, and no balance key is a derived key", () => {
  fc.assert(fc.property(fc.array(fc.tuple(prefixArb, nameArb, fc.boolean()), { minLength: 2, maxLength: 30 }), (subjects) => {
    const owner = new Map<string, string>();
    const balances = new Set<string>();
    for (const [prefix, name, anonymous] of subjects) {
      const k = m.keys(prefix, name, anonymous);
      // The same account (same balance key, or same anonymous subject) has the same keys.
      const id = (anonymous ? "a:" : "c:") + prefix + name;
      for (const key of [k.window, k.marker, k.usageDay, k.usageMonth]) {
        const prev = owner.get(key);
        if (prev !== undefined && prev !== id) return false;
        owner.set(key, id);
      }
      if (!anonymous) balances.add(k.balance);
    }
    for (const b of balances) if (owner.has(b)) return false;
    return true;
  }), { numRuns: 2000 });
  // Issue 15's example: a consumer named after alice's old window key reaches nothing of alice's.
  const alice = m.keys("chat_quota:", "alice", false);
  const mallory = m.keys("chat_quota:", "{chat_quota:alice}:requests:day:1700000000", false);
  expect(new Set([alice.window, alice.marker, alice.balance]).has(mallory.balance)).toBe(false);
  expect(mallory.window).not.toBe(alice.window);
});

test("anonymous clients: apart from a consumer named anonymous:<address>, and their braces never choose a slot", () => {
  const anon = m.keys("chat_quota:", "anonymous:1.2.3.4", true);
  const named = m.keys("chat_quota:", "anonymous:1.2.3.4", false);
  expect(anon.window).not.toBe(named.window);
  expect(anon.marker).not.toBe(named.marker);
  expect(anon.balance).not.toBe(named.balance);
  expect(anon.window).toBe("ai_quota_state:{chat_quota:anonymous:1.2.3.4}:a:28:chat_quota:anonymous:1.2.3.4:requests:day:1700000000");
  fc.assert(fc.property(prefixArb, nameArb, (prefix, address) => {
    const k = m.keys(prefix, "anonymous:" + address, true);
    const whole = crc16(Buffer.from(prefix + "anonymous:" + address, "utf8")) & 16383;
    return redisSlot(k.window) === whole && redisSlot(k.marker) === whole && redisSlot(k.balance) === whole;
  }), { numRuns: 3000 });
  // An X-Forwarded-For hop naming someone's tag lands where its whole text hashes, not in that tag's slot.
  const k = m.keys("chat_quota:", "anonymous:{victim}", true);
  expect(redisSlot(k.window)).toBe(crc16(Buffer.from("chat_quota:anonymous:{victim}")) & 16383);
});

test("redis_key_prefix may not overlap the plugin's namespaces (a config error naming the field)", () => {
  for (const bad of ["ai_quota_state:", "ai_quota_settled:", "ai_quota_state:x", "ai_", "a", "ai_quota_settled:{x}:"]) {
    expect(m.prefixProblem(bad)).toMatch(/^redis_key_prefix must not overlap/);
  }
  for (const ok of ["chat_quota:", "{quota}:", "ai_quota_x:", "ai_quota_states:"]) expect(m.prefixProblem(ok)).toBe("");
});

test.each(["ai_quota_state:", "ai_", "ai_quota_settled:team:"])("the plugin refuses to start with redis_key_prefix %j, naming the field", async (prefix) => {
  const vm = await PluginVm.load({ wasmPath: PLUGIN_WASM });
  try {
    expect(await vm.start("", JSON.stringify({ admin_consumer: "admin", redis_key_prefix: prefix, redis: { service_name: "redis.static" } }))).toBe(false);
    expect(vm.logText()).toContain("ai-quota: invalid config: redis_key_prefix must not overlap the plugin's own key namespaces ai_quota_state: and ai_quota_settled:");
  } finally {
    await vm.close();
  }
});

test("the scripts' SHA-1 constants are the scripts' (EVALSHA would miss them otherwise)", () => {
  for (const n of [0, 1, 2, 3]) expect(m.scriptSha(n)).toBe(createHash("sha1").update(m.script(n)).digest("hex"));
});
