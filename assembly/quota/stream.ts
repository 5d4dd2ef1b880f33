// One HTTP stream through ai-quota, top to bottom:
//   request headers  → identify the consumer, route the path;
//                      chat: check the balance in Redis while the request waits;
//                      admin query: answer from Redis; admin refresh/delta: wait for the form body;
//   request body     → (admin refresh/delta) parse the form and update Redis;
//   response         → scan the model's answer for token usage;
//   end / log        → charge the consumer once for the usage seen.
import { Action } from "../abi/types";
import { HttpContext, RootContext } from "../abi/context";
import { debugEnabled, logDebug } from "../abi/log";
import { requestBody, requestHeaders, responseBody, responseHeader, resumeRequest, streamProperty } from "../abi/stream";
import { RedisCallback, RedisClient, RedisReply } from "../redis/client";
import { RespType } from "../redis/resp";
import { parseInt64Strict } from "../util/int64";
import { decodeUtf8 } from "../util/utf8";
import { splitPath } from "../util/urlencoded";
import { TokenUsage, UsageScanner, usageFromAiLog } from "../usage/index";
import { QuotaConfig } from "./config";
import { Operation, isAdmin, operationOf } from "./routes";
import { IdentityKind, readRequestLine } from "./identity";
import { deltaQuota, queryQuota, refreshQuota } from "./admin";
import { charge } from "./charge";
import * as answers from "./answers";

/** Admin form bodies are a few dozen bytes; anything this large is not one. */
const MAX_ADMIN_BODY: u32 = 64 * 1024;

export class QuotaStream extends HttpContext {
  operation: Operation = Operation.None;
  consumer: string = "";
  /** The balance check passed and the request went upstream: it must be charged. */
  admitted: bool = false;
  charged: bool = false;
  scanner: UsageScanner | null = null;

  constructor(id: u32, root: RootContext, public config: QuotaConfig, public redis: RedisClient) {
    super(id, root);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const line = readRequestLine(requestHeaders());
    const identity = line.identity;
    switch (identity.kind) {
      case IdentityKind.Missing:
        answers.denyNoKey();
        return Action.StopIteration;
      case IdentityKind.Empty:
        answers.denyUnauthorizedConsumer();
        return Action.StopIteration;
      case IdentityKind.Invalid:
        answers.denyBadConsumer(identity.problem);
        return Action.StopIteration;
      default:
        break;
    }
    const consumer = identity.consumer;
    const path = splitPath(line.path);
    this.consumer = consumer;
    this.operation = operationOf(path.path, this.config.adminPath);
    if (debugEnabled()) logDebug("ai-quota: consumer " + consumer + " operation " + (<i32>this.operation).toString());

    switch (this.operation) {
      case Operation.None:
        return Action.Continue;
      case Operation.Chat:
        return this.checkBalance();
      default:
        break;
    }
    if (consumer != this.config.adminConsumer) {
      answers.denyNotAdmin();
      return Action.StopIteration;
    }
    if (this.operation == Operation.AdminQuery) {
      queryQuota(this.redis, this.config.redisKeyPrefix, this.id, path.rawQuery);
      return Action.StopIteration;
    }
    // Refresh and delta carry a form body; a request that ends here has an empty one.
    if (endOfStream) {
      this.updateFromForm(new Uint8Array(0));
    }
    return Action.StopIteration;
  }

  onRequestBody(size: u32, endOfStream: bool): Action {
    if (!isAdmin(this.operation) || this.operation == Operation.AdminQuery) return Action.Continue;
    if (size > MAX_ADMIN_BODY) {
      answers.denyBodyTooLarge();
      return Action.StopIteration;
    }
    // Hold the chunks until the whole form is there; the host hands us all of it at the end.
    if (!endOfStream) return Action.StopIteration;
    this.updateFromForm(requestBody(size));
    return Action.StopIteration;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    if (!this.admitted) return Action.Continue;
    const contentType = responseHeader("content-type");
    const sse = contentType !== null && contentType.toLowerCase().includes("text/event-stream");
    // 0: no cap on an event's size; the scanner never buffers an event, so memory stays bounded anyway.
    this.scanner = new UsageScanner(sse, 0);
    if (endOfStream) this.chargeOnce();
    return Action.Continue;
  }

  onResponseBody(size: u32, endOfStream: bool): Action {
    const scanner = this.scanner;
    if (scanner === null || this.charged) return Action.Continue;
    scanner.feed(responseBody(size));
    if (endOfStream) this.chargeOnce();
    return Action.Continue;
  }

  /** A stream cut before its response ended is still charged for the usage seen so far. */
  onLog(): void {
    if (this.admitted && !this.charged) this.chargeOnce();
  }

  private checkBalance(): Action {
    const key = this.config.redisKeyPrefix + this.consumer;
    if (!this.redis.command(["GET", key], new BalanceReply(this))) {
      answers.denyNoQuota();
      return Action.StopIteration;
    }
    return Action.StopAllIterationAndWatermark;
  }

  onBalance(reply: RedisReply): void {
    if (!hasPositiveBalance(reply)) {
      if (debugEnabled()) logDebug("ai-quota: " + this.consumer + " denied: " + (reply.isError() ? reply.error : "no quota left"));
      answers.denyNoQuota();
      return;
    }
    this.admitted = true;
    resumeRequest();
  }

  private updateFromForm(body: Uint8Array): void {
    const form = decodeUtf8(body.dataStart, body.length);
    const prefix = this.config.redisKeyPrefix;
    if (this.operation == Operation.AdminRefresh) refreshQuota(this.redis, prefix, this.id, form);
    else deltaQuota(this.redis, prefix, this.id, form);
  }

  private chargeOnce(): void {
    if (this.charged) return;
    this.charged = true;
    const usage = this.usage();
    if (usage === null || !usage.found) {
      if (debugEnabled()) logDebug("ai-quota: no token usage found for " + this.consumer + ", nothing charged");
      return;
    }
    const total = usage.total();
    if (debugEnabled()) logDebug("ai-quota: charging " + this.consumer + " " + total.toString() + " tokens");
    charge(this.redis, this.config.redisKeyPrefix + this.consumer, total);
  }

  /** ai-statistics' `ai_log` when it has counted the tokens; else what the body scan found. */
  private usage(): TokenUsage | null {
    const aiLog = streamProperty(["ai_log"]);
    if (aiLog !== null) {
      const fromLog = usageFromAiLog(aiLog);
      if (fromLog !== null && fromLog.found) return fromLog;
    }
    const scanner = this.scanner;
    if (scanner === null) return null;
    scanner.finish();
    return scanner.usage;
  }
}

class BalanceReply extends RedisCallback {
  constructor(public stream: QuotaStream) { super(stream.id); }
  onReply(reply: RedisReply): void {
    this.stream.onBalance(reply);
  }
}

/** Higress admits a request only when the key holds an integer above zero. */
function hasPositiveBalance(reply: RedisReply): bool {
  if (reply.isError()) return false;
  const v = reply.value!;
  if (v.type == RespType.Integer) return v.integer > 0;
  if (v.type != RespType.BulkString && v.type != RespType.SimpleString) return false;
  const n = parseInt64Strict(v.text);
  return n.ok && n.value > 0;
}
