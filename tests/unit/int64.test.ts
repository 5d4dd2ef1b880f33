// assembly/util/int64.ts: Go strconv.Atoi (64-bit) and checked arithmetic.
import fc from "fast-check";
import { loadParsers } from "./parsers_module";

const m = loadParsers();
const MAX = 9223372036854775807n;
const MIN = -9223372036854775808n;

/** Reference: Go's strconv.Atoi on a 64-bit platform. */
function goAtoi(s: string): bigint | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const v = BigInt(s);
  return v > MAX || v < MIN ? null : v;
}

function atoi(s: string | Uint8Array): bigint | null {
  const r = m.json("atoi", s);
  return r.ok ? BigInt(r.value) : null;
}

afterEach(() => expect(m.logs).toEqual([]));

describe("parseInt64Strict / parseInt64Bytes", () => {
  const table: Array<[string, bigint | null]> = [
    ["0", 0n],
    ["5", 5n],
    ["+5", 5n],
    ["-5", -5n],
    ["-0", 0n],
    ["+0", 0n],
    ["00012", 12n],
    ["9223372036854775807", MAX],
    ["9223372036854775808", null],
    ["-9223372036854775808", MIN],
    ["-9223372036854775809", null],
    ["+9223372036854775807", MAX],
    ["00000000000000000000009223372036854775807", MAX],
    ["99999999999999999999999", null],
    ["18446744073709551616", null],
    ["", null],
    ["+", null],
    ["-", null],
    [" 5", null],
    ["5 ", null],
    ["\t5", null],
    ["5\n", null],
    ["+-5", null],
    ["--5", null],
    ["++5", null],
    ["1_000", null],
    ["1,000", null],
    ["0x10", null],
    ["1e3", null],
    ["1.0", null],
    ["\uff11", null], // fullwidth digit one
    ["\u0661", null], // Arabic-Indic digit one
    ["5\u0000", null],
  ];
  test.each(table)("%j -> %p", (s, want) => {
    expect(atoi(s)).toBe(want);
    expect(goAtoi(s)).toBe(want); // the reference agrees with the table
  });

  test("byte ranges, including bad bounds", () => {
    const input = Buffer.from("xx-42yy");
    const range = (start: number, end: number) => m.json("atoi_range", input, start, end);
    expect(range(2, 5)).toEqual({ ok: true, value: "-42" });
    expect(range(3, 5)).toEqual({ ok: true, value: "42" });
    expect(range(2, 6).ok).toBe(false);
    expect(range(5, 5).ok).toBe(false);
    expect(range(5, 2).ok).toBe(false);
    expect(range(-1, 3).ok).toBe(false);
    expect(range(0, 8).ok).toBe(false);
    expect(range(0, 0x7fffffff).ok).toBe(false);
  });

  test("property: agrees with Go's Atoi on arbitrary and number-like strings", () => {
    const numberish = fc
      .tuple(fc.constantFrom("", "+", "-", " ", "0"), fc.bigInt({ min: MIN * 4n, max: MAX * 4n }), fc.constantFrom("", " ", "x", "0"))
      .map(([a, n, b]) => a + n.toString() + b);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 24 }), numberish), (s) => {
        expect(atoi(s)).toBe(goAtoi(s));
      }),
      { seed: 0x5eed, numRuns: 3000 },
    );
  });

  test("property: arbitrary bytes never trap", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), (b) => {
        m.run("atoi", b);
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
});

describe("addChecked / subChecked", () => {
  // run_add/run_sub take no input: call them directly.
  const addDirect = (a: bigint, b: bigint) => {
    const r = JSON.parse(m.call("run_add", a, b).toString());
    return r.ok ? BigInt(r.value) : null;
  };
  const subDirect = (a: bigint, b: bigint) => {
    const r = JSON.parse(m.call("run_sub", a, b).toString());
    return r.ok ? BigInt(r.value) : null;
  };
  const ref = (v: bigint) => (v > MAX || v < MIN ? null : v);

  test.each([
    [1n, 2n],
    [MAX, 0n],
    [MAX, 1n],
    [MIN, -1n],
    [MIN, 0n],
    [MAX, MIN],
    [MIN, MIN],
    [MAX, MAX],
    [-1n, MIN],
    [1n, MAX],
  ])("add %p + %p", (a, b) => {
    expect(addDirect(a, b)).toBe(ref(a + b));
  });

  test.each([
    [5n, 3n],
    [0n, MIN],
    [-1n, MIN],
    [MIN, 1n],
    [MAX, -1n],
    [MIN, MIN],
    [MAX, MAX],
    [0n, MAX],
    [-2n, MAX],
  ])("sub %p - %p", (a, b) => {
    expect(subDirect(a, b)).toBe(ref(a - b));
  });

  test("property: matches BigInt arithmetic", () => {
    const i64 = fc.oneof(fc.bigInt({ min: MIN, max: MAX }), fc.constantFrom(MIN, MAX, 0n, -1n, 1n, MAX - 1n, MIN + 1n));
    fc.assert(
      fc.property(i64, i64, (a, b) => {
        expect(addDirect(a, b)).toBe(ref(a + b));
        expect(subDirect(a, b)).toBe(ref(a - b));
      }),
      { seed: 11, numRuns: 3000 },
    );
  });
});
