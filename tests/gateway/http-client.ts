// Plain HTTP from the tests' side: whole answers, and streamed answers read chunk by chunk.
import * as http from "node:http";
import { StringDecoder } from "node:string_decoder";

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body's bytes as they arrived (still compressed when the answer has a content-encoding). */
  bytes: Buffer;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string;
  timeoutMs?: number;
}

export function send(url: string, options: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? (options.body !== undefined ? "POST" : "GET"), headers: options.headers, agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer from ${url} within ${options.timeoutMs ?? 10_000} ms`)), options.timeoutMs ?? 10_000);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on("response", (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        const bytes = Buffer.concat(parts);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString("utf8"), bytes });
      });
      res.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end(options.body);
  });
}

/** A response read as it arrives: `next()` waits (bounded) for more text than seen so far. */
export class StreamedAnswer {
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  text = "";
  /** The bytes as they arrived (still compressed when the answer has a content-encoding). */
  readonly raw: Buffer[] = [];
  chunks = 0;
  ended = false;
  error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(readonly req: http.ClientRequest) {}

  static open(url: string, options: RequestOptions = {}): Promise<StreamedAnswer> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: options.method ?? "POST", headers: options.headers, agent: false });
      const answer = new StreamedAnswer(req);
      const timer = setTimeout(() => req.destroy(new Error(`no response headers from ${url}`)), options.timeoutMs ?? 10_000);
      req.on("error", (err) => {
        clearTimeout(timer);
        answer.error = err;
        answer.poke();
        reject(err);
      });
      req.on("response", (res) => {
        clearTimeout(timer);
        answer.status = res.statusCode ?? 0;
        answer.headers = res.headers;
        const decoder = new StringDecoder("utf8");
        res.on("data", (b: Buffer) => {
          answer.raw.push(b);
          answer.text += decoder.write(b);
          answer.chunks++;
          answer.poke();
        });
        res.on("end", () => {
          answer.ended = true;
          answer.poke();
        });
        res.on("error", (err) => {
          answer.error = err;
          answer.poke();
        });
        resolve(answer);
      });
      req.end(options.body);
    });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Waits until `done(text)` holds (checked on every chunk), bounded. */
  until(done: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; got so far:\n${this.text}`)), timeoutMs);
      const check = () => {
        if (done(this.text)) {
          clearTimeout(timer);
          resolve(this.text);
        } else if (this.ended || this.error) {
          clearTimeout(timer);
          reject(new Error(`the response ${this.error ? `failed (${this.error.message})` : "ended"} first; got:\n${this.text}`));
        } else {
          this.wake = check;
        }
      };
      check();
    });
  }

  /** Waits for the end of the response. */
  end(timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the response did not end; got:\n${this.text}`)), timeoutMs);
      const check = () => {
        if (this.ended) {
          clearTimeout(timer);
          resolve(this.text);
        } else if (this.error) {
          clearTimeout(timer);
          reject(this.error);
        } else {
          this.wake = check;
        }
      };
      check();
    });
  }

  /** The client goes away mid-response. */
  disconnect(): void {
    this.req.destroy();
  }
}

/** The usage object of the last SSE data event that has one. */
export function sseUsage(text: string): { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null {
  let usage = null;
  for (const line of text.split("\n")) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const event = JSON.parse(line.slice(6));
    if (event.usage) usage = event.usage;
  }
  return usage;
}
