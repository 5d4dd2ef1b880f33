// A whole exchange in one call: the request goes in, the upstream answers what it received (if
// the plugin let it through), the response goes back, and the result says what the client saw.
import { HeaderPairs } from "./header-map";
import type { LocalResponse } from "./exchange";
import type { BodyInput, Stream } from "./stream";

export type BodyChunks = BodyInput | BodyInput[];

export interface UpstreamRequest {
  headers: HeaderPairs;
  body: Buffer;
  trailers: HeaderPairs | null;
}

export interface ResponseSpec {
  headers: HeaderPairs;
  /** One chunk, or several delivered as separate body callbacks. */
  body?: BodyChunks;
  trailers?: HeaderPairs;
}

export interface ExchangeSpec {
  request: { headers: HeaderPairs; body?: BodyChunks; trailers?: HeaderPairs };
  /** The upstream; default: 200 with an empty body. */
  response?: (request: UpstreamRequest) => ResponseSpec | Promise<ResponseSpec>;
  timeoutMs?: number;
}

export interface ExchangeResult {
  /** The status the client got, or null when the stream was reset before any. */
  status: number | null;
  headers: HeaderPairs | null;
  body: Buffer;
  text: string;
  trailers: HeaderPairs | null;
  local: LocalResponse | null;
  /** What the upstream received, or null when the request never reached it. */
  upstream: UpstreamRequest | null;
  resetReason: string | null;
}

function chunks(body: BodyChunks | undefined): BodyInput[] {
  if (body === undefined) return [];
  return Array.isArray(body) ? body : [body];
}

export async function runExchange(stream: Stream, spec: ExchangeSpec): Promise<ExchangeResult> {
  const { headers, trailers } = spec.request;
  const body = chunks(spec.request.body);
  stream.requestHeaders(headers, body.length === 0 && trailers === undefined);
  body.forEach((c, i) => stream.requestBody(c, i === body.length - 1 && trailers === undefined));
  if (trailers !== undefined) stream.requestTrailers(trailers);

  await stream.waitFor(
    () => stream.upstream.ended || stream.localResponse !== null || stream.finished,
    "the request to reach upstream, or a local response",
    spec.timeoutMs,
  );

  let upstream: UpstreamRequest | null = null;
  if (stream.upstream.ended && stream.localResponse === null && !stream.finished) {
    upstream = { headers: stream.upstream.headers ?? [], body: stream.upstream.body, trailers: stream.upstream.trailers };
    const answer = spec.response ? await spec.response(upstream) : { headers: [[":status", "200"]] as HeaderPairs };
    const rbody = chunks(answer.body);
    stream.responseHeaders(answer.headers, rbody.length === 0 && answer.trailers === undefined);
    rbody.forEach((c, i) => stream.responseBody(c, i === rbody.length - 1 && answer.trailers === undefined));
    if (answer.trailers !== undefined) stream.responseTrailers(answer.trailers);
  }

  await stream.waitFor(() => stream.downstream.ended || stream.finished, "the response to reach the client", spec.timeoutMs);
  await stream.settled(spec.timeoutMs);

  const status = stream.downstream.headers?.find(([k]) => k === ":status")?.[1];
  return {
    status: status === undefined ? null : Number(status),
    headers: stream.downstream.headers,
    body: stream.downstream.body,
    text: stream.downstream.body.toString("utf8"),
    trailers: stream.downstream.trailers,
    local: stream.localResponse,
    upstream,
    resetReason: stream.resetReason,
  };
}
