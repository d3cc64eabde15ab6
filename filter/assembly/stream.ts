/**
 * One HTTP request through the filter (a stream context). It never changes
 * or pauses the production request or response: every callback returns
 * Continue, and the request body is copied as it passes.
 *
 * Latency, on every arm alike (telemetry.proto Record.latency_us): from the
 * moment the request was complete at the filter (end of the request stream:
 * headers with end_of_stream, the last body chunk, or trailers) to the end of
 * the response stream (last response body chunk, headers with end_of_stream,
 * or trailers) for the primary and live arms, and to the callout's answer
 * (Envoy delivers it whole, at the end of the response stream) for the
 * shadow arms, whose copy is sent at that same "request complete" moment.
 */
import {
  BufferType,
  borrowBuffer,
  borrowedPtr,
  borrowProperty,
  MapType,
  nowMicros,
  randomBytes,
  releaseBorrowed,
} from './abi/host';
import { FNV_OFFSET, fnvUpdate } from './fnv';
import { Arm } from './generated/umbra/telemetry/v1/Arm';
import { buildShadowHeaders, pairOffset } from './headers';
import {
  FLAG_BODY_TRUNCATED,
  FLAG_CONNECT_FAILURE,
  FLAG_GENERATED_ID,
  FLAG_MIRROR_ABANDONED,
  FLAG_OUTCOME,
  FLAG_RESET,
  FLAG_TIMEOUT,
  FLAGS_FAILED,
} from './record-flags';
import { idBytesAt, isUsableIdAt, uuidV4 } from './request-id';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { clampLatency, Decision, RootContext, readStatus } from './root';
import { readOutcome, splitUser } from './split';
import { buf } from './strings';

const CLUSTER_NAME = buf('xds\0cluster_name');
const RESPONSE_FLAGS = buf('response\0flags');

// Envoy's legacy response flag bits (StreamInfo CoreResponseFlag order), as
// the `response.flags` attribute reports them.
const RF_NO_HEALTHY_UPSTREAM: u64 = 0x2;
const RF_UPSTREAM_TIMEOUT: u64 = 0x4;
const RF_LOCAL_RESET: u64 = 0x8;
const RF_REMOTE_RESET: u64 = 0x10;
const RF_CONNECT_FAILURE: u64 = 0x20;
const RF_CONNECTION_TERMINATION: u64 = 0x40;
const RF_OVERFLOW: u64 = 0x80;

const RANDOM_ID: usize = memory.data(16);
const NO_ID = new Uint8Array(0);

/** Per-request state; created at context creation, dropped at delete. */
export class StreamContext {
  private decision: Decision = new Decision();
  private mirror: bool = false;
  private live: bool = false;
  private finished: bool = false;
  private requestDone: bool = false;
  private responseDone: bool = false;
  private startUs: i64 = 0;
  private requestEndUs: i64 = 0;
  private responseEndUs: i64 = 0;
  private requestId: Uint8Array | null = null;
  private idFlags: u32 = 0;
  private shadowHeaders: ArrayBuffer | null = null;
  private body: ArrayBuffer | null = null;
  private bodyLen: u32 = 0;
  private abandoned: bool = false;
  private status: u32 = 0;
  private responseBytes: u64 = 0;
  private hash: u64 = FNV_OFFSET;
  private hashed: u32 = 0;
  private truncated: bool = false;
  private endpoint: u32 = 0;
  /** A/B split: the user's id for the record (0: none), and the outcome in thousandths (-1: none). */
  private user: u32 = 0;
  private outcome: i64 = -1;

  constructor(public root: RootContext) {}

  /** Makes a pooled context new again for another request of `root`. */
  reset(root: RootContext): void {
    this.root = root;
    this.mirror = false;
    this.live = false;
    this.finished = false;
    this.requestDone = false;
    this.responseDone = false;
    this.startUs = 0;
    this.requestEndUs = 0;
    this.responseEndUs = 0;
    this.requestId = null;
    this.idFlags = 0;
    this.shadowHeaders = null;
    this.body = null;
    this.bodyLen = 0;
    this.abandoned = false;
    this.status = 0;
    this.responseBytes = 0;
    this.hash = FNV_OFFSET;
    this.hashed = 0;
    this.truncated = false;
    this.endpoint = 0;
    this.user = 0;
    this.outcome = -1;
    this.decision.mirror = false;
    this.decision.segment = 0;
    this.decision.arms = 0;
  }

