// Test-only entry for the AWS event-stream reader (tests/unit/event_stream.test.ts, fuzz):
// es_new(max), es_feed(len) for each chunk written at input_alloc, then es_result() as JSON:
// every message delivered (event type, message type, payload as hex) and why the reader failed.
import "../abi/abort";
export { input_alloc, output_ptr } from "./_io";
import { clamp, emit, input } from "./_io";
import { EventStreamReader, EventStreamSink } from "../usage/event_stream";
import { crc32 } from "../util/crc32";

const HEX = "0123456789abcdef";

class Recorder extends EventStreamSink {
  out: Array<string> = new Array<string>();
  message(r: EventStreamReader, payload: usize, payloadLen: usize): void {
    let hex = "";
    for (let i: usize = 0; i < payloadLen; i++) {
      const c = <i32>load<u8>(payload + i);
      hex += HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    }
    const type = r.eventTypeIs("chunk") ? "chunk" : (r.eventTypeIs("metadata") ? "metadata" : "?");
    const kind = r.messageTypeIs("event") ? "event" : (r.messageTypeIs("exception") ? "exception" : "?");
    this.out.push(`{"type":"${type}","kind":"${kind}","payload":"${hex}"}`);
  }
}

let recorder = new Recorder();
let reader: EventStreamReader = new EventStreamReader(recorder, 262144);

export function es_new(maxMessageBytes: i32): void {
  recorder = new Recorder();
  reader = new EventStreamReader(recorder, <u32>maxMessageBytes);
}

export function es_feed(len: i32): void {
  reader.feed(input.dataStart, <usize>clamp(len));
}

export function es_result(): i32 {
  return emit(`{"messages":[${recorder.out.join(",")}],"count":${reader.messages.toString()},"failure":${reader.failure.toString()},"partial":${reader.partialBytes.toString()}}`);
}

/** The CRC-32 of input[0, len) (compared with zlib's). */
export function crc32_of(len: i32): u32 {
  return crc32(input.dataStart, <usize>clamp(len));
}
