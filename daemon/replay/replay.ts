/**
 * Replay: feeds a recording (or JSON lines) through the same ingest →
 * pairing → aggregation path as the live daemon, in virtual time (the
 * recorded arrival times), as fast as the CPU allows, and reports a timeline
 * of JSON objects: `pairs` per service and final second, `verdict` from the
 * judge hook, `bad_line` for skipped input, and a final `summary`.
 *
 * The judge is a hook so that replay does not depend on it:
 *   replay(path, { emit, judge: (cells, nowUs) => verdicts })
 * It is called once per final second with that second's cells (all
 * services), in order; whatever it returns is printed as `verdict` lines.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { CellStats, SignalName } from '../aggregate/stats.js';
import {
  createPipeline,
  DEFAULT_MIRROR_TIMEOUT_MS,
  type Pipeline,
  type PipelineOptions,
  pipelineTiming,
} from '../telemetry/pipeline.js';
import { JsonLinesSource } from './jsonl.js';
import {
  FRAME_BATCH,
  FRAME_CLOSE,
  FRAME_OPEN,
  isRecording,
  readRecording,
  readRecordingMeta,
} from './recording.js';

/** What the judge hook returns per decision (the judge's Verdict plus its service). */
export interface ReplayVerdict {
  service: string;
  verdict: 'rollback' | 'healthy' | 'insufficient';
  score: number;
  threshold: number;
  culprits: { endpoint: string; segment: string; signal: SignalName }[];
  /** Why insufficient, when the judge says so. */
  reason?: string | null;
  predictedSecondsToThreshold?: number | null;
}

/** Called with the cells of each final second, in order; `nowUs` is the replay clock (absolute). */
export type ReplayJudge = (cells: CellStats[], nowUs: number) => ReplayVerdict[];

export interface ReplayOptions {
  pipeline?: Partial<PipelineOptions>;
  judge?: ReplayJudge;
  /** Receives every timeline object, in order. */
  emit: (line: Record<string, unknown>) => void;
  /**
   * JSON lines only: a line for which this returns false is skipped as if it
   * were not in the file (a sampler in front of the pipeline, as a filter
   * that did not mirror the request; bench/scenarios/adaptive.ts).
   */
  keepLine?: (text: string) => boolean;
}

export interface ReplaySummary {
  type: 'summary';
  format: 'recording' | 'jsonl';
  batches: number;
  records: number;
  pairs: number;
  /** Pairer slots retired without their shadow arm (candidate or baseline). */
  shadow_timeouts: number;
  /** Primaries of judged seconds whose shadow record never came: missing data, not judged. */
  shadow_missing: number;
  /** shadow_missing over pairs + shadow_missing (0 when nothing was paired). */
  shadow_missing_rate: number;
  duplicates: number;
  orphan_shadows: number;
  evicted: number;
  late: number;
  future: number;
  bad_lines: number;
  batches_refused: Record<string, number>;
  records_skipped: Record<string, number>;
  sequence_gaps: number;
  seconds: number;
  verdicts: Record<string, number>;
  first_rollback_t_us: number | null;
  virtual_duration_us: number;
  truncated: boolean;
  /** The pairing TTL and the close delay of seconds used (a recording's own, unless overridden). */
  ttl_us: number;
  close_delay_us: number;
  /** A second whose pairs have all resolved closes this long after it ends. */
  arrival_grace_us: number;
  /** Seconds closed early (every pair resolved) and at the close-delay bound. */
  seconds_closed_early: number;
  seconds_closed_at_bound: number;
  wall_ms: number;
}

function firstBytes(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Reads a file line by line in chunks (bounded memory), with 1-based line numbers. */
function forEachLine(path: string, fn: (line: string, no: number) => void): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let carry = '';
    let no = 0;
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      const text = carry + buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      for (const l of lines) fn(l, ++no);
    }
    if (carry !== '') fn(carry, ++no);
  } finally {
    closeSync(fd);
  }
}

