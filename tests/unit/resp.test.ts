// assembly/redis/resp.ts: RESP2 command encoding and strict single-reply decoding.
import fc from "fast-check";
import { loadParsers } from "./parsers_module";

const m = loadParsers();
afterEach(() => expect(m.logs).toEqual([]));

type Tree = null | { simple: string } | { error: string } | { integer: string } | { bulk: string } | Tree[];
const decode = (b: string | Uint8Array, maxDepth = 8, maxElements = 4096): { value?: Tree; fail?: string } =>
  m.json("resp_decode", typeof b === "string" ? Buffer.from(b, "latin1") : b, maxDepth, maxElements);
const encode = (args: string[]): Buffer => m.run("resp_encode", args.join("\u0000"));

const valid: Array<[string, Tree]> = [
  ["+OK\r\n", { simple: "OK" }],
  ["+\r\n", { simple: "" }],
  ["-ERR wrong number of arguments\r\n", { error: "ERR wrong number of arguments" }],
  ["-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", { error: "WRONGTYPE Operation against a key holding the wrong kind of value" }],
  [":0\r\n", { integer: "0" }],
  [":42\r\n", { integer: "42" }],
  [":-1\r\n", { integer: "-1" }],
  [":9223372036854775807\r\n", { integer: "9223372036854775807" }],
  [":-9223372036854775808\r\n", { integer: "-9223372036854775808" }],
  ["$5\r\nhello\r\n", { bulk: "hello" }],
  ["$0\r\n\r\n", { bulk: "" }],
  ["$4\r\na\r\nb\r\n", { bulk: "a\r\nb" }],
  ["$3\r\n\xe4\xb8\xad\r\n", { bulk: "中" }],
  ["$1\r\n\xff\r\n", { bulk: "\ufffd" }],
  ["$-1\r\n", null],
  ["*-1\r\n", null],
  ["*0\r\n", []],
  ["*2\r\n$3\r\nGET\r\n:1\r\n", [{ bulk: "GET" }, { integer: "1" }]],
  ["*1\r\n$-1\r\n", [null]],
  ["*2\r\n*1\r\n+a\r\n*0\r\n", [[{ simple: "a" }], []]],
  ["*3\r\n:1\r\n*2\r\n-E\r\n*-1\r\n$2\r\nok\r\n", [{ integer: "1" }, [{ error: "E" }, null], { bulk: "ok" }]],
];

describe("decodeReply: valid replies", () => {
  test.each(valid)("%j", (wire, want) => {
    expect(decode(wire)).toEqual({ value: want });
  });

  test("every proper prefix of a valid reply is an error (truncation at each byte)", () => {
    for (const [wire] of valid) {
      const bytes = Buffer.from(wire, "latin1");
      for (let i = 0; i < bytes.length; i++) {
        const r = decode(bytes.subarray(0, i));
        expect(r.fail).toBeDefined();
      }
    }
  });

  test("trailing bytes after a valid reply are an error", () => {
    for (const [wire] of valid) {
      expect(decode(wire + "+OK\r\n").fail).toMatch(/trailing/);
      expect(decode(wire + "x").fail).toMatch(/trailing/);
    }
  });
});

describe("decodeReply: malformed replies", () => {
  const bad: Array<[string, RegExp]> = [
    ["", /truncated/],
    ["+OK", /truncated/],
    ["+OK\r", /truncated/],
    ["+OK\n", /bare LF/],
    ["+O\nK\r\n", /bare LF/],
    ["+OK\rx\n", /CR not followed by LF/],
    ["$5\r\nhell\r\n", /mismatch|truncated/],
    ["$3\r\nhello\r\n", /mismatch/],
    ["$5\r\nhello", /truncated/],
    ["$5\r\nhello\r", /truncated/],
    ["$-2\r\n", /negative bulk/],
    ["*-2\r\n", /negative array/],
    ["$-0\r\n\r\n", /$^/], // "-0" is 0 (Atoi): an empty bulk string, checked below
    ["$99999999999999\r\n", /truncated/],
    ["$9223372036854775807\r\nabc\r\n", /truncated/],
    ["$9223372036854775808\r\n", /bad bulk length/],
    ["*9223372036854775807\r\n", /truncated/],
    ["*4294967297\r\n:1\r\n", /truncated/],
    ["*2\r\n:1\r\n", /truncated/],
    ["$abc\r\n", /bad bulk length/],
    ["$\r\n", /bad bulk length/],
    ["$ 3\r\nabc\r\n", /bad bulk length/],
    [":abc\r\n", /bad integer/],
    [":\r\n", /bad integer/],
    [":1.5\r\n", /bad integer/],
    [":99999999999999999999\r\n", /bad integer/],
    ["*x\r\n", /bad array length/],
    ["_\r\n", /RESP3/],
    [",1.5\r\n", /RESP3/],
    ["#t\r\n", /RESP3/],
    ["!3\r\nerr\r\n", /RESP3/],
    ["=7\r\ntxt:abc\r\n", /RESP3/],
    ["(123\r\n", /RESP3/],
    ["%1\r\n+a\r\n+b\r\n", /RESP3/],
    ["~1\r\n+a\r\n", /RESP3/],
    [">1\r\n+a\r\n", /RESP3/],
    ["|1\r\n+a\r\n+b\r\n", /RESP3/],
    ["*1\r\n_\r\n", /RESP3/],
    ["x\r\n", /unknown type/],
    ["\r\n", /unknown type/],
    ["OK\r\n", /unknown type/],
  ];
  test.each(bad)("%j", (wire, re) => {
    const r = decode(wire);
    if (wire === "$-0\r\n\r\n") {
      expect(r).toEqual({ value: { bulk: "" } });
      return;
    }
    expect(r.value).toBeUndefined();
    expect(r.fail).toMatch(re);
  });

  test("nesting depth is bounded (a top-level array is depth 1)", () => {
    const nest = (n: number) => "*1\r\n".repeat(n) + ":1\r\n";
    expect(decode(nest(3), 3).value).toEqual([[[{ integer: "1" }]]]);
    expect(decode(nest(4), 3).fail).toMatch(/too deep/);
    expect(decode(nest(8)).value).toBeDefined();
    expect(decode(nest(9)).fail).toMatch(/too deep/);
    expect(decode("*0\r\n", 0).fail).toMatch(/too deep/);
    expect(decode(":1\r\n", 0).value).toEqual({ integer: "1" });
    // a huge maxDepth is capped, so deep input cannot exhaust the stack
    expect(decode(nest(100000), 0x7fffffff).fail).toMatch(/too deep/);
  });

  test("the element count is bounded (every value counts, the array too)", () => {
    const arr = "*3\r\n:1\r\n:2\r\n:3\r\n";
    expect(decode(arr, 8, 4).value).toHaveLength(3);
    expect(decode(arr, 8, 3).fail).toMatch(/too many elements/);
    const big = "*5000\r\n" + ":1\r\n".repeat(5000);
    expect(decode(big).fail).toMatch(/too many elements/);
    expect(decode(big, 8, 5001).value).toHaveLength(5000);
  });
});

