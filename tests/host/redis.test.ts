// The Redis bridge against a real redis-server: Higress's proxy_redis_init/proxy_redis_call as
// the probe plugin uses them, replies delivered asynchronously through
// proxy_on_redis_call_response and read as buffer 9.
import { PluginVm, REDIS_MISSING, RedisClient, RedisServer, encodeCommand, freePort, startRedis } from "../../host";
import { CLUSTER, PROBE_WASM, get, post, probeVm } from "./helpers";

let redis: RedisServer;
let client: RedisClient;
let vm: PluginVm;

beforeAll(async () => {
  redis = await startRedis();
  client = await RedisClient.connect(redis.port);
  vm = await probeVm({ redis });
});

afterAll(async () => {
  client?.close();
  await vm?.close();
  await redis?.stop();
});

async function redisGet(target: PluginVm, key: string) {
  return target.newStream().run({ request: { headers: get(`/redis/get?key=${key}`) } });
}

test("a GET goes to the real server and its raw reply comes back to the plugin", async () => {
  await client.command("SET", "probe:k", "hello");
  const r = await redisGet(vm, "probe:k");
  expect(r.status).toBe(200);
  expect(r.text).toBe("$5\r\nhello\r\n");
  expect(r.local?.details).toBe("probe.redis");
  expect(vm.redisCommands()).toContainEqual(["GET", "probe:k"]);
  const call = vm.redisCalls.find((c) => c.command[1] === "probe:k")!;
  expect(call).toMatchObject({ cluster: CLUSTER, status: 0 });
  expect(vm.trapped).toBeNull();
});

test("a missing key comes back as a null bulk string", async () => {
  expect((await redisGet(vm, "probe:absent")).text).toBe("$-1\r\n");
});

test("an error reply (WRONGTYPE) comes back as the reply, with status 0", async () => {
  await client.command("RPUSH", "probe:list", "x");
  const r = await redisGet(vm, "probe:list");
  expect(r.status).toBe(200);
  expect(r.text).toMatch(/^-WRONGTYPE /);
});

test("replies to concurrent calls reach the streams that made them", async () => {
  const keys = Array.from({ length: 25 }, (_, i) => `probe:c${i}`);
  for (const [i, k] of keys.entries()) await client.command("SET", k, `v${i}`);
  const results = await Promise.all(keys.map((k) => redisGet(vm, k)));
  results.forEach((r, i) => expect(r.text).toBe(`$${`v${i}`.length}\r\nv${i}\r\n`));
});

test("the db option of the cluster name selects the database, and the options are recorded", async () => {
  const db3 = await probeVm({ redis, config: `${CLUSTER}?db=3&buffer_flush_timeout=3&max_buffer_size_before_flush=1024` });
  try {
    const c3 = await RedisClient.connect(redis.port, { db: 3 });
    await c3.command("SET", "probe:db", "three");
    c3.close();
    await client.command("SET", "probe:db", "zero");
    expect((await redisGet(db3, "probe:db")).text).toBe("$5\r\nthree\r\n");
    expect(db3.redisCluster(CLUSTER)).toMatchObject({ db: 3, options: { db: "3", buffer_flush_timeout: "3", max_buffer_size_before_flush: "1024" } });
  } finally {
    await db3.close();
  }
});

test("AUTH is sent on connect with the configured password", async () => {
  const secured = await startRedis({ password: "s3cret" });
  const good = await probeVm({ redis: secured, config: `${CLUSTER}\n\ns3cret\n1000` });
  const bad = await probeVm({ redis: secured, config: `${CLUSTER}\n\nwrong\n1000` });
  try {
    expect((await redisGet(good, "probe:none")).text).toBe("$-1\r\n");
    expect((await redisGet(bad, "probe:none")).text).toMatch(/^-NOAUTH/);
    expect(bad.redisNotes.join("\n")).toMatch(/AUTH refused/);
  } finally {
    await good.close();
    await bad.close();
    await secured.stop();
  }
});

test("an unreachable Redis gives the plugin a failure status and no reply", async () => {
  const nowhere = { host: "127.0.0.1", port: await freePort() };
  const lost = await probeVm({ redis: nowhere });
  try {
    const r = await redisGet(lost, "probe:k");
    expect(r.status).toBe(502);
    expect(r.text).toBe("redis status 1");
    expect(lost.redisCalls[0]).toMatchObject({ status: 1 });
    expect(lost.redisCalls[0].reply?.length).toBe(0);
  } finally {
    await lost.close();
  }
});

test("a reply later than the init timeout fails with status 1", async () => {
  const quick = await probeVm({ redis, config: `${CLUSTER}\n\n\n200` });
  try {
    const started = Date.now();
    const r = await quick.newStream().run({
      request: { headers: post("/redis/raw"), body: encodeCommand(["BLPOP", "probe:never", "5"]) },
    });
    expect(r.text).toBe("redis status 1");
    expect(Date.now() - started).toBeLessThan(4000);
    expect(quick.redisCalls[0].failure).toMatch(/no reply within 200 ms/);
    // The timed-out connection was dropped; the next call dials a fresh one and works.
    await client.command("SET", "probe:after", "ok");
    expect((await redisGet(quick, "probe:after")).text).toBe("$2\r\nok\r\n");
  } finally {
    await quick.close();
  }
});

test("after Redis restarts, the next call re-dials and works again", async () => {
  const own = await startRedis();
  const target = await probeVm({ redis: own });
  try {
    expect((await redisGet(target, "probe:x")).text).toBe("$-1\r\n");
    await own.stop();
    expect((await redisGet(target, "probe:x")).text).toBe("redis status 1");
    await own.restart();
    const c = await RedisClient.connect(own.port);
    await c.command("SET", "probe:x", "back");
    c.close();
    expect((await redisGet(target, "probe:x")).text).toBe("$4\r\nback\r\n");
  } finally {
    await target.close();
    await own.stop();
  }
});

test("a query holding two commands is refused (one reply per call is all Higress matches)", async () => {
  const two = Buffer.concat([encodeCommand(["GET", "a"]), encodeCommand(["GET", "b"])]);
  const r = await vm.newStream().run({ request: { headers: post("/redis/raw"), body: two } });
  expect(r.status).toBe(500);
  expect(r.text).toBe("redis_call status 2");
});

test("an unknown cluster makes proxy_redis_init fail, and the plugin's configure with it", async () => {
  const vm2 = await PluginVm.load({ wasmPath: PROBE_WASM, redis: { resolve: () => undefined } });
  try {
    expect(await vm2.start("", "outbound|6379||nowhere.static")).toBe(false);
    expect(vm2.logText()).toContain("status 2");
  } finally {
    await vm2.close();
  }
});

test("a reply for a stream that is gone is dropped by the plugin, and nothing traps", async () => {
  const stream = vm.newStream();
  stream.requestHeaders(get("/redis/get?key=probe:k"));
  stream.finish("client_disconnect");
  await stream.settled();
  expect(stream.resetReason).toBe("client_disconnect");
  expect(stream.localResponse).toBeNull();
  expect(vm.trapped).toBeNull();
});

test("startRedis says how to install redis-server when it is missing", async () => {
  await expect(startRedis({ binary: "/nonexistent/redis-server" })).rejects.toThrow(REDIS_MISSING);
});
