/**
 * Turns pairs and live records into per-second {@link CellStats} (the judge's
 * input) and per-minute latency histograms per endpoint and arm (the store's).
 *
 * Time: a cell belongs to the second of its primary request's start. A second
 * S is *final* once the clock (`advance(nowUs)`) reaches the end of S plus
 * `arrivalGraceUs` and every pair that started in S has resolved (both arms
 * arrived, or the pairer gave up on the shadow: the pairer reports waits
 * through `onPending`), and at the latest at the end of S plus
 * `closeDelayUs` (at least the pairing TTL plus transport lateness); its
 * cells are then handed to every `onSecond` listener, in ascending seconds,
 * and nothing more is added to it: a record for a final second is counted as
 * `late` and dropped; one more than `futureToleranceS` ahead of the open
 * window is counted as `future` and dropped. Everything depends only on the
 * order of calls and the times passed in, so a replay in virtual time gives
 * the same cells as the live run.
 *
 * Memory: counters live in typed arrays of (series × ring of seconds), grown
 * only when a new series appears (the registry caps series).
 */

import { formatRequestId, type PairSink, type PairView } from '../pairing/pairer.js';
import { ARM_BASELINE, FLAG_BODY_TRUNCATED } from '../wire/record-contract.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { SeriesRegistry } from './series.js';
import {
  type AggregateOptions,
  BODY_TABLE,
  bodySlot,
  type CellStats,
  DEFAULT_AGGREGATE_OPTIONS,
  emptyPaired,
  type HistogramArm,
  type HistogramRow,
  type LiveCounts,
  type PairedCounts,
  type SignalName,
} from './stats.js';

export interface AggregatorOptions extends AggregateOptions {
  /**
   * The bound: a second is final at the latest this long after it ends (≥
   * pairing TTL + batching delay), whatever is still missing.
   */
  closeDelayUs: number;
  /**
   * A second closes early, this long after it ends, once every pair that
   * started in it has resolved (see {@link Aggregator.onPending}): the time
   * a primary's own record may take to arrive (the filter's flush interval
   * plus transport). At most closeDelayUs.
   */
  arrivalGraceUs: number;
  /** Seconds ahead of the open window still accepted (clock skew between proxies and daemon). */
  futureToleranceS: number;
  /** Primary samples needed before an endpoint's tail threshold is used. */
  minTailSamples: number;
  /** Series × cluster combinations tracked for live records; beyond, records are counted and dropped. */
  maxLiveSeries: number;
  /** Endpoints with latency histograms (10 KB per arm); beyond, no histogram (tail thresholds off). */
  maxHistogramEndpoints: number;
}

export const DEFAULT_AGGREGATOR_OPTIONS: AggregatorOptions = {
  ...DEFAULT_AGGREGATE_OPTIONS,
  closeDelayUs: 12_000_000,
  arrivalGraceUs: 2_000_000,
  futureToleranceS: 10,
  minTailSamples: 100,
  maxLiveSeries: 100_000,
  maxHistogramEndpoints: 5_000,
};

/** One live (unmirrored) record, filled in place by the caller; read during `onLive` only. */
export interface LiveRecord {
  series: number;
  /** Cluster id from the registry. */
  cluster: number;
  startUs: number;
  latencyUs: number;
  status: number;
  flags: number;
  idBuf: Uint8Array;
  idOff: number;
  idLen: number;
  /** A/B split: the filter's user id (0: none) and the outcome in thousandths (when FLAG_OUTCOME is set). */
  user: number;
  outcomeMilli: number;
}

/**
 * Called with the cells of one final second (never an empty list), in
 * ascending seconds. Every listener gets the same objects: read them, copy
 * what you keep, never mutate them.
 */
export type SecondListener = (cells: CellStats[], second: number, nowUs: number) => void;
/** Called with the histograms of one finished minute (only when someone listens). */
export type MinuteListener = (rows: HistogramRow[], minute: number) => void;

