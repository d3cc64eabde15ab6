/**
 * The judge: per-second cell statistics in, updated e-processes and a
 * verdict out. Pure: no clock, no I/O; the state is explicit and never
 * mutated in place.
 *
 *   let state = initialJudgeState();
 *   ({ state, verdict } = judge(state, cellsOfTheLastSecond, model, params));
 *
 * Call it with each new batch of cells (one or more seconds; cells of a
 * second should arrive together, once). Within a call, seconds are
 * processed in ascending order and every floor a rate test uses is fixed
 * from the state before that second's counts are added (predictable).
 */
import {
  addPaired,
  type CellStats,
  emptyPaired,
  type PairedCounts,
  type SignalName,
} from '../aggregate/stats.js';
import { floorFor, isBuiltIn, type Model } from '../model/model.js';
import { observeBodies } from './bodies.js';
import { type FailureWindow, failureWindow, sharedBurst } from './bursts.js';
import { clean, num, statusChanges, upperRate } from './counts.js';
import { clearlyAbove, logMixtureE, rateBatchUpdate } from './evalue.js';
import { buildVerdict } from './explain.js';
import { LATENCY_FADING, recordLatency, restartLatency } from './fading.js';
import { errorsRecentBet, latencyRecentBet } from './recent.js';
import { ALL, addScope, scopeKey } from './scopes.js';
import { syntheticWeight } from './synthetic.js';
import { combinedScore } from './terms.js';
import type { JudgeParams, JudgeState, ScopeState, Verdict } from './types.js';

/** A floor at or above this means the signal is not comparable (e.g. dynamic bodies): not tested. */
const NOT_COMPARABLE = 0.97;
const MIN_RATE = 1e-4;
const SCORE_HISTORY = 30;

/**
 * Runs the judge over new cells and decides. Degenerate input (no cells,
 * zero counts, NaN, negative numbers) never throws and never rolls back:
 * non-finite or negative counts are read as zero.
 */
export function judge(
  state: JudgeState,
  cells: readonly CellStats[],
  model: Model,
  params: JudgeParams,
): { state: JudgeState; verdict: Verdict } {
  const s: JudgeState = structuredClone(state);
  const mine: CellStats[] = [];
  for (const c of cells) {
    if (!c?.key || !Number.isFinite(c.key.second)) continue;
    if (s.service === null) s.service = c.key.service;
    if (c.key.service === s.service) mine.push(c);
  }
  let score: number | undefined;
  for (const [second, ofSecond] of bySecond(mine)) {
    stepSecond(s, second, ofSecond, model, params);
    score = combinedScore(s, model, params);
    s.scores.push({ second, score });
    if (s.scores.length > SCORE_HISTORY) s.scores.splice(0, s.scores.length - SCORE_HISTORY);
  }
  score ??= combinedScore(s, model, params);
  const verdict = buildVerdict(s, score, model, params, productionUnhealthy(s, params));
  if (verdict.reason === LATENCY_FADING) restartLatency(s);
  return { state: s, verdict };
}

/** Cells grouped by second, seconds in ascending order (each second's cells in their given order). */
export function bySecond(cells: readonly CellStats[]): [number, CellStats[]][] {
  const groups = new Map<number, CellStats[]>();
  for (const c of cells) {
    const list = groups.get(c.key.second);
    if (list) list.push(c);
    else groups.set(c.key.second, [c]);
  }
  return [...groups].sort(([a], [b]) => a - b);
}

interface Batch {
  cand: PairedCounts;
  base: PairedCounts;
  /** Σ pairs × floor, per rate test (the floor of a mixed scope is the pair-weighted mean). */
  floorErr: number;
  floorStatus: number;
  floorBody: number;
  /** Σ pairs × primary error floor. */
  floorPrimary: number;
  /** Live (unmirrored) production requests and failures, and Σ requests × primary error floor. */
  liveRequests: number;
  liveFailed: number;
  floorLive: number;
  examples: Partial<Record<SignalName, string[]>>;
}

/** Live requests served by production (every cluster but the candidate's). */
function productionLive(
  cell: CellStats,
  candidate: string | undefined,
): { requests: number; failed: number } {
  let requests = 0;
  let failed = 0;
  for (const [cluster, c] of Object.entries(cell.live ?? {})) {
    if (cluster === candidate) continue;
    const r = num(c?.requests);
    requests += r;
    failed += Math.min(num(c?.failed), r);
  }
  return { requests, failed };
}

