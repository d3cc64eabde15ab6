/**
 * The plugin (root) context of one worker's VM: owns the configuration, the
 * live mirroring state (percentage, pause) that control messages change, the
 * shadow callouts in flight, the counters, and the telemetry stream.
 *
 * NOTE: HTTP and gRPC callouts belong to the root context even when a request
 * starts them (proxy-wasm-cpp-host exports.cc: `root_context()`), and they are
 * not cancelled when the request ends, so shadow calls outlive the request
 * and their answers arrive here.
 */
import {
  borrowedPtr,
  borrowHeader,
  borrowProperty,
  getHeaderPairs,
  httpCall,
  LogLevel,
  log,
  MapType,
  nowMicros,
  randomBytes,
  releaseBorrowed,
  setTickPeriod,
} from './abi/host';
import { Config, Strategy } from './config';
import { FNV_OFFSET, fnvUpdate } from './fnv';
import { Arm } from './generated/umbra/telemetry/v1/Arm';
import { ControlKind } from './generated/umbra/telemetry/v1/ControlKind';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { HeaderSet, pairOffset, shadowDropSet } from './headers';
import { Metrics } from './metrics';
import { FLAG_BODY_TRUNCATED, FLAG_RESET, FLAGS_FAILED } from './record-flags';
import { Rng } from './rng';
import {
  findCookie,
  methodAllowed,
  normalisePath,
  pathAllowed,
  regionIndex,
  segmentBucket,
  segmentPoint,
} from './sampling';
import { classifyCallout, hashCalloutBody, ShadowCall } from './shadow';
import { SplitKeys } from './split';
import { buf } from './strings';
import { Counts, Dictionary, RecordBuffer } from './telemetry';
import { TelemetryStream } from './telemetry-stream';

const PATH = buf(':path');
const STATUS = buf(':status');
// NOTE: Envoy 1.40 serves route, cluster and node as CEL `xds.*` attributes
// (the older bare `route_name`/`cluster_name`/`node` properties are gone).
const ROUTE_NAME = buf('xds\0route_name');

/** What a request's decision produced (see RootContext.decide). */
export class Decision {
  mirror: bool = false;
  /** The request headers (serialized pairs) when mirrored. */
  pairs: ArrayBuffer | null = null;
  segment: u32 = 0;
  arms: u32 = 0;
}

/** One root context per plugin per worker VM. */
export class RootContext {
  config: Config = new Config();
  configured: bool = false;
  /** Live share, from config then control messages (0..100). */
  percentage: f64 = 0;
  /** Live share of users in B of an A/B split, from config then control messages (0..100). */
  splitPercentage: f64 = 0;
  paused: bool = false;
  counts: Counts = new Counts();
  rng: Rng = new Rng(0);
  /** Shadow calls reserved or outstanding (the maxShadowInFlight cap). */
  inFlight: u32 = 0;
  calls: Map<u32, ShadowCall> = new Map();
  dict: Dictionary = new Dictionary();
  buffer: RecordBuffer = new RecordBuffer(1);
  metrics: Metrics | null = null;
  stream: TelemetryStream | null = null;
  /** Headers a mirrored copy never carries (from config.stripHeaders). */
  drop: HeaderSet = shadowDropSet([]);
  /** Reused for every dispatch: the shadow calls copy what they keep. */
  callTemplate: ShadowCall = new ShadowCall();
  /** Header names of an A/B split (split.ts), as bytes. */
  splitKeys: SplitKeys = new SplitKeys(new Config());
  private candidate: ArrayBuffer = new ArrayBuffer(0);
  private baseline: ArrayBuffer = new ArrayBuffer(0);
  private regionIds: u32[] = [];
  private liveCountdown: u32 = 0;
  /** Failed shadow calls in a row, and until when mirroring rests. */
  private failuresInRow: u32 = 0;
  private restUntilUs: i64 = 0;

  constructor(public id: u32) {}

  /** Applies a validated configuration (called from proxy_on_configure). */
  configure(c: Config): void {
    this.config = c;
    this.percentage = c.shadowPercentage;
    this.splitPercentage = c.splitPercentage;
    this.paused = false;
    const seed = memory.data(8);
    if (!randomBytes(seed, 8)) store<u64>(seed, <u64>nowMicros());
    this.rng = new Rng(load<u64>(seed));
    this.drop = shadowDropSet(c.stripHeaders);
    this.splitKeys = new SplitKeys(c);
    this.candidate = buf(c.candidateCluster);
    this.baseline = buf(c.baselineCluster);
    this.buffer = new RecordBuffer(<i32>c.bufferMaxRecords);
    this.regionIds = [];
    for (let i = 0; i < c.regions.length; i++) this.regionIds.push(this.dict.intern(c.regions[i]));
    this.metrics = new Metrics(c.service);
    this.stream =
      c.telemetryCluster.length > 0
        ? new TelemetryStream(
            c,
            this.counts,
            this.dict,
            this.buffer,
            this.rng,
            this.metrics,
            <u32>(this.rng.next() >> 33) | 1,
          )
        : null;
    this.liveCountdown = c.liveSampleEvery;
    this.configured = true;
    setTickPeriod(c.flushIntervalMs);
  }

