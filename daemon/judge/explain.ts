/**
 * From the judge's state to a verdict a person can check: which scope and
 * signal carry the evidence (culprits), their counts and effect sizes, a few
 * example request ids, and when the threshold will be reached at the
 * current pace. Pure.
 */
import type { SignalName } from '../aggregate/stats.js';
import { isBuiltIn, type Model } from '../model/model.js';
import { BODY_SAMPLE } from './bodies.js';
import { statusChanges } from './counts.js';
import { logMixtureE } from './evalue.js';
import { LATENCY_FADING, LATENCY_TOO_EARLY, latencyDecaying, latencyFading, MIN_TREND_S } from './fading.js';
import { ALL } from './scopes.js';
import { syntheticPairs } from './synthetic.js';
import { LIVE_ERRORS_SHARE, LIVE_TAIL_SHARE, processLogE, type Term, terms } from './terms.js';
import type {
  Culprit,
  JudgeParams,
  JudgeState,
  ProcessName,
  ScopeState,
  SignalExplanation,
  Verdict,
} from './types.js';
import { PROCESS_SIGNAL } from './types.js';

/** Terms within this factor of the threshold are reported as culprits too. */
const CULPRIT_FACTOR = Math.log(10);
const MAX_CULPRITS = 5;
/** A sub-scope is named when it holds this share of its parent's log-evidence … */
const NAME_SHARE = 0.5;
/** … and the runner-up holds at most this share of the leader's. */
const RUNNER_UP_SHARE = 0.4;
/** Seconds of score history used for the growth rate. */
const GROWTH_WINDOW = 10;

export function buildVerdict(
  s: JudgeState,
  score: number,
  model: Model,
  params: JudgeParams,
  unhealthy: boolean,
): Verdict {
  const t = params.anomalyThreshold;
  const service = s.scopes[`${ALL}\u0000${ALL}`];
  const pairs = (service?.cand.pairs ?? 0) + syntheticPairs(s, params);
  const all = terms(s, model, params).sort((a, b) => b.logW + b.logE - (a.logW + a.logE));
  const lead = all[0];
  let reason: string | null = null;
  if (s.firstSecond === null || s.lastSecond === null) reason = 'no data yet';
  else if (s.lastSecond < s.firstSecond + params.warmupSeconds) reason = 'warm-up';
  else if (pairs + liveSample(s, params) < params.minPairs) {
    reason = `minimum sample: ${pairs} of ${params.minPairs} pairs`;
  } else if (unhealthy) reason = 'production unhealthy: primary failure rate above the limit, not judging';

  let rollback = reason === null && Number.isFinite(score) && score >= t;
  let culprits = rollback ? findCulprits(all, s, model, t) : [];
  if (rollback && latencyOnly(culprits)) {
    const hold = latencyHold(s, culprits);
    if (hold !== null) {
      reason = hold;
      rollback = false;
      culprits = [];
    }
  }
  const focus = culprits.length > 0 ? scopeOf(s, culprits[0]!) : (lead?.scope ?? service ?? null);
  const signals = [...(focus ? explainScope(focus, model, params) : []), ...explainLive(s, model, params)];
  const leadSignal: SignalName | undefined =
    culprits[0]?.signal ?? (lead?.scope ? PROCESS_SIGNAL[lead.proc as ProcessName] : undefined);
  const examples = focus && leadSignal ? (focus.examples[leadSignal] ?? []).slice(0, params.examples) : [];
  return {
    verdict: reason !== null ? 'insufficient' : rollback ? 'rollback' : 'healthy',
    score: Number.isFinite(score) ? score : 0,
    threshold: t,
    culprits,
    reason,
    modelVersion: model.version,
    explanation: {
      pairs,
      signals,
      examples,
      predictedSecondsToThreshold: predictSeconds(s, score, t),
      missingShadows: service?.cand.shadowMissing ?? 0,
      model: modelInForce(s, model),
    },
  };
}

/**
 * Where the model in force is not simply the trained one: the built-in
 * model, learned body floors the present has not confirmed yet or
 * contradicts, error floors production's own failures contradicted.
 */
