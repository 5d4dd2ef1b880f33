// PLACEHOLDER until the "request" helper's reader lands: the API the request flow calls.
// It only counts bytes; it reads nothing and rewrites nothing.
export class RequestFacts {
  stream: i8 = -1;
  usageAsked: bool = false;
  hasStreamOptions: bool = false;
  model: string = "";
  outputLimit: i64 = -1;
  outputLimitUnreadable: bool = false;
  choices: i64 = 1;
  background: bool = false;
  complete: bool = false;
  bytes: i64 = 0;
}

export class FrontEdit {
  constructor(public drain: i32, public prepend: Uint8Array) {}
}

export class RequestBodyReader {
  facts: RequestFacts = new RequestFacts();
  injected: bool = false;
  constructor(public injectUsage: bool) {}
  rewriteChunk(ptr: usize, len: usize, end: bool): Uint8Array | null {
    this.facts.bytes += <i64>len;
    return null;
  }
  read(ptr: usize, len: usize): void {
    this.facts.bytes += <i64>len;
  }
  finish(): void {}
  frontEdit(): FrontEdit | null { return null; }
}
