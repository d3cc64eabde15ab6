/**
 * Cold starts: a candidate slower only in its first seconds (a cold JIT or
 * cache) and then as fast as production gives the latency tests real
 * evidence — it *was* slower — that they never forget. A latency rollback
 * is therefore held while the excess is fading: over the scope's last
 * {@link FADE_WINDOW_S} seconds, the paired latency excess (mean shadow −
 * primary delta over the primary's latency per second: the relative excess,
 * which the mix of endpoints in a second does not move), fitted within each
 * endpoint × segment cell the scope holds, is falling (a negative trend
 * at z ≤ −2), or is not clearly there any more (neither the window's mean
 * nor its last {@link RECENT_LEVEL_S} seconds' at z ≥ 3), and until
 * {@link MIN_TREND_S} seconds show a trend at all. A candidate
 * slower from its first second that stays slower shows a flat, clearly
 * positive excess and is rolled back as before. Holding only withholds a
 * rollback, so the false-rollback bound is untouched. Pure.
 */
import { ALL } from './scopes.js';
import type { JudgeState, ScopeState } from './types.js';

/** Reasons a latency rollback is held (the verdict's `reason`). */
export const LATENCY_TOO_EARLY = 'latency excess: too few seconds yet to tell a cold start from a regression';
export const LATENCY_FADING = 'latency excess fading (a cold start): rollback held, latency tests restarted';

/** Seconds of per-second latency excess kept per scope and fitted. */
export const FADE_WINDOW_S = 20;
/** A trend this many standard errors below zero is a fading excess (a regression that stays is only delayed by a false "fading"). */
const FADING_Z = -2;
/** The window's mean excess must be this many standard errors above zero to be "still slower". */
const PRESENT_Z = 3;
/**
 * Seconds of excess needed before a trend can tell a cold start from a
 * regression; until then, held. 10 let the weakest cold start of the suite
 * (+54 % falling to 0 over 20 s) through once in 8; 12 none in 16, for 2 s
 * more on a regression present from the first second.
 */
export const MIN_TREND_S = 12;

/** Adds one second's paired latency excess to a scope, keeping the window. */
export function recordLatency(
  scope: ScopeState,
  second: number,
  pairs: number,
  deltaUs: number,
  primaryUs: number,
): void {
  const lat = (scope.lat ??= []);
  if (pairs > 0 && primaryUs > 0) lat.push({ second, pairs, deltaUs, primaryUs });
  while (lat.length > 0 && lat[0]!.second <= second - FADE_WINDOW_S) lat.shift();
}

/**
 * Seconds at the end of the window whose mean excess tells whether the
 * excess is there *now*: a shift that began a few seconds ago is diluted in
 * the whole window's mean, not in these.
 */
export const RECENT_LEVEL_S = 5;

type LatPoint = NonNullable<ScopeState['lat']>[number];

/**
 * The trend and level of a scope's latency excess over its window (null
 * with under 3 seconds of pairs): the slope's z, the window mean's z, and
 * the z of the mean over its last {@link RECENT_LEVEL_S} seconds (standard
 * errors from the residuals of the line).
 */
function latencyTrend(scope: ScopeState): { slopeZ: number; meanZ: number; recentZ: number } | null {
  return pooledTrend([scope.lat ?? []]);
}

/**
 * The same, over several series at once (the endpoint × segment cells a
 * scope holds), each with its own level and one common slope: the trend
 * *within* each cell. A scope's own per-second excess mixes its endpoints,
 * and which endpoints a second happens to hold moves it (a 3 ms and an
 * 80 ms endpoint differ in their excess' noise); within cells that noise is
 * gone, so a cold start, which slows every endpoint alike, shows its fall
 * sooner. With one series it is {@link latencyTrend}. Null with under 3
 * seconds or no degree of freedom left.
 */
