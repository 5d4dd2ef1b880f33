// The HTTP bridge: proxy_http_call made by the probe plugin against a real local HTTP server,
// answered through proxy_on_http_call_response (headers as map 6, body as buffer 4).
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { PluginVm, headerValue } from "../../host";
import { get, probeVm } from "./helpers";

let server: http.Server;
let base: string;
const held: http.ServerResponse[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/slow") {
      held.push(res); // never answered until the test ends
      return;
    }
    res.setHeader("x-upstream", "yes");
    res.end(`hello from ${req.url} for ${req.headers.host}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await new Promise((resolve) => server.close(resolve));
});

async function withVm(style: "reset" | "local-reply", fn: (vm: PluginVm) => Promise<void>) {
  const vm = await probeVm({ vm: { http: { resolve: (c) => (c === "probe_http" ? base : undefined), failureStyle: style } } });
  try {
    await fn(vm);
    expect(vm.trapped).toBeNull();
  } finally {
    await vm.close();
  }
}

test("an HTTP call reaches the upstream and its answer reaches the plugin", () =>
  withVm("reset", async (vm) => {
    const r = await vm.newStream().run({ request: { headers: get("/http?path=hello&timeout=2000") } });
    expect(r.status).toBe(200);
    expect(r.text).toBe("200:hello from /hello for probe.upstream");
    const call = vm.httpCalls[0];
    expect(headerValue(call.headers, ":authority")).toBe("probe.upstream");
    expect(headerValue(call.result?.headers, "x-upstream")).toBe("yes");
  }));

test("a timeout is delivered as a failed call: no headers, no body", () =>
  withVm("reset", async (vm) => {
    const r = await vm.newStream().run({ request: { headers: get("/http?path=slow&timeout=150") } });
    expect(r.status).toBe(502);
    expect(r.text).toBe("http call failed");
    expect(vm.httpCalls[0].failure).toMatch(/timeout after 150 ms/);
  }));

test("with failureStyle local-reply a timeout comes back as Envoy's 504", () =>
  withVm("local-reply", async (vm) => {
    const r = await vm.newStream().run({ request: { headers: get("/http?path=slow&timeout=150") } });
    expect(r.text).toBe("504:upstream request timeout");
  }));

test("an unknown cluster is refused at once with BadArgument", async () => {
  const vm = await probeVm();
  try {
    const r = await vm.newStream().run({ request: { headers: get("/http?path=hello&timeout=100") } });
    expect(r.status).toBe(500);
    expect(r.text).toBe("http_call status 2");
  } finally {
    await vm.close();
  }
});
