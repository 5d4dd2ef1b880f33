// assembly/quota/identity.ts through build/test/routes.wasm: who the caller is, and the address an
// anonymous caller is keyed by (Envoy's xff_num_trusted_hops model).
import fc from "fast-check";
import { loadParsers } from "./parsers_module";

const m = loadParsers("routes");
afterEach(() => expect(m.logs).toEqual([]));

const line = (headers: Array<[string, string]>, trust: boolean) => m.json("request_line", headers.flat().join("\u0000"), trust ? 1 : 0);
const key = (peer: string, xff: string, hops: number): string => m.json("anonymous_key", `${peer}\u0000${xff}`, hops);
const entry = (xff: string, skip: number): string => m.json("xff_entry", xff, skip);
const address = (text: string): string => m.json("client_address", text);

describe("readRequestLine", () => {
  test("the consumer header is the identity when trusted", () => {
    expect(line([[":path", "/p"], ["x-mse-consumer", "alice"]], true)).toMatchObject({ kind: "valid", consumer: "alice", path: "/p", ignored: false });
    expect(line([["x-mse-consumer", "a"], ["x-mse-consumer", "b"]], true)).toMatchObject({ kind: "invalid" });
    expect(line([["x-mse-consumer", ""]], true)).toMatchObject({ kind: "empty" });
    expect(line([], true)).toMatchObject({ kind: "missing", ignored: false });
  });

  test("untrusted (anonymous route, no auth stage declared): any consumer header is ignored and the request is anonymous", () => {
    for (const headers of [[["x-mse-consumer", "admin"]], [["x-mse-consumer", "a"], ["x-mse-consumer", "b"]], [["x-mse-consumer", ""]], [["x-mse-consumer", "a\u0001"]]] as Array<Array<[string, string]>>) {
      expect(line(headers, false)).toMatchObject({ kind: "missing", consumer: "", ignored: true });
    }
    expect(line([], false)).toMatchObject({ kind: "missing", ignored: false });
  });

  test("repeated x-forwarded-for headers are joined in order, as Envoy joins them", () => {
    expect(line([["x-forwarded-for", "1.1.1.1"], ["x-forwarded-for", "2.2.2.2, 3.3.3.3"]], true).forwardedFor).toBe("1.1.1.1,2.2.2.2, 3.3.3.3");
  });
});

describe("x-forwarded-for entries (Envoy's Utility::getLastAddressFromXFF)", () => {
  test.each([
    ["a, b, c", 0, "c"],
    ["a, b, c", 1, "b"],
    ["a, b, c", 2, "a"],
    ["a, b, c", 3, ""],
    ["a", 0, "a"],
    ["a", 1, ""],
    ["", 0, ""],
    [" a ,\tb\t", 1, "a"],
    ["a,,b", 1, ""],
    ["a,", 0, ""],
  ])("%j skipping %i → %j", (xff, skip, want) => {
    expect(entry(xff, skip)).toBe(want);
  });
});

describe("client addresses", () => {
  test.each([
    ["192.0.2.1", "192.0.2.1"],
    ["255.255.255.255", "255.255.255.255"],
    ["0.0.0.0", "0.0.0.0"],
    ["192.0.2.01", ""], // leading zero: inet_pton refuses it
    ["256.0.0.1", ""],
    ["1.2.3", ""],
    ["1.2.3.4.5", ""],
    ["1.2.3.4:80", ""],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:DB8:0001:0002::9", "2001:db8:1:2::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::", "0:0:0:0::/64"],
    ["fe80::1%eth0", ""],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["64:ff9b::192.0.2.1", "64:ff9b:0:0::/64"],
    ["1:2:3:4:5:6:7:8:9", ""],
    ["1::2::3", ""],
    ["1:2:3:4:5:6:7::", "1:2:3:4::/64"],
    ["[::1]", ""],
    ["", ""],
    ["unknown", ""],
  ])("%j → %j", (text, want) => {
    expect(address(text)).toBe(want);
  });
});

describe("anonymousKey", () => {
  test("0 hops: the peer, whatever XFF says", () => {
    expect(key("10.0.0.1:5000", "203.0.113.7, 10.0.0.1", 0)).toBe("anonymous:10.0.0.1");
    expect(key("[2001:db8::5]:443", "", 0)).toBe("anonymous:2001:db8:0:0::/64");
    expect(key("10.0.0.1", "", 0)).toBe("anonymous:10.0.0.1");
    expect(key("/run/gw.sock", "", 0)).toBe("anonymous:/run/gw.sock"); // a peer that is not an IP (a pipe) is still one peer
    expect(key("", "", 0)).toBe("");
  });

  test("N hops: skip N entries from the right (Envoy appended the peer), take the next; too few → the peer", () => {
    expect(key("10.0.0.2:1", "6.6.6.6, 198.51.100.7, 10.0.0.2", 1)).toBe("anonymous:198.51.100.7");
    expect(key("10.0.0.3:1", "6.6.6.6, 198.51.100.7, 10.0.0.2, 10.0.0.3", 2)).toBe("anonymous:198.51.100.7");
    expect(key("10.0.0.2:1", "10.0.0.2", 1)).toBe("anonymous:10.0.0.2");
    expect(key("10.0.0.2:1", "", 1)).toBe("anonymous:10.0.0.2");
    expect(key("10.0.0.2:1", "garbage, 10.0.0.2", 1)).toBe("anonymous:10.0.0.2");
  });

  test("property: what the client writes left of the trusted entries never changes its key", () => {
    const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join("."));
    fc.assert(fc.property(
      fc.string({ maxLength: 40 }), fc.integer({ min: 0, max: 4 }), ip, fc.array(ip, { minLength: 4, maxLength: 4 }),
      (forged, hops, client, proxies) => {
        // The outermost trusted proxy appends the client; each next one appends its peer; Envoy appends the last.
        const trusted = [client, ...proxies.slice(0, hops)].join(", ");
        const xff = forged.length > 0 ? `${forged}, ${trusted}` : trusted;
        const peer = hops === 0 ? client : proxies[hops - 1];
        expect(key(`${peer}:1234`, xff.replace(/\u0000/g, ""), hops)).toBe(`anonymous:${client}`);
      },
    ), { seed: 21, numRuns: 2000 });
  });
});