describe("RespValue.toInteger", () => {
  test.each([
    [":42\r\n", { ok: true, value: "42" }],
    ["$3\r\n100\r\n", { ok: true, value: "100" }],
    ["$4\r\n-100\r\n", { ok: true, value: "-100" }],
    ["+7\r\n", { ok: true, value: "7" }],
    ["$3\r\n1.5\r\n", { ok: false }],
    ["$0\r\n\r\n", { ok: false }],
    ["$-1\r\n", { ok: false }],
    ["-ERR x\r\n", { ok: false }],
    ["*1\r\n:1\r\n", { ok: false }],
  ])("%j", (wire, want) => {
    expect(m.json("resp_integer", Buffer.from(wire, "latin1"))).toEqual(want);
  });
});

describe("encodeCommand", () => {
  test.each([
    [["GET", "chat_quota:alice"], "*2\r\n$3\r\nGET\r\n$16\r\nchat_quota:alice\r\n"],
    [["DECRBY", "chat_quota:bob", "42"], "*3\r\n$6\r\nDECRBY\r\n$14\r\nchat_quota:bob\r\n$2\r\n42\r\n"],
    [["SET", "k", "中"], "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\xe4\xb8\xad\r\n"],
    [[""], "*1\r\n$0\r\n\r\n"],
    [["a\r\nb"], "*1\r\n$4\r\na\r\nb\r\n"],
  ])("%j", (args, wire) => {
    expect(encode(args).toString("latin1")).toBe(wire);
  });

  test("property: decode(encode(args)) gives the arguments back", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary", maxLength: 12 }).map((s) => s.replace(/\u0000/g, "")), { minLength: 1, maxLength: 6 }), (args) => {
        const r = decode(encode(args));
        expect(r.value).toEqual(args.map((a) => ({ bulk: Buffer.from(a, "utf8").toString("utf8") })));
      }),
      { seed: 5, numRuns: 1500 },
    );
  });
});

describe("property tests", () => {
  // A generator of valid RESP2 replies with their expected trees.
  const leaf: fc.Arbitrary<[string, Tree]> = fc.oneof(
    fc.stringMatching(/^[a-zA-Z0-9 ]{0,8}$/).map((s): [string, Tree] => [`+${s}\r\n`, { simple: s }]),
    fc.stringMatching(/^[a-zA-Z0-9 ]{0,8}$/).map((s): [string, Tree] => [`-${s}\r\n`, { error: s }]),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n): [string, Tree] => [`:${n}\r\n`, { integer: n.toString() }]),
    fc.string({ maxLength: 10 }).map((s): [string, Tree] => [`$${s.length}\r\n${s}\r\n`, { bulk: s }]),
    fc.constant<[string, Tree]>(["$-1\r\n", null]),
    fc.constant<[string, Tree]>(["*-1\r\n", null]),
  );
  const reply = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("arr") as fc.Arbitrary<[string, Tree]>),
    arr: fc.array(tie("node") as fc.Arbitrary<[string, Tree]>, { maxLength: 4 }).map((xs): [string, Tree] => [
      `*${xs.length}\r\n` + xs.map((x) => x[0]).join(""),
      xs.map((x) => x[1]),
    ]),
  })).node;

  test("generated valid replies decode to their tree; every prefix fails", () => {
    fc.assert(
      fc.property(reply, ([wire, tree]) => {
        const r = decode(wire, 64, 100000);
        expect(r).toEqual({ value: tree });
        const cut = Math.floor(wire.length / 2);
        expect(decode(wire.slice(0, cut), 64, 100000).fail).toBeDefined();
      }),
      { seed: 9, numRuns: 1500 },
    );
  });

  test("arbitrary bytes (raw and RESP-flavoured) never trap", () => {
    const flavoured = fc
      .array(fc.constantFrom("*", "$", ":", "+", "-", "\r\n", "\r", "\n", "1", "2", "-1", "0", "9999999999", "x", "_", "%"), { maxLength: 24 })
      .map((a) => Buffer.from(a.join(""), "latin1"));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 48 }), flavoured), fc.integer({ min: -2, max: 10 }), (b, depth) => {
        const r = decode(b, depth, 64);
        expect(r.value !== undefined || typeof r.fail === "string").toBe(true);
      }),
      { seed: 10, numRuns: 4000 },
    );
  });
});
