// Configuration: every key of the Higress contract with its default, and a clear refusal, naming
// the field, for every bad config.
import { LogLevel } from "../../host";
import { QuotaFixture, testWithRedisHostCalls } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => { fx = await QuotaFixture.start(); });
afterAll(async () => fx.stop());

async function refused(config: object | string): Promise<string> {
  const { vm, configured } = await fx.vm(config);
  expect(configured).toBe(false);
  expect(vm.trapped).toBeNull();
  return vm.logText(LogLevel.Error);
}

describe("bad configs fail plugin start with a line naming the field", () => {
  test.each([
    ["invalid JSON", "{admin_consumer:", /config is not valid JSON/],
    ["not an object", "[1,2]", /config must be a JSON object/],
    ["empty config", "", /config is not valid JSON/],
    ["missing admin_consumer", { redis: { service_name: "redis.static" } }, /admin_consumer is required/],
    ["empty admin_consumer", { admin_consumer: "", redis: { service_name: "redis.static" } }, /admin_consumer is required/],
    ["admin_consumer not a string", { admin_consumer: 5, redis: { service_name: "redis.static" } }, /admin_consumer must be a string/],
    ["admin_path not a string", { admin_consumer: "a", admin_path: ["x"], redis: { service_name: "r" } }, /admin_path must be a string/],
    ["missing redis", { admin_consumer: "a" }, /redis is required/],
    ["redis not an object", { admin_consumer: "a", redis: "redis.static" }, /redis must be an object/],
    ["missing service_name", { admin_consumer: "a", redis: { service_port: 6379 } }, /redis.service_name is required/],
    ["service_name not a string", { admin_consumer: "a", redis: { service_name: 7 } }, /redis.service_name must be a string/],
    ["negative port", { admin_consumer: "a", redis: { service_name: "r", service_port: -1 } }, /redis.service_port must be between 0 and 65535, got -1/],
    ["port too large", { admin_consumer: "a", redis: { service_name: "r", service_port: 70000 } }, /redis.service_port must be between/],
    ["port not a number", { admin_consumer: "a", redis: { service_name: "r", service_port: "http" } }, /redis.service_port must be an integer/],
    ["fractional port", { admin_consumer: "a", redis: { service_name: "r", service_port: 63.5 } }, /redis.service_port must be an integer/],
    ["negative timeout", { admin_consumer: "a", redis: { service_name: "r", timeout: -5 } }, /redis.timeout must be between 0 and/],
    ["negative database", { admin_consumer: "a", redis: { service_name: "r", database: -1 } }, /redis.database must be between 0 and/],
    ["password not a string", { admin_consumer: "a", redis: { service_name: "r", password: 123 } }, /redis.password must be a string/],
  ])("%s", async (_name, config, expected) => {
    expect(await refused(config)).toMatch(expected);
  });
});

describe("defaults and the Redis cluster name, as Higress's wrapper builds it", () => {
  testWithRedisHostCalls("a .static service defaults to port 80, timeout 1000, db 0", async () => {
    const vm = await fx.plugin({ admin_consumer: "a", redis: { service_name: "redis.static" } });
    const settings = vm.redisCluster("outbound|80||redis.static");
    expect(settings).toBeDefined();
    expect(settings!.timeoutMs).toBe(1000);
    expect(settings!.options).toEqual({ buffer_flush_timeout: "3", max_buffer_size_before_flush: "1024" });
  });

  testWithRedisHostCalls("another service defaults to 6379; database, credentials and timeout pass through", async () => {
    await fx.client.command("ACL", "SETUSER", "quota", "on", ">s3cret", "~*", "+@all");
    const vm = await fx.plugin({
      admin_consumer: "a",
      redis: { service_name: "redis", username: "quota", password: "s3cret", timeout: 2500, database: 3 },
    });
    const settings = vm.redisCluster("outbound|6379||redis");
    expect(settings).toBeDefined();
    expect(settings!.options).toEqual({ db: "3", buffer_flush_timeout: "3", max_buffer_size_before_flush: "1024" });
    expect(settings!.timeoutMs).toBe(2500);
    expect(settings!.username).toBe("quota");
    expect(settings!.password).toBe("s3cret");
    // The balance lands in database 3.
    const r = await vm.newStream().run({
      request: { headers: [[":method", "POST"], [":path", "/v1/chat/completions/quota/refresh"], [":authority", "g"], ["x-mse-consumer", "a"]], body: "consumer=u&quota=9" },
    });
    expect(r.local?.status).toBe(200);
    await fx.client.command("SELECT", "3");
    expect(await fx.balance("u")).toBe("9");
    await fx.client.command("SELECT", "0");
  });

  testWithRedisHostCalls("integers written as strings are read as Higress reads them", async () => {
    const vm = await fx.plugin({ admin_consumer: "a", redis: { service_name: "redis", service_port: "6379", timeout: "1500" } });
    expect(vm.redisCluster("outbound|6379||redis")?.timeoutMs).toBe(1500);
  });

  test("an unknown key is ignored with a warning, not an error", async () => {
    const { vm, configured } = await fx.vm({ admin_consumer: "a", redis: { service_name: "redis" }, admin_pth: "/x" });
    expect(configured).toBe(true);
    expect(vm.logText(LogLevel.Warn)).toMatch(/unknown config key admin_pth is ignored/);
  });

  testWithRedisHostCalls("a Redis that cannot be initialised at start is not fatal", async () => {
    const { vm, configured } = await fx.vm({ admin_consumer: "a", redis: { service_name: "nowhere.dns" } });
    expect(configured).toBe(true);
    expect(vm.logText(LogLevel.Warn)).toMatch(/redis init failed .* will retry on use/);
  });
});
