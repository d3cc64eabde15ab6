/**
 * Thin wrappers over the proxy-wasm host calls (see `env.ts`): the only place
 * that talks to the host. Every wrapper fails open: a failed call is logged
 * once per kind (see {@link failOnce}) and answers an empty value, so no
 * request ever depends on a host call succeeding.
 *
 * Host-returned memory is allocated through `proxy_on_memory_allocate`
 * (`heap.alloc`) and released here right after it was copied.
 */
import * as env from './env';
import * as wasi from './wasi_snapshot_preview1';

/** proxy_log_level_t */
export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

/** proxy_status_t values the filter looks at. */
export enum Status {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  ParseFailure = 4,
  InternalFailure = 10,
}

/** proxy_buffer_type_t */
export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
}

/** proxy_map_type_t */
export enum MapType {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
  GrpcInitialMetadata = 4,
  GrpcTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
}

/** proxy_metric_type_t */
export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/** Kinds of host call whose first failure is logged (bit positions). */
export enum CallKind {
  HttpCall = 0,
  GrpcStream = 1,
  GrpcSend = 2,
  Metric = 3,
  Header = 4,
  Buffer = 5,
  Property = 6,
  Tick = 7,
  Clock = 8,
}

// Two words the host writes return values into (pointer + size, or a u64).
const RET_A: usize = memory.data(8);
const RET_B: usize = memory.data(8);

let loggedFailures: u32 = 0;

/** Logs the first failure of a kind of host call; later ones stay silent. */
export function failOnce(kind: CallKind, what: string, status: u32): void {
  const bit: u32 = 1 << (<u32>kind);
  if ((loggedFailures & bit) !== 0) return;
  loggedFailures |= bit;
  log(
    LogLevel.Warn,
    'umbra: host call failed, failing open (logged once): ' + what + ' status=' + status.toString(),
  );
}

/** Writes a log line through Envoy (`wasm log<plugin>: <message>`). */
export function log(level: LogLevel, message: string): void {
  const buf = String.UTF8.encode(message);
  env.proxy_log(<u32>level, changetype<usize>(buf), <usize>buf.byteLength);
}

/** Envoy's current log level; Info when the host cannot tell. */
export function logLevel(): LogLevel {
  if (env.proxy_get_log_level(RET_A) !== Status.Ok) return LogLevel.Info;
  return <LogLevel>load<u32>(RET_A);
}

/** Wall-clock time in µs since the Unix epoch (0 when the host fails). */
export function nowMicros(): i64 {
  if (env.proxy_get_current_time_nanoseconds(RET_A) !== Status.Ok) {
    failOnce(CallKind.Clock, 'proxy_get_current_time_nanoseconds', 0);
    return 0;
  }
  return load<i64>(RET_A) / 1000;
}

/** Fills `size` bytes at `ptr` with host randomness; false on failure. */
export function randomBytes(ptr: usize, size: usize): bool {
  return wasi.random_get(ptr, size) === 0;
}

/** Asks for `proxy_on_tick` every `periodMs` (0 disables). */
export function setTickPeriod(periodMs: u32): bool {
  const s = env.proxy_set_tick_period_milliseconds(periodMs);
  if (s !== Status.Ok) failOnce(CallKind.Tick, 'proxy_set_tick_period_milliseconds', s);
  return s === Status.Ok;
}

/** Tells the host a context that answered `false` from `proxy_on_done` is finished. */
export function done(): void {
  env.proxy_done();
}

function takeReturned(): ArrayBuffer {
  const ptr = load<usize>(RET_A);
  const size = load<u32>(RET_B);
  const out = new ArrayBuffer(<i32>size);
  if (size > 0) {
    memory.copy(changetype<usize>(out), ptr, size);
  }
  if (ptr !== 0) heap.free(ptr);
  return out;
}

function clearReturn(): void {
  store<usize>(RET_A, 0);
  store<u32>(RET_B, 0);
}

/**
 * Copies up to `maxSize` bytes from `start` of a host buffer; null when the
 * buffer is absent. An empty buffer gives an empty ArrayBuffer.
 */
export function getBufferBytes(type: BufferType, start: u32, maxSize: u32): ArrayBuffer | null {
  clearReturn();
  const s = env.proxy_get_buffer_bytes(<u32>type, start, maxSize, RET_A, RET_B);
  if (s !== Status.Ok) {
    if (s !== Status.NotFound) failOnce(CallKind.Buffer, 'proxy_get_buffer_bytes', s);
    return null;
  }
  return takeReturned();
}

