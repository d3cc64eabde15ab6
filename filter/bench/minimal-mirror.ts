/**
 * A minimal mirroring filter for `npm run bench:filter`: on request headers it
 * sends a copy of the request headers to the `candidate` cluster with one
 * `proxy_http_call` and ignores the answer. No sampling, no capture, no
 * telemetry: the least any Wasm filter that mirrors must do, so the benchmark
 * can show, in the same run, where Umbra's filter stands between it and
 * Envoy's native mirroring. Built by the benchmark itself; not part of the
 * product. Every other callback is the empty filter's.
 */
import { proxy_get_header_map_pairs, proxy_http_call } from '../assembly/abi/env';

export {
  proxy_abi_version_0_2_1,
  proxy_on_configure,
  proxy_on_context_create,
  proxy_on_delete,
  proxy_on_memory_allocate,
  proxy_on_request_body,
  proxy_on_request_trailers,
  proxy_on_response_body,
  proxy_on_response_headers,
  proxy_on_response_trailers,
  proxy_on_vm_start,
} from './empty';

const RET_A: usize = memory.data(8);
const RET_B: usize = memory.data(8);
const CANDIDATE = String.UTF8.encode('candidate');

export function proxy_on_request_headers(_contextId: u32, _headers: u32, _endOfStream: bool): u32 {
  store<usize>(RET_A, 0);
  if (proxy_get_header_map_pairs(0, RET_A, RET_B) !== 0) return 0;
  const pairs = load<usize>(RET_A);
  proxy_http_call(
    changetype<usize>(CANDIDATE),
    CANDIDATE.byteLength,
    pairs,
    load<u32>(RET_B),
    0,
    0,
    0,
    0,
    5000,
    RET_A,
  );
  if (pairs !== 0) heap.free(pairs);
  return 0;
}

export function proxy_on_http_call_response(
  _rootId: u32,
  _token: u32,
  _headers: u32,
  _bodySize: u32,
  _trailers: u32,
): void {}
