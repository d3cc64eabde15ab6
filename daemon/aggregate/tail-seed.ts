/**
 * Tail thresholds carried across a daemon restart. An endpoint's tail
 * threshold is the tail quantile of its primaries' latency in the last full
 * minute (aggregator.ts), held in memory; the aggregator also emits each
 * finished minute's histograms, which the store keeps. A restarted daemon
 * reads the latest of those back, so a validation (or a phase) that resumes
 * while nothing is mirrored still has the yardstick it was using.
 */
import * as hdr from 'hdr-histogram-js';
import type { HistogramRow } from './stats.js';

/** How far back a stored minute may be to seed a threshold (an hour: a validation's length, with room). */
export const TAIL_SEED_WINDOW_S = 3600;

/** One endpoint's threshold from a stored minute. */
export interface TailSeed {
  service: string;
  endpoint: string;
  /** The minute it was measured in (Unix second of its start). */
  minute: number;
  samples: number;
  thresholdUs: number;
}

/**
 * Per endpoint, the quantile `q` of the latest primary minute with at least
 * `minSamples` values (the rule the aggregator applies to a finished minute).
 * Rows of other arms, and rows that do not decode, are skipped.
 */
export function tailSeeds(rows: readonly HistogramRow[], q: number, minSamples: number): TailSeed[] {
  const latest = new Map<string, HistogramRow>();
  for (const r of rows) {
    if (r.arm !== 'primary' || r.count < minSamples) continue;
    const key = `${r.service}\u0000${r.endpoint}`;
    const had = latest.get(key);
    if (!had || r.minute > had.minute) latest.set(key, r);
  }
  const out: TailSeed[] = [];
  for (const r of latest.values()) {
    const thresholdUs = quantileOf(r.encoded, q);
    if (thresholdUs === undefined) continue;
    out.push({ service: r.service, endpoint: r.endpoint, minute: r.minute, samples: r.count, thresholdUs });
  }
  return out;
}

/** The value at quantile q of an encoded histogram (HDR's highest equivalent value), or undefined. */
function quantileOf(encoded: string, q: number): number | undefined {
  let h: hdr.Histogram | undefined;
  try {
    h = hdr.decodeFromCompressedBase64(encoded, 32, false);
    const v = h.totalCount > 0 ? h.getValueAtPercentile(q * 100) : Number.NaN;
    return v > 0 ? v : undefined;
  } catch {
    return undefined;
  } finally {
    h?.destroy();
  }
}
