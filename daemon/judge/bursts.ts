/**
 * Shared-dependency bursts: a failing database or cache fails both
 * versions at once, for a few seconds. Such failures say nothing about the
 * candidate, and their one-armed spill-over makes the primary look
 * noisier than history says, which is not stale history. In a second where
 * pairs failed in both arms clearly more often than usual, the error floor
 * is not checked and the error-rate tests stand aside (see judge.ts), so
 * every second they bet in is a second the floor was checked in. Which
 * seconds are skipped depends only on counts symmetric in the arms (pairs
 * failed in both, the product of each arm's failure rate), so the skipped
 * seconds favour neither arm. Pure.
 */
import type { PairedCounts } from '../aggregate/stats.js';
import { clearlyAbove } from './evalue.js';
import type { ScopeState } from './types.js';

const MIN_RATE = 1e-4;

/** Failures over a scope's recent seconds and the current one. */
export interface FailureWindow {
  pairs: number;
  primaryFailed: number;
  primaryOnly: number;
  shadowOnly: number;
}

/** The scope's recent seconds (which must not yet hold this one) plus this second's counts. */
export function failureWindow(scope: ScopeState, now: PairedCounts): FailureWindow {
  const w: FailureWindow = {
    pairs: now.pairs,
    primaryFailed: now.primaryFailed,
    primaryOnly: now.errPrimaryOnly,
    shadowOnly: now.errShadowOnly,
  };
  for (const r of scope.recent) {
    w.pairs += r.pairs;
    w.primaryFailed += r.primaryFailed;
    w.primaryOnly += r.primaryOnly;
    w.shadowOnly += r.shadowOnly ?? 0;
  }
  return w;
}

/**
 * Whether pairs that failed in both arms are clearly above their usual
 * rate over the window: the model's (`modelBoth`: primary failures that
 * are not discordant), chance coincidences of independent failures at the
 * window's failure rate of each arm, or the run's own rate so far (blended
 * with the larger of those as `n0` pseudo-pairs). So neither a service
 * whose bad requests fail in both versions alike, nor one whose arms now
 * fail more often each, has a burst.
 */
export function sharedBurst(scope: ScopeState, w: FailureWindow, modelBoth: number, n0: number): boolean {
  if (!(w.pairs > 0)) return false;
  const both = Math.max(0, w.primaryFailed - w.primaryOnly);
  const coincide = (w.primaryFailed / w.pairs) * ((both + w.shadowOnly) / w.pairs);
  const floor = Math.max(modelBoth, coincide, MIN_RATE);
  const c = scope.cand;
  const sofar = Math.max(0, c.primaryFailed - c.errPrimaryOnly);
  const q = Math.min(0.5, Math.max(floor, (sofar + floor * n0) / (c.pairs + n0 || 1)));
  return clearlyAbove(both, w.pairs, q);
}
