/**
 * The path every received batch takes, live or replayed:
 * decode → per-stream checks (dictionary, sequence, counters) → pairer (mirrored
 * arms) or aggregator (live records). Knows nothing about gRPC or files: the
 * caller hands it bytes, a stream id and the arrival time.
 *
 * Bad input never throws out of {@link Ingest.onBatch}: a malformed or
 * oversized batch is dropped whole (nothing half-applied) and counted by
 * reason; a bad record inside a good batch is skipped and counted.
 */
import type { Aggregator, LiveRecord } from '../aggregate/aggregator.js';
import type { SeriesRegistry } from '../aggregate/series.js';
import { logger, rateLimited } from '../log.js';
import type { Pairer } from '../pairing/pairer.js';
import { ARM_LIVE, ARM_PRIMARY, COUNTER_NAMES } from '../wire/record-contract.js';
import {
  BatchColumns,
  DEFAULT_DECODE_LIMITS,
  DecodeError,
  type DecodeLimits,
  decodeBatch,
} from './decode.js';

const log = logger('telemetry');

/** Per-stream state; a reconnect is a new stream (fresh dictionary, sequence from 1). */
export interface StreamState {
  id: number;
  proxyId: string;
  worker: number;
  service: string;
  lastSequence: number;
  batches: number;
  records: number;
  /** Batches missing between received sequence numbers. */
  gapBatches: number;
  /** Arrival time minus the newest record's end in the last batch, µs. */
  lagUs: number;
  lastArrivalUs: number;
  dict: Map<number, string>;
  /** Characters held in `dict` values (bounded by maxDictBytesPerStream). */
  dictBytes: number;
  /** Direct-mapped cache of (endpoint id, segment id) → series id: keys (-1 empty) and values. */
  seriesKeys: Int32Array;
  seriesVals: Int32Array;
  /** cluster dictionary id → registry cluster id. */
  clusterCache: Map<number, number>;
  /** Last cumulative filter counters (Counters message), to difference. */
  filterCounters: Float64Array;
  /** Series this stream added to the shared registry (bounded by seriesSharePerStream). */
  newSeries: number;
  /** Cluster names this stream added to the shared registry (bounded by clusterSharePerStream). */
  newClusters: number;
}

/** Cumulative ingest counts, by cause. */
export interface IngestCounters {
  batches: number;
  records: number;
  /** Batches refused, by reason (decode errors and protocol violations). */
  batchesRefused: Record<string, number>;
  /** Records skipped inside accepted batches, by reason. */
  recordsSkipped: Record<string, number>;
  /** Batches lost according to sequence gaps. */
  sequenceGaps: number;
  /** Sums of the filters' counter increments (mirrored, skipped_*, dropped_records, …). */
  filter: Record<string, number>;
}

export interface IngestOptions {
  limits: DecodeLimits;
  /** Dictionary entries allowed per stream. */
  maxDictPerStream: number;
  /** Bytes of dictionary strings allowed per stream. */
  maxDictBytesPerStream: number;
  /** Concurrent streams tracked; more are refused. */
  maxStreams: number;
  /**
   * Share (0..1) of the registry's series (service × endpoint × segment) one
   * stream may add; beyond it, records of new series are skipped
   * (`stream_series_limit`). Series that already exist are never refused.
   */
  seriesSharePerStream: number;
  /** The same over every stream naming one proxy id, for the daemon's lifetime (`proxy_series_limit`). */
  seriesSharePerProxy: number;
  /** Share of the registry's upstream cluster names (live records) one stream may add (`stream_cluster_limit`). */
  clusterSharePerStream: number;
}

export const DEFAULT_INGEST_OPTIONS: IngestOptions = {
  limits: DEFAULT_DECODE_LIMITS,
  maxDictPerStream: 16_384,
  maxDictBytesPerStream: 1 << 20,
  maxStreams: 1_024,
  seriesSharePerStream: 0.25,
  seriesSharePerProxy: 0.5,
  clusterSharePerStream: 0.25,
};

export type BatchResult = { ok: true; service: string; sequence: number } | { ok: false; reason: string };

const UNKNOWN = '(unknown)';
/** Why a record's series was refused, by -(code) - 1 (see newSeriesAllowed). */
const SERIES_REFUSALS = ['series_limit', 'stream_series_limit', 'proxy_series_limit'];
/** Entries in each stream's direct-mapped series cache (a power of two). */
const SERIES_CACHE = 1024;

