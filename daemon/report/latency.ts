/**
 * Latency percentile curves from the stored HDR histograms: the minutes of
 * one arm (and endpoint) are decoded and added, then read at fixed
 * percentiles. Pure over its rows.
 */
import * as hdr from 'hdr-histogram-js';
import type { HistogramRow } from '../store/store.js';
import type { LatencyCurve } from './model.js';

/** Dense where tails live: the x axis of every curve. */
export const PERCENTILES: readonly number[] = [
  0, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 97, 98, 99, 99.5, 99.9, 99.95, 99.99, 100,
];

/** The arms in the order they are drawn. */
const ARMS = ['primary', 'candidate', 'baseline', 'live'] as const;

/** Decodes a stored row; `release` is called when the caller is done with it. */
export interface HistogramDecoder {
  decode(row: HistogramRow): hdr.Histogram | null;
  release(h: hdr.Histogram): void;
}

/** Decodes every time and frees at once (a report file: each row is read once). */
export const FRESH_DECODER: HistogramDecoder = {
  decode(row) {
    try {
      return hdr.decodeFromCompressedBase64(row.encoded);
    } catch {
      return null;
    }
  },
  release: (h) => h.destroy(),
};

/** An empty histogram with the stored histograms' layout (see aggregate/latency-histogram.ts). */
function accumulator(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 2, autoResize: true });
}

/**
 * One curve per arm present in `rows` (rows may mix endpoints: they are all
 * added). A row whose histogram does not decode is skipped and counted in
 * `bad`, so one damaged row never hides the rest.
 */
export function latencyCurves(
  rows: HistogramRow[],
  decoder: HistogramDecoder = FRESH_DECODER,
): { curves: LatencyCurve[]; bad: number } {
  const byArm = new Map<string, hdr.Histogram>();
  let bad = 0;
  for (const r of rows) {
    const h = decoder.decode(r);
    if (!h) {
      bad++;
      continue;
    }
    let acc = byArm.get(r.arm);
    if (!acc) {
      acc = accumulator();
      byArm.set(r.arm, acc);
    }
    acc.add(h);
    decoder.release(h);
  }
  const curves: LatencyCurve[] = [];
  for (const arm of ARMS) {
    const h = byArm.get(arm);
    if (!h || h.totalCount === 0) continue;
    curves.push({
      arm,
      count: h.totalCount,
      percentiles: [...PERCENTILES],
      ms: PERCENTILES.map((p) => h.getValueAtPercentile(p) / 1000),
    });
  }
  for (const h of byArm.values()) h.destroy();
  return { curves, bad };
}
