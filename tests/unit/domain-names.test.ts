// The host `_match_domain_` compares (quota/rules.ts virtualHostName after stripPort), through
// build/test/rules.wasm: ASCII case folded, one trailing dot dropped, the port stripped first.
import { loadParsers } from "./parsers_module";

const m = loadParsers("rules");

afterAll(() => {
  expect(m.logs).toEqual([]);
});

test.each([
  ["api.example.com", "api.example.com"],
  ["API.Example.COM", "api.example.com"],
  ["api.example.com.", "api.example.com"],
  ["API.EXAMPLE.COM.:8443", "api.example.com"],
  ["api.example.com:443", "api.example.com"],
  ["api.example.com..", "api.example.com."], // one dot only: `a..` is not the name `a.`
  ["[::1]:8080", "[::1]"],
  ["[FE80::1]", "[fe80::1]"],
  ["", ""],
  ["Ünïcode.Example", "Ünïcode.example"], // only ASCII letters fold
])("%j is compared as %j", (authority, name) => {
  expect(m.json("virtual_host_name", authority)).toBe(name);
});