function stepSecond(
  s: JudgeState,
  second: number,
  cells: CellStats[],
  model: Model,
  params: JudgeParams,
): void {
  if (s.firstSecond === null) s.firstSecond = second;
  s.lastSecond = s.lastSecond === null ? second : Math.max(s.lastSecond, second);
  const warm = second >= s.firstSecond + params.warmupSeconds;
  const latWarm = second >= s.firstSecond + params.latencyWarmupSeconds;

  const batches = new Map<string, Batch>();
  let pairs = 0;
  let primaryFailed = 0;
  observeBodies(s, cells);
  for (const cell of cells) {
    const cand = clean(cell.candidate);
    const base = clean(cell.baseline);
    const prod = productionLive(cell, params.liveCandidateCluster);
    // A journey's cells are its endpoint's alone (synthetic.ts): not users, not production's health.
    const synthetic = syntheticWeight(params, cell.key.endpoint) !== undefined;
    if (!synthetic) {
      pairs += cand.pairs;
      primaryFailed += cand.primaryFailed;
    }
    const f = floorFor(model, cell.key.endpoint);
    const infl = Math.max(1, model.params.floorInflation);
    const ep = cell.key.endpoint;
    const seg = cell.key.segment;
    // A learned body floor holds only once the primary's own bodies show them deterministic.
    const bodyRate = f.bodyMismatchRate >= 1 || s.bodies?.[ep]?.state !== 'stable' ? 1 : f.bodyMismatchRate;
    const keys = synthetic
      ? [scopeKey(ep, ALL)]
      : [scopeKey(ep, seg), scopeKey(ep, ALL), scopeKey(ALL, seg), scopeKey(ALL, ALL)];
    for (const key of keys) {
      let b = batches.get(key);
      if (!b) {
        b = {
          cand: emptyPaired(),
          base: emptyPaired(),
          floorErr: 0,
          floorStatus: 0,
          floorBody: 0,
          floorPrimary: 0,
          liveRequests: 0,
          liveFailed: 0,
          floorLive: 0,
          examples: {},
        };
        batches.set(key, b);
      }
      addPaired(b.cand, cand);
      addPaired(b.base, base);
      b.floorErr += cand.pairs * Math.min(1, f.discordantErrorRate * infl);
      b.floorStatus += cand.pairs * Math.min(1, f.statusMismatchRate * infl);
      b.floorBody += cand.pairs * (bodyRate >= 1 ? 1 : Math.min(1, bodyRate * infl));
      b.floorPrimary += cand.pairs * Math.min(1, f.primaryErrorRate * infl);
      b.liveRequests += prod.requests;
      b.liveFailed += prod.failed;
      b.floorLive += prod.requests * Math.min(1, f.primaryErrorRate * infl);
      mergeExamples(b.examples, cell.examples, params.examples);
    }
  }
  s.health.push({ second, pairs, primaryFailed });
  s.health = s.health.filter((h) => h.second > second - params.healthWindowSeconds);
  const unhealthy = productionUnhealthy(s, params);
  const serviceKey = scopeKey(ALL, ALL);
  const serviceBatch = batches.get(serviceKey);
  const service = serviceBatch && (s.scopes[serviceKey] ?? addScope(s, params, model, ALL, ALL));
  const burst =
    warm &&
    serviceBatch !== undefined &&
    service !== undefined &&
    burstIn(service, serviceBatch, model, failureWindow(service, serviceBatch.cand));

  for (const key of [...batches.keys()].sort()) {
    const b = batches.get(key)!;
    const [endpoint, segment] = key.split('\u0000') as [string, string];
    const scope = s.scopes[key] ?? addScope(s, params, model, endpoint, segment);
    if (!scope || !warm) continue;
    recordLatency(scope, second, b.cand.latPairs, b.cand.latDeltaSumUs, b.cand.latPrimarySumUs);
    updateRateTests(scope, b, model, unhealthy, serviceFloorContradicted(s), burst);
    if (!latWarm) {
      b.cand.latShadowSlower = 0;
      b.cand.latPrimarySlower = 0;
      b.cand.tailShadowOnly = 0;
      b.cand.tailPrimaryOnly = 0;
      b.cand.latDeltaSumUs = 0;
      b.cand.latPairs = 0;
    } else {
      scope.latencyRecent =
        (scope.latencyRecent ?? 0) + latencyRecentBet(scope, b.cand.latShadowSlower, b.cand.latPrimarySlower);
    }
    addPaired(scope.cand, b.cand);
    addPaired(scope.base, b.base);
    scope.recent.push({
      second,
      pairs: b.cand.pairs,
      primaryOnly: b.cand.errPrimaryOnly,
      primaryFailed: b.cand.primaryFailed,
      shadowOnly: b.cand.errShadowOnly,
      latShadowSlower: b.cand.latShadowSlower,
      latPrimarySlower: b.cand.latPrimarySlower,
    });
    scope.recent = scope.recent.filter((r) => r.second > second - params.healthWindowSeconds);
    mergeExamples(scope.examples, b.examples, params.examples);
  }
  if (warm && params.liveCandidateCluster) updateLive(s, cells, model, params.liveCandidateCluster);
}