  /**
   * Decides at request headers whether to mirror. Cheapest checks first; the
   * first failing check names the counted reason: paused → (random) sampling
   * → method → path → (user-segment/geographic) key and sampling → body size
   * (content-length) → shadow_busy (in-flight cap, or resting after
   * breakerFailures failed shadow calls in a row).
   */
  decide(out: Decision): void {
    out.mirror = false;
    out.segment = 0;
    out.pairs = null;
    const c = this.config;
    const pct = this.percentage;
    if (this.paused) {
      this.counts.skippedPaused++;
      return;
    }
    if (c.mirroringStrategy === Strategy.Random && (pct <= 0 || this.rng.percent() >= pct)) {
      this.counts.skippedSampling++;
      return;
    }
    // One host call for all request headers: the checks below and the
    // mirrored copy all read from it.
    const pairs = getHeaderPairs(MapType.RequestHeaders);
    if (pairs === null) {
      this.counts.calloutFailures++;
      return;
    }
    const base = changetype<usize>(pairs);
    const method = pairOffset(pairs, ':method');
    if (method < 0 || !methodAllowed(base + <usize>(method >> 32), <usize>(method & 0xffffffff), c.methods)) {
      this.counts.skippedMethod++;
      return;
    }
    if (c.includePaths.length > 0 || c.excludePaths.length > 0) {
      const path = pairOffset(pairs, ':path');
      if (
        path < 0 ||
        !pathAllowed(base + <usize>(path >> 32), <usize>(path & 0xffffffff), c.includePaths, c.excludePaths)
      ) {
        this.counts.skippedPath++;
        return;
      }
    }
    if (c.mirroringStrategy === Strategy.UserSegment && !this.sampleSegment(out, pct, pairs)) return;
    if (c.mirroringStrategy === Strategy.Geographic && !this.sampleRegion(out, pct, pairs)) return;
    const length = pairOffset(pairs, 'content-length');
    if (
      length >= 0 &&
      parseDecimal(base + <usize>(length >> 32), <u32>(length & 0xffffffff)) > <i64>c.maxBodyBytes
    ) {
      this.counts.skippedBodySize++;
      return;
    }
    const arms: u32 = this.baseline.byteLength > 0 ? 2 : 1;
    if (this.inFlight + arms > c.maxShadowInFlight || this.resting()) {
      this.counts.shadowBusy++;
      return;
    }
    this.inFlight += arms;
    out.arms = arms;
    out.pairs = pairs;
    out.mirror = true;
  }

  private sampleSegment(out: Decision, pct: f64, pairs: ArrayBuffer): bool {
    const c = this.config;
    const base = changetype<usize>(pairs);
    let keyPtr: usize = 0;
    let keyLen: usize = 0;
    if (c.segmentHeader.length > 0) {
      const h = pairOffset(pairs, c.segmentHeader);
      if (h >= 0) {
        keyPtr = base + <usize>(h >> 32);
        keyLen = <usize>(h & 0xffffffff);
      }
    }
    if (keyLen === 0 && c.segmentCookie.length > 0) {
      const h = pairOffset(pairs, 'cookie');
      if (h >= 0) {
        const cookies = base + <usize>(h >> 32);
        const found = findCookie(cookies, <usize>(h & 0xffffffff), c.segmentCookie);
        if (found >= 0) {
          keyPtr = cookies + <usize>(found >> 32);
          keyLen = <usize>(found & 0xffffffff);
        }
      }
    }
    if (keyLen === 0) {
      this.counts.skippedNoSegment++;
      return false;
    }
    if (segmentPoint(keyPtr, keyLen) >= pct) {
      this.counts.skippedSampling++;
      return false;
    }
    const bucket = segmentBucket(keyPtr, keyLen, c.segmentBuckets);
    out.segment = this.dict.intern('bucket-' + bucket.toString());
    return true;
  }

