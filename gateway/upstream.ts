// Sends what the plugin let through to the upstream: the path is appended to the upstream URL's
// path, Host becomes the upstream's host, and the body length is exact when the whole body is
// already known (else it streams chunked, or with the length the client announced).
import * as http from "node:http";
import * as https from "node:https";
import type { HeaderPairs } from "../host";
import { flatHeaders, pseudo } from "./headers";

export class UpstreamTarget {
  private readonly agent: http.Agent;
  private readonly basePath: string;

  constructor(readonly base: URL) {
    this.agent = base.protocol === "https:" ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.basePath = base.pathname.replace(/\/+$/, "");
  }

  /** Starts the request; the caller writes the body and ends it. */
  open(headers: HeaderPairs, bodyLength: number | null): http.ClientRequest {
    const method = pseudo(headers, ":method") ?? "GET";
    const path = pseudo(headers, ":path") ?? "/";
    const flat = flatHeaders(headers, ["host", "expect", ...(bodyLength !== null ? ["content-length"] : [])]);
    flat.push("host", this.base.host);
    if (bodyLength !== null && (bodyLength > 0 || !["GET", "HEAD", "DELETE", "OPTIONS"].includes(method))) flat.push("content-length", String(bodyLength));
    const options: http.RequestOptions = {
      protocol: this.base.protocol,
      hostname: this.base.hostname.replace(/^\[|\]$/g, ""),
      port: this.base.port || undefined,
      method,
      path: this.basePath + (path.startsWith("/") ? path : "/" + path),
      headers: flat,
      setHost: false,
      agent: this.agent,
    };
    return this.base.protocol === "https:" ? https.request(options) : http.request(options);
  }

  close(): void {
    this.agent.destroy();
  }
}