/** Replays `path` (recording or JSON lines); returns the summary (also emitted last). */
export function replay(path: string, opts: ReplayOptions): ReplaySummary {
  const started = performance.now();
  const recording = isRecording(firstBytes(path, 8));
  // A recording carries the daemon's pipeline options; explicit options override them.
  // JSON lines have no daemon settings: those of a daemon with default settings.
  const recorded = recording
    ? (readRecordingMeta(path)?.pipeline as Partial<PipelineOptions> | undefined)
    : pipelineTiming(DEFAULT_MIRROR_TIMEOUT_MS);
  const p: Pipeline = createPipeline({
    ...recorded,
    ...opts.pipeline,
    pairing: { ...recorded?.pairing, ...opts.pipeline?.pairing },
    aggregate: { ...recorded?.aggregate, ...opts.pipeline?.aggregate },
  });
  const { ingest, pairer, aggregator } = p;
  let origin = recording ? Number.NaN : 0;
  let lastUs = 0;
  let seconds = 0;
  let badLines = 0;
  const verdictCounts: Record<string, number> = {};
  let firstRollback: number | null = null;

  aggregator.onSecond((cells, second, nowUs) => {
    seconds++;
    const rel = nowUs - origin;
    const byService = new Map<string, CellStats[]>();
    for (const c of cells) {
      const list = byService.get(c.key.service);
      if (list) list.push(c);
      else byService.set(c.key.service, [c]);
    }
    for (const [service, list] of byService) opts.emit(pairsLine(rel, service, second, list));
    if (!opts.judge) return;
    for (const v of opts.judge(cells, nowUs)) {
      verdictCounts[v.verdict] = (verdictCounts[v.verdict] ?? 0) + 1;
      if (v.verdict === 'rollback' && firstRollback === null) firstRollback = rel;
      opts.emit({
        type: 'verdict',
        t_us: rel,
        second,
        service: v.service,
        verdict: v.verdict,
        score: v.score,
        threshold: v.threshold,
        culprits: v.culprits.map((c) => ({ endpoint: c.endpoint, segment: c.segment, signal: c.signal })),
      });
    }
  });

  const at = (us: number): number => {
    // The replay clock never runs backwards (out-of-order lines are processed "now").
    if (us > lastUs) lastUs = us;
    return lastUs;
  };
  let truncated = false;
  if (recording) {
    const r = readRecording(path, (f) => {
      if (Number.isNaN(origin)) origin = f.arrivalUs;
      const now = at(f.arrivalUs);
      if (f.kind === FRAME_BATCH) ingest.onBatch(f.streamId, f.payload, now);
      else if (f.kind === FRAME_OPEN) ingest.openStream(f.streamId);
      else if (f.kind === FRAME_CLOSE) ingest.closeStream(f.streamId);
    });
    truncated = r.truncated;
    if (truncated)
      opts.emit({ type: 'bad_input', error: `recording ends in a partial frame after ${r.frames} frames` });
  } else {
    const src = new JsonLinesSource();
    forEachLine(path, (text, no) => {
      if (opts.keepLine && !opts.keepLine(text)) return;
      const b = src.line(text);
      if (b === null) return;
      if (typeof b === 'string') {
        badLines++;
        opts.emit({ type: 'bad_line', line: no, error: b });
        return;
      }
      const now = at(b.arrivalUs);
      if (b.opensStream) ingest.openStream(b.streamId);
      const res = ingest.onBatch(b.streamId, b.bytes, now);
      if (!res.ok) {
        badLines++;
        opts.emit({ type: 'bad_line', line: no, error: `refused: ${res.reason}` });
      }
    });
  }
  if (Number.isNaN(origin)) origin = 0;
  // Let the clock run on past the last arrival, as a live daemon would: every
  // TTL expires and every second closes.
  const endUs = lastUs + aggregatorCloseUs(p) + 1_000_000;
  ingest.advance(endUs);
  pairer.flush();
  aggregator.flush(endUs);

  const c = ingest.counters;
  const summary: ReplaySummary = {
    type: 'summary',
    format: recording ? 'recording' : 'jsonl',
    batches: c.batches,
    records: c.records,
    pairs: pairer.counters.pairs,
    shadow_timeouts: pairer.counters.shadowTimeouts,
    shadow_missing: aggregator.counters.missing,
    shadow_missing_rate: missingRate(aggregator.counters.pairs, aggregator.counters.missing),
    duplicates: pairer.counters.duplicates,
    orphan_shadows: pairer.counters.orphanShadows,
    evicted: pairer.counters.evicted,
    late: aggregator.counters.late,
    future: aggregator.counters.future,
    bad_lines: badLines,
    batches_refused: { ...c.batchesRefused },
    records_skipped: { ...c.recordsSkipped },
    sequence_gaps: c.sequenceGaps,
    seconds,
    verdicts: verdictCounts,
    first_rollback_t_us: firstRollback,
    virtual_duration_us: lastUs - origin,
    truncated,
    ttl_us: p.options.pairing.ttlUs,
    close_delay_us: p.options.aggregate.closeDelayUs,
    arrival_grace_us: p.options.aggregate.arrivalGraceUs,
    seconds_closed_early: aggregator.counters.closedEarly,
    seconds_closed_at_bound: aggregator.counters.closedAtBound,
    wall_ms: Math.round(performance.now() - started),
  };
  opts.emit(summary as unknown as Record<string, unknown>);
  return summary;
}

function missingRate(pairs: number, missing: number): number {
  const n = pairs + missing;
  return n > 0 ? Math.round((missing / n) * 1e6) / 1e6 : 0;
}

function aggregatorCloseUs(p: Pipeline): number {
  return p.aggregator.options.closeDelayUs + p.aggregator.options.futureToleranceS * 1e6;
}

function pairsLine(
  tUs: number,
  service: string,
  second: number,
  cells: CellStats[],
): Record<string, unknown> {
  let pairs = 0;
  let missing = 0;
  let errShadow = 0;
  let errPrimary = 0;
  let slower = 0;
  let faster = 0;
  let tail = 0;
  let status = 0;
  let body = 0;
  let baseline = 0;
  let live = 0;
  for (const c of cells) {
    const k = c.candidate;
    pairs += k.pairs;
    missing += k.shadowMissing;
    errShadow += k.errShadowOnly;
    errPrimary += k.errPrimaryOnly;
    slower += k.latShadowSlower;
    faster += k.latPrimarySlower;
    tail += k.tailShadowOnly;
    status += k.statusMismatch;
    body += k.bodyMismatch;
    baseline += c.baseline.pairs;
    for (const l of Object.values(c.live)) live += l.requests;
  }
  return {
    type: 'pairs',
    t_us: tUs,
    service,
    second,
    cells: cells.length,
    pairs,
    shadow_missing: missing,
    errors_shadow_only: errShadow,
    errors_primary_only: errPrimary,
    latency_shadow_slower: slower,
    latency_primary_slower: faster,
    tail_shadow_only: tail,
    status_mismatch: status,
    body_mismatch: body,
    baseline_pairs: baseline,
    live_requests: live,
  };
}
