/**
 * Anytime-valid e-processes for counts: the arithmetic under every signal.
 * Pure functions of counts; no state beyond what callers pass in.
 *
 * An e-process is a non-negative process (E_n) with E_0 = 1 that is a
 * supermartingale (or is dominated by one) under the null hypothesis. By
 * Ville's inequality (Ville 1939), P(∃n: E_n ≥ 1/α) ≤ α: the evidence may be
 * looked at after every record without inflating false alarms. See Ramdas,
 * Grünwald, Vovk & Shafer, "Game-theoretic statistics and safe anytime-valid
 * inference", Statistical Science 38 (2023), and Howard, Ramdas, McAuliffe &
 * Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences",
 * Annals of Statistics 49 (2021).
 *
 * Values are kept as natural logarithms: e-values reach 10^12 and beyond.
 */
import type { MixtureAtom } from '../model/model.js';

/** log(Σ exp(xᵢ)) without overflow; −∞ for an empty list. */
export function logSumExp(xs: readonly number[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of xs) if (x > max) max = x;
  if (max === Number.NEGATIVE_INFINITY) return max;
  let s = 0;
  for (const x of xs) s += Math.exp(x - max);
  return max + Math.log(s);
}

/**
 * One-sided sign test on discordant pairs, as a mixture likelihood ratio.
 *
 * Data: `up` pairs where the shadow arm was worse, `down` where the primary
 * was worse (ties and concordant pairs carry no information). Null: the arms
 * are exchangeable or the shadow is better, i.e. P(up | discordant) ≤ ½ — the
 * one-sided McNemar test (McNemar 1947) viewed as a binomial test with p₀ = ½.
 *
 * For an alternative p > ½ the likelihood ratio (2p)^up (2(1−p))^down is a
 * test supermartingale under every p' ≤ ½ (its one-step expectation is
 * 2(1−p) + 2p'(2p−1) ≤ 1), so the mixture over a fixed prior on p is too
 * (Robbins 1970, "Statistical methods related to the law of the iterated
 * logarithm"; Wald 1945 for the likelihood ratio). Because the ratio depends
 * on the counts only, this e-process needs no state beyond the counts.
 *
 * @returns log E.
 */
export function logSignMixtureE(up: number, down: number, mixture: readonly MixtureAtom[]): number {
  return logSignRatioMixture(up, down, mixture, 0.5, (x) => x);
}

/**
 * The sign test with a margin: H0 is P(up | discordant) ≤ p0 (p0 ≥ ½), i.e.
 * the shadow is worse at most (p0 / (1 − p0)) times as often as production.
 * Each mixture atom x ∈ (½, 1) is mapped to the alternative
 * p = p0 + (1 − p0)(2x − 1) ∈ (p0, 1); the likelihood ratio
 * (p/p0)^up ((1−p)/(1−p0))^down is a test supermartingale under every
 * p' ≤ p0, so the mixture is an e-process for H0 (same argument as above).
 * Used where exact exchangeability of the arms is too strict a null: two
 * processes of the same code differ slightly (warm caches, load), and a test
 * of "never worse at all" would eventually flag a harmless difference.
 *
 * @returns log E.
 */
export function logSignMarginE(
  up: number,
  down: number,
  mixture: readonly MixtureAtom[],
  p0: number,
): number {
  if (p0 <= 0.5) return logSignMixtureE(up, down, mixture);
  return logSignRatioMixture(up, down, mixture, p0, (x) => Math.min(0.999, p0 + (1 - p0) * (2 * x - 1)));
}

/**
 * log Σ w · (p/p0)^up ((1−p)/(1−p0))^down over the mixture atoms, each atom's
 * x mapped to its alternative p by `alternative` (the ratio shared by the
 * sign tests above; for p0 = ½ it is (2x)^up (2(1−x))^down).
 */
function logSignRatioMixture(
  up: number,
  down: number,
  mixture: readonly MixtureAtom[],
  p0: number,
  alternative: (x: number) => number,
): number {
  if (!(up > 0) && !(down > 0)) return 0;
  const u = Math.max(up, 0);
  const d = Math.max(down, 0);
  const terms: number[] = [];
  for (const a of mixture) {
    if (!(a.w > 0)) continue;
    const p = alternative(a.x);
    terms.push(Math.log(a.w) + u * Math.log(p / p0) + d * Math.log((1 - p) / (1 - p0)));
  }
  return terms.length === 0 ? 0 : logSumExp(terms);
}

/** An alternative rate whose odds are `multiplier` times the odds of `p0`. */
export function oddsShift(p0: number, multiplier: number): number {
  const odds = (p0 / (1 - p0)) * multiplier;
  return odds / (1 + odds);
}

/**
 * Rate test against a floor: one batch of the likelihood-ratio e-process for
 * "per-trial event rate ≤ p₀", where p₀ may change between batches but is
 * fixed before the batch is seen (predictable plug-in; Wald's SPRT with a
 * predictable null, cf. Ramdas et al. 2023 §4 and Waudby-Smith & Ramdas,
 * "Estimating means of bounded random variables by betting", JRSS B 2024).
 *
 * For each mixture atom m the alternative is p₁ = oddsShift(p₀, m) > p₀ and
 * the batch factor is (p₁/p₀)^k ((1−p₁)/(1−p₀))^(n−k); its expectation under
 * any rate ≤ p₀ is ≤ 1, so each component's running product is a test
 * supermartingale, and so is their fixed-weight mixture. When trials in one
 * batch have different floors, passing their mean as p₀ stays valid: a sum
 * of independent Bernoullis is dominated in convex order by the binomial
 * with the mean rate (Hoeffding 1956, "On the distribution of the number of
 * successes in independent trials").
 *
 * @param logWealth log of each component's running product (same order as `mixture`); not modified.
 * @returns the components' new log wealth.
 */
export function rateBatchUpdate(
  logWealth: readonly number[],
  k: number,
  n: number,
  p0: number,
  mixture: readonly MixtureAtom[],
): number[] {
  const out = logWealth.slice();
  if (!(n > 0) || !(p0 > 0) || !(p0 < 1)) return out;
  const kk = Math.min(Math.max(k, 0), n);
  for (let i = 0; i < mixture.length; i++) {
    const p1 = oddsShift(p0, mixture[i]!.x);
    out[i] = (out[i] ?? 0) + kk * Math.log(p1 / p0) + (n - kk) * Math.log((1 - p1) / (1 - p0));
  }
  return out;
}

/** log E of a mixture of rate-test components: log Σ wᵢ exp(logWealthᵢ). */
export function logMixtureE(logWealth: readonly number[], mixture: readonly MixtureAtom[]): number {
  const terms: number[] = [];
  for (let i = 0; i < mixture.length; i++) {
    const w = mixture[i]!.w;
    if (w > 0) terms.push(Math.log(w) + (logWealth[i] ?? 0));
  }
  return terms.length === 0 ? 0 : logSumExp(terms);
}

/**
 * Upper tail check used by guards: is `k` events among `n` trials clearly
 * above a rate `p` (more than mean + 3 sd + 1)? A screen, not a test.
 */
export function clearlyAbove(k: number, n: number, p: number): boolean {
  const mean = n * p;
  return k > mean + 3 * Math.sqrt(mean) + 1;
}