function pooledTrend(
  series: readonly (readonly LatPoint[])[],
): { slopeZ: number; meanZ: number; recentZ: number } | null {
  const y = (p: LatPoint): number => p.deltaUs / p.primaryUs;
  const used = series.filter((pts) => pts.length > 0);
  let n = 0;
  let last = -Infinity;
  for (const pts of used) {
    n += pts.length;
    for (const p of pts) last = Math.max(last, p.second);
  }
  if (used.length === 0 || Math.max(...used.map((pts) => pts.length)) < 3 || n - used.length - 1 < 1)
    return null;
  let w = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  const centres: { mx: number; my: number }[] = [];
  for (const pts of used) {
    let wc = 0;
    let sxc = 0;
    let syc = 0;
    for (const p of pts) {
      wc += p.pairs;
      sxc += p.pairs * p.second;
      syc += p.pairs * y(p);
    }
    const mx = sxc / wc;
    const my = syc / wc;
    centres.push({ mx, my });
    w += wc;
    sy += syc;
    for (const p of pts) {
      const dx = p.second - mx;
      sxx += p.pairs * dx * dx;
      sxy += p.pairs * dx * (y(p) - my);
    }
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  let rss = 0;
  used.forEach((pts, i) => {
    const { mx, my } = centres[i]!;
    for (const p of pts) {
      const r = y(p) - my - slope * (p.second - mx);
      rss += p.pairs * r * r;
    }
  });
  // Variance of one pair's share of a second's mean, from the residuals (a level per series and one slope fitted).
  const v = rss / (n - used.length - 1);
  const z = (x: number, se: number): number => (se > 0 ? x / se : x > 0 ? Infinity : x < 0 ? -Infinity : 0);
  let wr = 0;
  let syr = 0;
  for (const pts of used) {
    for (const p of pts) {
      if (p.second <= last - RECENT_LEVEL_S) continue;
      wr += p.pairs;
      syr += p.pairs * y(p);
    }
  }
  return {
    slopeZ: z(slope, Math.sqrt(v / sxx)),
    meanZ: z(sy / w, Math.sqrt(v / w)),
    recentZ: z(syr / wr, Math.sqrt(v / wr)),
  };
}

/**
 * Restarts every scope's latency tests (their counts from now on only):
 * what they gathered during a cold start says nothing of the warm
 * candidate. Done only when a latency rollback was held as fading, which
 * under the null needs a threshold crossing first (probability ≤ 10^-t), so
 * the restarted tests keep the bound up to that factor. The trend window
 * is kept.
 */
export function restartLatency(s: JudgeState): void {
  for (const scope of Object.values(s.scopes)) {
    const c = scope.cand;
    c.latShadowSlower = 0;
    c.latPrimarySlower = 0;
    c.tailShadowOnly = 0;
    c.tailPrimaryOnly = 0;
    scope.latencyRecent = 0;
  }
}

/**
 * The endpoint × segment cells a scope holds (a cell holds itself): the
 * series its trend is fitted within. The scope's own series when none is
 * kept.
 */
function seriesOf(s: JudgeState, scope: ScopeState): ScopeState['lat'][] {
  const cells = Object.values(s.scopes).filter(
    (c) =>
      c.endpoint !== ALL &&
      c.segment !== ALL &&
      (scope.endpoint === ALL || c.endpoint === scope.endpoint) &&
      (scope.segment === ALL || c.segment === scope.segment),
  );
  return cells.length > 0 ? cells.map((c) => c.lat) : [scope.lat];
}

/** The scope's trend and level, fitted within its cells ({@link pooledTrend}). */
function scopeTrend(s: JudgeState, scope: ScopeState): ReturnType<typeof pooledTrend> {
  return pooledTrend(seriesOf(s, scope).map((lat) => lat ?? []));
}

/**
 * Whether the scope's excess is clearly falling (enough seconds, trend at z ≤ −2 within its cells or
 * in its own mixed series: each caught cold starts of bench:judge's traps the other missed; holding
 * on either only withholds a rollback).
 */
export function latencyDecaying(s: JudgeState, scope: ScopeState): boolean {
  if ((scope.lat?.length ?? 0) < MIN_TREND_S) return false;
  return [scopeTrend(s, scope), latencyTrend(scope)].some((t) => t !== null && t.slopeZ <= FADING_Z);
}

/**
 * Whether a latency rollback in this scope is held: its excess is falling,
 * or clearly there neither over the window nor over its last seconds (a
 * shift that began a few seconds ago is judged by the last seconds: the
 * window's mean dilutes it, and holding it restarted the latency tests).
 * Trend and level are fitted within the scope's cells and over its own series; either holds.
 */
export function latencyFading(s: JudgeState, scope: ScopeState): boolean {
  if ((scope.lat?.length ?? 0) < MIN_TREND_S) return true;
  return [scopeTrend(s, scope), latencyTrend(scope)].some(
    (t) => t === null || t.slopeZ <= FADING_Z || (t.meanZ < PRESENT_Z && t.recentZ < PRESENT_Z),
  );
}