  onRequestHeaders(endOfStream: bool): void {
    const root = this.root;
    if (!root.configured) return;
    root.counts.requests++;
    // An A/B split routes B's users (a header the route matches) before the
    // router picks the cluster; every request of a user gets a live record.
    if (root.splitPercentage > 0) this.user = splitUser(root.config, root.splitKeys, root.splitPercentage);
    root.decide(this.decision);
    this.mirror = this.decision.mirror;
    // The clock is read only for requests that get a record.
    if (this.mirror) {
      this.startUs = nowMicros();
      const pairs = changetype<ArrayBuffer>(this.decision.pairs);
      this.decision.pairs = null;
      const id = pairOffset(pairs, 'x-request-id');
      const idAt: usize = id < 0 ? 0 : changetype<usize>(pairs) + <usize>(id >> 32);
      const idLen = id < 0 ? 0 : <u32>(id & 0xffffffff);
      if (id >= 0 && isUsableIdAt(idAt, idLen)) {
        this.requestId = idBytesAt(idAt, idLen);
        this.shadowHeaders = buildShadowHeaders(pairs, root.drop, idAt, idLen);
      } else {
        const text = this.generateRequestId();
        this.shadowHeaders = buildShadowHeaders(
          pairs,
          root.drop,
          changetype<usize>(text),
          <u32>text.byteLength,
        );
      }
      if (this.shadowHeaders === null) this.abandon();
      this.endpoint = root.endpointId(pairs);
    } else if (this.user !== 0 || root.sampleLive()) {
      // A live record is never paired: it carries no request id, which saves
      // a header read per request.
      this.live = true;
      this.startUs = nowMicros();
      // The request headers are readable only now, not when the record is written.
      this.endpoint = root.endpointId();
    }
    if (endOfStream) this.requestComplete(this.startUs);
  }

  /** Makes up a request id (a UUID v4) when the request's is missing or malformed. */
  private generateRequestId(): ArrayBuffer {
    if (!randomBytes(RANDOM_ID, 16)) {
      store<u64>(RANDOM_ID, this.root.rng.next());
      store<u64>(RANDOM_ID + 8, this.root.rng.next());
    }
    const raw = new Uint8Array(16);
    memory.copy(raw.dataStart, RANDOM_ID, 16);
    const text = uuidV4(raw);
    this.idFlags = FLAG_GENERATED_ID;
    this.requestId = idBytesAt(changetype<usize>(text), <u32>text.byteLength);
    return text;
  }

  onRequestBody(bodySize: u32, endOfStream: bool): void {
    if (this.mirror && !this.abandoned && !this.requestDone && bodySize > 0) this.copyBody(bodySize);
    if (endOfStream) this.requestComplete(this.mirror || this.live ? nowMicros() : 0);
  }

  onRequestTrailers(): void {
    this.requestComplete(this.mirror || this.live ? nowMicros() : 0);
  }

  private copyBody(chunk: u32): void {
    const max = this.root.config.maxBodyBytes;
    if (<u64>this.bodyLen + <u64>chunk > <u64>max) {
      this.root.counts.skippedBodySize++;
      this.abandon();
      return;
    }
    let body = this.body;
    if (body === null || body.byteLength < <i32>(this.bodyLen + chunk)) {
      let cap = body === null ? 16384 : body.byteLength * 2;
      while (cap < <i32>(this.bodyLen + chunk)) cap *= 2;
      if (cap > <i32>max) cap = <i32>max;
      const grown = new ArrayBuffer(cap);
      if (body !== null && this.bodyLen > 0)
        memory.copy(changetype<usize>(grown), changetype<usize>(body), this.bodyLen);
      body = grown;
      this.body = grown;
    }
    const got = borrowBuffer(BufferType.HttpRequestBody, 0, chunk);
    if (got > 0) {
      memory.copy(changetype<usize>(body) + this.bodyLen, borrowedPtr(), got);
      this.bodyLen += got;
    }
    releaseBorrowed();
  }

