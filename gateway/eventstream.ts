// The AWS event-stream framing (application/vnd.amazon.eventstream) as Bedrock runtime writes it
// for ConverseStream and InvokeModelWithResponseStream: each message is
//   total length u32 BE | headers length u32 BE | CRC32 of those 8 bytes | headers | payload |
//   CRC32 of everything before it
// with string headers (name length u8, name, type 7, value length u16 BE, value). Bedrock's event
// messages carry `:event-type`, `:content-type: application/json` and `:message-type: event`; its
// mid-stream errors `:exception-type`, `:content-type` and `:message-type: exception`. The facts
// are @smithy/eventstream-codec's (the decoder the official SDK uses: the gateway test reads this
// framing with it).
import { crc32 } from "node:zlib";

export type StringHeaders = Array<[string, string]>;

/** One message with string headers and a payload. */
export function eventStreamMessage(headers: StringHeaders, payload: string | Buffer): Buffer {
  const h = Buffer.concat(headers.map(([name, value]) => {
    const n = Buffer.from(name, "utf8");
    const v = Buffer.from(value, "utf8");
    const len = Buffer.alloc(2);
    len.writeUInt16BE(v.length);
    return Buffer.concat([Buffer.from([n.length]), n, Buffer.from([7]), len, v]);
  }));
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(12 + h.length + body.length + 4, 0);
  prelude.writeUInt32BE(h.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const withoutCrc = Buffer.concat([prelude, h, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(withoutCrc));
  return Buffer.concat([withoutCrc, crc]);
}

/** An event message (`:event-type` type, JSON payload). */
export function eventMessage(type: string, payload: unknown): Buffer {
  return eventStreamMessage([[":event-type", type], [":content-type", "application/json"], [":message-type", "event"]], JSON.stringify(payload));
}

/** An exception message, as Bedrock sends modelStreamErrorException and the like mid-stream. */
export function exceptionMessage(type: string, message: string): Buffer {
  return eventStreamMessage([[":exception-type", type], [":content-type", "application/json"], [":message-type", "exception"]], JSON.stringify({ message }));
}

/** InvokeModelWithResponseStream's `chunk` event: the model's own event JSON, base64 in `bytes`. */
export function invokeChunk(event: unknown): Buffer {
  return eventMessage("chunk", { bytes: Buffer.from(JSON.stringify(event), "utf8").toString("base64") });
}