export interface AggregatorCounters {
  /** Pairs with both arms. */
  pairs: number;
  /** Primaries whose shadow record never arrived (missing data: not judged). */
  missing: number;
  live: number;
  late: number;
  future: number;
  cellsEmitted: number;
  /** Live records dropped because maxLiveSeries was reached. */
  liveOverflow: number;
  /** Seconds closed early (every pair resolved) and at the closeDelayUs bound. */
  closedEarly: number;
  closedAtBound: number;
}

// PairedCounts fields in counter order; the typed-array layout follows it.
const FIELDS = Object.keys(emptyPaired()) as (keyof PairedCounts)[];
const NF = FIELDS.length;
const F = Object.fromEntries(FIELDS.map((k, i) => [k, i])) as Record<keyof PairedCounts, number>;
const PER_CELL = NF * 2; // candidate, then baseline
const LIVE_FIELDS = 5; // requests, failed, overTail, latSumUs, tailChecked

const ARMS: HistogramArm[] = ['primary', 'candidate', 'baseline', 'live'];
const H_PRIMARY = 0;
const H_CANDIDATE = 1;
const H_BASELINE = 2;
const H_LIVE = 3;

/** Per-cell example counter slot of each signal. */
const SIGNAL_SLOT: Record<SignalName, number> = {
  errors: 0,
  latency_shift: 1,
  latency_tail: 2,
  status_mismatch: 3,
  body_mismatch: 4,
  live_errors: 5,
  live_latency: 6,
};
const SIGNAL_OF_SLOT = Object.keys(SIGNAL_SLOT) as SignalName[];
/** An example's header in an example arena: cell index (4 bytes), signal slot (1), id length (2). */
const EX_HEADER = 7;
/** Room reserved before copying a pair's id (the pairer keeps at most 255 bytes). */
const EX_PAIR_ROOM = EX_HEADER + 255;

/** The contract's definition of a failed arm. */
export function isFailed(status: number, flags: number): boolean {
  return status >= 500 || (status === 0 && (flags & 7) !== 0);
}

export class Aggregator implements PairSink {
  readonly counters: AggregatorCounters = {
    pairs: 0,
    missing: 0,
    live: 0,
    late: 0,
    future: 0,
    cellsEmitted: 0,
    liveOverflow: 0,
    closedEarly: 0,
    closedAtBound: 0,
  };
  readonly options: AggregatorOptions;
  private readonly ring: number;
  private readonly closeDelayS: number;
  /** Seconds < watermark are final. NaN until the first advance. */
  private watermark = Number.NaN;
  private seriesCap = 0;
  private cells = new Float64Array(0);
  private cellSecond = new Float64Array(0);
  /** Examples held per cell and signal (index cell * 8 + SIGNAL_SLOT), to stop at the cap with one read. */
  private exampleCount = new Uint8Array(0);
  private readonly dirty: number[][];
  /**
   * Per ring slot: the example ids of that second's cells, as bytes appended
   * in arrival order (see EX_HEADER); turned into strings when the second is
   * final. Strings made per example instead would live for the whole close
   * delay, and such survivors are what makes a garbage-collected heap grow
   * with the length of a run.
   */
  private readonly exArena: Uint8Array[];
  private readonly exUsed: Int32Array;
  // Live: (series, cluster) → live id; per live id a ring of LIVE_FIELDS counters.
  private readonly liveOf: number[][] = [];
  private liveSeries: number[] = [];
  private liveCluster: number[] = [];
  private liveCap = 0;
  private live = new Float64Array(0);
  private liveSecond = new Float64Array(0);
  private readonly liveDirty: number[][];
  // Per endpoint: tail threshold and histograms (index endpoint * 4 + arm).
  private tail = new Float64Array(0);
  /** Per endpoint BODY_TABLE recent primary body hashes (low words), for bodyNovel. */
  private bodySeen = new Int32Array(0);
  private tailDirty = new Uint8Array(0);
  private readonly hists: (LatencyHistogram | undefined)[] = [];
  private readonly histMinute: number[] = [];
  private readonly prevPrimary: (LatencyHistogram | undefined)[] = [];
  /** Per ring slot: shadow arms still awaited by primaries that started in `pendingSecond[slot]`. */
  private readonly pending: Int32Array;
  private readonly pendingSecond: Float64Array;
  private readonly secondListeners: SecondListener[] = [];
  private readonly minuteListeners: MinuteListener[] = [];

