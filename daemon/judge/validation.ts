/**
 * Validation of a restored version against its own history (after a
 * rollback): is it failing, or slow in the tail, more often than it did
 * before the deployment? Pure functions over counts.
 *
 * Method: for each signal, a one-sided test of H0: p ≤ p0 with a mixture of
 * likelihood ratios over alternatives p_k = p0·m_k (m_k > 1). Each
 * Π_i (p_k/p0)^x (1−p_k / 1−p0)^(n−x) is a nonnegative supermartingale under
 * H0, so is their average, and by Ville's inequality P(sup E ≥ 10^t) ≤ 10^−t
 * (Ville 1939; Ramdas et al., "Game-theoretic statistics and safe anytime-valid
 * inference", Statist. Sci. 2023). The signals share the budget: E = ½E_err + ½E_tail.
 *
 * p0 comes from history with a tolerance, so ordinary drift does not fail a
 * validation: p0 = max(ratio · p_hist, p_hist + slack, floor).
 *
 * The tail: a live request is over the tail when it is slower than the
 * endpoint's tail threshold, the 0.99 quantile of the primaries mirrored in the
 * last full minute (the restored version's own production requests, until the
 * rollback). Only requests compared with a threshold count (`tailChecked`):
 * before anything was mirrored there is none, and a history that counted those
 * requests as "not over" (it did, before) read a share of 0.1–0.3 % where the
 * threshold's own definition puts 1 %, so a healthy restored version failed
 * its validation. The threshold is frozen while nothing is mirrored and was
 * measured under other load, so the null allows tailRatio × the larger of the
 * historical share and the share the threshold puts above itself by definition.
 */

import type { LiveCounts } from '../aggregate/stats.js';

/** Counts of the restored version's live traffic (per second or summed). */
export interface ValidationCounts {
  requests: number;
  failed: number;
  overTail: number;
  /** Requests compared with a tail threshold: the tail test's denominator (see LiveCounts). */
  tailChecked: number;
}

/** A cell's live counts as validation reads them (a cell stored before tailChecked existed: none checked). */
export function validationCounts(c: LiveCounts): ValidationCounts {
  return { requests: c.requests, failed: c.failed, overTail: c.overTail, tailChecked: c.tailChecked ?? 0 };
}

export interface ValidationParams {
  anomalyThreshold: number;
  /** Multiplicative tolerance over the historical rate. */
  ratio: number;
  /** Additive tolerance over the historical rate. */
  slack: number;
  /** Lowest null rate used (guards a spotless history). */
  floor: number;
  /** Null failure rate when there is no history at all. */
  noHistoryFailureRate: number;
  /** Requests of history needed before it is trusted. */
  minHistory: number;
  /** Multiplicative tolerance over the historical tail rate (coarser: the threshold drifts). */
  tailRatio: number;
  /** The share above a fresh tail threshold by definition (1 − the aggregator's tailQuantile). */
  tailShare: number;
}

export const DEFAULT_VALIDATION_PARAMS: ValidationParams = {
  anomalyThreshold: 2,
  ratio: 1.5,
  slack: 0.005,
  floor: 0.002,
  noHistoryFailureRate: 0.05,
  minHistory: 200,
  tailRatio: 3,
  tailShare: 0.01,
};

const MULTIPLIERS = [1.5, 2, 3, 5, 10];

/** Running evidence; plain data (persistable). */
export interface ValidationState {
  p0Failure: number;
  /** Null tail rate; NaN when history has no comparable tail measurement (the tail is not tested). */
  p0Tail: number;
  /** log wealth per alternative, per signal. */
  logFailure: number[];
  logTail: number[];
  seen: ValidationCounts;
  history: ValidationCounts;
}

export interface ValidationVerdict {
  verdict: 'rollback' | 'healthy' | 'insufficient';
  score: number;
  threshold: number;
  /** Which signal leads, and the counts behind it. */
  signal: 'live_errors' | 'live_latency';
  explanation: string;
}

