// A proxy-wasm VM in Node, behaving as Envoy (and, with its Redis calls, Higress) does for one
// plugin: one root context (id 1), streams with ids from 2, callbacks run one at a time, actions
// the plugin asks for inside a callback (continue, local response, close) run right after it
// returns and before Envoy acts on its answer (cpp-host DeferAfterCallActions), and a trap fails
// the VM and every stream on it, for good. Two flavours: upstream Envoy (proxy-wasm-cpp-host) and
// Higress (higress-group's forks of cpp-host and Envoy); see host/README.md.
import { readFile } from "node:fs/promises";
import { AbiHost, HostFunction, buildImports } from "./abi-imports";
import { BufferType, LogLevel, MapType, Status, StreamType } from "./abi-types";
import { Clock, systemClock } from "./clock";
import { HeaderMap, HeaderPairs } from "./header-map";
import { Callouts } from "./callouts";
import { HttpCallRecord, HttpOptions } from "./http-bridge";
import { GuestMemory } from "./memory";
import { Metrics, MetricsSnapshot } from "./metrics";
import { AbiVersion, HostFlavour, checkCallbacks, detectAbiVersion, hostFunctionsForAbi, linkImports } from "./module-link";
import { DirectionRules } from "./filter-direction";
import { resolveProperty, splitPropertyPath, PluginFacts } from "./properties";
import { RedisCallRecord, RedisClusterSettings, RedisResolver } from "./redis-bridge";
import { SharedData } from "./shared-data";
import { pushBounded } from "./history";
import { Signal } from "./signal";
import { LocalResponse } from "./exchange";
import { Stream, StreamHost, StreamOptions } from "./stream";
import { Wasm, WasmMemory } from "./wasm-api";
import { DEFAULT_HIGRESS_ENVOY, HigressEnvoy, HigressProfile, higressProfile } from "./higress-profile";
import { INJECT_ENCODED_DATA, callForeignFunction } from "./foreign-functions";
import { ModuleShape, inspectWasm } from "./wasm-binary";

export interface PluginVmOptions {
  wasmPath?: string;
  wasmBytes?: Uint8Array;
  /** Maps Redis cluster names to addresses; without it every proxy_redis_init fails. */
  redis?: RedisResolver;
  /** Maps HTTP cluster names to base URLs; without it every proxy_http_call fails. */
  http?: HttpOptions;
  clock?: Clock;
  /** Receives log lines at or above the log level (all lines are kept in `vm.logs` anyway). */
  logSink?: (entry: LogEntry) => void;
  /** What proxy_get_log_level reports; default Debug (1). */
  logLevel?: LogLevel;
  /**
   * Offer Higress's proxy_redis_* host calls. Default: true for the Higress flavour, false for
   * Envoy; false alone selects the Envoy flavour.
   */
  withRedisImports?: boolean;
  /**
   * Which host to be: "envoy" (upstream Envoy with proxy-wasm-cpp-host) or "higress" (Higress's
   * forks). Default "higress" when the Redis host calls are offered, else "envoy".
   */
  flavour?: HostFlavour;
  /**
   * Envoy >= 1.35's Wasm filter option allow_on_headers_stop_iteration (cpp-host
   * ContextBase::allow_on_headers_stop_iteration_): a header StopIteration stays StopIteration.
   * Envoy flavour only. Default false.
   */
  allowOnHeadersStopIteration?: boolean;
  /**
   * Every stream's buffer limit (Envoy's per_connection_buffer_limit_bytes, which becomes the
   * filter manager's buffer_limit_). Default 1 MiB (Envoy's default) for Envoy, 32 KiB for
   * Higress (alibaba/higress helm/core/values.yaml downstream.connectionBufferLimits). 0: none.
   */
  bufferLimitBytes?: number;
  /**
   * After a body answer of StopIterationAndBuffer, the next body callback's view (and size)
   * includes the chunk being delivered: Envoy >= 1.32 (context.cc Context::decodeData calls
   * addDecodedData first; envoy PR 36411). Default true for Envoy, false for Higress (the
   * higress-group/envoy envoy-1.27 source: the chunk joins the held body only after the callback).
   */
  heldBodyIncludesChunk?: boolean;
  /**
   * Which Higress to be (Higress flavour only): "1.36" — Higress 2.2, higress-group/envoy branch
   * envoy-1.36 (the default) — or "1.27", Higress 2.0–2.1. See higress-profile.ts.
   */
  higressEnvoy?: HigressEnvoy;
  pluginName?: string;
  rootId?: string;
  vmId?: string;
  /** Envoy's fail_open: after a VM failure streams pass untouched instead of getting 503. */
  failOpen?: boolean;
  /** Call proxy_on_tick on a real timer too; by default ticks happen only through `vm.tick()`. */
  tickTimer?: boolean;
  /** Options every new stream starts from. */
  streamDefaults?: StreamOptions;
  /** How many log lines and callout records are kept (oldest dropped past it); default 10 000. */
  historyLimit?: number;
  /** Sees every host call the plugin makes, with its raw arguments and status (for debugging). */
  onHostCall?: (name: string, args: Array<number | bigint>, result: number) => void;
  /** Wraps every host function the module imports (the bench times them); applied after onHostCall. */
  wrapHostCall?: (name: string, impl: HostFunction["impl"]) => HostFunction["impl"];
}