  constructor(
    private readonly registry: SeriesRegistry,
    options: Partial<AggregatorOptions> = {},
  ) {
    this.options = { ...DEFAULT_AGGREGATOR_OPTIONS, ...options };
    this.closeDelayS = Math.ceil(this.options.closeDelayUs / 1e6);
    this.ring = this.closeDelayS + 2 + this.options.futureToleranceS;
    this.dirty = Array.from({ length: this.ring }, () => []);
    this.liveDirty = Array.from({ length: this.ring }, () => []);
    this.exArena = Array.from({ length: this.ring }, () => new Uint8Array(1024));
    this.exUsed = new Int32Array(this.ring);
    this.pending = new Int32Array(this.ring);
    this.pendingSecond = new Float64Array(this.ring).fill(Number.NaN);
  }

  /** Subscribes to final seconds; returns the unsubscribe function. */
  onSecond(fn: SecondListener): () => void {
    this.secondListeners.push(fn);
    return () => this.secondListeners.splice(this.secondListeners.indexOf(fn) >>> 0, 1);
  }

  /** Subscribes to finished minutes of histograms; returns the unsubscribe function. */
  onMinute(fn: MinuteListener): () => void {
    this.minuteListeners.push(fn);
    return () => this.minuteListeners.splice(this.minuteListeners.indexOf(fn) >>> 0, 1);
  }

  /** The tail threshold in µs currently applied to an endpoint (Infinity while too few samples). */
  tailThresholdUs(endpoint: number): number {
    return endpoint < this.tail.length ? this.tail[endpoint]! : Number.POSITIVE_INFINITY;
  }

  /**
   * Sets an endpoint's tail threshold from an earlier run (its stored
   * primary histograms, see aggregate/tail-seed.ts) when this aggregator has
   * measured none yet; the first minute measured here replaces it. Returns
   * whether it was set.
   */
  seedTail(service: string, endpoint: string, thresholdUs: number): boolean {
    if (!(thresholdUs > 0) || !Number.isFinite(thresholdUs)) return false;
    const ep = this.registry.endpoint(service, endpoint);
    this.ensureEndpoint(ep);
    if (this.tail[ep]! < Number.POSITIVE_INFINITY) return false;
    this.tail[ep] = thresholdUs;
    return true;
  }

  /** The first second that is not final yet (NaN before the first advance). */
  get openSecond(): number {
    return this.watermark;
  }

