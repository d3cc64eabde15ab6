/**
 * The experiment's guard: is B harming its users? B's failures and slow
 * requests on live records are tested against A's with the judge's
 * anytime-valid rate test (daemon/judge/evalue.ts `rateBatchUpdate`), and a
 * guard that reaches the threshold stops the experiment: B's users go back
 * to A, as a rollback brings a deployment's users back.
 *
 * The test: among the failed requests of one second, each comes from B with
 * probability at most B's share of that second's requests when B fails no
 * more often than A (the null). That share is fixed by the requests, not by
 * which of them failed, so it is a valid predictable plug-in. Slow requests
 * (above a bar set from A's recent latencies before the second is seen) are
 * tested the same way. The evidence of both signals is mixed with equal
 * weights: P(a good B is ever stopped) ≤ 10^-threshold, however often it is
 * checked. Pure; the caller keeps the state.
 *
 * Warm-up: B's instances start with the experiment (cold code paths, empty
 * caches, connections still opening), so the first seconds of B say how a
 * start looks, not how B is. A step in warm-up counts its requests as seen
 * and tests nothing (the judge's warm-up, docs/judge.md); which seconds are
 * left out is fixed by the clock, not by what they hold, so the bound holds.
 */
import { logMixtureE, logSumExp, rateBatchUpdate } from '../judge/evalue.js';
import type { MixtureAtom } from '../model/model.js';
import type { ArmName, RequestCounts } from './tally.js';

export interface GuardState {
  /** Per mixture component, log wealth of the failure test and of the latency test. */
  errors: number[];
  latency: number[];
  /** The counts already tested (the next step tests what came since). */
  seen: Record<ArmName, RequestCounts>;
}

export interface GuardVerdict {
  /** log10 of the mixed evidence that B is worse than A. */
  score: number;
  /** The signal with the most evidence. */
  signal: 'errors' | 'latency';
  stop: boolean;
}

export function newGuard(mixture: readonly MixtureAtom[]): GuardState {
  const zero = () => mixture.map(() => 0);
  const none = () => ({ requests: 0, failed: 0, slow: 0 });
  return { errors: zero(), latency: zero(), seen: { A: none(), B: none() } };
}

/** Which of the guard's signals a step tests (false: still in warm-up, counted as seen only). */
export interface GuardWarm {
  errors: boolean;
  latency: boolean;
}

const WARM: GuardWarm = { errors: true, latency: true };

/** One step: tests the requests counted since the last step. Returns the new state and the verdict. */
export function guardStep(
  g: GuardState,
  now: Record<ArmName, RequestCounts>,
  mixture: readonly MixtureAtom[],
  threshold: number,
  warm: GuardWarm = WARM,
): { state: GuardState; verdict: GuardVerdict } {
  const d = (arm: ArmName, k: keyof RequestCounts) => now[arm][k] - g.seen[arm][k];
  const reqA = d('A', 'requests');
  const reqB = d('B', 'requests');
  const share = reqA + reqB > 0 ? reqB / (reqA + reqB) : 0;
  let errors = g.errors;
  let latency = g.latency;
  if (share > 0 && share < 1) {
    if (warm.errors)
      errors = rateBatchUpdate(errors, d('B', 'failed'), d('A', 'failed') + d('B', 'failed'), share, mixture);
    if (warm.latency)
      latency = rateBatchUpdate(latency, d('B', 'slow'), d('A', 'slow') + d('B', 'slow'), share, mixture);
  }
  const eErr = logMixtureE(errors, mixture);
  const eLat = logMixtureE(latency, mixture);
  const score = logSumExp([Math.log(0.5) + eErr, Math.log(0.5) + eLat]) / Math.LN10;
  return {
    state: { errors, latency, seen: { A: { ...now.A }, B: { ...now.B } } },
    verdict: { score, signal: eErr >= eLat ? 'errors' : 'latency', stop: score >= threshold },
  };
}

/**
 * The latency bar for the next second: 1.1 × A's 95th percentile of recent
 * requests + 2 ms (the judge's margin), so that B is slow only when clearly
 * slower. Infinity until A has 100 recent requests.
 */
export function slowBarUs(recentA: readonly number[]): number {
  if (recentA.length < 100) return Number.POSITIVE_INFINITY;
  const sorted = [...recentA].sort((x, y) => x - y);
  const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!;
  return 1.1 * p95 + 2000;
}
