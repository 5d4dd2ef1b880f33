// The AWS event-stream frame reader on its own (assembly/usage/event_stream.ts through its test
// module, build/test/event_stream.wasm): streams of messages with headers of every value type and
// any payload, encoded here independently of the plugin, then sometimes a byte flipped anywhere,
// a message over the reader's cap, or junk appended; fed whole, in random pieces and (when small)
// byte by byte. The reader must deliver exactly the messages before the first damaged one, fail
// with the reason the damage calls for (a bad prelude or message CRC, too large), give the same
// result however the bytes are split, and never trap.
import fc from "fast-check";
import { crc32 } from "node:zlib";
import { ParsersModule, loadParsers } from "../../tests/unit/parsers_module";
import { FuzzEnv } from "../env";
import { defineProperty, expectThat, violated } from "../property";

interface Header { name: string; type: number; value: Uint8Array }
interface Message { headers: Header[]; payload: Uint8Array }
interface EsCase { messages: Message[]; max: number; damage: "none" | "flip" | "oversized"; at: number; flipMask: number; cuts: number[] }

const FIXED: Record<number, number> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };

const headerArb: fc.Arbitrary<Header> = fc.oneof(
  fc.record({ name: fc.constantFrom(":event-type", ":message-type", ":content-type", ":exception-type", "x"), type: fc.constant(7), value: fc.constantFrom("chunk", "metadata", "event", "exception", "", "contentBlockDelta").map((s) => Buffer.from(s)) }),
  fc.integer({ min: 0, max: 9 }).chain((type) => fc.record({
    name: fc.string({ minLength: 1, maxLength: 8 }).filter((s) => Buffer.byteLength(s) < 256),
    type: fc.constant(type),
    value: type === 6 || type === 7 ? fc.uint8Array({ maxLength: 40 }) : fc.uint8Array({ minLength: FIXED[type], maxLength: FIXED[type] }),
  })),
);

const caseArb: fc.Arbitrary<EsCase> = fc.record({
  messages: fc.array(fc.record({ headers: fc.array(headerArb, { maxLength: 4 }), payload: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 5 }),
  max: fc.oneof(fc.constant(262144), fc.integer({ min: 16, max: 600 })),
  damage: fc.oneof({ weight: 3, arbitrary: fc.constant<"none">("none") }, { weight: 2, arbitrary: fc.constantFrom<"flip" | "oversized">("flip", "oversized") }),
  at: fc.nat(),
  flipMask: fc.integer({ min: 1, max: 255 }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
});

function encodeHeader(h: Header): Buffer {
  const name = Buffer.from(h.name, "utf8");
  const parts = [Buffer.from([name.length]), name, Buffer.from([h.type])];
  if (h.type === 6 || h.type === 7) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(h.value.length);
    parts.push(len);
  }
  parts.push(Buffer.from(h.value));
  return Buffer.concat(parts);
}

function encode(m: Message): Buffer {
  const headers = Buffer.concat(m.headers.map(encodeHeader));
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(12 + headers.length + m.payload.length + 4, 0);
  prelude.writeUInt32BE(headers.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, headers, Buffer.from(m.payload)]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([body, crc]);
}

/** The last string value of a header named `name` (the reader keeps the last one), or "?" when none. */
function headerValue(m: Message, name: string, known: string[]): string {
  let v = "?";
  for (const h of m.headers) if (h.type === 7 && h.name === name) v = Buffer.from(h.value).toString("latin1");
  return known.includes(v) ? v : "?";
}

interface Result { messages: Array<{ type: string; kind: string; payload: string }>; count: number; failure: number; partial: number }

let esModule: ParsersModule | null = null;

function read(pieces: Uint8Array[], max: number): Result {
  const m = (esModule ??= loadParsers("event_stream"));
  try {
    m.exports.es_new(max);
    for (const p of pieces) m.exports.es_feed(m.write(p));
    const out = JSON.parse(m.output(m.exports.es_result()).toString("utf8")) as Result;
    if (m.logs.length > 0) violated(`the event-stream module logged ${m.logs.join(" | ")}`);
    return out;
  } catch (e) {
    esModule = null;
    throw e;
  }
}

function split(b: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((x) => x % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(b.subarray(from, p));
    from = p;
  }
  out.push(b.subarray(from));
  return out;
}

export const eventStreamProperty = defineProperty<EsCase>({
  name: "event-stream",
  description: "AWS event-stream frames of any headers and payload, split anywhere, bit-flipped or oversized: the messages before the damage, the right failure, never a trap",
  arbitrary: () => caseArb,
  async check(_env: FuzzEnv, c: EsCase): Promise<void> {
    const frames = c.messages.map(encode);
    let bodies = frames;
    // Which message the damage lands in (messages before it are delivered), and the failure wanted.
    let damagedAt = frames.length;
    let failures = [0];
    if (c.damage === "oversized") {
      const big = encode({ headers: [], payload: new Uint8Array(Math.max(0, c.max - 15)) });
      damagedAt = c.at % (frames.length + 1);
      bodies = [...frames.slice(0, damagedAt), big, ...frames.slice(damagedAt)];
      failures = [3];
    } else if (c.damage === "flip" && frames.length > 0) {
      damagedAt = c.at % frames.length;
      const f = Buffer.from(frames[damagedAt]);
      const pos = Math.floor(c.at / frames.length) % f.length;
      f[pos] ^= c.flipMask;
      bodies = [...frames.slice(0, damagedAt), f, ...frames.slice(damagedAt + 1)];
      // A flip in the prelude fails its CRC; after it, the message CRC (or lengths that now run
      // past their data: the reader waits, and the stream ends partial).
      failures = pos < 12 ? [1] : f.length > c.max ? [3] : [2];
    }
    // Messages over the cap before the damage fail first.
    const firstTooLarge = frames.findIndex((f) => f.length > c.max);
    if (firstTooLarge >= 0 && firstTooLarge < damagedAt) {
      damagedAt = firstTooLarge;
      failures = [3];
    }
    const stream = Buffer.concat(bodies);
    const whole = read([stream], c.max);
    expectThat(failures.includes(whole.failure), () => `failure ${whole.failure}, expected ${failures.join(" or ")} (${c.damage} in message ${damagedAt} of ${frames.length})`);
    expectThat(whole.count === damagedAt, () => `${whole.count} messages delivered, expected ${damagedAt}`);
    const want = c.messages.slice(0, damagedAt).map((m) => ({
      type: headerValue(m, ":event-type", ["chunk", "metadata"]),
      kind: headerValue(m, ":message-type", ["event", "exception"]),
      payload: Buffer.from(m.payload).toString("hex"),
    }));
    // A message whose headers run past their length is malformed (4): nothing after it either.
    expectThat(JSON.stringify(whole.messages) === JSON.stringify(want), () => `delivered ${JSON.stringify(whole.messages).slice(0, 300)}, expected ${JSON.stringify(want).slice(0, 300)}`);
    const pieces = read(split(stream, c.cuts), c.max);
    expectThat(JSON.stringify(pieces) === JSON.stringify(whole), () => `split in ${c.cuts.length + 1} pieces: ${JSON.stringify(pieces).slice(0, 200)} vs whole ${JSON.stringify(whole).slice(0, 200)}`);
    if (stream.length <= 400) {
      const bytes = read([...stream].map((b) => Buffer.from([b])), c.max);
      expectThat(JSON.stringify(bytes) === JSON.stringify(whole), () => `byte by byte: ${JSON.stringify(bytes).slice(0, 200)} vs whole ${JSON.stringify(whole).slice(0, 200)}`);
    }
  },
});
