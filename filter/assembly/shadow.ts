/**
 * Shadow calls: what the root context remembers about a mirrored copy in
 * flight, and how an answer is measured (status, local-reply flags, body hash).
 */
import { BufferType, borrowBuffer, borrowedPtr, getHeader, MapType, releaseBorrowed } from './abi/host';
import { FNV_OFFSET, fnvUpdate } from './fnv';
import { Arm } from './generated/umbra/telemetry/v1/Arm';
import { FLAG_CONNECT_FAILURE, FLAG_RESET, FLAG_TIMEOUT } from './record-flags';
import { startsWith } from './sampling';
import { buf } from './strings';

const SERVICE_TIME = buf('x-envoy-upstream-service-time');
const CHUNK: u32 = 65536;
// Shared by calls until a request id is set (saves an allocation per call).
const NO_ID = new Uint8Array(0);

/** A mirrored copy in flight, keyed by its callout token in the root context. */
export class ShadowCall {
  arm: Arm = Arm.ARM_UNSPECIFIED;
  requestId: Uint8Array = NO_ID;
  endpoint: u32 = 0;
  segment: u32 = 0;
  /** When the production request started (µs, wall clock). */
  startUs: i64 = 0;
  /** When the copy was sent: the production request was complete (µs). */
  sentUs: i64 = 0;
  /** Flags known at dispatch (e.g. FLAG_GENERATED_ID). */
  flags: u32 = 0;

  /** A copy of this template for one arm, sent at `sentUs`. */
  forArm(arm: Arm, sentUs: i64): ShadowCall {
    const c = new ShadowCall();
    c.arm = arm;
    c.requestId = this.requestId;
    c.endpoint = this.endpoint;
    c.segment = this.segment;
    c.startUs = this.startUs;
    c.sentUs = sentUs;
    c.flags = this.flags;
    return c;
  }
}

/**
 * Flags for an answer Envoy made up itself instead of the upstream: a 504
 * "upstream request timeout" (FLAG_TIMEOUT), a 503 "upstream connect error or
 * disconnect/reset before headers" (FLAG_CONNECT_FAILURE for connection
 * failures and overflow, else FLAG_RESET) or "no healthy upstream"
 * (FLAG_CONNECT_FAILURE). 0 for a real upstream answer.
 *
 * NOTE: Envoy's async client turns these failures into local replies
 * (router filter) rather than failures; upstream answers carry
 * `x-envoy-upstream-service-time`, local replies do not.
 */
export function classifyCallout(status: u32, bodySize: u32): u32 {
  if (status !== 503 && status !== 504) return 0;
  if (getHeader(MapType.HttpCallResponseHeaders, SERVICE_TIME) !== null) return 0;
  const n = borrowBuffer(BufferType.HttpCallResponseBody, 0, bodySize < 256 ? bodySize : 256);
  const p = borrowedPtr();
  let flags: u32 = 0;
  if (n > 0 && p !== 0) flags = classifyLocalReply(p, n);
  releaseBorrowed();
  return flags;
}

/** The flags for a local-reply body (pure; see {@link classifyCallout}). */
export function classifyLocalReply(p: usize, n: u32): u32 {
  if (startsWith(p, n, 'upstream request timeout')) return FLAG_TIMEOUT;
  if (startsWith(p, n, 'no healthy upstream')) return FLAG_CONNECT_FAILURE;
  if (startsWith(p, n, 'upstream connect error or disconnect/reset before headers')) {
    if (
      contains(p, n, 'connection failure') ||
      contains(p, n, 'connection_failure') ||
      contains(p, n, 'overflow')
    ) {
      return FLAG_CONNECT_FAILURE;
    }
    return FLAG_RESET;
  }
  return 0;
}

function contains(p: usize, n: u32, needle: string): bool {
  const m = <u32>needle.length;
  if (m > n) return false;
  for (let i: u32 = 0; i + m <= n; i++) {
    if (startsWith(p + i, n - i, needle)) return true;
  }
  return false;
}

/** FNV-1a of up to `max` bytes of the callout's response body, read in chunks. */
export function hashCalloutBody(bodySize: u32, max: u32): u64 {
  let h = FNV_OFFSET;
  const limit = bodySize < max ? bodySize : max;
  let off: u32 = 0;
  while (off < limit) {
    const want = limit - off < CHUNK ? limit - off : CHUNK;
    const got = borrowBuffer(BufferType.HttpCallResponseBody, off, want);
    if (got === 0) break;
    h = fnvUpdate(h, borrowedPtr(), got);
    releaseBorrowed();
    off += got;
  }
  return h;
}