  /** A pair from the pairer. */
  onPair(v: PairView): void {
    const sec = Math.floor(v.startUs / 1e6);
    const cellIdx = this.cellFor(v.series, sec);
    if (cellIdx < 0) return;
    const opts = this.options;
    const base = cellIdx * PER_CELL + (v.shadowArm === ARM_BASELINE ? NF : 0);
    const c = this.cells;
    const ep = this.registry.endpointOf[v.series]!;
    this.ensureEndpoint(ep);
    const p = v.pLatencyUs;
    if (v.shadowArm !== ARM_BASELINE) this.recordLatency(ep, H_PRIMARY, sec, v.pStatus, p);
    // A shadow record that never came is missing data (a lost batch, a dropped
    // buffer, a refused line), never a failure: the filter reports a shadow that
    // timed out as a record of its own. Counted, and nothing else.
    if (v.missing) {
      this.counters.missing++;
      c[base + F.shadowMissing]!++;
      return;
    }
    this.counters.pairs++;
    const pFailed = isFailed(v.pStatus, v.pFlags);
    const sFailed = isFailed(v.sStatus, v.sFlags);
    const exampleSignals = v.shadowArm !== ARM_BASELINE;
    c[base + F.pairs]!++;
    if (pFailed) c[base + F.primaryFailed]!++;
    if (sFailed) c[base + F.shadowFailed]!++;
    if (exampleSignals && !pFailed) this.primaryBody(ep, base, v);
    if (sFailed && !pFailed) {
      c[base + F.errShadowOnly]!++;
      if (exampleSignals) this.example(cellIdx, 'errors', v);
    } else if (pFailed && !sFailed) c[base + F.errPrimaryOnly]!++;
    const s = v.sLatencyUs;
    this.recordLatency(ep, v.shadowArm === ARM_BASELINE ? H_BASELINE : H_CANDIDATE, sec, v.sStatus, s);
    if (v.pStatus !== v.sStatus) {
      c[base + F.statusMismatch]!++;
      if (exampleSignals) this.example(cellIdx, 'status_mismatch', v);
    } else if (
      (v.pHashLo !== v.sHashLo || v.pHashHi !== v.sHashHi) &&
      !((v.pFlags | v.sFlags) & FLAG_BODY_TRUNCATED)
    ) {
      c[base + F.bodyMismatch]!++;
      if (exampleSignals) this.example(cellIdx, 'body_mismatch', v);
    }
    if (pFailed || sFailed) return;
    c[base + F.latPairs]!++;
    c[base + F.latDeltaSumUs]! += s - p;
    c[base + F.latPrimarySumUs]! += p;
    // The sign test compares the shadow, less the tolerated slowdown (relative and absolute), with
    // the primary: a pair counts for the shadow only beyond the tolerance and for the primary
    // otherwise. Under "the shadow is at most that much slower" a pair then favours the shadow
    // with probability ≤ ½, so a constant excess within the tolerance (the mirror callout's own
    // path through Envoy is a few hundred µs slower than the primary's, even for identical
    // versions) is no evidence. NOTE: a symmetric dead zone (shadow beyond the margin vs primary
    // beyond it) does not do this: any constant excess tips it toward the shadow.
    const tolerated = p * (1 + opts.latencyMarginRel) + opts.latencyMarginAbsUs;
    if (s > tolerated) {
      c[base + F.latShadowSlower]!++;
      if (exampleSignals) this.example(cellIdx, 'latency_shift', v);
    } else if (s < tolerated) c[base + F.latPrimarySlower]!++;
    const thr = this.tail[ep]!;
    const sOver = s > thr;
    const pOver = p > thr;
    if (sOver && !pOver) {
      c[base + F.tailShadowOnly]!++;
      if (exampleSignals) this.example(cellIdx, 'latency_tail', v);
    } else if (pOver && !sOver) c[base + F.tailPrimaryOnly]!++;
  }

  /**
   * A primary that started at `startUs` waits for one more shadow arm (+1),
   * or that wait ended (-1). Waits of seconds that are not open are ignored
   * (a wait counted for a second stays with that second until it is final).
   */
  onPending(startUs: number, delta: 1 | -1): void {
    const sec = Math.floor(startUs / 1e6);
    const w = this.watermark;
    if (!(sec >= w && sec < w + this.ring)) return;
    const slot = this.slotOf(sec);
    if (this.pendingSecond[slot] !== sec) {
      if (delta < 0) return;
      this.pendingSecond[slot] = sec;
      this.pending[slot] = 0;
    }
    this.pending[slot] = Math.max(0, this.pending[slot]! + delta);
  }

