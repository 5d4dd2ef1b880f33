// Header values that are not UTF-8, as Envoy hands them over (it passes obs-text bytes through):
// the host API only takes strings, so the bytes are put into the block the plugin reads, through
// the host's onHostCall hook, right after proxy_get_header_map_pairs filled it.
//
// A consumer header that is not valid UTF-8 names no configured consumer. It must not be read as
// a different, valid name: `c1\xFF\xFE` and the overlong `\xC1\xA3\xC0\xB1` must not become `c1`.
// (These fail while the ABI layer decodes header values with String.UTF8.decodeUnsafe, which
// stops at a truncated sequence and decodes overlong forms; see the report of issue 8.)
import { PluginVm, PluginVmOptions } from "../../host";
import { FuzzEnv } from "../../fuzz/env";
import { CHAT_PATH, KEY_PREFIX, jsonResponse, requestHeaders, usageJson } from "../../fuzz/http";

const CONFIG = { admin_consumer: "admin", redis: { service_name: "redis.static" } };

let env: FuzzEnv;
beforeAll(() => { env = new FuzzEnv(); });
afterAll(async () => env.close());

/** Replaces `marker` (same length) in the request header block the plugin reads with `raw`. */
function rawHeaderBytes(marker: string, raw: number[], ref: { vm?: PluginVm }): Partial<PluginVmOptions> {
  const m = Buffer.from(marker, "latin1");
  if (m.length !== raw.length) throw new Error("marker and raw bytes differ in length");
  return {
    onHostCall: (name, args, result) => {
      if (name !== "proxy_get_header_map_pairs" || result !== 0 || ref.vm === undefined) return;
      const mem = ref.vm.memory;
      const ptr = mem.readU32(Number(args[1]));
      const size = mem.readU32(Number(args[2]));
      if (ptr === null || size === null) return;
      const at = mem.read(ptr, size)?.indexOf(m) ?? -1;
      if (at >= 0) mem.write(ptr + at, Uint8Array.from(raw));
    },
  };
}

async function chatAs(marker: string, raw: number[]) {
  const { client } = await env.redis();
  await client.command("SET", KEY_PREFIX + "c1", "100");
  const ref: { vm?: PluginVm } = {};
  const { vm } = await env.vm(CONFIG, "real", rawHeaderBytes(marker, raw, ref));
  ref.vm = vm;
  const r = await vm.newStream().run({
    request: { headers: requestHeaders("POST", CHAT_PATH, marker), body: "{}" },
    response: () => jsonResponse(usageJson(1, 1)),
  });
  await vm.idle();
  const balance = await client.command("GET", KEY_PREFIX + "c1");
  await env.dispose(vm);
  return { r, balance, trapped: vm.trapped };
}

test.each([
  ["a truncated sequence at the end: c1\\xFF\\xFE", "c1@@", [0x63, 0x31, 0xff, 0xfe]],
  ["overlong forms of 'c' and '1': \\xC1\\xA3\\xC0\\xB1", "@@@@", [0xc1, 0xa3, 0xc0, 0xb1]],
  ["a lone continuation byte: c1\\x80", "c1@", [0x63, 0x31, 0x80]],
])("a consumer header with %s is refused (401 bad_consumer) and charges nobody", async (_what, marker, raw) => {
  const { r, balance, trapped } = await chatAs(marker as string, raw as number[]);
  expect(trapped).toBeNull();
  expect({ status: r.local?.status, details: r.local?.details, upstream: r.upstream !== null }).toEqual({ status: 401, details: "ai-quota.bad_consumer", upstream: false });
  expect(balance).toBe("100");
});

/** A chat by c1 whose `:path` has `marker` replaced by raw bytes: the balance after it and whether it reached the upstream. */
async function chatOnPath(path: string, marker: string, raw: number[]) {
  const { client } = await env.redis();
  await client.command("SET", KEY_PREFIX + "c1", "100");
  const ref: { vm?: PluginVm } = {};
  const { vm } = await env.vm(CONFIG, "real", rawHeaderBytes(marker, raw, ref));
  ref.vm = vm;
  const r = await vm.newStream().run({
    request: { headers: requestHeaders("POST", path, "c1"), body: "{}" },
    response: () => jsonResponse(usageJson(1, 1)),
  });
  await vm.idle();
  const balance = await client.command("GET", KEY_PREFIX + "c1");
  await env.dispose(vm);
  return { upstream: r.upstream !== null, balance, trapped: vm.trapped };
}

test.each([
  ["in the query: still the chat path, metered", `${CHAT_PATH}?x=@@`, "@@", [0xff, 0xfe], "98", true],
  ["in the fragment: metered", `${CHAT_PATH}#@`, "@", [0x80], "98", true],
  ["valid UTF-8 in the query: metered", `${CHAT_PATH}?q=@@`, "@@", [0xc3, 0xa9], "98", true],
  ["in a segment before the suffix, valid: metered (read every way)", `/v1/@@${CHAT_PATH.slice(3)}`, "@@", [0xc3, 0xa9], "98", true],
  // Neither metered nor admin: other_paths refuses it by default (a plain path in its allow list would pass).
  ["at the end of the path: not the chat path, refused", `${CHAT_PATH}@`, "@", [0xff], "100", false],
])("a :path with raw bytes %s", async (_what, path, marker, raw, balance, upstream) => {
  const r = await chatOnPath(path as string, marker as string, raw as number[]);
  expect(r.trapped).toBeNull();
  expect(r.upstream).toBe(upstream);
  expect(r.balance).toBe(balance);
});