  private sampleRegion(out: Decision, pct: f64, pairs: ArrayBuffer): bool {
    const h = pairOffset(pairs, this.config.regionHeader);
    if (h < 0 || (h & 0xffffffff) === 0) {
      this.counts.skippedNoSegment++;
      return false;
    }
    const idx = regionIndex(
      changetype<usize>(pairs) + <usize>(h >> 32),
      <usize>(h & 0xffffffff),
      this.config.regions,
    );
    if (idx < 0 || pct <= 0 || this.rng.percent() >= pct) {
      this.counts.skippedSampling++;
      return false;
    }
    out.segment = this.regionIds[idx];
    return true;
  }

  /** Whether this non-mirrored request gets a live record (every Nth). */
  sampleLive(): bool {
    const every = this.config.liveSampleEvery;
    if (every === 0) return false;
    if (this.liveCountdown <= 1) {
      this.liveCountdown = every;
      return true;
    }
    this.liveCountdown--;
    return false;
  }

  /** Gives back the in-flight slots reserved by {@link decide}. */
  release(arms: u32): void {
    this.inFlight = this.inFlight >= arms ? this.inFlight - arms : 0;
  }

  /**
   * The endpoint id: the route name, or the normalised path when the route
   * has none or the configuration says to use the path alone (read from the
   * request headers, so call it while they exist).
   */
  endpointId(pairs: ArrayBuffer | null = null): u32 {
    if (this.config.endpointFromRoute) {
      const named = borrowProperty(ROUTE_NAME);
      if (named > 0) {
        const id = this.internAt(borrowedPtr(), <usize>named, 0x52);
        releaseBorrowed();
        return id;
      }
      releaseBorrowed();
    }
    if (pairs !== null) {
      const at = pairOffset(pairs, ':path');
      if (at < 0) return 0;
      return this.pathId(changetype<usize>(pairs) + <usize>(at >> 32), <usize>(at & 0xffffffff));
    }
    const n = borrowHeader(MapType.RequestHeaders, PATH);
    const id = n < 0 ? 0 : this.pathId(borrowedPtr(), <usize>n);
    releaseBorrowed();
    return id;
  }

  /** Dictionary id of a path's normalised form, cached by the raw bytes' hash. */
  private pathId(ptr: usize, len: usize): u32 {
    const h = fnvUpdate(FNV_OFFSET ^ 0x50, ptr, len);
    const cached = this.dict.cached(h);
    if (cached !== 0) return cached;
    const id = this.dict.intern(normalisePath(ptr, len));
    this.dict.remember(h, id);
    return id;
  }

  /**
   * Dictionary id of `len` raw bytes at `ptr`, cached by their hash (salted
   * per kind): the common case builds no string and allocates nothing.
   */
  internAt(ptr: usize, len: usize, salt: u64): u32 {
    const h = fnvUpdate(FNV_OFFSET, ptr, len) ^ salt;
    const cached = this.dict.cached(h);
    if (cached !== 0) return cached;
    const id = this.dict.intern(String.UTF8.decodeUnsafe(ptr, len));
    this.dict.remember(h, id);
    return id;
  }

  /**
   * Sends the mirrored copy to the candidate (and baseline) at `now` (the
   * moment the request was complete). Answers how many calls started; the
   * reservation of the ones that did not start is given back.
   */
  dispatch(
    headers: ArrayBuffer,
    body: ArrayBuffer | null,
    bodyLen: u32,
    arms: u32,
    call: ShadowCall,
    now: i64,
  ): u32 {
    const bodyPtr: usize = body === null ? 0 : changetype<usize>(body);
    const timeout = this.config.shadowTimeoutMs;
    let started: u32 = 0;
    const t1 = httpCall(this.candidate, headers, bodyPtr, bodyLen, timeout);
    if (t1 !== 0) {
      this.calls.set(t1, call.forArm(Arm.ARM_CANDIDATE, now));
      started++;
    } else this.counts.calloutFailures++;
    if (arms > 1) {
      const t2 = httpCall(this.baseline, headers, bodyPtr, bodyLen, timeout);
      if (t2 !== 0) {
        this.calls.set(t2, call.forArm(Arm.ARM_BASELINE, now));
        started++;
      } else this.counts.calloutFailures++;
    }
    if (started < arms) this.release(arms - started);
    if (started > 0) this.counts.mirrored++;
    return started;
  }

