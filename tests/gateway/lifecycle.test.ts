// The gateway as a process and a proxy: streaming without buffering, a client that leaves
// mid-stream, an upstream that fails, SIGTERM (the gateway and its redis-server stop), an
// external Redis (--redis), and bad config files (exit code 2, one line).
import { inputEstimateOf } from "../unit/response_module";
import * as http from "node:http";
import * as net from "node:net";
import { RedisClient, RedisServer, freePort, startRedis } from "../../host";
import { EXAMPLE, GatewayProcess, runToExit, writeConfig } from "./gateway-process";
import { StreamedAnswer, send } from "./http-client";
import { ScriptedUpstream, sseEvent, within } from "./scripted-upstream";

const USER = { authorization: "Bearer credential1", "content-type": "application/json" };
const ADMIN = { authorization: "Bearer credential3" };
// (asks for usage itself: these tests follow the usage event through the gateway; hiding it is tested in clients.test.ts)
const STREAM_CHAT = JSON.stringify({ model: "m", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("proxying a scripted upstream", () => {
  let upstream: ScriptedUpstream;
  let gw: GatewayProcess;
  let redis: RedisClient;

  beforeAll(async () => {
    upstream = await ScriptedUpstream.start();
    gw = await GatewayProcess.start({ ...EXAMPLE, upstream: upstream.url + "/" });
    redis = await RedisClient.connect(gw.redisPort);
  }, 60_000);

  afterAll(async () => {
    redis?.close();
    await gw?.stop();
    gw?.kill();
    await upstream?.close();
  });

  beforeEach(async () => {
    await redis.command("SET", "chat_quota:consumer1", "1000");
  });

  async function quota(): Promise<string> {
    const r = await send(gw.url + "/v1/chat/completions/quota?consumer=consumer1", { headers: ADMIN });
    return r.body;
  }

  test("each SSE event reaches the client before the upstream has written the next one", async () => {
    const from = gw.lines.length;
    const client = StreamedAnswer.open(gw.url + "/v1/chat/completions", { headers: USER, body: STREAM_CHAT });
    const held = await upstream.next();
    expect(JSON.parse(held.body).stream).toBe(true);
    expect(held.req.headers["x-mse-consumer"]).toBe("consumer1");
    held.res.writeHead(200, { "content-type": "text/event-stream" });
    held.res.flushHeaders();
    const s = await client;
    expect(s.status).toBe(200);
    const first = sseEvent({ choices: [{ index: 0, delta: { content: "Hel" } }] });
    held.res.write(first);
    expect(await s.until((t) => t.includes(first))).toBe(first);
    const second = sseEvent({ choices: [{ index: 0, delta: { content: "lo" } }] });
    held.res.write(second);
    expect(await s.until((t) => t.includes(second))).toBe(first + second);
    const usage = sseEvent({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
    held.res.end(usage + sseEvent("[DONE]"));
    expect(await s.end()).toBe(first + second + usage + sseEvent("[DONE]"));
    // The client can have the whole answer before the stream completes; the gateway writes the
    // access line once the stream's charge is answered by Redis.
    await gw.waitForLine(/^POST \/v1\/chat\/completions 200 consumer1$/, 10_000, from);
    expect(await quota()).toBe('{"consumer":"consumer1","quota":988}');
  });

  test("a client that disconnects mid-stream: the upstream request is aborted, the usage seen is charged, the gateway serves on", async () => {
    const from = gw.lines.length;
    const client = StreamedAnswer.open(gw.url + "/v1/chat/completions", { headers: USER, body: STREAM_CHAT });
    const held = await upstream.next();
    held.res.writeHead(200, { "content-type": "text/event-stream" });
    const usage = sseEvent({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    held.res.write(usage);
    const s = await client;
    await s.until((t) => t.includes(usage));
    s.disconnect();
    await within(held.closed, 10_000, "the gateway to abort the upstream request");
    await gw.waitForLine(/^POST \/v1\/chat\/completions 200 consumer1 \(client disconnected\)$/, 10_000, from);
    expect(await quota()).toBe('{"consumer":"consumer1","quota":993}');
    expect(await redis.command("GET", "chat_quota:consumer1")).toBe("993");
  });

  test("a client that disconnects before the upstream answers: the upstream request is aborted; the whole request reached the model, so its input estimate is charged", async () => {
    const from = gw.lines.length;
    const req = http.request(gw.url + "/v1/chat/completions", { method: "POST", headers: USER, agent: false });
    req.on("error", () => undefined); // the socket we destroy
    req.end(STREAM_CHAT);
    const held = await upstream.next();
    req.destroy();
    await within(held.closed, 10_000, "the gateway to abort the upstream request");
    await gw.waitForLine(/^POST \/v1\/chat\/completions - consumer1 \(client disconnected\)$/, 10_000, from);
    // missing_usage: estimate — the input estimate from the request's text (usage/text_estimate.ts; was
    // one token per 2 request bytes before issue 22), no output.
    const charged = inputEstimateOf(STREAM_CHAT, 0);
    expect(await quota()).toBe(`{"consumer":"consumer1","quota":${1000 - charged}}`);
  });

  test("an upstream that cuts the connection mid-response: the client's response is cut, the gateway serves on", async () => {
    const from = gw.lines.length;
    const client = StreamedAnswer.open(gw.url + "/v1/chat/completions", { headers: USER, body: STREAM_CHAT });
    const held = await upstream.next();
    held.res.writeHead(200, { "content-type": "text/event-stream" });
    const usage = sseEvent({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    held.res.write(usage);
    const s = await client;
    await s.until((t) => t.includes(usage));
    held.res.socket?.destroy();
    await expect(s.end()).rejects.toThrow();
    await gw.waitForLine(/^POST \/v1\/chat\/completions 200 consumer1 \(upstream reset: /, 10_000, from);
    expect(await quota()).toBe('{"consumer":"consumer1","quota":998}');
  });

  test("an upstream that resets before answering → 502", async () => {
    const from = gw.lines.length;
    const client = send(gw.url + "/v1/chat/completions", { headers: USER, body: STREAM_CHAT });
    const held = await upstream.next();
    held.req.socket.destroy();
    const r = await client;
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/^upstream connect error or disconnect\/reset before headers/);
    await gw.waitForLine(/^POST \/v1\/chat\/completions 502 consumer1 \(upstream reset: /, 10_000, from);
    expect(await quota()).toBe('{"consumer":"consumer1","quota":1000}');
  });

  test("the upstream's path prefix and Host; the client's headers pass, with x-mse-consumer added", async () => {
    const client = send(gw.url + "/v1/chat/completions?trace=1", { headers: { ...USER, "x-custom": "kept" }, body: "{\"messages\":[]}" });
    const held = await upstream.next();
    expect(held.req.url).toBe("/v1/chat/completions?trace=1");
    expect(held.req.headers.host).toBe(new URL(upstream.url).host);
    expect(held.req.headers["x-custom"]).toBe("kept");
    expect(held.req.headers["content-length"]).toBe(String(held.body.length));
    expect(held.body).toBe("{\"messages\":[]}");
    held.res.writeHead(404, { "content-type": "application/json" });
    held.res.end('{"error":"nope"}');
    const r = await client;
    expect(r.status).toBe(404);
    expect(r.body).toBe('{"error":"nope"}');
  });
});

describe("an upstream nobody listens on", () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await GatewayProcess.start({ ...EXAMPLE, upstream: `http://127.0.0.1:${await freePort()}` });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    gw?.kill();
  });

  test("→ 502, and nothing charged", async () => {
    const redis = await RedisClient.connect(gw.redisPort);
    try {
      await redis.command("SET", "chat_quota:consumer1", "100");
      const r = await send(gw.url + "/v1/chat/completions", { headers: USER, body: STREAM_CHAT });
      expect(r.status).toBe(502);
      expect(r.body).toBe("upstream connect error or disconnect/reset before headers. reset reason: ECONNREFUSED");
      const q = await send(gw.url + "/v1/chat/completions/quota?consumer=consumer1", { headers: ADMIN });
      expect(q.body).toBe('{"consumer":"consumer1","quota":100}');
    } finally {
      redis.close();
    }
  });
});

describe("stopping", () => {
  test("SIGTERM stops the gateway (exit 0) and the redis-server it started", async () => {
    const gw = await GatewayProcess.start(EXAMPLE);
    try {
      expect(await portOpen(gw.redisHost, gw.redisPort)).toBe(true);
      const port = Number(new URL(gw.url).port);
      const exit = await gw.stop();
      expect(exit).not.toBeNull();
      expect(exit!.code).toBe(0);
      expect(exit!.stdout).toMatch(/ai-quota gateway stopping \(SIGTERM\)/);
      expect(await portOpen(gw.redisHost, gw.redisPort)).toBe(false);
      expect(await portOpen("127.0.0.1", port)).toBe(false);
    } finally {
      gw.kill();
    }
  }, 60_000);

  test("SIGINT (Ctrl-C) too", async () => {
    const gw = await GatewayProcess.start(EXAMPLE);
    try {
      gw.signal("SIGINT");
      const exit = await gw.waitForExit();
      expect(exit.code).toBe(0);
      expect(await portOpen(gw.redisHost, gw.redisPort)).toBe(false);
    } finally {
      gw.kill();
    }
  }, 60_000);

  test("with --redis the gateway uses that Redis and leaves it running", async () => {
    let redis: RedisServer | null = null;
    let gw: GatewayProcess | null = null;
    try {
      redis = await startRedis();
      gw = await GatewayProcess.start(EXAMPLE, ["--redis", `127.0.0.1:${redis.port}`]);
      expect(gw.lines).toContain(`redis: 127.0.0.1:${redis.port} (external)`);
      const r = await send(gw.url + "/v1/chat/completions/quota/refresh", {
        headers: { ...ADMIN, "content-type": "application/x-www-form-urlencoded" },
        body: "consumer=consumer2&quota=77",
      });
      expect(r.status).toBe(200);
      expect((await gw.stop())!.code).toBe(0);
      expect(await portOpen("127.0.0.1", redis.port)).toBe(true);
      const client = await RedisClient.connect(redis.port);
      expect(await client.command("GET", "chat_quota:consumer2")).toBe("77");
      client.close();
    } finally {
      gw?.kill();
      await redis?.stop();
    }
  }, 60_000);
});

describe("bad command lines and config files: exit code 2, one line, no stack trace", () => {
  const cases: Array<[string, string[] | string, RegExp]> = [
    ["a missing file", ["--config", "/nonexistent/gateway.yaml"], /\/nonexistent\/gateway\.yaml: cannot read the config file: no such file$/],
    ["bad YAML", "plugin: [\n  admin_consumer: a\n", /: not valid YAML: /],
    ["an empty file", "", /: the file is empty/],
    ["a list instead of a mapping", "- a\n- b\n", /: the file must hold a mapping/],
    ["an unknown key", "plugins: {}\n", /: unknown key "plugins"/],
    ["auth not a boolean", `auth: "yes"\nconsumers: [{name: a, credential: b}]\nplugin: {admin_consumer: a, redis: {service_name: r}}\n`, /: auth must be true or false, got string "yes"$/],
    ["consumers not a list", `consumers: consumer1\nplugin: {admin_consumer: a, redis: {service_name: r}}\n`, /: consumers must be a list/],
    ["a credential that is a number", `consumers: [{name: a, credential: 1}]\nplugin: {admin_consumer: a, redis: {service_name: r}}\n`, /: consumers\[0\]\.credential must be a non-empty string, got number 1$/],
    ["duplicate credentials", `consumers: [{name: a, credential: x}, {name: b, credential: x}]\nplugin: {admin_consumer: a, redis: {service_name: r}}\n`, /: consumers\[1\]\.credential duplicates the credential of consumers\[0\]$/],
    ["no plugin config", `auth: false\n`, /: plugin is required/],
    ["an unknown upstream", `auth: false\nupstream: openai\nplugin: {admin_consumer: a, redis: {service_name: r}}\n`, /: upstream must be "mock" or an http\(s\) URL, got "openai"$/],
    ["an upstream of another scheme", `auth: false\nupstream: ftp://example.com\nplugin: {admin_consumer: a, redis: {service_name: r}}\n`, /: upstream URL must be http or https/],
    ["a plugin config the plugin refuses", `auth: false\nplugin: {redis: {service_name: r}}\n`, /: plugin: the plugin refused its config: \[plugin error\] .*admin_consumer/],
    ["a plugin config with a bad port", `auth: false\nplugin: {admin_consumer: a, redis: {service_name: r, service_port: 99999}}\n`, /: plugin: the plugin refused its config: \[plugin error\] .*redis\.service_port/],
    ["an unknown option", ["--colour"], /Unknown option '--colour'/],
    ["a bad port", ["--port", "http"], /--port must be a port number/],
    ["a bad --redis", ["--redis", "localhost"], /--redis must be host:port/],
    ["a bad log level", ["--log-level", "loud"], /--log-level must be one of/],
  ];

  test.each(cases)("%s", async (_name, input, message) => {
    const args = typeof input === "string" ? ["--config", writeConfig(input), "--port", "0"] : input;
    const exit = await runToExit(args);
    expect({ code: exit.code, stdout: exit.stdout }).toEqual({ code: 2, stdout: expect.not.stringMatching(/listening/) });
    const lines = exit.stderr.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ai-quota gateway: /);
    expect(lines[0]).toMatch(message);
  }, 60_000);
});