export interface LogEntry {
  level: LogLevel;
  message: string;
  contextId: number;
}

type ExportFn = (...args: number[]) => unknown;

/** Answers for callbacks a module does not export (proxy-wasm-cpp-host's defaults). */
const MISSING_EXPORT_RESULT: Record<string, number> = { proxy_on_vm_start: 1, proxy_on_configure: 1, proxy_on_done: 1 };

const EMPTY = Buffer.alloc(0);

/** Envoy's default per_connection_buffer_limit_bytes (1 MiB). */
const ENVOY_BUFFER_LIMIT = 1024 * 1024;
/** alibaba/higress helm/core/values.yaml: downstream.connectionBufferLimits: 32768. */
const HIGRESS_BUFFER_LIMIT = 32 * 1024;

function resolveFlavour(options: PluginVmOptions): HostFlavour {
  const redis = options.withRedisImports;
  const flavour = options.flavour ?? (redis === false ? "envoy" : "higress");
  if (flavour === "envoy" && redis === true) throw new Error("flavour \"envoy\" has no Redis host calls (withRedisImports: true is Higress)");
  if (flavour === "higress" && redis === false) throw new Error("flavour \"higress\" always offers the Redis host calls (withRedisImports: false is plain Envoy)");
  if (flavour === "envoy" && options.higressEnvoy !== undefined) throw new Error("higressEnvoy picks a Higress release; flavour \"envoy\" is upstream Envoy");
  if (flavour === "higress" && options.allowOnHeadersStopIteration !== undefined) {
    throw new Error("allowOnHeadersStopIteration is an option of upstream Envoy; Higress's cpp-host fork has no such switch");
  }
  return flavour;
}

function toBuffer(b: Buffer | string): Buffer {
  return typeof b === "string" ? Buffer.from(b, "utf8") : b;
}

export class PluginVm implements AbiHost, StreamHost {
  readonly rootContextId = 1;
  readonly logs: LogEntry[] = [];
  readonly signal = new Signal();
  readonly metricsRegistry = new Metrics();
  readonly sharedData = new SharedData();
  readonly memory = new GuestMemory();
  readonly clock: Clock;
  readonly failOpen: boolean;
  readonly maxBufferType: number;
  /** The module's imports and exports, with signatures. */
  readonly shape: ModuleShape;
  /** The trap (or host error) that failed the VM, or null. */
  trapped: Error | null = null;
  /** The period the plugin asked for with proxy_set_tick_period_milliseconds (0 = none). */
  tickPeriodMs = 0;
  /** What proxy_get_log_level reports; a test may change it at any time. */
  reportedLogLevel: LogLevel;
  /** The host functions, callable directly from a test (inside `withContext`). */
  readonly hostFunctions: Record<string, HostFunction>;
  readonly flavour: HostFlavour;
  /** The Higress release played (null for plain Envoy). */
  readonly higress: HigressProfile | null;
  /** The ABI the module declared (its first known proxy_abi_version_* export). */
  readonly abiVersion: AbiVersion;
  readonly directionRules: DirectionRules;
  readonly bufferLimitBytes: number;
  /**
   * Things Envoy asserts against that the plugin did (e.g. proxy_continue_stream inside its own
   * callback before answering a stop): a test asserts this stays empty.
   */
  readonly violations: string[] = [];