  /** A shadow call answered (or failed): one record for its arm. */
  onHttpCallResponse(token: u32, headers: u32, bodySize: u32): void {
    if (!this.calls.has(token)) return;
    const call = this.calls.get(token);
    this.calls.delete(token);
    const end = nowMicros();
    let status: u32 = 0;
    let flags = call.flags;
    let hash: u64 = 0;
    if (headers === 0) {
      // NOTE: Envoy reports every callout failure as "reset" with no headers
      // (extensions/common/wasm/context.cc, onHttpCallFailure).
      flags |= FLAG_RESET;
    } else {
      status = readStatus(MapType.HttpCallResponseHeaders);
      const local = classifyCallout(status, bodySize);
      if (local !== 0) {
        // Envoy's own answer, not the shadow's: no status, no body.
        flags |= local;
        status = 0;
        bodySize = 0;
      } else {
        hash = hashCalloutBody(bodySize, this.config.hashMaxBytes);
        if (bodySize > this.config.hashMaxBytes) flags |= FLAG_BODY_TRUNCATED;
      }
    }
    this.noteOutcome((flags & FLAGS_FAILED) !== 0, end);
    const r = this.buffer.next(call.startUs, this.counts);
    r.requestId = call.requestId;
    r.arm = call.arm;
    r.endpoint = call.endpoint;
    r.segment = call.segment;
    r.latencyUs = clampLatency(end - call.sentUs);
    r.status = status;
    r.flags = flags;
    r.responseBytes = headers === 0 ? 0 : <u64>bodySize;
    r.bodyHash = <i64>hash;
    this.afterRecord();
    this.release(1);
  }

  /** Whether the breaker holds mirroring back (reads the clock only then). */
  private resting(): bool {
    if (this.restUntilUs === 0) return false;
    if (nowMicros() < this.restUntilUs) return true;
    this.restUntilUs = 0;
    return false;
  }

  /**
   * Shadow circuit breaker: after breakerFailures failed calls in a row
   * (timeout, reset, connect failure) mirroring rests for breakerCooldownMs,
   * so a dead or hanging shadow costs Envoy almost nothing; the calls made
   * after the rest probe it again.
   */
  private noteOutcome(failed: bool, now: i64): void {
    const limit = this.config.breakerFailures;
    if (!failed || limit === 0) {
      this.failuresInRow = 0;
      return;
    }
    this.failuresInRow++;
    if (this.failuresInRow < limit) return;
    this.failuresInRow = 0;
    this.restUntilUs = now + <i64>this.config.breakerCooldownMs * 1000;
    log(LogLevel.Debug, 'umbra: shadow failing, mirroring rests');
  }

  /** Called after each record is added: flush when a batch is full. */
  afterRecord(): void {
    const s = this.stream;
    if (s !== null && this.buffer.count >= <i32>this.config.batchMaxRecords) s.flush(false);
  }

  /** Timer: telemetry (reconnect, flush) and Envoy stats. */
  onTick(): void {
    if (!this.configured) return;
    const s = this.stream;
    let open = false;
    if (s !== null) {
      s.onTick();
      open = s.isOpen();
    }
    const m = this.metrics;
    if (m !== null) m.sync(this.counts, this.inFlight, <u32>this.buffer.count, open);
  }

  /** Applies a control message (see telemetry.proto ControlKind). */
  applyControl(kind: i32, percentage: f64, split: f64 = 0): void {
    if (kind === ControlKind.CONTROL_SET_SPLIT) {
      this.splitPercentage = split < 0 ? 0 : split > 100 ? 100 : split;
      log(LogLevel.Info, 'umbra: control: splitPercentage=' + this.splitPercentage.toString());
      return;
    }
    if (kind === ControlKind.CONTROL_SET_PERCENTAGE) {
      const p = percentage < 0 ? 0 : percentage > 100 ? 100 : percentage;
      this.percentage = p;
      log(LogLevel.Info, 'umbra: control: shadowPercentage=' + p.toString());
    } else if (kind === ControlKind.CONTROL_PAUSE) {
      this.paused = true;
      log(LogLevel.Info, 'umbra: control: mirroring paused');
    } else if (kind === ControlKind.CONTROL_RESUME) {
      this.paused = false;
      log(LogLevel.Info, 'umbra: control: mirroring resumed');
    }
  }
}

/** The `:status` of a header map (0 when absent or not a number). */
export function readStatus(map: MapType): u32 {
  const n = borrowHeader(map, STATUS);
  const v = n < 0 ? -1 : parseDecimal(borrowedPtr(), <u32>n);
  releaseBorrowed();
  return v < 0 ? 0 : <u32>v;
}

/** Parses `n` bytes at `p` as an unsigned decimal; -1 when they are not one. */
export function parseDecimal(p: usize, n: u32): i64 {
  if (n === 0 || n > 18) return -1;
  let x: i64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const c = <i32>load<u8>(p + i);
    if (c < 0x30 || c > 0x39) return -1;
    x = x * 10 + (c - 0x30);
  }
  return x;
}

/** µs to a u32 record field (saturates at about 71 minutes). */
export function clampLatency(us: i64): u32 {
  if (us < 0) return 0;
  return us > 0xffffffff ? 0xffffffff : <u32>us;
}
