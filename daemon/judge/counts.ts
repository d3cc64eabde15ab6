/**
 * Count helpers shared by the judge, its explanations and training: reading
 * counts defensively, and the rates derived from them. Pure.
 */
import { emptyPaired, type PairedCounts } from '../aggregate/stats.js';

/** A count read from outside: non-finite or negative is zero. */
export function num(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : 0;
}

/** Paired counts with every field a usable number. */
export function clean(p: PairedCounts | undefined): PairedCounts {
  const out = emptyPaired();
  if (!p) return out;
  for (const k of Object.keys(out) as (keyof PairedCounts)[]) {
    // latDeltaSumUs may be negative: it is a sum of signed deltas.
    const v = p[k];
    out[k] = k === 'latDeltaSumUs' ? (Number.isFinite(v) ? v : 0) : num(v);
  }
  return out;
}

/** Upper 95 % bound of a rate from k events in n trials (Poisson approximation; 3/n at k = 0). */
export function upperRate(k: number, n: number): number {
  if (!(n > 0)) return 1;
  return Math.min(1, (k + 1.645 * Math.sqrt(k + 1) + 1.4) / n);
}

/**
 * Status mismatches other than failures (200 vs 404, 200 vs 302, …): a
 * pair where exactly one arm failed always has differing statuses, and is
 * the errors signal's business, so it is not counted twice (and bursts of
 * shared-dependency failures do not leak into this test).
 */
export function statusChanges(p: PairedCounts): number {
  const discordantWithStatus = p.errShadowOnly + p.errPrimaryOnly;
  return Math.max(0, p.statusMismatch - discordantWithStatus);
}
