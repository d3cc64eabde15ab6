/**
 * The sufficient statistics that the aggregator produces and the judge
 * consumes: the contract between `aggregate/` and `judge/`.
 *
 * One {@link CellStats} per service × endpoint × segment × second of the
 * primary request's start time. Everything is a count, so cells add up:
 * windows, endpoints and segments are merged with {@link addCell}.
 *
 * "Failed" (for an arm of a pair) means: status ≥ 500, or status 0 with the
 * timeout, reset or connect-failure flag. A shadow arm that never arrived
 * within the pairing TTL is missing data: it is counted in `shadowMissing`
 * and in nothing else (the filter reports a shadow that timed out as a
 * record of its own, with the timeout flag).
 */

/** Primary vs one shadow arm (candidate or baseline), over complete pairs. */
export interface PairedCounts {
  /** Pairs with both arms (a primary whose shadow never arrived is not a pair: see `shadowMissing`). */
  pairs: number;
  /** Pairs where the primary failed / the shadow failed. */
  primaryFailed: number;
  shadowFailed: number;
  /** Discordant pairs for the error test: primary ok & shadow failed, and the reverse. */
  errShadowOnly: number;
  errPrimaryOnly: number;
  /** Primaries whose shadow arm never arrived within the TTL: missing data, in no other field. */
  shadowMissing: number;
  /**
   * Latency sign test with a margin, over pairs where both arms succeeded:
   * shadow > primary × (1 + rel) + abs, and primary > shadow × (1 + rel) + abs
   * (rel, abs from {@link AggregateOptions}).
   */
  latShadowSlower: number;
  latPrimarySlower: number;
  /** Tail exceedance: exactly one arm above the endpoint's primary tail threshold (see AggregateOptions.tailQuantile). */
  tailShadowOnly: number;
  tailPrimaryOnly: number;
  /** Pairs whose statuses differ. */
  statusMismatch: number;
  /** Pairs with equal status whose body hashes differ (neither truncated). */
  bodyMismatch: number;
  /** Sum of (shadow − primary) latency in µs over successful pairs, for effect sizes. */
  latDeltaSumUs: number;
  /** Successful pairs that latDeltaSumUs covers. */
  latPairs: number;
  /** Sum of the primary's latency in µs over those pairs (latDeltaSumUs over this is the relative excess). */
  latPrimarySumUs: number;
  /**
   * Candidate pairs whose primary succeeded with a body hash (not
   * truncated), and of those, how many primary bodies were new to the
   * endpoint: not among its recently seen ones (a direct-mapped table of
   * {@link BODY_TABLE} hashes per endpoint). Bodies with a timestamp or an
   * id are all new; deterministic ones repeat. Zero for baseline pairs.
   */
  bodyHashed: number;
  bodyNovel: number;
}

/** Recent primary body hashes remembered per endpoint for `bodyNovel`. */
export const BODY_TABLE = 256;

/** The table slot of a body hash (both reductions use it, so they agree). */
export function bodySlot(hashLo: number, hashHi: number): number {
  return Math.imul(hashLo ^ hashHi, 0x9e3779b1) >>> 24;
}

/** Unpaired counts per serving cluster, from live (not mirrored) records. */
export interface LiveCounts {
  requests: number;
  failed: number;
  /** Requests above the endpoint's tail threshold (of those in tailChecked). */
  overTail: number;
  latSumUs: number;
  /**
   * Requests compared with a tail threshold: not failed, and the endpoint had
   * one (it has none until enough primaries were mirrored). The denominator of
   * overTail; absent in cells stored before it existed (read as 0: unchecked).
   */
  tailChecked?: number;
}

export interface CellKey {
  service: string;
  endpoint: string;
  segment: string;
  /** Unix seconds of the primary request's start. */
  second: number;
}

export interface CellStats {
  key: CellKey;
  /** Primary vs candidate. */
  candidate: PairedCounts;
  /** Primary vs baseline (A/A noise measured live); all zero when no baseline runs. */
  baseline: PairedCounts;
  /** Live records by cluster name. */
  live: Record<string, LiveCounts>;
  /** Up to a few example request ids (hex or text) per signal, for explanations. */
  examples: Partial<Record<SignalName, string[]>>;
}

/** The signals the judge scores; also the names used in explanations. */
export type SignalName =
  | 'errors'
  | 'latency_shift'
  | 'latency_tail'
  | 'status_mismatch'
  | 'body_mismatch'
  | 'live_errors'
  | 'live_latency';

/** Knobs of the aggregation that the judge's model chooses. */
export interface AggregateOptions {
  /** Relative slowdown of the shadow the latency sign test tolerates (0.05 = 5 %). */
  latencyMarginRel: number;
  /** Absolute slowdown in µs it tolerates on top (timing noise, the mirror callout's own path). */
  latencyMarginAbsUs: number;
  /** Quantile of primary latency used as the tail threshold per endpoint. */
  tailQuantile: number;
  /** Example request ids kept per cell and signal. */
  examplesPerSignal: number;
}

export const DEFAULT_AGGREGATE_OPTIONS: AggregateOptions = {
  latencyMarginRel: 0,
  latencyMarginAbsUs: 300,
  tailQuantile: 0.99,
  examplesPerSignal: 3,
};

export function emptyPaired(): PairedCounts {
  return {
    pairs: 0,
    primaryFailed: 0,
    shadowFailed: 0,
    errShadowOnly: 0,
    errPrimaryOnly: 0,
    shadowMissing: 0,
    latShadowSlower: 0,
    latPrimarySlower: 0,
    tailShadowOnly: 0,
    tailPrimaryOnly: 0,
    statusMismatch: 0,
    bodyMismatch: 0,
    latDeltaSumUs: 0,
    latPairs: 0,
    latPrimarySumUs: 0,
    bodyHashed: 0,
    bodyNovel: 0,
  };
}

export function addPaired(into: PairedCounts, from: PairedCounts): void {
  for (const k of Object.keys(into) as (keyof PairedCounts)[]) into[k] += from[k];
}

/** Adds `from` into `into` (keys are not compared: the caller decides what merges). */
export function addCell(into: CellStats, from: CellStats, examplesPerSignal = 3): void {
  addPaired(into.candidate, from.candidate);
  addPaired(into.baseline, from.baseline);
  for (const [cluster, c] of Object.entries(from.live)) {
    const t = (into.live[cluster] ??= { requests: 0, failed: 0, overTail: 0, latSumUs: 0, tailChecked: 0 });
    t.requests += c.requests;
    t.failed += c.failed;
    t.overTail += c.overTail;
    t.latSumUs += c.latSumUs;
    t.tailChecked = (t.tailChecked ?? 0) + (c.tailChecked ?? 0);
  }
  for (const [signal, ids] of Object.entries(from.examples) as [SignalName, string[]][]) {
    const t = (into.examples[signal] ??= []);
    for (const id of ids) if (t.length < examplesPerSignal) t.push(id);
  }
}

/** Which side a histogram measures. */
export type HistogramArm = 'primary' | 'candidate' | 'baseline' | 'live';

/** Latency histogram of one arm of one endpoint over one minute. */
export interface HistogramRow {
  service: string;
  endpoint: string;
  arm: HistogramArm;
  /** Unix second at which the minute starts (multiple of 60). */
  minute: number;
  /** Values recorded. */
  count: number;
  /** hdr-histogram-js `encodeIntoCompressedBase64` of a µs histogram. */
  encoded: string;
}
