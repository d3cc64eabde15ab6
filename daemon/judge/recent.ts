/**
 * The recent bets (errors_recent, latency_recent): a one-sided null "events
 * at a per-pair rate ≤ p₀" tested by a likelihood ratio whose alternative
 * p₁ ≥ p₀ is estimated from the scope's last seconds only (shrunk toward p₀,
 * never below it), before this second's counts are seen: a predictable
 * plug-in (Robbins and Siegmund 1974; Waudby-Smith and Ramdas, "Estimating
 * means of bounded random variables by betting", JRSS B 2024). For k of n
 * Bernoulli(p) with p ≤ p₀ ≤ p₁ the factor (p₁/p₀)^k ((1−p₁)/(1−p₀))^(n−k)
 * has expectation (p p₁/p₀ + (1−p)(1−p₁)/(1−p₀))^n ≤ 1, so the product is a
 * test supermartingale whatever p₁ the past chose.
 *
 * Why: a fixed-prior mixture pays for its alternatives every healthy second,
 * so a regression that starts after a healthy minute first wins that back.
 * The plug-in stays near p₀ (betting nothing) while the candidate is healthy
 * and bets within seconds of a change. Pure.
 *
 * - errors_recent: shadow-only failures among all pairs, p₀ the error floor.
 * - latency_recent: "shadow slower" among discordant latency pairs, p₀ = ½
 *   (the factor is then 2p₁ per shadow-slower pair, 2(1−p₁) per other).
 */
import type { ScopeState } from './types.js';

interface BetShape {
  /** Seconds of recent counts the bet is estimated from. */
  seconds: number;
  /** Pseudo-events at p₀ the estimate is shrunk by. */
  priorPairs: number;
  /** The bet never goes beyond this. */
  max: number;
}

const ERRORS_BET: BetShape = { seconds: 5, priorPairs: 50, max: 0.5 };
/**
 * A latency pair against the bet then costs at most ln 5. Three seconds, not five: a shift that starts
 * mid-run has a few dozen discordant pairs a second on one endpoint, enough to estimate from, and five
 * seconds diluted its first seconds with the healthy ones before (`bench:judge`: +20 % median on one
 * endpoint from 30 s, median 10.0 → 9.0 s; 2 s gave the same median, 4 s none).
 */
const LATENCY_BET: BetShape = { seconds: 3, priorPairs: 20, max: 0.9 };

/** The log factor for k events of n, with p₁ from kr of nr recent ones. */
function plugInBet(k: number, n: number, kr: number, nr: number, p0: number, shape: BetShape): number {
  const p1 = Math.min(shape.max, Math.max(p0, (kr + p0 * shape.priorPairs) / (nr + shape.priorPairs)));
  if (!(p1 > p0)) return 0;
  return k * Math.log(p1 / p0) + (n - k) * Math.log((1 - p1) / (1 - p0));
}

/** errors_recent's log factor for k shadow-only failures in n pairs against floor p0 (`recent` must not yet hold this second). */
export function errorsRecentBet(scope: ScopeState, k: number, n: number, p0: number): number {
  let kr = 0;
  let nr = 0;
  for (const r of scope.recent.slice(-ERRORS_BET.seconds)) {
    kr += r.shadowOnly ?? 0;
    nr += r.pairs;
  }
  return plugInBet(k, n, kr, nr, p0, ERRORS_BET);
}

/**
 * latency_recent's log factor of one second's discordant latency pairs (`up`:
 * shadow slower, `down`: primary slower), with p₁ from the scope's `recent`
 * seconds, which must not yet hold this second.
 */
export function latencyRecentBet(scope: ScopeState, up: number, down: number): number {
  let ur = 0;
  let nr = 0;
  for (const r of scope.recent.slice(-LATENCY_BET.seconds)) {
    ur += r.latShadowSlower ?? 0;
    nr += (r.latShadowSlower ?? 0) + (r.latPrimarySlower ?? 0);
  }
  return plugInBet(up, up + down, ur, nr, 0.5, LATENCY_BET);
}
