/**
 * The terms of the combined e-value: one per scope and process (and the live
 * signals during weighted promotion), each with its weight and log E, and
 * their weighted sum, the score. Pure.
 */
import type { Model } from '../model/model.js';
import { logMixtureE, logSignMarginE, logSignMixtureE, logSumExp } from './evalue.js';
import type { JudgeParams, JudgeState, ProcessName, ScopeState } from './types.js';
import { PROCESS_NAMES } from './types.js';

/** Live signals' split of the live share. */
export const LIVE_ERRORS_SHARE = 0.7;
export const LIVE_TAIL_SHARE = 0.3;

/**
 * Tail test null: the shadow alone above the tail threshold in at most this
 * share of the pairs where exactly one arm is (0.6: 1.5× as often as production).
 */
const TAIL_NULL_SHARE = 0.6;

/** log E of one process in one scope. */
export function processLogE(scope: ScopeState, proc: ProcessName, model: Model): number {
  const c = scope.cand;
  const sign = model.params.signMixture;
  switch (proc) {
    case 'errors_paired':
      return logSignMixtureE(c.errShadowOnly, c.errPrimaryOnly, sign);
    case 'latency_shift':
      // A fixed convex mix, chosen before any outcome: half the fixed-prior mixture (strongest from
      // the first second), half the recent plug-in (no wealth lost before a late onset).
      return (
        logSumExp([logSignMixtureE(c.latShadowSlower, c.latPrimarySlower, sign), scope.latencyRecent ?? 0]) -
        Math.LN2
      );
    case 'latency_tail':
      // Exceedances of a fixed threshold magnify tiny shifts: judged with a margin.
      return logSignMarginE(c.tailShadowOnly, c.tailPrimaryOnly, sign, TAIL_NULL_SHARE);
    case 'errors_recent':
      return scope.errorsRecent ?? 0;
    case 'errors_rate':
    case 'status_mismatch':
    case 'body_mismatch':
      return logMixtureE(scope.wealth[proc], model.params.rateMixture);
  }
}

/** One weighted term of the combined e-value: ln(w) + ln(E). */
export interface Term {
  scope: ScopeState | null;
  proc: ProcessName | 'live_errors' | 'live_latency';
  logW: number;
  logE: number;
}

/** Every weighted term of E = Σ w·E (slots not yet handed out are left out: they add their weight × 1). */
export function terms(s: JudgeState, model: Model, params: JudgeParams): Term[] {
  const out: Term[] = [];
  for (const scope of Object.values(s.scopes)) {
    for (const proc of PROCESS_NAMES) {
      const w = scope.weight * params.processShares[proc];
      if (!(w > 0)) continue;
      out.push({ scope, proc, logW: Math.log(w), logE: processLogE(scope, proc, model) });
    }
  }
  if (params.liveCandidateCluster && params.liveShare > 0 && s.live.wealthErrors.length > 0) {
    const mix = model.params.rateMixture;
    out.push({
      scope: null,
      proc: 'live_errors',
      logW: Math.log(params.liveShare * LIVE_ERRORS_SHARE),
      logE: logMixtureE(s.live.wealthErrors, mix),
    });
    out.push({
      scope: null,
      proc: 'live_latency',
      logW: Math.log(params.liveShare * LIVE_TAIL_SHARE),
      logE: logMixtureE(s.live.wealthTail, mix),
    });
  }
  return out;
}

/** log10 of E = Σ w·E over every slot (unused slots and live signals not yet seen count as E = 1). */
export function combinedScore(s: JudgeState, model: Model, params: JudgeParams): number {
  const ts = terms(s, model, params);
  const logs = ts.map((t) => t.logW + t.logE);
  let used = 0;
  for (const t of ts) used += Math.exp(t.logW);
  // The whole budget is 1: slots not handed out yet (and live signals not yet seen) sit at E = 1.
  const rest = 1 - used;
  if (rest > 1e-12) logs.push(Math.log(rest));
  return logSumExp(logs) / Math.LN10;
}