  /** Counts a successful primary's body hash, and whether it is new to the endpoint (see PairedCounts.bodyNovel). */
  private primaryBody(ep: number, base: number, v: PairView): void {
    if ((v.pHashLo === 0 && v.pHashHi === 0) || v.pFlags & FLAG_BODY_TRUNCATED) return;
    const c = this.cells;
    c[base + F.bodyHashed]!++;
    const k = ep * BODY_TABLE + bodySlot(v.pHashLo, v.pHashHi);
    if (this.bodySeen[k] === v.pHashLo) return;
    this.bodySeen[k] = v.pHashLo;
    c[base + F.bodyNovel]!++;
  }

  /** A live (unmirrored) record. */
  onLive(r: LiveRecord): void {
    const sec = Math.floor(r.startUs / 1e6);
    if (!this.accept(sec)) return;
    this.ensureSeries(r.series);
    const id = this.liveId(r.series, r.cluster);
    if (id < 0) {
      this.counters.liveOverflow++;
      return;
    }
    this.counters.live++;
    const slot = this.slotOf(sec);
    const li = id * this.ring + slot;
    if (this.liveSecond[li] !== sec) {
      this.liveSecond[li] = sec;
      this.liveDirty[slot]!.push(id);
    }
    const base = li * LIVE_FIELDS;
    const l = this.live;
    l[base]!++;
    const ep = this.registry.endpointOf[r.series]!;
    this.ensureEndpoint(ep);
    const failed = isFailed(r.status, r.flags);
    if (failed) {
      l[base + 1]!++;
      this.liveExample(r, sec, 'live_errors');
    } else if (this.tail[ep]! < Number.POSITIVE_INFINITY) {
      l[base + 4]!++;
      if (r.latencyUs > this.tail[ep]!) {
        l[base + 2]!++;
        this.liveExample(r, sec, 'live_latency');
      }
    }
    l[base + 3]! += r.latencyUs;
    this.recordLatency(ep, H_LIVE, sec, r.status, r.latencyUs);
  }

  /**
   * Moves the clock to `nowUs` (monotonic; earlier times are ignored) and
   * emits final seconds: every second up to the closeDelayUs bound, then
   * those past arrivalGraceUs whose pairs have all resolved, in order.
   */
  advance(nowUs: number): void {
    const target = Math.floor((nowUs - this.options.closeDelayUs) / 1e6);
    if (Number.isNaN(this.watermark)) {
      this.watermark = target;
      return;
    }
    if (target - this.watermark > this.ring) {
      // A jump past the whole ring: only the ring's seconds can hold data.
      const end = this.watermark + this.ring;
      for (let s = this.watermark; s < end; s++) this.finalize(s, nowUs);
      this.counters.closedAtBound += this.ring;
      this.flushHistograms(target);
      this.watermark = target;
      return;
    }
    for (let s = this.watermark; s < target; s++) {
      this.finalize(s, nowUs);
      this.counters.closedAtBound++;
      this.watermark = s + 1;
    }
    const early = Math.floor(
      (nowUs - Math.min(this.options.arrivalGraceUs, this.options.closeDelayUs)) / 1e6,
    );
    while (this.watermark < early && this.resolved(this.watermark)) {
      this.finalize(this.watermark, nowUs);
      this.counters.closedEarly++;
      this.watermark++;
    }
  }

  /** Whether no shadow arm is awaited for a primary that started in `sec`. */
  private resolved(sec: number): boolean {
    const slot = this.slotOf(sec);
    return this.pendingSecond[slot] !== sec || this.pending[slot] === 0;
  }

  /** Finalizes every open second and minute (end of input). */
  flush(nowUs: number): void {
    if (Number.isNaN(this.watermark)) return;
    const end = this.watermark + this.ring;
    for (let s = this.watermark; s < end; s++) this.finalize(s, nowUs);
    this.watermark = end;
    this.flushHistograms(Number.POSITIVE_INFINITY);
  }

  private accept(sec: number): boolean {
    const w = this.watermark;
    if (Number.isNaN(w)) return false;
    if (sec < w) {
      this.counters.late++;
      return false;
    }
    if (sec >= w + this.ring) {
      this.counters.future++;
      return false;
    }
    return true;
  }

