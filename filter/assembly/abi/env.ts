/**
 * Every `env` host function the filter imports, declared once, with the signatures
 * of proxy-wasm ABI 0.2.1 (github.com/proxy-wasm/spec, abi-versions/v0.2.1).
 *
 * NOTE: AssemblyScript names the import module after the declaring file, so
 * this file must stay `env.ts` (and WASI imports live in
 * `wasi_snapshot_preview1.ts`); no decorators are needed.
 *
 * Nothing else in the filter declares an import: the rest of the code calls
 * the wrappers in `host.ts`. Every pointer is an address in this module's
 * linear memory; every "return_*" pointer is written by the host. Values the
 * host returns through `return_*_data` pointers were allocated in this module
 * through `proxy_on_memory_allocate` and must be freed by the caller.
 *
 * NOTE: `proxy_grpc_call` takes 12 and `proxy_grpc_stream` 9 parameters in ABI
 * 0.2.1 (initial metadata was added); the npm AssemblyScript SDKs still declare
 * the older 10/7-parameter forms, which Envoy refuses to link.
 */

// Logging.
export declare function proxy_log(level: u32, messagePtr: usize, messageSize: usize): u32;
export declare function proxy_get_log_level(returnLevelPtr: usize): u32;

// Clock, timer. NOTE: Envoy's `wasi clock_time_get` only answers the realtime
// clock (proxy-wasm-cpp-host src/exports.cc), so the filter uses this call.
export declare function proxy_get_current_time_nanoseconds(returnTimePtr: usize): u32;
export declare function proxy_set_tick_period_milliseconds(periodMs: u32): u32;

// Context lifecycle.
export declare function proxy_done(): u32;
export declare function proxy_set_effective_context(contextId: u32): u32;

// Buffers.
export declare function proxy_get_buffer_bytes(
  bufferType: u32,
  start: usize,
  maxSize: usize,
  returnDataPtr: usize,
  returnSizePtr: usize,
): u32;
export declare function proxy_get_buffer_status(
  bufferType: u32,
  returnSizePtr: usize,
  returnFlagsPtr: usize,
): u32;

// HTTP fields.
export declare function proxy_get_header_map_pairs(
  mapType: u32,
  returnDataPtr: usize,
  returnSizePtr: usize,
): u32;
export declare function proxy_get_header_map_value(
  mapType: u32,
  keyPtr: usize,
  keySize: usize,
  returnValuePtr: usize,
  returnValueSize: usize,
): u32;
export declare function proxy_replace_header_map_value(
  mapType: u32,
  keyPtr: usize,
  keySize: usize,
  valuePtr: usize,
  valueSize: usize,
): u32;
export declare function proxy_remove_header_map_value(mapType: u32, keyPtr: usize, keySize: usize): u32;

// Properties (node id, route name, upstream cluster).
export declare function proxy_get_property(
  pathPtr: usize,
  pathSize: usize,
  returnValuePtr: usize,
  returnValueSize: usize,
): u32;

// HTTP callouts.
export declare function proxy_http_call(
  upstreamPtr: usize,
  upstreamSize: usize,
  headersPtr: usize,
  headersSize: usize,
  bodyPtr: usize,
  bodySize: usize,
  trailersPtr: usize,
  trailersSize: usize,
  timeoutMs: u32,
  returnTokenPtr: usize,
): u32;

// gRPC.
export declare function proxy_grpc_call(
  servicePtr: usize,
  serviceSize: usize,
  serviceNamePtr: usize,
  serviceNameSize: usize,
  methodNamePtr: usize,
  methodNameSize: usize,
  initialMetadataPtr: usize,
  initialMetadataSize: usize,
  requestPtr: usize,
  requestSize: usize,
  timeoutMs: u32,
  returnTokenPtr: usize,
): u32;
export declare function proxy_grpc_stream(
  servicePtr: usize,
  serviceSize: usize,
  serviceNamePtr: usize,
  serviceNameSize: usize,
  methodNamePtr: usize,
  methodNameSize: usize,
  initialMetadataPtr: usize,
  initialMetadataSize: usize,
  returnTokenPtr: usize,
): u32;
export declare function proxy_grpc_send(
  token: u32,
  messagePtr: usize,
  messageSize: usize,
  endStream: u32,
): u32;
export declare function proxy_grpc_cancel(token: u32): u32;
export declare function proxy_grpc_close(token: u32): u32;
export declare function proxy_get_status(
  returnCodePtr: usize,
  returnMessagePtr: usize,
  returnMessageSize: usize,
): u32;

// Metrics.
export declare function proxy_define_metric(
  metricType: u32,
  namePtr: usize,
  nameSize: usize,
  returnIdPtr: usize,
): u32;
export declare function proxy_increment_metric(metricId: u32, offset: i64): u32;
export declare function proxy_record_metric(metricId: u32, value: u64): u32;
