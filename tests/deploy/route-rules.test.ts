// Per-route configuration in the real plugin: each rule with its own config and store, replies
// reaching the store that sent the command, the global config for the rest, and the host calls
// that matching costs.
import * as path from "node:path";
import { PluginVm, RedisClient, RedisServer, Stream, startRedis } from "../../host";

const WASM = path.join(__dirname, "../../build/ai-quota.wasm");

let a: RedisServer;
let b: RedisServer;
let ca: RedisClient;
let cb: RedisClient;

beforeAll(async () => {
  a = await startRedis();
  b = await startRedis();
  ca = await RedisClient.connect(a.port);
  cb = await RedisClient.connect(b.port);
});

afterAll(async () => {
  ca?.close();
  cb?.close();
  await a?.stop();
  await b?.stop();
});

const redis = (name: string, extra: object = {}) => ({ service_name: name, service_port: 6379, ...extra });

const CONFIG = {
  admin_consumer: "global-admin",
  redis_key_prefix: "g:",
  redis: redis("global.dns"),
  _rules_: [
    { _match_route_: ["team-a"], admin_consumer: "admin-a", redis_key_prefix: "a:", redis: redis("store-a.dns") },
    { _match_domain_: ["*.b.example"], admin_consumer: "admin-b", redis_key_prefix: "b:", redis: redis("store-b.dns") },
    // Same store as the first rule: shared, not opened twice.
    { _match_service_: ["svc.default.svc.cluster.local:8000"], admin_consumer: "admin-c", redis_key_prefix: "c:", redis: redis("store-a.dns") },
  ],
};

async function load(onHostCall?: (name: string) => void): Promise<PluginVm> {
  return PluginVm.load({
    wasmPath: WASM,
    redis: {
      resolve: (name) => {
        if (name === "outbound|6379||store-b.dns") return { host: b.host, port: b.port };
        if (name === "outbound|6379||store-a.dns" || name === "outbound|6379||global.dns") return { host: a.host, port: a.port };
        return undefined;
      },
    },
    onHostCall: onHostCall === undefined ? undefined : (name) => onHostCall(name),
  });
}

function chat(vm: PluginVm, consumer: string, options: { route?: string; cluster?: string; authority?: string; usage?: [number, number] } = {}): Promise<ReturnType<Stream["run"]> extends Promise<infer T> ? T : never> {
  const [p, c] = options.usage ?? [5, 7];
  const s = vm.newStream({ routeName: options.route ?? "", clusterName: options.cluster ?? "" });
  return s.run({
    request: {
      headers: [[":method", "POST"], [":path", "/v1/chat/completions"], [":authority", options.authority ?? "gateway.example.com"], ["x-mse-consumer", consumer], ["content-type", "application/json"]],
      body: '{"messages":[{"role":"user","content":"hi"}]}',
    },
    response: () => ({
      headers: [[":status", "200"], ["content-type", "application/json"]],
      body: JSON.stringify({ choices: [], model: "m", usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } }),
    }),
  });
}

