// assembly/util/urlencoded.ts: Go net/url ParseQuery and url.Parse(raw).Path / RawQuery.
import fc from "fast-check";
import { loadParsers } from "./parsers_module";

const m = loadParsers();
afterEach(() => expect(m.logs).toEqual([]));

const pairs = (q: string | Uint8Array, maxPairs = 1000): Array<[string, string]> => m.json("parse_query", q, maxPairs).pairs;
const first = (key: string, q: string) => m.json("query_first", `${key}\u0000${q}`);

describe("parseQuery (Go url.ParseQuery)", () => {
  const table: Array<[string, Array<[string, string]>]> = [
    ["", []],
    ["a=1", [["a", "1"]]],
    ["a=1&a=2", [["a", "1"], ["a", "2"]]],
    ["a=%zz&b=2", [["b", "2"]]],
    ["%zz=1&b=2", [["b", "2"]]],
    ["consumer=a%20b", [["consumer", "a b"]]],
    ["consumer=a+b", [["consumer", "a b"]]],
    ["a+b=c+d", [["a b", "c d"]]],
    ["x=1;y=2", []],
    ["a=1&x=1;y=2&b=2", [["a", "1"], ["b", "2"]]],
    ["a;=1", []],
    ["a", [["a", ""]]],
    ["a=", [["a", ""]]],
    ["=v", [["", "v"]]],
    ["=", [["", ""]]],
    ["&&a=1&&", [["a", "1"]]],
    ["&", []],
    ["a=1=2", [["a", "1=2"]]],
    ["a=%", []],
    ["a=%4", []],
    ["a=%41", [["a", "A"]]],
    ["a=%4a%4A", [["a", "JJ"]]],
    ["a=%2B", [["a", "+"]]],
    ["a=%26b", [["a", "&b"]]],
    ["a=%3B", [["a", ";"]]],
    ["k=%00", [["k", "\u0000"]]],
    ["a=%e4%b8%ad", [["a", "中"]]],
    ["a=中", [["a", "中"]]],
    ["a=%ff", [["a", "\ufffd"]]],
    ["a=%e4%b8", [["a", "\ufffd"]]],
    ["a=%25zz", [["a", "%zz"]]],
    ["consumer=x&quota=100", [["consumer", "x"], ["quota", "100"]]],
    ["consumer=x&value=-100", [["consumer", "x"], ["value", "-100"]]],
    ["a=1&b", [["a", "1"], ["b", ""]]],
    ["a=1\nb=2", [["a", "1\nb=2"]]],
  ];
  test.each(table)("%j", (q, want) => {
    expect(pairs(q)).toEqual(want);
    expect(m.json("parse_query", q, 1000).count).toBe(want.length);
  });

  test("first value wins, has() and missing keys", () => {
    expect(first("a", "a=1&a=2")).toEqual({ has: true, first: "1" });
    expect(first("b", "a=1&b=&b=3")).toEqual({ has: true, first: "" });
    expect(first("c", "a=1")).toEqual({ has: false, first: null });
    expect(first("a", "a=%zz&a=2")).toEqual({ has: true, first: "2" });
    expect(first("consumer", "consumer=a%20b")).toEqual({ has: true, first: "a b" });
    expect(first("x", "x=1;y=2")).toEqual({ has: false, first: null });
    expect(first("a b", "a+b=1")).toEqual({ has: true, first: "1" });
  });

  test("maxPairs bounds the pieces read", () => {
    expect(pairs("a=1&b=2&c=3", 2)).toEqual([["a", "1"], ["b", "2"]]);
    expect(pairs("a=1&b=2&c=3", 0)).toEqual([]);
    expect(pairs("&&&&a=1", 3)).toEqual([]);
    expect(pairs("a=1&".repeat(5000))).toHaveLength(1000);
  });

  test("property: agrees with a reference ParseQuery; arbitrary bytes never trap", () => {
    // Reference model of Go's ParseQuery (on strings whose escapes decode to valid UTF-8).
    const ref = (q: string): Array<[string, string]> => {
      const out: Array<[string, string]> = [];
      for (const piece of q.split("&")) {
        if (piece.includes(";") || piece === "") continue;
        const eq = piece.indexOf("=");
        const k = eq < 0 ? piece : piece.slice(0, eq);
        const v = eq < 0 ? "" : piece.slice(eq + 1);
        const un = (s: string): string | null => {
          if (/%(?![0-9a-fA-F]{2})/.test(s)) return null;
          return Buffer.from(
            s.replace(/\+/g, " ").replace(/%([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
            "latin1",
          ).toString("utf8");
        };
        const kk = un(k);
        const vv = un(v);
        if (kk === null || vv === null) continue;
        out.push([kk, vv]);
      }
      return out;
    };
    const alphabet = fc.constantFrom("a", "b", "=", "&", ";", "+", "%", "2", "0", "4", "1", "z", "F", " ");
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 30 }).map((a) => a.join("")), (q) => {
        expect(pairs(q)).toEqual(ref(q));
      }),
      { seed: 3, numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        m.run("parse_query", b, 1000);
        m.run("split_path", b);
      }),
      { seed: 4, numRuns: 2000 },
    );
  });
});

describe("splitPath (Go url.Parse(raw).Path and RawQuery)", () => {
  const table: Array<[string, string, string]> = [
    ["/v1/chat/completions/quota?consumer=x", "/v1/chat/completions/quota", "consumer=x"],
    ["/v1/chat/completions", "/v1/chat/completions", ""],
    ["/v1/chat/completions/quota/refresh", "/v1/chat/completions/quota/refresh", ""],
    ["/a%20b?x", "/a b", "x"],
    ["/a+b", "/a+b", ""],
    ["/v1/chat/completions%2Fquota", "/v1/chat/completions/quota", ""],
    ["/%2F", "//", ""],
    ["/a%zzb?q", "/a%zzb", "q"],
    ["/a%2?q", "/a%2", "q"],
    ["/p#frag?x", "/p", ""],
    ["/p?q#f", "/p", "q"],
    ["/p?", "/p", ""],
    ["/p?a?b", "/p", "a?b"],
    ["/p?consumer=a%20b", "/p", "consumer=a%20b"],
    ["http://host/p?q", "/p", "q"],
    ["https://u@host:8080/v1/chat/completions?x=1", "/v1/chat/completions", "x=1"],
    ["//host/p", "/p", ""],
    ["//host", "", ""],
    ["///p", "///p", ""],
    ["mailto:x?y", "", "y"],
    ["", "", ""],
    ["?only", "", "only"],
    ["/%e4%b8%ad", "/中", ""],
    ["/中文", "/中文", ""],
  ];
  test.each(table)("%j", (raw, path, rawQuery) => {
    expect(m.json("split_path", raw)).toEqual({ path, rawQuery });
  });
});