  private exports: Record<string, ExportFn> = {};
  /** Streams that have not ended. */
  private readonly streams = new Map<number, Stream>();
  /** Stream contexts the host still knows (cpp-host WasmBase::contexts_), ended ones included until their release. */
  private readonly contexts = new Map<number, Stream>();
  private readonly callouts: Callouts;
  private readonly plugin: PluginFacts;
  private readonly historyLimit: number;
  private nextContextId = 2;
  private currentContextId = 0;
  private effectiveContextId = 0;
  private readonly deferred: Array<() => void> = [];
  private readonly afterCallActions: Array<() => void> = [];
  private callDepth = 0;
  private driving = false;
  private vmConfig: Buffer = EMPTY;
  private pluginConfig: Buffer = EMPTY;
  private configuring = false;
  private started = false;
  private isClosed = false;
  private rootPendingDone = false;
  private tickTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: PluginVmOptions, shape: ModuleShape, flavour: HostFlavour, abi: AbiVersion) {
    this.shape = shape;
    this.flavour = flavour;
    this.abiVersion = abi;
    this.clock = options.clock ?? systemClock;
    this.failOpen = options.failOpen ?? false;
    this.reportedLogLevel = options.logLevel ?? LogLevel.Debug;
    const withRedis = flavour === "higress";
    this.higress = withRedis ? higressProfile(options.higressEnvoy ?? DEFAULT_HIGRESS_ENVOY) : null;
    this.maxBufferType = withRedis ? BufferType.RedisCallResponse : BufferType.CallData;
    const exportsRequestHeaders = shape.exports.some((e) => e.name === "proxy_on_request_headers" && e.kind === "function");
    this.directionRules = {
      // Upstream cpp-host convertVmCallResultToFilterHeadersStatus: StopIteration becomes
      // StopAllIterationAndWatermark unless allow_on_headers_stop_iteration_. Higress's fork: only
      // when the module's request-header callback is the 0.1/0.2 one (on_request_headers_abi_01_/
      // _02_), i.e. not for 0_2_100 (src/wasm.cc getFunctions takes it as on_request_headers_abi_03_).
      translateHeaderStopIteration: flavour === "envoy"
        ? !(options.allowOnHeadersStopIteration ?? false)
        : abi !== "0_2_100" && exportsRequestHeaders,
      heldBodyIncludesChunk: options.heldBodyIncludesChunk ?? (flavour === "envoy" || this.higress!.heldBodyIncludesChunk),
    };
    this.bufferLimitBytes = options.bufferLimitBytes ?? (flavour === "envoy" ? ENVOY_BUFFER_LIMIT : HIGRESS_BUFFER_LIMIT);
    this.plugin = { name: options.pluginName ?? "ai-quota", rootId: options.rootId ?? "", vmId: options.vmId ?? "" };
    this.historyLimit = options.historyLimit ?? 10_000;
    this.callouts = new Callouts(options, this.historyLimit, {
      turn: (fn) => {
        if (!this.isClosed) this.drive(fn);
      },
      callRoot: (name, ...args) => {
        this.invoke(this.rootContextId, name, this.rootContextId, ...args);
      },
    }, this.higress?.readsRedisBufferOptions ?? false);
    this.hostFunctions = hostFunctionsForAbi(buildImports(this, { redis: withRedis }), abi);
  }

  /** Compiles and links the module; fails like Envoy on a missing import or a bad signature. */
  static async load(options: PluginVmOptions): Promise<PluginVm> {
    const bytes = options.wasmBytes ?? (options.wasmPath !== undefined ? await readFile(options.wasmPath) : undefined);
    if (bytes === undefined) throw new Error("PluginVm.load needs wasmPath or wasmBytes");
    const flavour = resolveFlavour(options);
    const shape = inspectWasm(bytes);
    const abi = detectAbiVersion(shape, flavour);
    checkCallbacks(shape);
    const vm = new PluginVm(options, shape, flavour, abi);
    const env = linkImports(shape, vm.hostFunctions, options.onHostCall);
    const wrap = options.wrapHostCall;
    if (wrap !== undefined) for (const name of Object.keys(env)) env[name] = wrap(name, env[name]);
    const { instance } = await Wasm.instantiate(bytes, { env });
    vm.exports = instance.exports as unknown as Record<string, ExportFn>;
    const memory = instance.exports.memory as WasmMemory;
    vm.memory.attach(memory, (size) => vm.allocate(size));
    return vm;
  }

  get failed(): boolean {
    return this.trapped !== null;
  }

  /** The value of a global the module exports (the bench's counting builds export counters). */
  exportedGlobal(name: string): number | bigint | undefined {
    const g = (this.exports as Record<string, unknown>)[name] as { value?: unknown } | undefined;
    const v = typeof g === "object" && g !== null ? g.value : undefined;
    return typeof v === "number" || typeof v === "bigint" ? v : undefined;
  }

  /**
   * _initialize, then proxy_on_context_create(root, 0), proxy_on_vm_start and proxy_on_configure
   * (the configurations readable as buffers 6 and 7). Resolves to what proxy_on_configure said.
   */
  async start(vmConfig: Buffer | string = "", pluginConfig: Buffer | string = ""): Promise<boolean> {
    if (this.started) throw new Error("the VM is already started");
    this.started = true;
    this.vmConfig = toBuffer(vmConfig);
    this.pluginConfig = toBuffer(pluginConfig);
    const root = this.rootContextId;
    return this.drive(() => {
      const init = "_initialize" in this.exports ? "_initialize" : "_start";
      if (init in this.exports && this.invoke(root, init) === null) return false;
      if (this.invoke(root, "proxy_on_context_create", root, 0) === null) return false;
      const vmOk = this.invoke(root, "proxy_on_vm_start", root, this.vmConfig.length);
      if (!vmOk) return false;
      this.configuring = true;
      try {
        return !!this.invoke(root, "proxy_on_configure", root, this.pluginConfig.length);
      } finally {
        this.configuring = false;
      }
    });
  }

  /** A new HTTP stream; proxy_on_context_create(id, root) runs now. */
  newStream(options: StreamOptions = {}): Stream {
    if (!this.started) throw new Error("start the VM before opening streams");
    const id = this.nextContextId++;
    const stream = new Stream(this, id, { ...this.options.streamDefaults, ...options });
    this.streams.set(id, stream);
    this.contexts.set(id, stream);
    this.drive(() => {
      if (!this.failed && this.invoke(id, "proxy_on_context_create", id, this.rootContextId) !== null) stream.contextCreated = true;
    });
    return stream;
  }

  /** proxy_on_tick on the root context, as the timer would. */
  tick(): void {
    this.drive(() => this.invoke(this.rootContextId, "proxy_on_tick", this.rootContextId));
  }

  /**
   * Envoy's plugin shutdown: proxy_on_done on the root; when it answers true, proxy_on_delete.
   * When it answers false the root waits for proxy_done. Returns whether the root was deleted.
   */
  stopPlugin(): boolean {
    return this.drive(() => {
      const done = this.invoke(this.rootContextId, "proxy_on_done", this.rootContextId);
      if (done === 0) {
        this.rootPendingDone = true;
        return false;
      }
      this.invoke(this.rootContextId, "proxy_on_delete", this.rootContextId);
      return true;
    });
  }

  metrics(): MetricsSnapshot {
    return this.metricsRegistry.snapshot();
  }

  memoryBytes(): number {
    return this.memory.byteLength;
  }

  get redisCalls(): readonly RedisCallRecord[] {
    return this.callouts.redis.calls;
  }

  /** Every Redis command the plugin sent, as its arguments. */
  redisCommands(): string[][] {
    return this.callouts.redis.calls.map((c) => c.command);
  }

  /** Connection events (refused AUTH, dropped connections). */
  get redisNotes(): readonly string[] {
    return this.callouts.redis.notes;
  }

  redisCluster(name: string): RedisClusterSettings | undefined {
    return this.callouts.redis.clusters.get(name);
  }

  get httpCalls(): readonly HttpCallRecord[] {
    return this.callouts.http.calls;
  }

  logText(minLevel: LogLevel = LogLevel.Trace): string {
    return this.logs.filter((l) => l.level >= minLevel).map((l) => `[${LogLevel[l.level]}] ${l.message}`).join("\n");
  }

  /** Resolves when no callout of any context is in flight. */
  idle(timeoutMs = 10_000): Promise<void> {
    return this.signal.waitUntil(() => this.callouts.totalInflight() === 0, timeoutMs, () => `the VM to go idle (${this.callouts.totalInflight()} callouts in flight)`);
  }

  /** Runs `fn` as if inside a callback of `contextId` (e.g. to call a host function directly). */
  withContext<T>(contextId: number, fn: () => T): T {
    return this.drive(() => {
      const prev = [this.currentContextId, this.effectiveContextId];
      this.currentContextId = contextId;
      this.effectiveContextId = 0;
      this.callDepth++;
      try {
        return fn();
      } finally {
        this.callDepth--;
        [this.currentContextId, this.effectiveContextId] = prev;
        if (this.callDepth === 0) this.runAfterCallActions();
      }
    });
  }

  /** The VM was closed (`close()`). */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Whether proxy_set_effective_context would find this context id now. */
  knowsContext(id: number): boolean {
    return id === this.rootContextId || this.contexts.has(id);
  }

  /** Closes Redis connections, HTTP requests and timers; the VM answers nothing afterwards. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.callouts.close();
  }

  // ---- StreamHost ----

  /** Calls an export for a context; null when it trapped (the VM is then failed) or the VM is failed. */
  invoke(contextId: number, name: string, ...args: number[]): number | null {
    if (this.failed) return null;
    const fn = this.exports[name];
    if (fn === undefined) return MISSING_EXPORT_RESULT[name] ?? 0;
    const prev = [this.currentContextId, this.effectiveContextId];
    this.currentContextId = contextId;
    this.effectiveContextId = 0;
    this.callDepth++;
    let result: number | null;
    try {
      const r = fn(...args);
      result = typeof r === "number" ? r >>> 0 : 0;
    } catch (err) {
      this.fail(err, name, contextId);
      result = null;
    } finally {
      this.callDepth--;
      [this.currentContextId, this.effectiveContextId] = prev;
    }
    // cpp-host DeferAfterCallActions: the actions run when the callback returns, before the
    // caller (Envoy's filter manager) sees its answer.
    if (this.callDepth === 0) this.runAfterCallActions();
    return result;
  }

  defer(action: () => void): void {
    this.deferred.push(action);
  }

  afterCall(action: () => void): void {
    this.afterCallActions.push(action);
  }

  violation(message: string): void {
    pushBounded(this.violations, message, this.historyLimit);
  }

  /** Runs `fn`, then the actions it deferred (outermost call only), then wakes waiters. */
  drive<T>(fn: () => T): T {
    if (this.driving) return fn();
    this.driving = true;
    try {
      const result = fn();
      this.runAfterCallActions();
      for (let action = this.deferred.shift(); action !== undefined; action = this.deferred.shift()) {
        action();
        this.runAfterCallActions();
      }
      return result;
    } finally {
      this.driving = false;
      this.signal.notify();
    }
  }

  inflight(contextId: number): number {
    return this.callouts.inflight(contextId);
  }

  streamEnded(stream: Stream): void {
    this.streams.delete(stream.id);
  }

  contextReleased(stream: Stream): void {
    this.contexts.delete(stream.id);
  }

  // ---- AbiHost ----

  logLevel(): number {
    return this.reportedLogLevel;
  }

  log(level: LogLevel, message: string): void {
    const entry = { level, message, contextId: this.activeContextId() };
    pushBounded(this.logs, entry, this.historyLimit);
    if (level >= this.reportedLogLevel) this.options.logSink?.(entry);
  }

  nowNanos(): bigint {
    return this.clock.nowNanos();
  }

  setTickPeriod(ms: number): void {
    this.tickPeriodMs = ms;
    if (!this.options.tickTimer) return;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = ms > 0 ? setInterval(() => this.tick(), ms) : null;
    this.tickTimer?.unref();
  }

  /**
   * cpp-host exports.cc set_effective_context: BadArgument when WasmBase::getContext(id) finds
   * nothing. A stream's context stays there until its C++ object is destroyed, which Envoy does
   * on the ActiveStream's deferred delete, after proxy_on_delete: until then an ended stream is
   * accepted (see StreamOptions.releaseContext).
   */
  setEffectiveContext(id: number): Status {
    if (!this.knowsContext(id)) return Status.BadArgument;
    this.effectiveContextId = id;
    return Status.Ok;
  }

  done(): Status {
    if (!this.rootPendingDone) return Status.NotFound;
    this.rootPendingDone = false;
    this.afterCall(() => this.invoke(this.rootContextId, "proxy_on_delete", this.rootContextId));
    return Status.Ok;
  }

  headerMap(type: MapType, write: boolean): HeaderMap | Status {
    if (type === MapType.HttpCallResponseHeaders || type === MapType.HttpCallResponseTrailers) {
      const answer = this.callouts.httpAnswer;
      if (write || !answer) return Status.BadArgument;
      return new HeaderMap(type === MapType.HttpCallResponseHeaders ? answer.headers : answer.trailers);
    }
    const stream = this.activeStream();
    return stream === null ? Status.BadArgument : stream.headerMap(type, write);
  }

  readBuffer(type: number): Buffer | Status {
    switch (type) {
      case BufferType.HttpRequestBody:
      case BufferType.HttpResponseBody:
        return this.activeStream()?.readBody(type) ?? EMPTY;
      case BufferType.VmConfiguration:
        return this.vmConfig;
      case BufferType.PluginConfiguration:
        return this.configuring ? this.pluginConfig : Status.NotFound;
      case BufferType.HttpCallResponseBody:
        return this.callouts.httpAnswer?.body ?? Status.NotFound;
      case BufferType.RedisCallResponse:
        return this.callouts.redisReply ?? Status.NotFound;
      default:
        return Status.NotFound;
    }
  }

  writeBuffer(type: number, start: number, length: number, data: Buffer): Status {
    if (type !== BufferType.HttpRequestBody && type !== BufferType.HttpResponseBody) return Status.BadArgument;
    // Outside a stream Envoy's getBuffer still wraps the (null) body pointer, whose copyFrom is
    // proxy_wasm::BufferBase::copyFrom: BadArgument.
    const stream = this.activeStream();
    return stream === null ? Status.BadArgument : stream.writeBody(type, start, length, data);
  }

  getProperty(path: Buffer): Buffer | null {
    return resolveProperty(splitPropertyPath(path), this.plugin, this.activeStream()?.facts ?? null);
  }

  setProperty(path: Buffer, value: Buffer): Status {
    return this.activeStream()?.setProperty(path, value) ?? Status.NotFound;
  }

  sendLocalResponse(response: LocalResponse): Status {
    return this.activeStream()?.sendLocalResponse(response) ?? Status.Ok;
  }

  continueStream(type: StreamType): Status {
    const stream = this.activeStream();
    if (stream !== null) return stream.continueStream(type);
    return type === StreamType.Upstream ? Status.Unimplemented : Status.Ok;
  }

  callForeignFunction(name: string, args: Buffer): Status {
    const registered = this.higress?.injectsEncodedData ? [INJECT_ENCODED_DATA] : [];
    return callForeignFunction(name, args, registered, {
      injectEncodedData: (body, endStream) => this.activeStream()?.injectEncodedData(body, endStream),
    });
  }

  closeStream(type: StreamType): Status {
    return this.activeStream()?.closeStream(type) ?? Status.Ok;
  }

  httpCall(cluster: string, headers: HeaderPairs, body: Buffer, trailers: HeaderPairs, timeoutMs: number): { status: Status; calloutId: number } {
    return this.callouts.httpCall(cluster, headers, body, trailers, timeoutMs, this.activeContextId());
  }

  redisInit(cluster: string, username: string, password: string, timeoutMs: number): Status {
    return this.callouts.redis.init(cluster, username, password, timeoutMs);
  }

  redisCall(cluster: string, query: Buffer): { status: Status; calloutId: number } {
    return this.callouts.redisCall(cluster, query, this.activeContextId());
  }

  // ---- internals ----

  private allocate(size: number): number {
    const fn = this.exports.proxy_on_memory_allocate ?? this.exports.malloc;
    if (fn === undefined) return 0;
    const ptr = fn(size);
    return typeof ptr === "number" ? ptr >>> 0 : 0;
  }

  /**
   * The context host calls act on (cpp-host exports.cc contextOrEffectiveContext): the effective
   * one while the host still knows it, else the current one.
   */
  private activeContextId(): number {
    const eff = this.effectiveContextId;
    if (eff !== 0 && this.knowsContext(eff)) return eff;
    return this.currentContextId === 0 ? this.rootContextId : this.currentContextId;
  }

  private activeStream(): Stream | null {
    return this.contexts.get(this.activeContextId()) ?? null;
  }

  /** cpp-host WasmBase::doAfterVmCallActions: in order, including actions queued while running them. */
  private runAfterCallActions(): void {
    for (let action = this.afterCallActions.shift(); action !== undefined; action = this.afterCallActions.shift()) action();
  }

  private fail(err: unknown, name: string, contextId: number): void {
    if (this.trapped !== null) return;
    const cause = err instanceof Error ? err : new Error(String(err));
    const kind = err instanceof Wasm.RuntimeError || err instanceof RangeError ? "wasm trap" : "host error";
    const last = this.logs[this.logs.length - 1];
    const abort = last !== undefined && last.level === LogLevel.Critical ? ` (last critical log: ${last.message})` : "";
    this.trapped = new Error(`${kind} in ${name} (context ${contextId}): ${cause.message}${abort}`, { cause });
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    // Like Envoy, every stream on a failed VM fails (503 unless already answering).
    this.defer(() => {
      for (const stream of [...this.streams.values()]) stream.failStream();
    });
  }
}