  private slotOf(sec: number): number {
    // Not `sec % ring`: seconds are doubles to V8, and a float modulo is a C call.
    // The floor is exact here (integer seconds, a small ring).
    return sec - Math.floor(sec / this.ring) * this.ring;
  }

  /** The cell index of (series, second), or -1 when the second is not open. */
  private cellFor(series: number, sec: number): number {
    if (!this.accept(sec)) return -1;
    this.ensureSeries(series);
    const slot = this.slotOf(sec);
    const idx = series * this.ring + slot;
    if (this.cellSecond[idx] !== sec) {
      this.cellSecond[idx] = sec;
      this.dirty[slot]!.push(series);
    }
    return idx;
  }

  private ensureSeries(series: number): void {
    if (series < this.seriesCap) return;
    const cap = Math.max(series + 1, this.seriesCap * 2, 16);
    const cells = new Float64Array(cap * this.ring * PER_CELL);
    cells.set(this.cells);
    this.cells = cells;
    const sec = new Float64Array(cap * this.ring).fill(Number.NaN);
    sec.set(this.cellSecond);
    this.cellSecond = sec;
    const exc = new Uint8Array(cap * this.ring * 8);
    exc.set(this.exampleCount);
    this.exampleCount = exc;
    this.seriesCap = cap;
  }

  private ensureEndpoint(ep: number): void {
    if (ep < this.tail.length) return;
    const t = new Float64Array(Math.max(ep + 1, this.tail.length * 2, 16)).fill(Number.POSITIVE_INFINITY);
    t.set(this.tail);
    this.tail = t;
    const d = new Uint8Array(t.length);
    d.set(this.tailDirty);
    this.tailDirty = d;
    const b = new Int32Array(t.length * BODY_TABLE);
    b.set(this.bodySeen);
    this.bodySeen = b;
  }

  private liveId(series: number, cluster: number): number {
    const list = (this.liveOf[series] ??= []);
    for (let i = 0; i < list.length; i += 2) if (list[i] === cluster) return list[i + 1]!;
    if (this.liveSeries.length >= this.options.maxLiveSeries) return -1;
    const id = this.liveSeries.length;
    this.liveSeries.push(series);
    this.liveCluster.push(cluster);
    list.push(cluster, id);
    if (id >= this.liveCap) {
      const cap = Math.max(16, this.liveCap * 2);
      const l = new Float64Array(cap * this.ring * LIVE_FIELDS);
      l.set(this.live);
      this.live = l;
      const s = new Float64Array(cap * this.ring).fill(Number.NaN);
      s.set(this.liveSecond);
      this.liveSecond = s;
      this.liveCap = cap;
    }
    return id;
  }

  /** Whether cell `idx` still takes an example for `signal` (counts it if so). */
  private wantsExample(idx: number, signal: SignalName): boolean {
    const k = idx * 8 + SIGNAL_SLOT[signal];
    const held = this.exampleCount[k]!;
    if (held >= this.options.examplesPerSignal || held === 255) return false;
    this.exampleCount[k]!++;
    return true;
  }

  /** Reserves `room` bytes in `slot`'s example arena and writes an example header; returns where the id goes. */
  private exampleAt(slot: number, idx: number, signal: SignalName, room: number): number {
    let arena = this.exArena[slot]!;
    const at = this.exUsed[slot]!;
    if (at + room > arena.length) {
      const grown = new Uint8Array(Math.max(arena.length * 2, at + room));
      grown.set(arena.subarray(0, at));
      arena = grown;
      this.exArena[slot] = arena;
    }
    arena[at] = idx & 0xff;
    arena[at + 1] = (idx >>> 8) & 0xff;
    arena[at + 2] = (idx >>> 16) & 0xff;
    arena[at + 3] = (idx >>> 24) & 0xff;
    arena[at + 4] = SIGNAL_SLOT[signal];
    return at;
  }