let borrowed: usize = 0;

/**
 * Reads up to `maxSize` bytes from `start` of a host buffer without copying:
 * answers the byte count (0 when absent) and leaves the host-allocated bytes at
 * {@link borrowedPtr} until {@link releaseBorrowed} is called (before the next
 * borrow).
 */
export function borrowBuffer(type: BufferType, start: u32, maxSize: u32): u32 {
  releaseBorrowed();
  clearReturn();
  const s = env.proxy_get_buffer_bytes(<u32>type, start, maxSize, RET_A, RET_B);
  if (s !== Status.Ok) {
    if (s !== Status.NotFound) failOnce(CallKind.Buffer, 'proxy_get_buffer_bytes', s);
    return 0;
  }
  borrowed = load<usize>(RET_A);
  return load<u32>(RET_B);
}

/**
 * Reads a header value like {@link borrowBuffer} (no copy, no allocation of
 * ours): answers its size, or -1 when the header is absent or unreadable.
 */
export function borrowHeader(map: MapType, key: ArrayBuffer): i32 {
  releaseBorrowed();
  clearReturn();
  const s = env.proxy_get_header_map_value(<u32>map, changetype<usize>(key), key.byteLength, RET_A, RET_B);
  if (s !== Status.Ok) {
    if (s !== Status.NotFound) failOnce(CallKind.Header, 'proxy_get_header_map_value', s);
    return -1;
  }
  borrowed = load<usize>(RET_A);
  return <i32>load<u32>(RET_B);
}

/** Reads a property like {@link borrowHeader}: its size, or -1 when absent. */
export function borrowProperty(path: ArrayBuffer): i32 {
  releaseBorrowed();
  clearReturn();
  const s = env.proxy_get_property(changetype<usize>(path), path.byteLength, RET_A, RET_B);
  if (s !== Status.Ok) {
    if (s !== Status.NotFound) failOnce(CallKind.Property, 'proxy_get_property', s);
    return -1;
  }
  borrowed = load<usize>(RET_A);
  return <i32>load<u32>(RET_B);
}

/** Address of the bytes of the last borrow (buffer, header or property). */
export function borrowedPtr(): usize {
  return borrowed;
}

/** Frees the bytes of the last borrow. */
export function releaseBorrowed(): void {
  if (borrowed !== 0) heap.free(borrowed);
  borrowed = 0;
}

/** One header value (the first, as Envoy answers), or null when absent. */
export function getHeader(map: MapType, key: ArrayBuffer): ArrayBuffer | null {
  clearReturn();
  const s = env.proxy_get_header_map_value(<u32>map, changetype<usize>(key), key.byteLength, RET_A, RET_B);
  if (s !== Status.Ok) {
    if (s !== Status.NotFound) failOnce(CallKind.Header, 'proxy_get_header_map_value', s);
    return null;
  }
  return takeReturned();
}

/**
 * Sets a request or response header (replacing any value). The only header
 * writes of the filter are an A/B experiment's split header on the request
 * of a user in B (root.ts, `splitUser`): production requests of A's users
 * are never written to.
 * NOTE: Envoy clears the route cache when a Wasm filter writes a request
 * header (source/extensions/common/wasm/context.cc, addHeaderMapValue /
 * replaceHeaderMapValue, ABI 0.2.1), so the router picks the route again and
 * a route matching the header sends the request to B; verified on Envoy 1.40
 * by test/integration/filter/split.test.ts.
 */
export function replaceHeader(map: MapType, key: ArrayBuffer, value: ArrayBuffer): bool {
  const s = env.proxy_replace_header_map_value(
    <u32>map,
    changetype<usize>(key),
    key.byteLength,
    changetype<usize>(value),
    value.byteLength,
  );
  if (s !== Status.Ok) failOnce(CallKind.Header, 'proxy_replace_header_map_value', s);
  return s === Status.Ok;
}

/** Removes a header (every value); true when done or absent. */
export function removeHeader(map: MapType, key: ArrayBuffer): bool {
  const s = env.proxy_remove_header_map_value(<u32>map, changetype<usize>(key), key.byteLength);
  if (s !== Status.Ok && s !== Status.NotFound) failOnce(CallKind.Header, 'proxy_remove_header_map_value', s);
  return s === Status.Ok || s === Status.NotFound;
}

