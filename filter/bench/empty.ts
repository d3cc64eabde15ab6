/**
 * An empty filter for `npm run bench:filter`: it exports the same per-request
 * callbacks as the real filter (filter/assembly/abi/exports.ts) and does
 * nothing in them, so the benchmark can show, in the same run, what Envoy's
 * Wasm plumbing alone costs per request (the floor any Wasm filter pays).
 * Built by the benchmark itself; not part of the product.
 */
export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_memory_allocate(size: usize): usize {
  return heap.alloc(size);
}

export function proxy_on_vm_start(_rootId: u32, _vmConfigSize: u32): bool {
  return true;
}

export function proxy_on_configure(_rootId: u32, _configSize: u32): bool {
  return true;
}

export function proxy_on_context_create(_contextId: u32, _parentId: u32): void {}

export function proxy_on_request_headers(_contextId: u32, _headers: u32, _endOfStream: bool): u32 {
  return 0;
}

export function proxy_on_request_body(_contextId: u32, _bodySize: u32, _endOfStream: bool): u32 {
  return 0;
}

export function proxy_on_request_trailers(_contextId: u32, _trailers: u32): u32 {
  return 0;
}

export function proxy_on_response_headers(_contextId: u32, _headers: u32, _endOfStream: bool): u32 {
  return 0;
}

export function proxy_on_response_body(_contextId: u32, _bodySize: u32, _endOfStream: bool): u32 {
  return 0;
}

export function proxy_on_response_trailers(_contextId: u32, _trailers: u32): u32 {
  return 0;
}

export function proxy_on_delete(_contextId: u32): void {}
