// host/redis-rest-bridge.ts: the Upstash-style Redis REST protocol in front of a real redis-server
// (with a password), as the HTTP store and the local gateway use it.
import { RedisClient, RedisRestBridge, RedisServer, startRedis, startRedisRestBridge } from "../../host";

const TOKEN = "bridge-token";
let redis: RedisServer;
let client: RedisClient;
let bridge: RedisRestBridge;

beforeAll(async () => {
  redis = await startRedis({ password: "pw" });
  client = await RedisClient.connect(redis.port, { password: "pw" });
  bridge = await startRedisRestBridge({ redisPort: redis.port, redisPassword: "pw", token: TOKEN });
});
afterAll(async () => {
  await bridge?.close();
  client?.close();
  await redis?.stop();
});
beforeEach(async () => {
  await client.command("FLUSHALL");
});

async function post(body: string, init: { token?: string | null; path?: string; method?: string } = {}): Promise<{ status: number; text: string; type: string | null }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const method = init.method ?? "POST";
  const res = await fetch(bridge.url + (init.path ?? "/"), { method, headers, body: method === "GET" ? undefined : body });
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

const run = (...cmd: Array<string | number>) => post(JSON.stringify(cmd));

describe("results", () => {
  test("SET → \"OK\", GET → the string, GET of a missing key → null", async () => {
    expect(await run("SET", "chat_quota:a", "100")).toEqual({ status: 200, text: '{"result":"OK"}', type: "application/json" });
    expect((await run("GET", "chat_quota:a")).text).toBe('{"result":"100"}');
    expect((await run("GET", "chat_quota:none")).text).toBe('{"result":null}');
  });

  test("integers are JSON numbers, all 64 bits of them", async () => {
    expect((await run("INCRBY", "n", 5)).text).toBe('{"result":5}');
    expect((await run("DECRBY", "n", "12")).text).toBe('{"result":-7}');
    await client.command("SET", "big", "9223372036854775806");
    expect((await run("INCRBY", "big", 1)).text).toBe('{"result":9223372036854775807}');
  });

  test("arrays, nested, with nil inside; EVAL and EVALSHA take the same form", async () => {
    const script = "return {1, redis.call('GET', KEYS[1]), false, {ARGV[1], 2}}";
    await client.command("SET", "k", "v");
    expect((await run("EVAL", script, 1, "k", "x")).text).toBe('{"result":[1,"v",null,["x",2]]}');
    const sha = (await client.command("SCRIPT", "LOAD", script)) as string;
    expect((await run("EVALSHA", sha, "1", "k", "y")).text).toBe('{"result":[1,"v",null,["y",2]]}');
  });

  test("non-ASCII survives the round trip", async () => {
    await run("SET", "ü", "😀 \"q\"");
    expect(JSON.parse((await run("GET", "ü")).text)).toEqual({ result: '😀 "q"' });
  });
});

describe("errors", () => {
  test("Redis's error replies: 400 with the text unchanged", async () => {
    await client.command("LPUSH", "list", "x");
    expect(await run("GET", "list")).toEqual({
      status: 400,
      text: '{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}',
      type: "application/json",
    });
    const noscript = await run("EVALSHA", "0".repeat(40), 0);
    expect(noscript.status).toBe(400);
    expect(JSON.parse(noscript.text).error).toMatch(/^NOSCRIPT /);
    expect(JSON.parse((await run("INCRBY", "list", "x")).text).error).toMatch(/^(WRONGTYPE|ERR value is not an integer)/);
  });

  test("a wrong or missing token: 401 Unauthorized, and the command is not run", async () => {
    const before = bridge.commands.length;
    for (const token of ["wrong", null, ""]) {
      expect(await post('["SET","x","1"]', { token })).toEqual({ status: 401, text: '{"error":"Unauthorized"}', type: "application/json" });
    }
    expect(bridge.commands.length).toBe(before);
    expect(await client.command("EXISTS", "x")).toBe(0);
  });

  test("a body that is not a command: 400", async () => {
    for (const body of ["", "{", "{}", "[]", '"GET"', '[["GET","a"]]', '["GET",null]', '["GET",true]']) {
      expect({ body, ...(await post(body)) }).toEqual({ body, status: 400, text: '{"error":"ERR failed to parse command"}', type: "application/json" });
    }
  });

  test("another path: 404; another method: 405", async () => {
    expect((await post('["PING"]', { path: "/pipeline" })).status).toBe(404);
    expect((await post("", { method: "GET" })).status).toBe(405);
  });

  test("Redis down: 503 at once; back up: served again, no restart of the bridge", async () => {
    expect((await run("SET", "a", "1")).status).toBe(200);
    await redis.stop();
    try {
      const started = Date.now();
      const down = await run("GET", "a");
      expect(down.status).toBe(503);
      expect(JSON.parse(down.text).error).toMatch(/^redis unavailable: /);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await redis.restart();
    }
    client.close();
    client = await RedisClient.connect(redis.port, { password: "pw" });
    expect((await run("SET", "a", "2")).text).toBe('{"result":"OK"}');
    expect((await run("GET", "a")).text).toBe('{"result":"2"}');
  });

  test("a Redis restart between requests costs no request an error", async () => {
    expect((await run("PING")).text).toBe('{"result":"PONG"}');
    await redis.restart();
    client.close();
    client = await RedisClient.connect(redis.port, { password: "pw" });
    expect((await run("PING")).text).toBe('{"result":"PONG"}');
  });
});

test("concurrent commands are answered each with its own reply", async () => {
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => run("INCRBY", `k${i}`, i + 1)));
  expect(replies.map((r) => r.text)).toEqual(Array.from({ length: 50 }, (_, i) => `{"result":${i + 1}}`));
});

test("without a token option, no token is asked for", async () => {
  const open = await startRedisRestBridge({ redisPort: redis.port, redisPassword: "pw" });
  try {
    const res = await fetch(open.url + "/", { method: "POST", body: '["PING"]' });
    expect(await res.text()).toBe('{"result":"PONG"}');
  } finally {
    await open.close();
  }
});
