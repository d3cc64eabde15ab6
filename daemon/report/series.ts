/**
 * Time series of a deployment's stored per-second cells: failure and
 * mismatch rates per arm, and the excess candidate failures per endpoint ×
 * segment (the heat map). Cells add up, so buckets are sums; a bucket with
 * no pairs is a gap (null), never a zero. Pure over its cells.
 */
import type { CellStats, PairedCounts } from '../aggregate/stats.js';
import type { EvidenceHeatmap, HeatmapRow, HeatSignal, RateSeries } from './model.js';

/** At most this many buckets per chart: a long deployment gets wider buckets. */
const MAX_BUCKETS = 300;
const BUCKET_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

/** The bucket width in seconds for a span, from a fixed ladder so axes stay readable. */
export function bucketSecondsFor(spanSeconds: number): number {
  const need = Math.ceil(Math.max(1, spanSeconds) / MAX_BUCKETS);
  return BUCKET_STEPS.find((s) => s >= need) ?? Math.ceil(need / 3600) * 3600;
}

const rate = (k: number, n: number): number | null => (n > 0 ? k / n : null);

/** The counts the charts use, summed per bucket (fixed fields: tens of thousands of cells are added per build). */
interface Sums {
  pairs: number;
  primaryFailed: number;
  shadowFailed: number;
  statusMismatch: number;
  errShadowOnly: number;
  errPrimaryOnly: number;
  latShadowSlower: number;
  latPrimarySlower: number;
  tailShadowOnly: number;
  tailPrimaryOnly: number;
  bodyMismatch: number;
}

function sums(): Sums {
  return {
    pairs: 0,
    primaryFailed: 0,
    shadowFailed: 0,
    statusMismatch: 0,
    errShadowOnly: 0,
    errPrimaryOnly: 0,
    latShadowSlower: 0,
    latPrimarySlower: 0,
    tailShadowOnly: 0,
    tailPrimaryOnly: 0,
    bodyMismatch: 0,
  };
}

function add(into: Sums, p: PairedCounts): void {
  into.pairs += p.pairs;
  into.primaryFailed += p.primaryFailed;
  into.shadowFailed += p.shadowFailed;
  into.statusMismatch += p.statusMismatch;
  into.errShadowOnly += p.errShadowOnly;
  into.errPrimaryOnly += p.errPrimaryOnly;
  into.latShadowSlower += p.latShadowSlower;
  into.latPrimarySlower += p.latPrimarySlower;
  into.tailShadowOnly += p.tailShadowOnly;
  into.tailPrimaryOnly += p.tailPrimaryOnly;
  into.bodyMismatch += p.bodyMismatch;
}

interface Bucketed {
  bucketSeconds: number;
  /** Bucket start seconds, ascending, every bucket from the first to the last cell. */
  starts: number[];
  index: (second: number) => number;
}

function buckets(cells: CellStats[]): Bucketed {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const c of cells) {
    lo = Math.min(lo, c.key.second);
    hi = Math.max(hi, c.key.second);
  }
  const bucketSeconds = bucketSecondsFor(hi - lo + 1);
  const first = Math.floor(lo / bucketSeconds) * bucketSeconds;
  const n = Math.floor((hi - first) / bucketSeconds) + 1;
  return {
    bucketSeconds,
    starts: Array.from({ length: n }, (_, i) => first + i * bucketSeconds),
    index: (second) => Math.floor((second - first) / bucketSeconds),
  };
}

/** Rates per arm over time, all endpoints and segments together. `cells` must not be empty. */
export function rateSeries(cells: CellStats[]): RateSeries {
  const b = buckets(cells);
  const cand = b.starts.map(sums);
  const base = b.starts.map(sums);
  for (const c of cells) {
    const i = b.index(c.key.second);
    add(cand[i]!, c.candidate);
    add(base[i]!, c.baseline);
  }
  const hasBaseline = base.some((p) => p.pairs > 0);
  return {
    bucketSeconds: b.bucketSeconds,
    at: b.starts.map((s) => s * 1000),
    pairs: cand.map((p) => p.pairs),
    primaryErrors: cand.map((p) => rate(p.primaryFailed, p.pairs)),
    candidateErrors: cand.map((p) => rate(p.shadowFailed, p.pairs)),
    statusMismatch: cand.map((p) => rate(p.statusMismatch, p.pairs)),
    baselineErrors: hasBaseline ? base.map((p) => rate(p.shadowFailed, p.pairs)) : null,
  };
}