/**
 * The three rate tests of one scope for one second. Floors come from the
 * model (inflated as training decided), raised by what the live run has
 * already shown (the primary arm's own discordant failures, the baseline
 * arm's mismatches: Diffy's idea of measuring noise with a second copy of
 * production), all from counts before this second.
 */
function updateRateTests(
  scope: ScopeState,
  b: Batch,
  model: Model,
  unhealthy: boolean,
  historyStale: boolean,
  serviceBurst: boolean,
): void {
  const n = b.cand.pairs;
  if (!(n > 0)) return;
  const mix = model.params.rateMixture;
  const n0 = Math.max(0, model.params.priorStrength);
  const builtIn = isBuiltIn(model);

  // Errors against the floor: shadow-only failures vs the discordant rate production shows.
  const floorErr = b.floorErr / n;
  const primaryFloor = clamp(Math.max(b.floorPrimary / n, floorErr), MIN_RATE, 0.5);
  const w = failureWindow(scope, b.cand);
  const kp = w.primaryOnly;
  const kf = w.primaryFailed;
  const nw = w.pairs;
  // A burst is the service's: seen there first (most pairs), every scope stands aside.
  const shared = serviceBurst || burstIn(scope, b, model, w);
  // What the primary arm showed so far, in the seconds without a burst (this one's counts come after).
  const quiet = (scope.quiet ??= { pairs: 0, primaryOnly: 0 });
  // Whether the present could have contradicted the floor yet is decided before this second is seen.
  // A journey's floor is a prior on a check the user wrote, at a few runs a minute: waiting until it
  // predicted a failure would leave journeys no power (judge.md, "Journeys").
  const unchecked = !scope.journey && (scope.floorExposure ?? 0) < FLOOR_CHECKED_EVENTS;
  let p0: number;
  if (!shared) checkFloor(scope, b, clamp(floorErr, MIN_RATE, 0.5), mix, historyStale);
  scope.floorUnchecked = unchecked && !scope.floorContradicted;
  if (scope.floorContradicted || (builtIn && !scope.journey)) {
    // History was wrong here, or there is none: only the live primary arm, by an upper bound of its rate,
    // sets the floor. The built-in floor (0.5 %) describes no service in particular; blended with the
    // primary arm's rate so far (a point estimate), it sat below production's rate whenever the primary
    // happened to fail less often than its rate, and the rate tests then bet against a healthy candidate
    // (judge.md, "Without history, the floor is production's own upper bound").
    p0 = Math.max(floorErr, upperRate(quiet.primaryOnly, quiet.pairs));
  } else {
    p0 = Math.max(floorErr, (quiet.primaryOnly + floorErr * n0) / (quiet.pairs + n0 || 1));
  }
  // Not checked yet: trusted only down to the rate the check has seen FLOOR_CHECKED_EVENTS failures' worth of.
  if (scope.floorUnchecked)
    p0 = Math.max(p0, (quiet.primaryOnly + FLOOR_CHECKED_EVENTS) / (quiet.pairs || 1));
  if (!shared) {
    quiet.pairs += n;
    quiet.primaryOnly += b.cand.errPrimaryOnly;
  }
  p0 = clamp(p0, MIN_RATE, 0.5);
  scope.lastFloor.errors_rate = p0;
  // Shared-dependency bursts fail the primary too (mostly both arms at once): during a burst
  // (bursts.ts), and while the primary arm's failures or its discordant ones are clearly above
  // their floors, the test stands aside.
  if (unhealthy || shared || clearlyAbove(kp, nw, p0) || clearlyAbove(kf, nw, primaryFloor)) {
    scope.rateSkips += 1;
  } else {
    scope.wealth.errors_rate = rateBatchUpdate(scope.wealth.errors_rate, b.cand.errShadowOnly, n, p0, mix);
    scope.errorsRecent = (scope.errorsRecent ?? 0) + errorsRecentBet(scope, b.cand.errShadowOnly, n, p0);
  }
  if (unhealthy) return;

  const statusFloor = withBaseline(b.floorStatus / n, statusChanges(scope.base), scope.base.pairs, n0);
  scope.lastFloor.status_mismatch = statusFloor;
  if (statusFloor < NOT_COMPARABLE) {
    const p = Math.max(statusFloor, MIN_RATE);
    scope.wealth.status_mismatch = rateBatchUpdate(
      scope.wealth.status_mismatch,
      statusChanges(b.cand),
      n,
      p,
      mix,
    );
  }
  const bodyFloor = withBaseline(b.floorBody / n, scope.base.bodyMismatch, scope.base.pairs, n0);
  scope.lastFloor.body_mismatch = bodyFloor;
  const nb = n - b.cand.statusMismatch;
  if (bodyFloor < NOT_COMPARABLE && nb > 0) {
    const p = Math.max(bodyFloor, MIN_RATE);
    scope.wealth.body_mismatch = rateBatchUpdate(scope.wealth.body_mismatch, b.cand.bodyMismatch, nb, p, mix);
  }
}