function nullRate(hist: number, histN: number, p: ValidationParams, noHistory: number): number {
  if (histN < p.minHistory) return noHistory;
  return Math.min(0.5, Math.max(p.ratio * hist, hist + p.slack, p.floor));
}

/** A fresh state whose null rates come from the version's history. */
export function startValidation(
  history: ValidationCounts,
  p: ValidationParams = DEFAULT_VALIDATION_PARAMS,
): ValidationState {
  const n = history.requests;
  // Only requests compared with a threshold measure the tail: a history with
  // too few of them is no yardstick, and the tail is not tested.
  const checked = history.tailChecked;
  const tailShare = checked > 0 ? Math.min(history.overTail, checked) / checked : 0;
  return {
    p0Failure: nullRate(n > 0 ? history.failed / n : 0, n, p, p.noHistoryFailureRate),
    p0Tail:
      checked >= p.minHistory
        ? Math.min(0.5, Math.max(p.tailRatio * Math.max(tailShare, p.tailShare), p.floor))
        : Number.NaN,
    logFailure: MULTIPLIERS.map(() => 0),
    logTail: MULTIPLIERS.map(() => 0),
    seen: { requests: 0, failed: 0, overTail: 0, tailChecked: 0 },
    history: { ...history },
  };
}

function update(logW: number[], p0: number, x: number, n: number): number[] {
  return logW.map((w, k) => {
    const p1 = Math.min(0.999, p0 * MULTIPLIERS[k]!);
    return w + x * Math.log(p1 / p0) + (n - x) * Math.log((1 - p1) / (1 - p0));
  });
}

function mixture(logW: number[]): number {
  const max = Math.max(...logW);
  const sum = logW.reduce((a, w) => a + Math.exp(w - max), 0);
  return Math.exp(max) * (sum / logW.length);
}

/** Adds one second (or any batch) of counts; returns a new state. */
export function observeValidation(s: ValidationState, c: ValidationCounts): ValidationState {
  if (c.requests <= 0) return s;
  const failed = Math.min(c.failed, c.requests);
  const checked = Math.min(c.tailChecked, c.requests - failed);
  const over = Math.min(c.overTail, checked);
  return {
    ...s,
    logFailure: update(s.logFailure, s.p0Failure, failed, c.requests),
    logTail: Number.isNaN(s.p0Tail) || checked <= 0 ? s.logTail : update(s.logTail, s.p0Tail, over, checked),
    seen: {
      requests: s.seen.requests + c.requests,
      failed: s.seen.failed + failed,
      overTail: s.seen.overTail + over,
      tailChecked: s.seen.tailChecked + checked,
    },
  };
}

/** The verdict now: rollback (validation failed) once the score reaches the threshold. */
export function validationVerdict(
  s: ValidationState,
  p: ValidationParams,
  minRequests = 20,
): ValidationVerdict {
  const eFail = mixture(s.logFailure);
  const eTail = mixture(s.logTail);
  const e = 0.5 * eFail + 0.5 * eTail;
  const score = Math.log10(Math.max(e, 1e-300));
  const signal = eFail >= eTail ? 'live_errors' : 'live_latency';
  const n = s.seen.requests;
  const pct = (x: number, of: number) => (of > 0 ? ((100 * x) / of).toFixed(2) : '0');
  const checked = s.seen.tailChecked;
  const explanation =
    signal === 'live_errors'
      ? `failures ${s.seen.failed}/${n} (${pct(s.seen.failed, n)}%) vs allowed ${(100 * s.p0Failure).toFixed(2)}% from ${s.history.requests} historical requests`
      : `tail ${s.seen.overTail}/${checked} (${pct(s.seen.overTail, checked)}%) vs allowed ${(100 * s.p0Tail).toFixed(2)}% from ${s.history.tailChecked} historical requests measured against the tail threshold`;
  // (the tail line is only chosen when the tail is tested: eTail stays 1 otherwise)
  let verdict: ValidationVerdict['verdict'] = 'healthy';
  if (score >= p.anomalyThreshold) verdict = 'rollback';
  else if (n < minRequests) verdict = 'insufficient';
  return { verdict, score, threshold: p.anomalyThreshold, signal, explanation };
}
