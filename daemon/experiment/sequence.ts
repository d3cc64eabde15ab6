/**
 * Anytime-valid confidence sequences for an A/B test: the interval for the
 * difference of two arms' means that may be looked at after every user
 * without losing its coverage. Pure functions of sufficient statistics (a
 * count and a sum per arm); no time, no I/O.
 *
 * The construction is the judge's (daemon/judge/evalue.ts) turned around:
 * there a mixture likelihood ratio is an e-process for one null, and Ville's
 * inequality bounds the chance that it ever reaches 1/α; here the same kind
 * of e-process is run for every candidate mean m at once, and the interval
 * is the set of m whose e-process stays below 2/α (Howard, Ramdas, McAuliffe
 * & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
 * sequences", Annals of Statistics 49 (2021), §3, the conjugate-mixture
 * bound; Robbins 1970 for the mixture).
 *
 * For values x ∈ [0, 1] with mean m, and an alternative p, the factor
 * (p/m)^x ((1−p)/(1−m))^(1−x) is convex in x, so its expectation is at most
 * m·(p/m) + (1−m)·((1−p)/(1−m)) = 1: the running product is a test
 * supermartingale for "the mean is m" whether the values are conversions
 * (0/1) or any bounded outcome scaled into [0, 1]. Mixing over p with a
 * Beta(a, b) prior keeps that, and gives the closed form
 * E_n(m) = B(S+a, n−S+b) / B(a, b) / (m^S (1−m)^(n−S)), S = Σx.
 * E_n(m) is smallest at m = S/n and grows on either side, so the set
 * {m : E_n(m) < 2/α} is an interval found by bisection.
 *
 * Two arms: each arm's interval at level α/2 holds at every time with
 * probability ≥ 1 − α/2; by the union bound both hold at every time with
 * probability ≥ 1 − α, and then μ_B − μ_A lies in [lo_B − hi_A, hi_B − lo_A].
 * Hence the chance that an A/A test ever excludes zero (a false winner),
 * however often it is looked at, is at most α.
 */

/** Sufficient statistics of one arm: observations and the sum of their values, each in [0, 1]. */
export interface ArmTally {
  n: number;
  sum: number;
}

/** A closed interval. */
export type Interval = [lo: number, hi: number];

/** The prior of the mixture: Beta(½, ½) (Jeffreys), symmetric and light at both ends. */
const PRIOR_A = 0.5;
const PRIOR_B = 0.5;

/** Lanczos approximation (g = 7, n = 9) of log Γ(x) for x > 0; relative error about 1e-15. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/** log of m^S (1−m)^(n−S), with 0·log 0 = 0. */
function logLikelihood(m: number, sum: number, n: number): number {
  const up = sum > 0 ? sum * Math.log(m) : 0;
  const down = n - sum > 0 ? (n - sum) * Math.log(1 - m) : 0;
  return up + down;
}

/**
 * log E_n(m): the e-value against "the arm's mean is m" after `t.n`
 * observations summing to `t.sum`. m must be in (0, 1).
 */
export function logMeanE(t: ArmTally, m: number): number {
  return logMixture(t) - logLikelihood(m, clampSum(t), t.n);
}

/** log of the mixture's numerator B(S+a, n−S+b) / B(a, b): the same for every m. */
function logMixture(t: ArmTally): number {
  const s = clampSum(t);
  return logBeta(s + PRIOR_A, t.n - s + PRIOR_B) - logBeta(PRIOR_A, PRIOR_B);
}

function clampSum(t: ArmTally): number {
  return Math.min(Math.max(t.sum, 0), t.n);
}

/** Bisection steps: 2^-40 of the unit interval, far below any useful precision. */
const STEPS = 40;

/**
 * The confidence sequence for one arm's mean at level `alpha`: every m in
 * [0, 1] whose e-value is below 1/α. [0, 1] before any observation.
 */
export function meanSequence(t: ArmTally, alpha: number): Interval {
  if (!(t.n > 0)) return [0, 1];
  const s = clampSum(t);
  const centre = s / t.n;
  // E(m) < 1/α  ⇔  log-likelihood(m) > log mixture + log α (the mixture term computed once).
  const floor = logMixture(t) + Math.log(alpha);
  const inside = (m: number): boolean => logLikelihood(m, s, t.n) > floor;
  return [edge(centre, 0, inside), edge(centre, 1, inside)];
}

/** The point between `from` (inside) and `to` where the set ends; `to` itself when it is inside. */
function edge(from: number, to: number, inside: (m: number) => boolean): number {
  const open = (m: number) => m > 0 && m < 1 && inside(m);
  const nearTo = to === 0 ? Number.MIN_VALUE : 1 - Number.EPSILON / 2;
  if (open(nearTo)) return to;
  let a = Math.min(Math.max(from, Number.MIN_VALUE), 1 - Number.EPSILON / 2);
  let b = nearTo;
  for (let i = 0; i < STEPS; i++) {
    const mid = (a + b) / 2;
    if (open(mid)) a = mid;
    else b = mid;
  }
  return a;
}

/**
 * The confidence sequence for μ_B − μ_A at level `alpha` (both arms on the
 * [0, 1] scale): valid simultaneously over all times, so it may be looked at
 * after every observation.
 */
export function differenceSequence(b: ArmTally, a: ArmTally, alpha: number): Interval {
  const [bLo, bHi] = meanSequence(b, alpha / 2);
  const [aLo, aHi] = meanSequence(a, alpha / 2);
  return [bLo - aHi, bHi - aLo];
}

/** What an interval for B − A says, given the smallest effect the user cares about (≥ 0). */
export type Decision =
  /** The interval lies above zero: B is better. */
  | 'b_better'
  /** The interval lies below zero: A is better. */
  | 'a_better'
  /** The interval lies inside (−minEffect, +minEffect): no difference as large as the one that matters. */
  | 'no_effect'
  /** Nothing yet: keep collecting. */
  | 'undecided';

export function decide(ci: Interval, minEffect: number): Decision {
  const [lo, hi] = ci;
  if (lo > 0) return 'b_better';
  if (hi < 0) return 'a_better';
  if (minEffect > 0 && lo > -minEffect && hi < minEffect) return 'no_effect';
  return 'undecided';
}