/**
 * A shared-dependency burst in this scope's window `w` (bursts.ts: its recent seconds and this one),
 * against the model's rate of failures of both arms.
 */
function burstIn(scope: ScopeState, b: Batch, model: Model, w: FailureWindow): boolean {
  const n = b.cand.pairs;
  if (!(n > 0)) return false;
  const modelBoth = Math.max(0, b.floorPrimary / n - b.floorErr / n);
  return sharedBurst(scope, w, modelBoth, Math.max(0, model.params.priorStrength));
}

/**
 * Failures a scope's floor must have predicted among the pairs (and production's live requests) its
 * check has seen before the scope's error-rate tests bet against it alone: until then the present
 * has not had a chance to contradict it. A floor 10–30× too low shows in the primary arm's first
 * few failures, but a scope sees its first ones only after seconds, and meanwhile the candidate's
 * own first failures (under the null a copy of the primary's) would bet against a floor nobody
 * checked. So until then the floor is trusted only down to the rate at which the primary arm's
 * pairs so far hold one failure more than they showed ((k + 1) / n), fixed before the second: a
 * smooth form of the same rule (at k = 0 it is the floor once n × floor reaches one), still a valid
 * test, and a large excess still counts. Every scope alike, the service too (with a floor of 0.1 %
 * its first 1000 pairs check it; with live records, ten times as many requests, about a second).
 */
const FLOOR_CHECKED_EVENTS = 1;

/** log of the e-value at which the primary arm is taken to contradict the learned floor. */
const FLOOR_CHECK_LOG = Math.log(3);

/**
 * Is production's own failure rate what history says? Two checks: the live
 * (unmirrored) production requests against the learned primary error rate —
 * usually many times the mirrored sample, so a wrong floor shows there long
 * before the candidate's few failures can exploit it — and the primary-only
 * stream of the pairs, which under the null is a copy of the shadow-only
 * stream, against the discordant floor. Once it reaches
 * {@link FLOOR_CHECK_LOG} the floor is contradicted for this scope (for
 * good): evidence the error-rate test gathered against it is dropped
 * (capped at E = 1) and from then on only the live primary arm sets the
 * floor. This keeps the trained test honest when history is wrong.
 */
function checkFloor(
  scope: ScopeState,
  b: Batch,
  floor: number,
  mix: Model['params']['rateMixture'],
  historyStale: boolean,
): void {
  if (scope.floorContradicted) return;
  if (historyStale) {
    contradictFloor(scope);
    return;
  }
  scope.floorCheck = rateBatchUpdate(scope.floorCheck, b.cand.errPrimaryOnly, b.cand.pairs, floor, mix);
  scope.floorExposure = (scope.floorExposure ?? 0) + b.cand.pairs * floor;
  if (b.liveRequests > 0) {
    const liveFloor = clamp(b.floorLive / b.liveRequests, MIN_RATE, 0.5);
    scope.floorExposure += b.liveRequests * liveFloor;
    scope.floorCheckLive = rateBatchUpdate(
      scope.floorCheckLive,
      b.liveFailed,
      b.liveRequests,
      liveFloor,
      mix,
    );
  }
  if (Math.max(logMixtureE(scope.floorCheck, mix), logMixtureE(scope.floorCheckLive, mix)) < FLOOR_CHECK_LOG)
    return;
  contradictFloor(scope);
}