  /** Completes the example begun at `at` with an id of `len` bytes (already copied behind the header). */
  private exampleDone(slot: number, at: number, len: number): void {
    const arena = this.exArena[slot]!;
    arena[at + 5] = len & 0xff;
    arena[at + 6] = len >>> 8;
    this.exUsed[slot] = at + EX_HEADER + len;
  }

  private example(cellIdx: number, signal: SignalName, v: PairView): void {
    if (!this.wantsExample(cellIdx, signal)) return;
    const slot = this.slotOf(this.cellSecond[cellIdx]!);
    const at = this.exampleAt(slot, cellIdx, signal, EX_PAIR_ROOM);
    const len = Math.min(255, v.copyRequestId(this.exArena[slot]!, at + EX_HEADER));
    this.exampleDone(slot, at, len);
  }

  private liveExample(r: LiveRecord, sec: number, signal: SignalName): void {
    const idx = this.cellFor(r.series, sec);
    if (idx < 0 || !this.wantsExample(idx, signal)) return;
    const slot = this.slotOf(sec);
    const len = Math.min(0xffff, r.idLen);
    const at = this.exampleAt(slot, idx, signal, EX_HEADER + len);
    this.exArena[slot]!.set(r.idBuf.subarray(r.idOff, r.idOff + len), at + EX_HEADER);
    this.exampleDone(slot, at, len);
  }

  /** Hands the examples held for ring slot `slot` to their cells (by series), as strings, and empties the arena. */
  private attachExamples(slot: number, byCell: Map<number, CellStats>): void {
    const arena = this.exArena[slot]!;
    const used = this.exUsed[slot]!;
    for (let p = 0; p < used; ) {
      const idx = (arena[p]! | (arena[p + 1]! << 8) | (arena[p + 2]! << 16) | (arena[p + 3]! << 24)) >>> 0;
      const signal = SIGNAL_OF_SLOT[arena[p + 4]!]!;
      const len = arena[p + 5]! | (arena[p + 6]! << 8);
      const from = p + EX_HEADER;
      p = from + len;
      const cell = byCell.get((idx - slot) / this.ring);
      if (cell) (cell.examples[signal] ??= []).push(formatRequestId(arena.subarray(from, from + len)));
    }
    this.exUsed[slot] = 0;
  }

  private recordLatency(ep: number, arm: number, sec: number, status: number, latencyUs: number): void {
    if (status === 0 || ep >= this.options.maxHistogramEndpoints) return;
    const k = ep * 4 + arm;
    const minute = Math.floor(sec / 60) * 60;
    let h = this.hists[k];
    if (!h) {
      h = new LatencyHistogram();
      this.hists[k] = h;
      this.histMinute[k] = minute;
    } else if (minute > this.histMinute[k]!) {
      this.finishHistogram(k);
      this.histMinute[k] = minute;
    }
    // NOTE: a value from an earlier minute (out-of-order by < closeDelay) lands in the current one.
    h.record(latencyUs);
    if (arm === H_PRIMARY) this.tailDirty[ep] = 1;
  }

  /** Emits and resets histogram k; for primary ones, keeps the finished minute for tail thresholds. */
  private finishHistogram(k: number): HistogramRow | undefined {
    const h = this.hists[k];
    if (!h || h.total === 0) return undefined;
    const ep = k >> 2;
    const arm = k & 3;
    let row: HistogramRow | undefined;
    if (this.minuteListeners.length > 0) {
      row = {
        service: this.registry.endpointService[ep]!,
        endpoint: this.registry.endpointName[ep]!,
        arm: ARMS[arm]!,
        minute: this.histMinute[k]!,
        count: h.total,
        encoded: h.encode(),
      };
      const rows = [row];
      for (const fn of this.minuteListeners) fn(rows, row.minute);
    }
    if (arm === H_PRIMARY) {
      const prev = this.prevPrimary[ep];
      this.prevPrimary[ep] = h;
      if (prev) prev.reset();
      this.hists[k] = prev ?? new LatencyHistogram();
      if (h.total >= this.options.minTailSamples) {
        this.tail[ep] = h.valueAtQuantile(this.options.tailQuantile);
        this.tailDirty[ep] = 0;
      }
    } else h.reset();
    return row;
  }