export function modelInForce(s: JudgeState, model: Model): string[] {
  const out: string[] = [];
  if (isBuiltIn(model))
    out.push(
      "built-in model (no history): error floors at least production's own upper bound, bodies not compared",
    );
  const floors = model.params.floors;
  for (const [ep, b] of Object.entries(s.bodies ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (!(floors[ep] && floors[ep].bodyMismatchRate < 1)) continue;
    if (b.state === 'dynamic')
      out.push(`bodies of ${ep}: history says deterministic, the present varies: not compared`);
    else if (b.state === 'unknown')
      out.push(
        `bodies of ${ep}: not compared until ${BODY_SAMPLE} primary bodies confirm history (${b.hashed} so far)`,
      );
  }
  const unchecked: string[] = [];
  for (const scope of Object.values(s.scopes)) {
    if (scope.floorUnchecked) unchecked.push(scopeName(scope));
    if (!scope.floorContradicted) continue;
    out.push(
      `error floor of ${scopeName(scope)}: contradicted by production's own failures: the live primary arm sets it`,
    );
  }
  if (unchecked.length > 0) {
    unchecked.sort();
    const more = unchecked.length > MAX_NAMED ? ` and ${unchecked.length - MAX_NAMED} more` : '';
    out.push(
      `error floors not checked yet (production's own failures too few to tell): the primary arm's upper bound in force for ${unchecked.slice(0, MAX_NAMED).join(', ')}${more}`,
    );
  }
  return out;
}

/** Scopes named one by one in a line of `modelInForce`. */
const MAX_NAMED = 3;

/** 'the service', a segment, an endpoint, or 'GET /a in eu'. */
function scopeName(scope: ScopeState): string {
  if (scope.endpoint === ALL) return scope.segment === ALL ? 'the service' : scope.segment;
  return scope.segment === ALL ? scope.endpoint : `${scope.endpoint} in ${scope.segment}`;
}

/** Every culprit is a paired latency signal (the cold-start hold applies to those only). */
function latencyOnly(culprits: Culprit[]): boolean {
  return (
    culprits.length > 0 && culprits.every((c) => c.signal === 'latency_shift' || c.signal === 'latency_tail')
  );
}

/**
 * The culprit's excess is fading there, or falling in a scope that holds
 * it (its endpoint, its segment, the service: more pairs, a clearer trend;
 * a regression in one place leaves those flat, a cold start does not).
 */
/** Why a latency-only rollback is held (a cold start), or null. */
function latencyHold(s: JudgeState, culprits: Culprit[]): string | null {
  if (culprits.some((c) => (scopeOf(s, c)?.lat?.length ?? 0) < MIN_TREND_S)) return LATENCY_TOO_EARLY;
  return culprits.every((c) => fadingAt(s, c)) ? LATENCY_FADING : null;
}

function fadingAt(s: JudgeState, c: Culprit): boolean {
  const scope = scopeOf(s, c);
  if (scope !== null && latencyFading(s, scope)) return true;
  for (const [ep, seg] of [
    [c.endpoint, ALL],
    [ALL, c.segment],
    [ALL, ALL],
  ] as const) {
    const outer = s.scopes[`${ep}\u0000${seg}`];
    if (outer && outer !== scope && latencyDecaying(s, outer)) return true;
  }
  return false;
}

/** Live requests the candidate served, when live signals are judged (they count toward the minimum sample). */
function liveSample(s: JudgeState, params: JudgeParams): number {
  return params.liveCandidateCluster ? s.live.candRequests : 0;
}

/** The live (unpaired) signals, when judged: candidate vs the rest of production. */
function explainLive(s: JudgeState, model: Model, params: JudgeParams): SignalExplanation[] {
  if (!params.liveCandidateCluster || s.live.wealthErrors.length === 0) return [];
  const L = s.live;
  const mix = model.params.rateMixture;
  const rate = (k: number, n: number) => (n > 0 ? k / n : 0);
  const base = { endpoint: ALL, segment: ALL };
  const counts = {
    candidateRequests: L.candRequests,
    otherRequests: L.otherRequests,
    candidateFailed: L.candFailed,
    otherFailed: L.otherFailed,
    candidateOverTail: L.candOverTail,
    otherOverTail: L.otherOverTail,
  };
  return [
    {
      ...base,
      name: 'live_errors',
      counts,
      effectSize: rate(L.candFailed, L.candRequests) - rate(L.otherFailed, L.otherRequests),
      eValue: Math.exp(Math.min(logMixtureE(L.wealthErrors, mix), 700)),
      weight: params.liveShare * LIVE_ERRORS_SHARE,
    },
    {
      ...base,
      name: 'live_latency',
      counts,
      effectSize: rate(L.candOverTail, L.candRequests) - rate(L.otherOverTail, L.otherRequests),
      eValue: Math.exp(Math.min(logMixtureE(L.wealthTail, mix), 700)),
      weight: params.liveShare * LIVE_TAIL_SHARE,
    },
  ];
}

function scopeOf(s: JudgeState, c: Culprit): ScopeState | null {
  return s.scopes[`${c.endpoint}\u0000${c.segment}`] ?? null;
}

function findCulprits(all: Term[], s: JudgeState, model: Model, t: number): Culprit[] {
  const bar = t * Math.LN10 - CULPRIT_FACTOR;
  const out: Culprit[] = [];
  const seen = new Set<string>();
  for (const term of all) {
    if (out.length >= MAX_CULPRITS) break;
    if (out.length > 0 && term.logW + term.logE < bar) break;
    let c: Culprit;
    if (term.scope === null) {
      c = {
        endpoint: ALL,
        segment: ALL,
        signal: term.proc === 'live_errors' ? 'live_errors' : 'live_latency',
      };
    } else {
      const proc = term.proc as ProcessName;
      const named = nameWithin(term.scope, proc, s, model);
      c = { endpoint: named.endpoint, segment: named.segment, signal: PROCESS_SIGNAL[proc] };
    }
    const key = `${c.endpoint}\u0000${c.segment}\u0000${c.signal}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  return out;
}

/**
 * Narrows a scope to the endpoint and/or segment that holds its evidence:
 * a regression everywhere spreads evidence across sub-scopes (named '*'); a
 * regression in one place concentrates it there. Errors are located by the
 * paired sign test when it has evidence: it is the one errors test on the
 * same footing in every scope, while the rate tests' floors differ by scope
 * (a narrow scope's floor is checked later, judge.ts), so their e-values
 * would favour the wider scope.
 */
function nameWithin(
  scope: ScopeState,
  termProc: ProcessName,
  s: JudgeState,
  model: Model,
): { endpoint: string; segment: string } {
  const paired = PROCESS_SIGNAL[termProc] === 'errors' && processLogE(scope, 'errors_paired', model) > 0;
  const proc: ProcessName = paired ? 'errors_paired' : termProc;
  const parent = processLogE(scope, proc, model);
  let endpoint = scope.endpoint;
  let segment = scope.segment;
  if (endpoint === ALL) {
    const subs = Object.values(s.scopes).filter((x) => x.endpoint !== ALL && x.segment === scope.segment);
    endpoint = concentrated(subs, proc, model, parent)?.endpoint ?? ALL;
  }
  if (segment === ALL) {
    const subs = Object.values(s.scopes).filter((x) => x.segment !== ALL && x.endpoint === scope.endpoint);
    segment = concentrated(subs, proc, model, parent)?.segment ?? ALL;
  }
  if (endpoint !== ALL && segment !== ALL && scope.kind === 'service') {
    // Both narrowed from the service: keep the cell only if it exists.
    if (!s.scopes[`${endpoint}\u0000${segment}`]) segment = ALL;
  }
  return { endpoint, segment };
}

function concentrated(
  subs: ScopeState[],
  proc: ProcessName,
  model: Model,
  parent: number,
): ScopeState | null {
  if (subs.length === 0 || !(parent > 0)) return null;
  const ranked = subs.map((x) => ({ x, e: processLogE(x, proc, model) })).sort((a, b) => b.e - a.e);
  const best = ranked[0]!;
  const second = ranked[1];
  if (best.e < NAME_SHARE * parent) return null;
  if (second && second.e > RUNNER_UP_SHARE * best.e && subs.length > 1) return null;
  return best.x;
}

function explainScope(scope: ScopeState, model: Model, params: JudgeParams): SignalExplanation[] {
  const c = scope.cand;
  const share = params.processShares;
  const e = (p: ProcessName) => Math.exp(Math.min(processLogE(scope, p, model), 700));
  const base = { endpoint: scope.endpoint, segment: scope.segment };
  const rate = (k: number, n: number) => (n > 0 ? k / n : 0);
  const errShares = share.errors_paired + share.errors_rate + share.errors_recent;
  const out: SignalExplanation[] = [
    {
      ...base,
      name: 'errors',
      counts: {
        pairs: c.pairs,
        shadowFailed: c.shadowFailed,
        primaryFailed: c.primaryFailed,
        shadowOnly: c.errShadowOnly,
        primaryOnly: c.errPrimaryOnly,
        shadowMissing: c.shadowMissing,
        floor: scope.lastFloor.errors_rate,
        skippedSeconds: scope.rateSkips,
        floorFromLiveOnly: scope.floorContradicted ? 1 : 0,
      },
      effectSize: rate(c.shadowFailed - c.primaryFailed, c.pairs),
      eValue:
        errShares > 0
          ? (share.errors_paired * e('errors_paired') +
              share.errors_rate * e('errors_rate') +
              share.errors_recent * e('errors_recent')) /
            errShares
          : 1,
      weight: scope.weight * errShares,
    },
    {
      ...base,
      name: 'latency_shift',
      counts: {
        latPairs: c.latPairs,
        shadowSlower: c.latShadowSlower,
        primarySlower: c.latPrimarySlower,
        meanDeltaUs: c.latPairs > 0 ? c.latDeltaSumUs / c.latPairs : 0,
      },
      effectSize: rate(c.latShadowSlower - c.latPrimarySlower, c.latShadowSlower + c.latPrimarySlower),
      eValue: e('latency_shift'),
      weight: scope.weight * share.latency_shift,
    },
    {
      ...base,
      name: 'latency_tail',
      counts: { shadowOnly: c.tailShadowOnly, primaryOnly: c.tailPrimaryOnly },
      effectSize: rate(c.tailShadowOnly - c.tailPrimaryOnly, c.tailShadowOnly + c.tailPrimaryOnly),
      eValue: e('latency_tail'),
      weight: scope.weight * share.latency_tail,
    },
    {
      ...base,
      name: 'status_mismatch',
      counts: {
        pairs: c.pairs,
        mismatches: c.statusMismatch,
        changesBesideFailures: statusChanges(c),
        floor: scope.lastFloor.status_mismatch,
      },
      effectSize: rate(statusChanges(c), c.pairs) - scope.lastFloor.status_mismatch,
      eValue: e('status_mismatch'),
      weight: scope.weight * share.status_mismatch,
    },
    {
      ...base,
      name: 'body_mismatch',
      counts: {
        pairs: c.pairs - c.statusMismatch,
        mismatches: c.bodyMismatch,
        floor: scope.lastFloor.body_mismatch,
      },
      effectSize: rate(c.bodyMismatch, c.pairs - c.statusMismatch) - scope.lastFloor.body_mismatch,
      eValue: e('body_mismatch'),
      weight: scope.weight * share.body_mismatch,
    },
  ];
  return out.sort((a, b) => b.eValue * b.weight - a.eValue * a.weight);
}

/**
 * Seconds until the score reaches the threshold if it keeps growing as it
 * did over the last seconds (least-squares slope of log10 E per second);
 * null when it is not growing, 0 when already there.
 */
export function predictSeconds(s: JudgeState, score: number, t: number): number | null {
  if (score >= t) return 0;
  const h = s.scores.slice(-GROWTH_WINDOW);
  if (h.length < 3) return null;
  const mx = h.reduce((a, p) => a + p.second, 0) / h.length;
  const my = h.reduce((a, p) => a + p.score, 0) / h.length;
  let num = 0;
  let den = 0;
  for (const p of h) {
    num += (p.second - mx) * (p.score - my);
    den += (p.second - mx) ** 2;
  }
  const slope = den > 0 ? num / den : 0;
  if (!(slope > 1e-6)) return null;
  return (t - score) / slope;
}