/** The learned error floor is wrong here: evidence gathered against it is dropped; the live primary arm sets it. */
function contradictFloor(scope: ScopeState): void {
  scope.floorContradicted = true;
  scope.wealth.errors_rate = scope.wealth.errors_rate.map((w) => Math.min(w, 0));
  scope.errorsRecent = Math.min(scope.errorsRecent ?? 0, 0);
}

/**
 * Stale history is the service's, not one endpoint's: once production's own
 * failures contradict the service-wide floor (where most pairs are, so it
 * shows first), no scope's learned floor is trusted any more. An endpoint
 * whose own primary arm happened to fail rarely so far would otherwise keep
 * a floor the service has outgrown and race its candidate's failures
 * against it. Only ever withholds evidence.
 */
function serviceFloorContradicted(s: JudgeState): boolean {
  return s.scopes[scopeKey(ALL, ALL)]?.floorContradicted === true;
}

/** A floor raised to what the baseline arm shows, when a baseline runs (model floor as prior). */
function withBaseline(floor: number, k: number, n: number, n0: number): number {
  if (!(n > 0)) return floor;
  const live = (k + floor * n0) / (n + n0);
  return Math.max(floor, live);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/**
 * Live (unpaired) evidence for weighted promotion: among failed live
 * requests of a cell, how many did the candidate serve, against its traffic
 * share p₀ in that cell and second. With equal failure rates the count is
 * hypergeometric given the totals, which the binomial(F, p₀) dominates in
 * convex order (Hoeffding 1963, "Probability inequalities for sums of
 * bounded random variables", Thm. 4), so the rate test's factor still has
 * expectation ≤ 1. The same for requests above the tail threshold.
 */
function updateLive(s: JudgeState, cells: CellStats[], model: Model, candidate: string): void {
  const mix = model.params.rateMixture;
  const L = s.live;
  if (L.wealthErrors.length !== mix.length) L.wealthErrors = new Array<number>(mix.length).fill(0);
  if (L.wealthTail.length !== mix.length) L.wealthTail = new Array<number>(mix.length).fill(0);
  for (const cell of cells) {
    let cR = 0;
    let cF = 0;
    let cT = 0;
    let oR = 0;
    let oF = 0;
    let oT = 0;
    for (const [cluster, c] of Object.entries(cell.live ?? {})) {
      if (cluster === candidate) {
        cR += num(c.requests);
        cF += num(c.failed);
        cT += num(c.overTail);
      } else {
        oR += num(c.requests);
        oF += num(c.failed);
        oT += num(c.overTail);
      }
    }
    L.candRequests += cR;
    L.candFailed += cF;
    L.candOverTail += cT;
    L.otherRequests += oR;
    L.otherFailed += oF;
    L.otherOverTail += oT;
    if (!(cR > 0 && oR > 0)) continue;
    const p0 = cR / (cR + oR);
    L.wealthErrors = rateBatchUpdate(L.wealthErrors, Math.min(cF, cR), cF + oF, p0, mix);
    L.wealthTail = rateBatchUpdate(L.wealthTail, Math.min(cT, cR), cT + oT, p0, mix);
  }
}

/** Production is unhealthy when the primary arm's failure rate over the health window reaches the limit. */
export function productionUnhealthy(s: JudgeState, params: JudgeParams): boolean {
  let pairs = 0;
  let failed = 0;
  for (const h of s.health) {
    pairs += h.pairs;
    failed += h.primaryFailed;
  }
  return pairs >= 20 && failed / pairs >= params.unhealthyPrimaryErrorRate;
}

function mergeExamples(
  into: Partial<Record<SignalName, string[]>>,
  from: Partial<Record<SignalName, string[]>> | undefined,
  max: number,
): void {
  if (!from) return;
  for (const [signal, ids] of Object.entries(from) as [SignalName, string[]][]) {
    if (!Array.isArray(ids)) continue;
    const t = (into[signal] ??= []);
    for (const id of ids) if (t.length < max && typeof id === 'string') t.push(id);
  }
}