  /** Finishes every histogram whose minute ends at or before `untilSecond`. */
  private flushHistograms(untilSecond: number): void {
    for (let k = 0; k < this.hists.length; k++) {
      const m = this.histMinute[k];
      if (m !== undefined && m + 60 <= untilSecond) this.finishHistogram(k);
    }
  }

  private refreshTails(): void {
    const min = this.options.minTailSamples;
    for (let ep = 0; ep < this.tailDirty.length; ep++) {
      if (!this.tailDirty[ep]) continue;
      this.tailDirty[ep] = 0;
      const prev = this.prevPrimary[ep];
      if (prev && prev.total >= min) continue;
      const cur = this.hists[ep * 4 + H_PRIMARY];
      if (cur && cur.total >= min) this.tail[ep] = cur.valueAtQuantile(this.options.tailQuantile);
    }
  }

  private finalize(sec: number, nowUs: number): void {
    const slot = this.slotOf(sec);
    this.pendingSecond[slot] = Number.NaN;
    this.pending[slot] = 0;
    const list = this.dirty[slot]!;
    const liveList = this.liveDirty[slot]!;
    const out: CellStats[] = [];
    const byCell = new Map<number, CellStats>();
    for (const series of list) {
      const idx = series * this.ring + slot;
      if (this.cellSecond[idx] !== sec) continue;
      const cell = this.buildCell(series, idx, sec);
      byCell.set(series, cell);
      out.push(cell);
    }
    for (const id of liveList) {
      const li = id * this.ring + slot;
      if (this.liveSecond[li] !== sec) continue;
      const series = this.liveSeries[id]!;
      let cell = byCell.get(series);
      if (!cell) {
        cell = this.emptyCell(series, sec);
        byCell.set(series, cell);
        out.push(cell);
      }
      const base = li * LIVE_FIELDS;
      const l = this.live;
      const counts: LiveCounts = {
        requests: l[base]!,
        failed: l[base + 1]!,
        overTail: l[base + 2]!,
        latSumUs: l[base + 3]!,
        tailChecked: l[base + 4]!,
      };
      l.fill(0, base, base + LIVE_FIELDS);
      this.liveSecond[li] = Number.NaN;
      cell.live[this.registry.clusterName[this.liveCluster[id]!]!] = counts;
    }
    this.attachExamples(slot, byCell);
    list.length = 0;
    liveList.length = 0;
    if ((sec + 1) % 60 === 0) this.flushHistograms(sec + 1);
    this.refreshTails();
    if (out.length === 0) return;
    this.counters.cellsEmitted += out.length;
    for (const fn of this.secondListeners) fn(out, sec, nowUs);
  }

  private emptyCell(series: number, sec: number): CellStats {
    const r = this.registry;
    return {
      key: {
        service: r.serviceOf[series]!,
        endpoint: r.endpointNameOf[series]!,
        segment: r.segmentOf[series]!,
        second: sec,
      },
      candidate: emptyPaired(),
      baseline: emptyPaired(),
      live: {},
      examples: {},
    };
  }

  private buildCell(series: number, idx: number, sec: number): CellStats {
    const cell = this.emptyCell(series, sec);
    const base = idx * PER_CELL;
    const c = this.cells;
    for (let f = 0; f < NF; f++) {
      cell.candidate[FIELDS[f]!] = c[base + f]!;
      cell.baseline[FIELDS[f]!] = c[base + NF + f]!;
    }
    c.fill(0, base, base + PER_CELL);
    this.cellSecond[idx] = Number.NaN;
    this.exampleCount.fill(0, idx * 8, idx * 8 + 8);
    return cell;
  }
}