/** All pairs of a header map, serialized as the ABI defines; null on failure. */
export function getHeaderPairs(map: MapType): ArrayBuffer | null {
  clearReturn();
  const s = env.proxy_get_header_map_pairs(<u32>map, RET_A, RET_B);
  if (s !== Status.Ok) {
    failOnce(CallKind.Header, 'proxy_get_header_map_pairs', s);
    return null;
  }
  return takeReturned();
}

/**
 * A property by path (segments joined by NUL, e.g. "node\0id"); null when
 * absent.
 */
export function getProperty(path: ArrayBuffer): ArrayBuffer | null {
  clearReturn();
  const s = env.proxy_get_property(changetype<usize>(path), path.byteLength, RET_A, RET_B);
  if (s !== Status.Ok) {
    if (s !== Status.NotFound) failOnce(CallKind.Property, 'proxy_get_property', s);
    return null;
  }
  return takeReturned();
}

/**
 * Starts an HTTP callout from the root context; answers the token, or 0 when
 * the host refused (logged once).
 */
export function httpCall(
  cluster: ArrayBuffer,
  headers: ArrayBuffer,
  bodyPtr: usize,
  bodySize: u32,
  timeoutMs: u32,
): u32 {
  store<u32>(RET_A, 0);
  const s = env.proxy_http_call(
    changetype<usize>(cluster),
    cluster.byteLength,
    changetype<usize>(headers),
    headers.byteLength,
    bodyPtr,
    bodySize,
    0,
    0,
    timeoutMs,
    RET_A,
  );
  if (s !== Status.Ok) {
    failOnce(CallKind.HttpCall, 'proxy_http_call', s);
    return 0;
  }
  return load<u32>(RET_A);
}

/** Opens a gRPC stream; answers the token, or 0 when the host refused. */
export function grpcStream(cluster: ArrayBuffer, service: ArrayBuffer, method: ArrayBuffer): u32 {
  store<u32>(RET_A, 0);
  const s = env.proxy_grpc_stream(
    changetype<usize>(cluster),
    cluster.byteLength,
    changetype<usize>(service),
    service.byteLength,
    changetype<usize>(method),
    method.byteLength,
    0,
    0,
    RET_A,
  );
  if (s !== Status.Ok) {
    failOnce(CallKind.GrpcStream, 'proxy_grpc_stream', s);
    return 0;
  }
  return load<u32>(RET_A);
}

/** Sends one message on an open gRPC stream; false when the host refused. */
export function grpcSend(token: u32, ptr: usize, size: u32): bool {
  const s = env.proxy_grpc_send(token, ptr, size, 0);
  if (s !== Status.Ok) {
    failOnce(CallKind.GrpcSend, 'proxy_grpc_send', s);
    return false;
  }
  return true;
}

/** Cancels a gRPC stream (no further callbacks for it). */
export function grpcCancel(token: u32): void {
  env.proxy_grpc_cancel(token);
}

const STATUS_CODE: usize = memory.data(4);

/** The status code of the current callout failure or gRPC close (0 when unknown). */
export function getStatus(): u32 {
  clearReturn();
  store<u32>(STATUS_CODE, 0);
  if (env.proxy_get_status(STATUS_CODE, RET_A, RET_B) !== Status.Ok) return 0;
  const msg = load<usize>(RET_A);
  if (msg !== 0) heap.free(msg);
  return load<u32>(STATUS_CODE);
}

/** Defines an Envoy stat; answers its id, or 0 when the host refused. */
export function defineMetric(type: MetricType, name: string): u32 {
  const buf = String.UTF8.encode(name);
  store<u32>(RET_A, 0);
  const s = env.proxy_define_metric(<u32>type, changetype<usize>(buf), buf.byteLength, RET_A);
  if (s !== Status.Ok) {
    failOnce(CallKind.Metric, 'proxy_define_metric', s);
    return 0;
  }
  return load<u32>(RET_A);
}

/** Adds `delta` (> 0) to a counter, or moves a gauge by `delta`. */
export function incrementMetric(id: u32, delta: i64): void {
  if (id === 0 || delta === 0) return;
  const s = env.proxy_increment_metric(id, delta);
  if (s !== Status.Ok) failOnce(CallKind.Metric, 'proxy_increment_metric', s);
}

/** Sets a gauge. */
export function recordMetric(id: u32, value: u64): void {
  if (id === 0) return;
  const s = env.proxy_record_metric(id, value);
  if (s !== Status.Ok) failOnce(CallKind.Metric, 'proxy_record_metric', s);
}
