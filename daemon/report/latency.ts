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

/**
 * One curve per arm present in `rows` (rows may mix endpoints: they are all
 * added). A row whose histogram does not decode is skipped and counted in
 * `bad`, so one damaged row never hides the rest.
 */
export function latencyCurves(rows: HistogramRow[]): { curves: LatencyCurve[]; bad: number } {
  const byArm = new Map<string, hdr.Histogram>();
  let bad = 0;
  for (const r of rows) {
    let h: hdr.Histogram;
    try {
      h = hdr.decodeFromCompressedBase64(r.encoded);
    } catch {
      bad++;
      continue;
    }
    const acc = byArm.get(r.arm);
    if (acc) {
      acc.add(h);
      h.destroy();
    } else byArm.set(r.arm, h);
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