describe("three rules and a global config", () => {
  let vm: PluginVm;

  beforeAll(async () => {
    vm = await load();
    expect(await vm.start("", JSON.stringify(CONFIG))).toBe(true);
  });

  afterAll(async () => {
    await vm?.close();
  });

  beforeEach(async () => {
    for (const c of [ca, cb]) await c.command("FLUSHALL");
    for (const p of ["g:", "a:", "c:"]) await ca.command("SET", `${p}u`, "100");
    await cb.command("SET", "b:u", "100");
  });

  test("one store per distinct Redis: three clusters for four configs", () => {
    expect(vm.logText()).toContain("3 route rule(s)");
    const clusters = new Set(vm.redisCalls.map((c) => c.cluster));
    expect([...clusters]).toEqual([]); // nothing sent at configure
    expect((vm.logText().match(/redis cluster outbound\|6379\|\|/g) ?? []).length).toBe(2 + 1);
  });

  test.each([
    ["the route rule", { route: "team-a" }, "a:", "store-a.dns"],
    ["the domain rule", { authority: "api.b.example:443" }, "b:", "store-b.dns"],
    ["the service rule", { cluster: "outbound|8000||svc.default.svc.cluster.local" }, "c:", "store-a.dns"],
    ["the global config", { route: "team-z" }, "g:", "global.dns"],
  ])("%s: its own key prefix, on its own store", async (_what, where, prefix, store) => {
    const before = vm.redisCalls.length;
    const r = await chat(vm, "u", where);
    expect(r.status).toBe(200);
    const client = store === "store-b.dns" ? cb : ca;
    await vm.idle();
    expect(await client.command("GET", `${prefix}u`)).toBe("88");
    const calls = vm.redisCalls.slice(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(new Set(calls.map((c) => c.cluster.split("?")[0]))).toEqual(new Set([`outbound|6379||${store}`]));
    for (const other of ["g:", "a:", "c:"].filter((p) => p !== prefix)) expect(await ca.command("GET", `${other}u`)).toBe("100");
  });

  test("replies reach the store that sent the command, with requests on both stores in flight at once", async () => {
    const runs: Array<Promise<unknown>> = [];
    for (let i = 0; i < 10; i++) {
      runs.push(chat(vm, "u", { route: "team-a", usage: [1, 0] }));
      runs.push(chat(vm, "u", { authority: "x.b.example", usage: [2, 0] }));
    }
    await Promise.all(runs);
    expect(await ca.command("GET", "a:u")).toBe("90");
    expect(await cb.command("GET", "b:u")).toBe("80");
    expect(vm.trapped).toBeNull();
  });

  test("each rule has its own admin consumer", async () => {
    const admin = (consumer: string, route: string) =>
      vm.newStream({ routeName: route }).run({ request: { headers: [[":method", "GET"], [":path", "/v1/chat/completions/quota?consumer=u"], [":authority", "h"], ["x-mse-consumer", consumer]] } });
    expect((await admin("admin-a", "team-a")).status).toBe(200);
    expect((await admin("global-admin", "team-a")).status).toBe(403);
    expect((await admin("global-admin", "other")).status).toBe(200);
  });
});

describe("configuration outcomes", () => {
  test("a rule that does not parse refuses the configuration, naming the rule", async () => {
    const vm = await load();
    try {
      const bad = { _rules_: [{ _match_route_: ["r"], admin_consumer: "x", redis: redis("store-a.dns") }, { _match_route_: ["s"], admin_consumer: "y", redis: {} }] };
      expect(await vm.start("", JSON.stringify(bad))).toBe(false);
      expect(vm.logText()).toContain("invalid config: _rules_[1]: redis.service_name is required");
    } finally {
      await vm.close();
    }
  });

  test("an invalid global config beside valid rules: the rules apply, the rest passes, and it is said", async () => {
    const vm = await load();
    try {
      await ca.command("SET", "a:u", "100");
      expect(await vm.start("", JSON.stringify({ admin_path: "/q", _rules_: [CONFIG._rules_[0]] }))).toBe(true);
      expect(vm.logText()).toMatch(/global config .* is invalid and not used.*admin_consumer is required/);
      const other = await chat(vm, "u", { route: "elsewhere" });
      expect(other.local).toBeNull();
      expect(other.status).toBe(200);
      expect((await chat(vm, "u", { route: "team-a" })).status).toBe(200);
      expect(await ca.command("GET", "a:u")).toBe("88");
    } finally {
      await vm.close();
    }
  });
});

describe("what matching costs", () => {
  /** Host calls of each kind made while one chat request is handled. */
  async function callsFor(config: object): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    let counting = false;
    const vm = await load((name) => {
      if (counting) counts.set(name, (counts.get(name) ?? 0) + 1);
    });
    try {
      expect(await vm.start("", JSON.stringify(config))).toBe(true);
      counting = true;
      await chat(vm, "u", { route: "team-a", authority: "x.b.example", cluster: "outbound|8000||svc.default.svc.cluster.local" });
      counting = false;
    } finally {
      await vm.close();
    }
    return counts;
  }

  test("a plain config reads no route, cluster or :authority; a route rule reads route_name once; a domain rule the header once", async () => {
    const plain = { admin_consumer: "x", redis_key_prefix: "a:", redis: redis("store-a.dns") };
    const base = await callsFor(plain);
    const byRoute = await callsFor({ _rules_: [{ _match_route_: ["team-a"], ...plain }] });
    const byDomain = await callsFor({ _rules_: [{ _match_domain_: ["*.b.example"], ...plain }] });
    const diff = (m: Map<string, number>) => Object.fromEntries([...new Set([...m.keys(), ...base.keys()])].map((k) => [k, (m.get(k) ?? 0) - (base.get(k) ?? 0)]).filter(([, d]) => d !== 0));
    expect(diff(byRoute)).toEqual({ proxy_get_property: 1 });
    expect(diff(byDomain)).toEqual({ proxy_get_header_map_value: 1 });
  });
});
