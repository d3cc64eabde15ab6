/**
 * latency_recent: the latency sign test's null (a discordant pair points at
 * the shadow with probability p ≤ ½) tested by a likelihood ratio whose
 * alternative p₁ ≥ ½ is estimated from the scope's last seconds only,
 * before this second's counts are seen: a predictable plug-in (Robbins and
 * Siegmund 1974; Waudby-Smith and Ramdas, "Estimating means of bounded
 * random variables by betting", JRSS B 2024). For each discordant pair the
 * factor 2p₁ (shadow slower) or 2(1−p₁) (primary slower) has expectation
 * 2(1−p₁) + 2p(2p₁−1) ≤ 1 for every p ≤ ½, so the product is a test
 * supermartingale whatever p₁ the past chose.
 *
 * Why: the fixed-prior mixture (`logSignMixtureE`) pays for its
 * alternatives every healthy second, so a regression that starts after a
 * healthy minute first wins that back. The plug-in stays near p₁ = ½ (betting
 * nothing) while the arms are exchangeable and bets within seconds of a
 * shift. Pure.
 */
import type { ScopeState } from './types.js';

/** Seconds of discordant latency pairs the bet is estimated from. */
export const LATENCY_BET_SECONDS = 5;
/** Pseudo-pairs at p = ½ the estimate is shrunk by. */
const LATENCY_BET_PRIOR_PAIRS = 20;
/** The bet never goes beyond this (a pair against it then costs at most ln 5). */
const LATENCY_BET_MAX = 0.9;

/**
 * The log factor of one second's discordant latency pairs (`up`: shadow
 * slower, `down`: primary slower), with p₁ from the scope's `recent`
 * seconds, which must not yet hold this second.
 */
export function latencyRecentBet(scope: ScopeState, up: number, down: number): number {
  let ur = 0;
  let nr = 0;
  for (const r of scope.recent.slice(-LATENCY_BET_SECONDS)) {
    ur += r.latSlower ?? 0;
    nr += (r.latSlower ?? 0) + (r.latFaster ?? 0);
  }
  const p1 = Math.min(
    LATENCY_BET_MAX,
    Math.max(0.5, (ur + 0.5 * LATENCY_BET_PRIOR_PAIRS) / (nr + LATENCY_BET_PRIOR_PAIRS)),
  );
  if (!(p1 > 0.5)) return 0;
  return up * Math.log(2 * p1) + down * Math.log(2 * (1 - p1));
}
