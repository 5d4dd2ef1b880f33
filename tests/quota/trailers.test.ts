// An answer that ends with trailers while its last SSE block is unterminated (`data: [DONE]` with
// no blank line after it: the upstream's body is over, its trailers follow). While hiding the usage
// the plugin asked for, the hider holds an incomplete block back until it is complete — here it
// never is, so the held bytes must still reach the client, before the trailers. No host call in
// a trailers callback reaches the response body (after a body Continue Envoy's Context::getBuffer
// has no buffer); Higress 2.2 (envoy-1.36) offers `inject_encoded_data_to_filter_chain`, and the
// plugin sends the held bytes through it. Hosts without it (plain Envoy, the envoy-1.27 profile)
// lose them, and the plugin says so in its log: that limitation is asserted too, so it cannot
// change unnoticed.
import { HeaderPairs, PluginVm, StreamPart } from "../../host";
import { HTTP_STORE, QuotaFixture, request } from "./fixture";

let fx: QuotaFixture;
beforeAll(async () => {
  fx = await QuotaFixture.start();
});
afterAll(async () => {
  await fx.stop();
});

const REQUEST = '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}';

const chunk = (o: object) => `data: ${JSON.stringify(o)}\n\n`;
/** What the upstream sends under include_usage, and what the client would have seen without it. */
function upstreamAndClient(tail: string): { upstream: string; client: string } {
  const c1 = { id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: "Hello" } }] };
  const c2 = { id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: " world" } }] };
  const usage = { id: "c", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } };
  return {
    upstream: chunk({ ...c1, usage: null }) + chunk({ ...c2, usage: null }) + chunk(usage) + tail,
    client: chunk(c1) + chunk(c2) + tail,
  };
}

const TRAILERS: HeaderPairs = [["grpc-status", "0"], ["x-done", "1"]];

function injects(vm: PluginVm): boolean {
  return vm.higress?.injectsEncodedData === true;
}

async function run(vm: PluginVm, consumer: string, parts: string[]): Promise<{ body: string; order: string[]; trailers: HeaderPairs | null }> {
  const order: string[] = [];
  const onDownstream = (p: StreamPart) => order.push(p.kind === "data" ? `data:${p.data.length}` : p.kind);
  const s = vm.newStream({ onDownstream });
  s.requestHeaders(request("POST", "/v1/chat/completions", consumer, [["content-type", "application/json"]]), false);
  s.requestBody(REQUEST, true);
  await s.waitFor(() => s.upstream.ended || s.localResponse !== null, "admission");
  expect(s.localResponse).toBeNull();
  expect(JSON.parse(s.upstream.body.toString()).stream_options).toEqual({ include_usage: true });
  s.responseHeaders([[":status", "200"], ["content-type", "text/event-stream"]], false);
  for (const p of parts) s.responseBody(p, false);
  s.responseTrailers(TRAILERS);
  await s.settled();
  await vm.idle();
  return { body: s.downstream.body.toString(), order, trailers: s.downstream.trailers };
}

describe("response trailers after an unterminated last SSE block, while hiding", () => {
  test.each([
    ["data: [DONE]", "no line end"],
    ["data: [DONE]\n", "one line end"],
    ["data: [DONE]\r\n", "CR LF"],
  ])("tail %j (%s): sent before the trailers where the host can inject, at every split point", async (tail) => {
    const vm = await fx.plugin();
    const { upstream, client } = upstreamAndClient(tail);
    await fx.setBalance("t", 1_000_000);
    let charged = 0;
    for (let cut = 1; cut < upstream.length; cut += 7) {
      const r = await run(vm, "t", [upstream.slice(0, cut), upstream.slice(cut)]);
      charged += 9;
      expect(r.trailers).toEqual(TRAILERS);
      if (injects(vm)) {
        expect(r.body).toBe(client);
        // The tail went out as data before the trailers.
        expect(r.order[r.order.length - 1]).toBe("trailers");
        expect(r.order[r.order.length - 2]).toBe(`data:${tail.length}`);
      } else {
        // This host has no way to send body bytes at trailers time: the tail is lost, and logged.
        expect(r.body).toBe(client.slice(0, client.length - tail.length));
        expect(vm.logText()).toContain(`${tail.length} held response bytes lost`);
      }
      // Metering never depends on what the client is shown.
      expect(await fx.balance("t")).toBe(String(1_000_000 - charged));
    }
    expect(vm.trapped).toBeNull();
  });

  test("nothing held at the trailers: nothing injected, the stream as the client would have seen it", async () => {
    const vm = await fx.plugin();
    const { upstream, client } = upstreamAndClient("data: [DONE]\n\n");
    await fx.setBalance("u", 100);
    const r = await run(vm, "u", [upstream]);
    expect(r.body).toBe(client);
    expect(r.order.filter((k) => k.startsWith("data")).length).toBe(1);
    expect(await fx.balance("u")).toBe("91");
    expect(vm.logText()).not.toContain("held response bytes lost");
  });

  test("which hosts inject: Higress envoy-1.36 yes; envoy-1.27 and plain Envoy no", async () => {
    const vm = await fx.plugin();
    if (HTTP_STORE) expect(vm.higress).toBeNull();
    else expect(injects(vm)).toBe(vm.higress!.envoy === "1.36");
  });
});
