// The key-auth stage in front of the plugin, and the plugin defending itself: missing or unknown
// credentials are answered 401 by the auth stage; a client-sent x-mse-consumer beside a good
// credential is answered 401 by the plugin; `auth: false` passes the client's header as it is.
import { RedisClient } from "../../host";
import { INVALID_KEY, MULTIPLE_KEYS, NO_KEY } from "../../gateway/auth";
import { EXAMPLE, GatewayProcess } from "./gateway-process";
import { send } from "./http-client";

const CHAT = JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "one two three" }] });
const JSON_TYPE = { "content-type": "application/json" };
const FORM = { "content-type": "application/x-www-form-urlencoded" };

let gw: GatewayProcess;
let open: GatewayProcess;
let redis: RedisClient;

beforeAll(async () => {
  [gw, open] = await Promise.all([GatewayProcess.start(EXAMPLE), GatewayProcess.start({ ...EXAMPLE, consumers: [], auth: false })]);
  redis = await RedisClient.connect(gw.redisPort);
}, 60_000);

afterAll(async () => {
  redis?.close();
  await Promise.all([gw?.stop(), open?.stop()]);
  gw?.kill();
  open?.kill();
});

beforeEach(async () => {
  await redis.command("SET", "chat_quota:consumer1", "1000");
  await redis.command("SET", "chat_quota:consumer3", "1000");
});

describe("key-auth stage", () => {
  test("no credential → 401 from key-auth, never reaching the plugin", async () => {
    const r = await send(gw.url + "/v1/chat/completions", { headers: JSON_TYPE, body: CHAT });
    expect(r.status).toBe(401);
    expect(r.body).toBe(NO_KEY);
    expect(r.headers["www-authenticate"]).toMatch(/^Key realm=/);
    await gw.waitForLine(/^POST \/v1\/chat\/completions 401 -$/);
  });

  test.each([
    ["an unknown credential", "Bearer nobody"],
    ["another scheme", "Basic credential1"],
    ["a bare credential", "credential1"],
  ])("%s → 401 invalid API key", async (_what, authorization) => {
    const r = await send(gw.url + "/v1/chat/completions", { headers: { ...JSON_TYPE, authorization }, body: CHAT });
    expect(r.status).toBe(401);
    expect(r.body).toBe(INVALID_KEY);
    expect(await redis.command("GET", "chat_quota:consumer1")).toBe("1000");
  });

  test("two credentials → 401", async () => {
    const r = await send(gw.url + "/v1/chat/completions", { headers: { ...JSON_TYPE, authorization: ["Bearer credential1", "Bearer credential2"] }, body: CHAT });
    expect(r.status).toBe(401);
    expect(r.body).toBe(MULTIPLE_KEYS);
  });

  test("a good credential is charged to its consumer (3 prompt words + 16)", async () => {
    const from = gw.lines.length;
    const r = await send(gw.url + "/v1/chat/completions", { headers: { ...JSON_TYPE, authorization: "Bearer credential1" }, body: CHAT });
    expect(r.status).toBe(200);
    // The gateway writes the access line once the stream's charge is answered by Redis.
    await gw.waitForLine(/^POST \/v1\/chat\/completions 200 consumer1$/, 10_000, from);
    const q = await send(gw.url + "/v1/chat/completions/quota?consumer=consumer1", { headers: { authorization: "Bearer credential3" } });
    expect(q.body).toBe('{"consumer":"consumer1","quota":981}');
    expect(await redis.command("GET", "chat_quota:consumer1")).toBe("981");
  });
});

describe("the plugin defends itself", () => {
  test("a client-sent x-mse-consumer beside a good credential → 401 from the plugin (ai-quota.bad_consumer), nobody charged", async () => {
    for (const path of ["/v1/chat/completions", "/v1/chat/completions/quota?consumer=consumer1"]) {
      const r = await send(gw.url + path, {
        method: path.includes("quota") ? "GET" : "POST",
        headers: { ...JSON_TYPE, authorization: "Bearer credential1", "x-mse-consumer": "consumer3" },
        body: path.includes("quota") ? undefined : CHAT,
      });
      expect(r.status).toBe(401);
      expect(r.body).toBe("Request denied by ai quota check. Invalid consumer identity.");
    }
    const q = await send(gw.url + "/v1/chat/completions/quota?consumer=consumer1", { headers: { authorization: "Bearer credential3" } });
    expect(q.body).toBe('{"consumer":"consumer1","quota":1000}');
    expect(await redis.command("GET", "chat_quota:consumer3")).toBe("1000");
  });

  test("a non-admin consumer on the admin API → 403", async () => {
    const r = await send(gw.url + "/v1/chat/completions/quota/refresh", { headers: { ...FORM, authorization: "Bearer credential1" }, body: "consumer=consumer1&quota=999999" });
    expect(r.status).toBe(403);
    expect(r.body).toBe("Request denied by ai quota check. Unauthorized admin consumer.");
    expect(await redis.command("GET", "chat_quota:consumer1")).toBe("1000");
  });
});

describe("auth: false (an auth plugin elsewhere, or a trusted network)", () => {
  let openRedis: RedisClient;
  beforeAll(async () => {
    openRedis = await RedisClient.connect(open.redisPort);
  });
  afterAll(() => openRedis?.close());

  test("the startup line says so", () => {
    expect(open.lines.some((l) => l.startsWith("auth: off"))).toBe(true);
  });

  test("x-mse-consumer from the client is the identity; no header → 401 from the plugin", async () => {
    const refresh = await send(open.url + "/v1/chat/completions/quota/refresh", { headers: { ...FORM, "x-mse-consumer": "consumer3" }, body: "consumer=consumer2&quota=50" });
    expect(refresh.status).toBe(200);
    const chat = await send(open.url + "/v1/chat/completions", { headers: { ...JSON_TYPE, "x-mse-consumer": "consumer2" }, body: CHAT });
    expect(chat.status).toBe(200);
    // The gateway writes the access line once the stream's charge is answered by Redis.
    await open.waitForLine(/^POST \/v1\/chat\/completions 200 consumer2$/);
    const q = await send(open.url + "/v1/chat/completions/quota?consumer=consumer2", { headers: { "x-mse-consumer": "consumer3" } });
    expect(q.body).toBe('{"consumer":"consumer2","quota":31}');
    expect(await openRedis.command("GET", "chat_quota:consumer2")).toBe("31");

    const anonymous = await send(open.url + "/v1/chat/completions", { headers: JSON_TYPE, body: CHAT });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toBe("Request denied by ai quota check. No Key Authentication information found.");
  });

  test("an Authorization header means nothing there", async () => {
    const r = await send(open.url + "/v1/chat/completions", { headers: { ...JSON_TYPE, authorization: "Bearer credential1" }, body: CHAT });
    expect(r.status).toBe(401);
    expect(r.body).toBe("Request denied by ai quota check. No Key Authentication information found.");
  });
});
