// PLACEHOLDER until the "response" helper's reader lands: the API the request flow calls.
import { TokenUsage } from "./token_usage";
import { UsageScanner } from "./scanner";

export class ResponseReader {
  usage: TokenUsage;
  contentBytes: i64 = 0;
  bodyBytes: i64 = 0;
  private scanner: UsageScanner;
  constructor(sse: bool, public hideUsageEvents: bool) {
    const scanner = new UsageScanner(sse, 0);
    this.scanner = scanner;
    this.usage = scanner.usage;
  }
  feed(ptr: usize, len: usize, end: bool): Uint8Array | null {
    this.bodyBytes += <i64>len;
    this.scanner.feedBytes(ptr, len);
    return null;
  }
  finish(): void {
    this.scanner.finish();
  }
}