  /** Gives up the mirror of this request (the primary record says so). */
  private abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.body = null;
    this.shadowHeaders = null;
    this.root.release(this.decision.arms);
  }

  private requestComplete(now: i64): void {
    if (this.requestDone) return;
    this.requestDone = true;
    this.requestEndUs = now;
    if (!this.mirror || this.abandoned) return;
    const call = this.root.callTemplate;
    call.requestId = changetype<Uint8Array>(this.requestId);
    call.endpoint = this.endpoint;
    call.segment = this.decision.segment;
    call.startUs = this.startUs;
    call.flags = this.idFlags;
    const headers = changetype<ArrayBuffer>(this.shadowHeaders);
    const started = this.root.dispatch(headers, this.body, this.bodyLen, this.decision.arms, call, now);
    this.body = null;
    this.shadowHeaders = null;
    if (started === 0) this.abandoned = true;
  }

  onResponseHeaders(endOfStream: bool): void {
    if (this.mirror || this.live) this.status = readStatus(MapType.ResponseHeaders);
    if (this.user !== 0 && this.root.config.outcomeHeader.length > 0)
      this.outcome = readOutcome(this.root.splitKeys);
    if (endOfStream) this.responseComplete();
  }

  onResponseBody(bodySize: u32, endOfStream: bool): void {
    this.responseBytes += <u64>bodySize;
    if (this.mirror && bodySize > 0) this.hashChunk(bodySize);
    if (endOfStream) this.responseComplete();
  }

  onResponseTrailers(): void {
    this.responseComplete();
  }

  private hashChunk(size: u32): void {
    const max = this.root.config.hashMaxBytes;
    if (this.hashed >= max) {
      this.truncated = true;
      return;
    }
    const want = max - this.hashed < size ? max - this.hashed : size;
    if (want < size) this.truncated = true;
    const got = borrowBuffer(BufferType.HttpResponseBody, 0, want);
    if (got > 0) this.hash = fnvUpdate(this.hash, borrowedPtr(), got);
    releaseBorrowed();
    this.hashed += got;
  }

  private responseComplete(): void {
    if (this.responseDone) return;
    this.responseDone = true;
    if (this.mirror || this.live) this.responseEndUs = nowMicros();
  }

  /**
   * End of the stream: gives back a mirror reservation the request never
   * used (it did not complete), then writes the primary or live record.
   */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.mirror && !this.requestDone && !this.abandoned) {
      this.abandoned = true;
      this.root.release(this.decision.arms);
    }
    if (!this.mirror && !this.live) return;
    const root = this.root;
    let flags = this.idFlags;
    if (!this.responseDone) {
      this.responseEndUs = nowMicros();
      flags |= FLAG_RESET;
    }
    if (this.status === 0 || this.status >= 500) flags |= this.responseFlags();
    let status = this.status;
    if ((flags & FLAGS_FAILED) !== 0) status = 0;
    const from = this.requestDone ? this.requestEndUs : this.startUs;
    const r = root.buffer.next(this.startUs, root.counts);
    const id = this.requestId;
    r.requestId = id === null ? NO_ID : id;
    r.status = status;
    r.latencyUs = clampLatency(this.responseEndUs - from);
    r.responseBytes = this.responseBytes;
    if (this.mirror) {
      if (this.abandoned) flags |= FLAG_MIRROR_ABANDONED;
      if (this.truncated) flags |= FLAG_BODY_TRUNCATED;
      r.arm = Arm.ARM_PRIMARY;
      r.endpoint = this.endpoint;
      r.segment = this.decision.segment;
      r.bodyHash = <i64>this.hash;
    } else {
      r.arm = Arm.ARM_LIVE;
      r.endpoint = this.endpoint;
      // Only live records name the cluster that served them (weighted
      // promotions are judged by it); a pair's primary is production's.
      r.cluster = this.clusterId();
      r.bodyHash = 0;
      r.user = this.user;
      if (this.outcome >= 0) {
        flags |= FLAG_OUTCOME;
        r.outcomeMilli = <u32>this.outcome;
      }
    }
    r.flags = flags;
    root.afterRecord();
  }

  private responseFlags(): u32 {
    const n = borrowProperty(RESPONSE_FLAGS);
    const rf: u64 = n >= 8 ? load<u64>(borrowedPtr()) : 0;
    releaseBorrowed();
    let flags: u32 = 0;
    if ((rf & RF_UPSTREAM_TIMEOUT) !== 0) flags |= FLAG_TIMEOUT;
    if ((rf & (RF_LOCAL_RESET | RF_REMOTE_RESET | RF_CONNECTION_TERMINATION)) !== 0) flags |= FLAG_RESET;
    if ((rf & (RF_NO_HEALTHY_UPSTREAM | RF_CONNECT_FAILURE | RF_OVERFLOW)) !== 0)
      flags |= FLAG_CONNECT_FAILURE;
    return flags;
  }

  private clusterId(): u32 {
    const n = borrowProperty(CLUSTER_NAME);
    const id = n > 0 ? this.root.internAt(borrowedPtr(), <usize>n, 0x43) : 0;
    releaseBorrowed();
    return id;
  }
}
