// A Redis outage in each phase of a request, and recovery without a restart of the plugin.
import * as net from "node:net";
import { LogLevel, PluginVm, RespFramer, decodeCommand } from "../../host";
import { HIGRESS_ENVOY, PLUGIN_WASM, QuotaFixture, STORE_UNREACHABLE, adminGet, adminPost, chat, jsonResponse, openAiJson, request, openChat, testWithRedisHostCalls } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start({ password: "pw" }); });
afterAll(async () => fx.stop());

const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static", password: "pw", timeout: 500 } };

async function redisDown<T>(fn: () => Promise<T>): Promise<T> {
  await fx.redis.stop();
  try {
    return await fn();
  } finally {
    await fx.redis.restart();
    await fx.reconnect();
  }
}

test("balance check while Redis is down → 403 noquota; works again once it is back", async () => {
  const vm = await fx.plugin(CONFIG);
  await fx.setBalance("consumer1", 100);
  const denied = await redisDown(() => chat(vm, "consumer1", jsonResponse(openAiJson(1, 1))));
  expect(denied.local?.status).toBe(403);
  expect(denied.local?.details).toBe("ai-quota.noquota");
  await fx.setBalance("consumer1", 100);
  const ok = await chat(vm, "consumer1", jsonResponse(openAiJson(1, 1)));
  expect(ok.local).toBeNull();
  await vm.idle();
  expect(await fx.balance("consumer1")).toBe("98");
  expect(vm.trapped).toBeNull();
});

test("admin calls while Redis is down → 503 redis error", async () => {
  const vm = await fx.plugin(CONFIG);
  const [q, r, d] = await redisDown(async () => [
    await adminGet(vm, "admin", "?consumer=c"),
    await adminPost(vm, "admin", "refresh", "consumer=c&quota=1"),
    await adminPost(vm, "admin", "delta", "consumer=c&value=1"),
  ]);
  for (const x of [q, r, d]) {
    expect(x.local?.status).toBe(503);
    expect(x.local?.details).toBe("ai-quota.error");
    expect(x.local?.body.toString()).toBe("redis error:" + STORE_UNREACHABLE);
  }
  expect(vm.trapped).toBeNull();
});

test("a charge Redis cannot be reached for is kept and sent again from the tick once Redis is back", async () => {
  const vm = await fx.plugin(CONFIG);
  await fx.setBalance("consumer1", 100);
  const s = await openChat(vm, "consumer1");
  expect(s.upstream.ended).toBe(true);
  await redisDown(async () => {
    s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
    s.responseBody(openAiJson(4, 6), true);
    await vm.idle();
    vm.tick(); // Redis still down: the retry fails too and stays queued
    await vm.idle();
  });
  expect(vm.logText(LogLevel.Warn)).toContain("charge of 10 tokens to chat_quota:consumer1 failed: " + STORE_UNREACHABLE + "; will retry");
  // This test server keeps no data across a restart: put the balance back as it was.
  await fx.setBalance("consumer1", 100);
  vm.tick();
  await vm.idle();
  expect(await fx.balance("consumer1")).toBe("90");
  vm.tick();
  await vm.idle();
  expect(await fx.balance("consumer1")).toBe("90");
  expect(vm.trapped).toBeNull();
});

test("a charge Redis refuses with an error is logged at error with consumer and amount, not retried", async () => {
  const vm = await fx.plugin(CONFIG);
  await fx.setBalance("consumer1", 100);
  const s = await openChat(vm, "consumer1");
  expect(s.upstream.ended).toBe(true);
  await fx.client.command("DEL", "chat_quota:consumer1");
  await fx.client.command("LPUSH", "chat_quota:consumer1", "x");
  s.responseHeaders([[":status", "200"], ["content-type", "application/json"]]);
  s.responseBody(openAiJson(4, 6), true);
  await vm.idle();
  expect(vm.logText(LogLevel.Error)).toMatch(/charge of 10 tokens to chat_quota:consumer1 failed: WRONGTYPE/);
  const before = vm.redisCommands().length;
  vm.tick();
  await vm.idle();
  expect(vm.redisCommands().length).toBe(before);
});

test("a stream that is gone when its balance reply arrives is left alone", async () => {
  const vm = await fx.plugin(CONFIG);
  await fx.setBalance("consumer1", 100);
  const s = vm.newStream();
  s.requestHeaders(request("POST", "/v1/chat/completions", "consumer1"), false);
  s.finish("client went away");
  await vm.idle();
  expect(vm.trapped).toBeNull();
  expect(await fx.balance("consumer1")).toBe("100");
});

testWithRedisHostCalls("NOAUTH from Redis: re-initialises the client once and retries the command", async () => {
  // A stand-in Redis that has lost the connection's authentication: NOAUTH to the first GET,
  // then a balance. Everything else (AUTH on connect) is accepted.
  const seen: string[][] = [];
  let gets = 0;
  const server = net.createServer((socket) => {
    const framer = new RespFramer();
    socket.on("data", (chunk) => {
      for (const frame of framer.push(chunk)) {
        const cmd = decodeCommand(frame) ?? [];
        seen.push(cmd);
        if (cmd[0]?.toUpperCase() !== "GET") socket.write("+OK\r\n");
        else socket.write(gets++ === 0 ? "-NOAUTH Authentication required.\r\n" : "$2\r\n42\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const vm = await PluginVm.load({ wasmPath: PLUGIN_WASM, higressEnvoy: HIGRESS_ENVOY, redis: { resolve: () => ({ host: "127.0.0.1", port }) } });
    expect(await vm.start("", JSON.stringify(CONFIG))).toBe(true);
    const r = await adminGet(vm, "admin", "?consumer=consumer1");
    expect(r.local?.body.toString()).toBe('{"consumer":"consumer1","quota":42}');
    expect(seen.filter((c) => c[0] === "GET")).toEqual([["GET", "chat_quota:consumer1"], ["GET", "chat_quota:consumer1"]]);
    expect(vm.logText()).toMatch(/NOAUTH, re-authenticating and retrying once/);
    await vm.close();
  } finally {
    server.close();
  }
});