export class Ingest {
  readonly counters: IngestCounters = {
    batches: 0,
    records: 0,
    batchesRefused: {},
    recordsSkipped: {},
    sequenceGaps: 0,
    filter: Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])),
  };
  readonly streams = new Map<number, StreamState>();
  private readonly cols = new BatchColumns(1024);
  private readonly opts: IngestOptions;
  private readonly liveRec: LiveRecord = {
    series: 0,
    cluster: 0,
    startUs: 0,
    latencyUs: 0,
    status: 0,
    flags: 0,
    idBuf: new Uint8Array(0),
    idOff: 0,
    idLen: 0,
    user: 0,
    outcomeMilli: 0,
  };
  /**
   * Sees every live record of an A/B split (one with a user id) after the
   * aggregator did; the record object is reused: copy what you keep. Set by
   * the daemon's composition; must not throw.
   */
  splitTap: ((r: Readonly<LiveRecord>) => void) | null = null;
  private readonly allowLog = rateLimited(10_000);
  /**
   * Who may send: the proxy ids (Envoy node ids) and services the daemon
   * configured; a batch naming another is refused (`unknown_proxy`,
   * `unknown_service`). Set once by the daemon's telemetry part before it
   * listens; unset (replay, tests) accepts every proxy and service.
   */
  accept: { proxies: ReadonlySet<string>; services: ReadonlySet<string> } | undefined;
  /** Series added per proxy id (seriesSharePerProxy); at most one entry per series. */
  private readonly newSeriesByProxy = new Map<string, number>();
  /** The shares as counts of the registry's caps. */
  private readonly caps: { seriesPerStream: number; seriesPerProxy: number; clustersPerStream: number };

  constructor(
    readonly registry: SeriesRegistry,
    readonly pairer: Pairer,
    readonly aggregator: Aggregator,
    options: Partial<IngestOptions> = {},
  ) {
    this.opts = { ...DEFAULT_INGEST_OPTIONS, ...options };
    this.caps = {
      seriesPerStream: Math.ceil(registry.maxSeries * this.opts.seriesSharePerStream),
      seriesPerProxy: Math.ceil(registry.maxSeries * this.opts.seriesSharePerProxy),
      clustersPerStream: Math.ceil(registry.maxClusters * this.opts.clusterSharePerStream),
    };
  }

  /** Moves time forward: retires expired pairs, then finalizes seconds. */
  advance(nowUs: number): void {
    this.pairer.advance(nowUs);
    this.aggregator.advance(nowUs);
  }

  /** Opens a stream; false when too many are open (the caller refuses it). */
  openStream(id: number): boolean {
    if (this.streams.has(id)) return true;
    if (this.streams.size >= this.opts.maxStreams) {
      this.refuse('too_many_streams', id);
      return false;
    }
    this.streams.set(id, {
      id,
      proxyId: '',
      worker: 0,
      service: '',
      lastSequence: 0,
      batches: 0,
      records: 0,
      gapBatches: 0,
      lagUs: 0,
      lastArrivalUs: 0,
      dict: new Map(),
      dictBytes: 0,
      seriesKeys: new Int32Array(SERIES_CACHE).fill(-1),
      seriesVals: new Int32Array(SERIES_CACHE),
      clusterCache: new Map(),
      filterCounters: new Float64Array(COUNTER_NAMES.length),
      newSeries: 0,
      newClusters: 0,
    });
    return true;
  }

  closeStream(id: number): void {
    this.streams.delete(id);
  }

  /** Processes one batch from stream `streamId` that arrived at `nowUs`. Never throws for bad input. */
  onBatch(streamId: number, bytes: Uint8Array, nowUs: number): BatchResult {
    this.advance(nowUs);
    if (!this.streams.has(streamId) && !this.openStream(streamId)) {
      return { ok: false, reason: 'too_many_streams' };
    }
    const st = this.streams.get(streamId)!;
    const cols = this.cols;
    try {
      decodeBatch(bytes, cols, this.opts.limits);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return this.refuse(err.reason, streamId, err.message);
    }
    if (cols.schemaVersion > 1) return this.refuse('unsupported_schema', streamId, `${cols.schemaVersion}`);
    if (cols.service === '') return this.refuse('no_service', streamId);
    if (st.service !== '' && st.service !== cols.service) {
      return this.refuse('service_changed', streamId, `${st.service} → ${cols.service}`);
    }
    if (st.service !== '' && st.proxyId !== cols.proxyId) {
      return this.refuse('proxy_changed', streamId, `${st.proxyId} → ${cols.proxyId}`);
    }
    const accept = this.accept;
    if (accept && !accept.proxies.has(cols.proxyId)) {
      return this.refuse('unknown_proxy', streamId, JSON.stringify(cols.proxyId));
    }
    if (accept && !accept.services.has(cols.service)) {
      return this.refuse('unknown_service', streamId, JSON.stringify(cols.service));
    }
    if (cols.sequence !== 0 && cols.sequence <= st.lastSequence) {
      return this.refuse('stale_sequence', streamId, `${cols.sequence} after ${st.lastSequence}`);
    }
    let addedBytes = 0;
    for (let i = 0; i < cols.dictCount; i++) addedBytes += cols.dictValues[i]!.length;
    if (
      st.dict.size + cols.dictCount > this.opts.maxDictPerStream ||
      st.dictBytes + addedBytes > this.opts.maxDictBytesPerStream
    ) {
      return this.refuse('dictionary_full', streamId);
    }
    // Accepted: from here on, apply.
    if (st.service === '') {
      st.service = cols.service;
      st.proxyId = cols.proxyId;
      st.worker = cols.worker;
    }
    if (cols.sequence !== 0) {
      if (st.lastSequence !== 0 && cols.sequence > st.lastSequence + 1) {
        const gap = cols.sequence - st.lastSequence - 1;
        st.gapBatches += gap;
        this.counters.sequenceGaps += gap;
      }
      st.lastSequence = cols.sequence;
    }
    for (let i = 0; i < cols.dictCount; i++) {
      const id = cols.dictIds[i]!;
      const value = cols.dictValues[i]!;
      if (st.dict.get(id) !== value) {
        // A redefined id invalidates cached series built from it.
        if (st.dict.has(id)) {
          st.seriesKeys.fill(-1);
          st.clusterCache.clear();
        }
        st.dictBytes += value.length - (st.dict.get(id)?.length ?? 0);
        st.dict.set(id, value);
      }
    }
    if (cols.hasCounters) this.applyFilterCounters(st, cols.counters);
    this.counters.batches++;
    st.batches++;
    st.lastArrivalUs = nowUs;
    this.dispatch(st, cols, nowUs);
    return { ok: true, service: st.service, sequence: cols.sequence };
  }

  private dispatch(st: StreamState, cols: BatchColumns, nowUs: number): void {
    const n = cols.count;
    const base = cols.baseTimeUs;
    const live = this.liveRec;
    live.idBuf = cols.buf;
    this.pairer.beginColumns(cols, n, nowUs);
    let newestEnd = 0;
    let accepted = 0;
    for (let i = 0; i < n; i++) {
      const a = cols.arm[i]!;
      if (a < ARM_PRIMARY || a > ARM_LIVE) {
        this.skip('unknown_arm');
        continue;
      }
      if (cols.idLen[i] === 0 && a !== ARM_LIVE) {
        this.skip('no_request_id');
        continue;
      }
      const series = this.seriesOf(st, cols.endpoint[i]!, cols.segment[i]!);
      if (series < 0) {
        this.skip(SERIES_REFUSALS[-series - 1]!);
        continue;
      }
      const startUs = base + cols.startDeltaUs[i]!;
      const end = startUs + cols.latencyUs[i]!;
      if (end > newestEnd) newestEnd = end;
      accepted++;
      if (a === ARM_LIVE) {
        const cluster = this.clusterOf(st, cols.cluster[i]!);
        if (cluster < 0) {
          this.skip(cluster === -2 ? 'stream_cluster_limit' : 'cluster_limit');
          continue;
        }
        live.series = series;
        live.cluster = cluster;
        live.startUs = startUs;
        live.latencyUs = cols.latencyUs[i]!;
        live.status = cols.status[i]!;
        live.flags = cols.flags[i]!;
        live.idOff = cols.idOff[i]!;
        live.idLen = cols.idLen[i]!;
        live.user = cols.user[i]!;
        live.outcomeMilli = cols.outcomeMilli[i]!;
        this.aggregator.onLive(live);
        if (live.user !== 0 && this.splitTap !== null) this.splitTap(live);
        continue;
      }
      this.pairer.addColumn(cols, i, series);
    }
    this.counters.records += accepted;
    st.records += accepted;
    if (newestEnd > 0) st.lagUs = nowUs - newestEnd;
  }

  private seriesOf(st: StreamState, endpoint: number, segment: number): number {
    // Dictionary ids below 2^15 make a unique non-negative 31-bit key.
    const small = endpoint < 32_768 && segment < 32_768;
    const key = small ? (endpoint << 16) | segment : -1;
    const slot = small ? (Math.imul(key, 0x9e3779b1) >>> 22) & (SERIES_CACHE - 1) : 0;
    if (small && st.seriesKeys[slot] === key) return st.seriesVals[slot]!;
    const ep = endpoint === 0 ? UNKNOWN : (st.dict.get(endpoint) ?? UNKNOWN);
    const seg = segment === 0 ? '' : (st.dict.get(segment) ?? UNKNOWN);
    const id = this.newSeriesAllowed(st, ep, seg);
    if (small && id >= 0) {
      st.seriesKeys[slot] = key;
      st.seriesVals[slot] = id;
    }
    return id;
  }

  /**
   * The series id, adding the series within the stream's and its proxy's
   * shares of the registry, so that no stream (however many series its
   * batches name) can fill the registry and blind the judge to the others.
   * Negative when refused: -1 registry full, -2 stream share, -3 proxy share.
   */
  private newSeriesAllowed(st: StreamState, ep: string, seg: string): number {
    const known = this.registry.knownSeries(st.service, ep, seg);
    if (known >= 0) return known;
    if (st.newSeries >= this.caps.seriesPerStream) return -2;
    const byProxy = this.newSeriesByProxy.get(st.proxyId) ?? 0;
    if (byProxy >= this.caps.seriesPerProxy) return -3;
    const id = this.registry.series(st.service, ep, seg);
    if (id < 0) return -1;
    st.newSeries++;
    this.newSeriesByProxy.set(st.proxyId, byProxy + 1);
    return id;
  }

  private clusterOf(st: StreamState, cluster: number): number {
    const cached = st.clusterCache.get(cluster);
    if (cached !== undefined) return cached;
    const name = cluster === 0 ? UNKNOWN : (st.dict.get(cluster) ?? UNKNOWN);
    // Like series: a stream adds at most its share of names to the shared registry (-2 beyond).
    let id = this.registry.knownCluster(name);
    if (id < 0) {
      if (st.newClusters >= this.caps.clustersPerStream) return -2;
      id = this.registry.cluster(name);
      if (id >= 0) st.newClusters++;
    }
    if (id >= 0 && st.clusterCache.size < 65_536) st.clusterCache.set(cluster, id);
    return id;
  }

  private applyFilterCounters(st: StreamState, now: Float64Array): void {
    const prev = st.filterCounters;
    for (let i = 0; i < COUNTER_NAMES.length; i++) {
      const v = now[i]!;
      // A smaller cumulative value means the filter restarted: count from zero.
      const delta = v >= prev[i]! ? v - prev[i]! : v;
      if (delta > 0) this.counters.filter[COUNTER_NAMES[i]!]! += delta;
      prev[i] = v;
    }
  }

  private skip(reason: string): void {
    const s = this.counters.recordsSkipped;
    s[reason] = (s[reason] ?? 0) + 1;
  }

  /** Counts and logs (rate-limited) a refused batch; also for refusals seen by the transport. */
  refuse(reason: string, streamId: number, detail?: string): { ok: false; reason: string } {
    const r = this.counters.batchesRefused;
    r[reason] = (r[reason] ?? 0) + 1;
    const suppressed = this.allowLog(reason);
    if (suppressed >= 0) {
      const st = this.streams.get(streamId);
      log.warn('batch refused', {
        reason,
        detail,
        stream: streamId,
        proxy: st?.proxyId,
        service: st?.service,
        suppressedSinceLast: suppressed,
      });
    }
    return { ok: false, reason };
  }
}
