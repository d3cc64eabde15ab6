/**
 * Every callback the host calls (proxy-wasm ABI 0.2.1), in one place. Each one
 * only dispatches to the plugin (`../plugin.ts`); nothing here holds state.
 *
 * NOTE: with ABI 0.2.x Envoy ignores StopIteration from the headers callbacks
 * (allow_on_headers_stop_iteration defaults to false); the filter always
 * answers Continue anyway: production is never paused.
 *
 * NOTE: `proxy_on_log` and `proxy_on_done` are deliberately not exported
 * (every callback is optional, spec v0.2.1): Envoy then skips two VM entries
 * per request; records are written from `proxy_on_delete`. Without
 * `proxy_on_done` a plugin being removed drops its shadow calls in flight
 * and at most one tick of unsent records.
 */
import * as plugin from '../plugin';

/** Marks the module as speaking ABI 0.2.1; never called. */
export function proxy_abi_version_0_2_1(): void {}

/** The host allocates the values it returns to us here; freed by `host.ts`. */
export function proxy_on_memory_allocate(size: usize): usize {
  return heap.alloc(size);
}

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  plugin.onContextCreate(contextId, parentId);
}

export function proxy_on_vm_start(_rootId: u32, _vmConfigSize: u32): bool {
  return true;
}

export function proxy_on_configure(rootId: u32, configSize: u32): bool {
  return plugin.onConfigure(rootId, configSize);
}

export function proxy_on_tick(rootId: u32): void {
  plugin.onTick(rootId);
}

export function proxy_on_delete(contextId: u32): void {
  plugin.onDelete(contextId);
}

export function proxy_on_request_headers(contextId: u32, headers: u32, endOfStream: bool): u32 {
  plugin.onRequestHeaders(contextId, headers, endOfStream);
  return 0;
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: bool): u32 {
  plugin.onRequestBody(contextId, bodySize, endOfStream);
  return 0;
}

export function proxy_on_request_trailers(contextId: u32, _trailers: u32): u32 {
  plugin.onRequestTrailers(contextId);
  return 0;
}

export function proxy_on_response_headers(contextId: u32, headers: u32, endOfStream: bool): u32 {
  plugin.onResponseHeaders(contextId, headers, endOfStream);
  return 0;
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: bool): u32 {
  plugin.onResponseBody(contextId, bodySize, endOfStream);
  return 0;
}

export function proxy_on_response_trailers(contextId: u32, _trailers: u32): u32 {
  plugin.onResponseTrailers(contextId);
  return 0;
}

export function proxy_on_http_call_response(
  rootId: u32,
  token: u32,
  headers: u32,
  bodySize: u32,
  _trailers: u32,
): void {
  plugin.onHttpCallResponse(rootId, token, headers, bodySize);
}

export function proxy_on_grpc_receive_initial_metadata(rootId: u32, token: u32, _headers: u32): void {
  plugin.onGrpcInitialMetadata(rootId, token);
}

export function proxy_on_grpc_receive_trailing_metadata(_rootId: u32, _token: u32, _trailers: u32): void {}

export function proxy_on_grpc_receive(rootId: u32, token: u32, size: u32): void {
  plugin.onGrpcReceive(rootId, token, size);
}

export function proxy_on_grpc_close(rootId: u32, token: u32, status: u32): void {
  plugin.onGrpcClose(rootId, token, status);
}