/** What the heat map shows: the deciding culprit's signal, per pair (positive: against the candidate). */
const HEAT: Record<HeatSignal, { label: string; value: (s: Sums) => number }> = {
  errors: {
    label: 'excess candidate failures: (candidate-only − production-only failures) / pairs',
    value: (s) => s.errShadowOnly - s.errPrimaryOnly,
  },
  latency_shift: {
    label: 'net slower pairs: (candidate slower − production slower, beyond the margin) / pairs',
    value: (s) => s.latShadowSlower - s.latPrimarySlower,
  },
  latency_tail: {
    label: 'net tail exceedances: (candidate only − production only above the tail threshold) / pairs',
    value: (s) => s.tailShadowOnly - s.tailPrimaryOnly,
  },
  status_mismatch: { label: 'status mismatches / pairs', value: (s) => s.statusMismatch },
  body_mismatch: { label: 'body mismatches / pairs', value: (s) => s.bodyMismatch },
};

/** The heat map's signal for a culprit signal name (live signals and unknown names show errors). */
export function heatSignal(signal: string | undefined): HeatSignal {
  return signal !== undefined && signal in HEAT ? (signal as HeatSignal) : 'errors';
}

/**
 * The heat map of `signal`: one row per endpoint × segment with pairs,
 * culprit rows first, then by the signal's total (worst first). `cells`
 * must not be empty.
 */
export function evidenceHeatmap(
  cells: CellStats[],
  culprits: Set<string>,
  signal: HeatSignal = 'errors',
): EvidenceHeatmap {
  const b = buckets(cells);
  const heat = HEAT[signal];
  const rows = new Map<string, { endpoint: string; segment: string; per: Sums[]; total: Sums }>();
  for (const c of cells) {
    const key = `${c.key.endpoint}\u0000${c.key.segment}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        endpoint: c.key.endpoint,
        segment: c.key.segment,
        per: b.starts.map(sums),
        total: sums(),
      };
      rows.set(key, row);
    }
    add(row.per[b.index(c.key.second)]!, c.candidate);
    add(row.total, c.candidate);
  }
  const out: HeatmapRow[] = [];
  for (const r of rows.values()) {
    if (r.total.pairs === 0) continue;
    const t = r.total;
    const discordant = t.latShadowSlower + t.latPrimarySlower;
    out.push({
      endpoint: r.endpoint,
      segment: r.segment,
      values: r.per.map((p) => rate(heat.value(p), p.pairs)),
      total: heat.value(t) / t.pairs,
      pairs: t.pairs,
      excessErrors: (t.errShadowOnly - t.errPrimaryOnly) / t.pairs,
      statusMismatches: t.statusMismatch,
      slowerShare: discordant > 0 ? (t.latShadowSlower - t.latPrimarySlower) / discordant : 0,
      culprit: isCulprit(culprits, r.endpoint, r.segment),
    });
  }
  out.sort((a, b) => Number(b.culprit) - Number(a.culprit) || b.total - a.total);
  return {
    signal,
    label: heat.label,
    bucketSeconds: b.bucketSeconds,
    at: b.starts.map((s) => s * 1000),
    rows: out,
  };
}

/** A culprit names an endpoint and a segment, either of which may be '*' (all). */
function isCulprit(culprits: Set<string>, endpoint: string, segment: string): boolean {
  return (
    culprits.has(`${endpoint}\u0000${segment}`) ||
    culprits.has(`${endpoint}\u0000*`) ||
    culprits.has(`*\u0000${segment}`)
  );
}
