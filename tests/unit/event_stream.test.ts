// assembly/usage/event_stream.ts: the AWS event-stream framing of Bedrock's -stream answers, read
// split at any byte, with both CRCs checked and one message at most held (maxMessageBytes).
import fc from "fast-check";
import { crc32 } from "node:zlib";
import { loadParsers } from "./parsers_module";

const m = loadParsers("event_stream");
afterEach(() => expect(m.logs).toEqual([]));

type Header = [string, string];

/** A message as @smithy/eventstream-codec writes one (string headers, type 7). */
function frame(headers: Header[], payload: Buffer | string): Buffer {
  const h = Buffer.concat(headers.map(([name, value]) => {
    const n = Buffer.from(name, "latin1");
    const v = Buffer.from(value, "utf8");
    const len = Buffer.alloc(2);
    len.writeUInt16BE(v.length);
    return Buffer.concat([Buffer.from([n.length]), n, Buffer.from([7]), len, v]);
  }));
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const total = 12 + h.length + body.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(h.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const withoutCrc = Buffer.concat([prelude, h, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(withoutCrc));
  return Buffer.concat([withoutCrc, crc]);
}

const event = (type: string, payload: string): Buffer =>
  frame([[":event-type", type], [":content-type", "application/json"], [":message-type", "event"]], payload);

interface Result { messages: Array<{ type: string; kind: string; payload: string }>; count: number; failure: number; partial: number }

function read(chunks: Buffer[], max = 262144): Result {
  m.exports.es_new(max);
  for (const c of chunks) m.exports.es_feed(m.write(c));
  return JSON.parse(m.output(m.exports.es_result()).toString("utf8"));
}

const hex = (s: string) => Buffer.from(s, "utf8").toString("hex");
const chunkPayload = JSON.stringify({ bytes: Buffer.from('{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":12,"outputTokenCount":34}}').toString("base64") });
const metadataPayload = '{"usage":{"inputTokens":5,"outputTokens":7,"totalTokens":12},"metrics":{"latencyMs":100}}';
const stream = Buffer.concat([event("chunk", chunkPayload), event("metadata", metadataPayload)]);

test("crc32 is zlib's", () => {
  for (const s of ["", "123456789", "a", "x".repeat(1000)]) {
    expect(m.exports.crc32_of(m.write(s)) >>> 0).toBe(crc32(Buffer.from(s)));
  }
});

test("messages, whole, split in two at every byte, and byte by byte", () => {
  const want: Result = {
    messages: [{ type: "chunk", kind: "event", payload: hex(chunkPayload) }, { type: "metadata", kind: "event", payload: hex(metadataPayload) }],
    count: 2, failure: 0, partial: 0,
  };
  expect(read([stream])).toEqual(want);
  for (let i = 0; i <= stream.length; i++) expect(read([stream.subarray(0, i), stream.subarray(i)])).toEqual(want);
  expect(read([...stream].map((b) => Buffer.from([b])))).toEqual(want);
});

test("a stream cut mid-message delivers what ended and holds the rest as partial", () => {
  const cut = stream.subarray(0, stream.length - 5);
  const r = read([cut]);
  expect(r.count).toBe(1);
  expect(r.failure).toBe(0);
  expect(r.partial).toBe(stream.length - 5 - event("chunk", chunkPayload).length);
});

test("a bad prelude CRC, a bad message CRC: nothing more is read", () => {
  const first = event("chunk", chunkPayload);
  const badPrelude = Buffer.from(first); badPrelude[9] ^= 1;
  expect(read([badPrelude, event("metadata", metadataPayload)])).toMatchObject({ count: 0, failure: 1 });
  const badMessage = Buffer.from(first); badMessage[20] ^= 0x40;
  expect(read([badMessage, event("metadata", metadataPayload)])).toMatchObject({ count: 0, failure: 2 });
  // A good message, then a tampered one: the first is kept, the rest is not trusted.
  expect(read([first, badMessage, first])).toMatchObject({ count: 1, failure: 2 });
});

test("a message longer than the cap is refused from its prelude, before any of it is held", () => {
  const big = event("chunk", JSON.stringify({ bytes: "A".repeat(5000) }));
  expect(read([big.subarray(0, 12)], 4096)).toMatchObject({ count: 0, failure: 3, partial: 0 });
  expect(read([big], 8192)).toMatchObject({ count: 1, failure: 0 });
});

test("lengths no encoder writes are malformed", () => {
  const prelude = (total: number, headers: number) => {
    const p = Buffer.alloc(12);
    p.writeUInt32BE(total, 0); p.writeUInt32BE(headers, 4); p.writeUInt32BE(crc32(p.subarray(0, 8)), 8);
    return p;
  };
  expect(read([prelude(15, 0)])).toMatchObject({ failure: 4 });
  expect(read([prelude(20, 5)])).toMatchObject({ failure: 4 });
  // Headers that run past their length (a name of 200 bytes in 10 header bytes), with valid CRCs.
  const h = Buffer.from([200, 0x61, 0x62, 0, 0, 0, 0, 0, 0, 0]);
  const body = Buffer.concat([prelude(12 + h.length + 4, h.length), h]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body));
  expect(read([Buffer.concat([body, crc])])).toMatchObject({ count: 0, failure: 4 });
});

test("fuzz: any bytes, any split: never traps, memory bounded, well-formed frames always read", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 6 }), (bytes, cuts) => {
    const b = Buffer.from(bytes);
    const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
    const chunks: Buffer[] = [];
    let at = 0;
    for (const p of points) { chunks.push(b.subarray(at, p)); at = p; }
    chunks.push(b.subarray(at));
    const r = read(chunks, 1024);
    expect(r.partial).toBeLessThanOrEqual(1024);
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom("chunk", "metadata"), fc.string({ maxLength: 80 })), { maxLength: 5 }), fc.nat(), (events, cut) => {
    const s = Buffer.concat(events.map(([t, p]) => event(t, p)));
    const i = s.length === 0 ? 0 : cut % s.length;
    const r = read([s.subarray(0, i), s.subarray(i)]);
    expect(r.failure).toBe(0);
    expect(r.messages.map((x) => [x.type, x.payload])).toEqual(events.map(([t, p]) => [t, hex(p)]));
  }), { numRuns: 200 });
});
