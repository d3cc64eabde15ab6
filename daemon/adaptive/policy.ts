/**
 * Adaptive shadowing: the share of eligible requests mirrored, chosen each
 * second from what the daemon knows. Pure: inputs in, the share in force and
 * the reason out; no clock (seconds come in), no I/O.
 *
 * The rules, first match wins (docs/config.md, "Adaptive shadowing"):
 *
 * 1. Production itself unhealthy → 0 (paused): its failures are nobody's
 *    evidence, and a struggling system needs no extra load. Healthy again,
 *    it resumes at `max` (the calm, like the evidence, paused with it).
 * 2. The shadow pool saturated (CPU, or its latency far above production's)
 *    → half the share in force, never below `min`.
 * 3. A rollback verdict → `min`: the rollout takes it from there.
 * 4. The anomaly score past half the threshold (the candidate looks broken)
 *    → at most 3/4 of `max`: less load on it and its dependencies, while the
 *    verdict, half-way there in log terms, still comes at least 3/4 as fast.
 * 5. Evidence building (score past a quarter of the threshold), or the judge
 *    lacking evidence (warm-up, minimum sample) → toward `max` (doubling per
 *    step) while the pool has headroom, unless the verdict is due soon.
 * 6. Judged healthy with a low score for `calmSeconds` in a row → `min`;
 *    before that, the share stays.
 *
 * The share for a request is fixed before its outcome is known: each rule
 * reads only evidence from seconds already closed, and the filters apply the
 * share to requests that arrive after it was sent (docs/judge.md, "Adaptive
 * shadowing and the guarantee").
 */

/** The configured range of the share, in % of eligible requests (0 ≤ min ≤ max ≤ 100, max > 0). */
export interface AdaptiveRange {
  min: number;
  max: number;
}

/** The judge's latest word, as far as the policy reads it. */
export interface JudgeSignal {
  verdict: 'rollback' | 'healthy' | 'insufficient';
  /** Why insufficient, else null. */
  reason: string | null;
  /** log10 of the e-value. */
  score: number;
  threshold: number;
  /** Predicted seconds until the score reaches the threshold at the present rate, if it climbs. */
  predictedSecondsToThreshold: number | null;
}

/** How loaded the shadow pool is. An absent figure is unknown: never read as saturation. */
export interface PoolLoad {
  /** Mean CPU of the pool's instances, % of one core. */
  cpuPercent?: number;
  /** Mean latency of the mirrored copies ÷ mean latency of their production originals. */
  latencyRatio?: number;
}

export interface ShareInputs {
  /** The second these inputs describe (closed seconds only). */
  second: number;
  /** Null before the judge's first word in this phase. */
  judge: JudgeSignal | null;
  /** Production's own health; a reason when unhealthy. */
  production: { healthy: true } | { healthy: false; reason: string };
  pool: PoolLoad;
}

/** What the policy remembers between steps. */
export interface ShareState {
  /** The share in force (%). */
  share: number;
  /** The first second of the present calm (healthy, low score) run, or null. */
  calmSince: number | null;
  /** The share is 0 because production was unhealthy (not because min is 0). */
  paused?: boolean;
}

export interface ShareStep {
  state: ShareState;
  /** Why the share is what it is now (also when unchanged). */
  reason: string;
}

export interface ShareTuning {
  /** Seconds of calm before the share drops to min. */
  calmSeconds: number;
  /** CPU (% of a core) at or above which the pool is saturated, and below which it has headroom. */
  cpuSaturated: number;
  cpuHeadroom: number;
  /** Latency ratio at or above which the pool is saturated, and below which it has headroom. */
  latencySaturated: number;
  latencyHeadroom: number;
  /** A verdict predicted within this many seconds is not hurried by raising the share. */
  soonSeconds: number;
}

export const DEFAULT_SHARE_TUNING: ShareTuning = {
  calmSeconds: 15,
  cpuSaturated: 85,
  cpuHeadroom: 70,
  latencySaturated: 3,
  latencyHeadroom: 1.5,
  soonSeconds: 5,
};

/** A phase begins at `max`: nothing is known yet, and evidence is what is lacking. */
export function initialShare(range: AdaptiveRange): ShareState {
  return { share: range.max, calmSince: null };
}

/** Shares are kept to 0.01 %: the filter's resolution is far finer, and equal shares send nothing. */
function round(p: number): number {
  return Math.round(p * 100) / 100;
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

/** Why the pool is saturated, or null. */
function saturated(pool: PoolLoad, t: ShareTuning): string | null {
  if (pool.cpuPercent !== undefined && pool.cpuPercent >= t.cpuSaturated)
    return `shadow pool saturated (CPU ${Math.round(pool.cpuPercent)}% of a core)`;
  if (pool.latencyRatio !== undefined && pool.latencyRatio >= t.latencySaturated)
    return `shadow pool saturated (latency ${pool.latencyRatio.toFixed(1)}× production's)`;
  return null;
}

/** Why the pool has no headroom to take more, or null. */
function noHeadroom(pool: PoolLoad, t: ShareTuning): string | null {
  if (pool.cpuPercent !== undefined && pool.cpuPercent >= t.cpuHeadroom)
    return `no headroom (CPU ${Math.round(pool.cpuPercent)}% of a core)`;
  if (pool.latencyRatio !== undefined && pool.latencyRatio >= t.latencyHeadroom)
    return `no headroom (latency ${pool.latencyRatio.toFixed(1)}× production's)`;
  return null;
}

/** The share for the next requests, from the share in force and this second's inputs. */
export function nextShare(
  range: AdaptiveRange,
  state: ShareState,
  input: ShareInputs,
  tuning: ShareTuning = DEFAULT_SHARE_TUNING,
): ShareStep {
  const { min, max } = range;
  const j = input.judge;
  const calm =
    j !== null && j.verdict === 'healthy' && j.score < j.threshold / 4
      ? (state.calmSince ?? input.second)
      : null;
  const to = (share: number, reason: string): ShareStep => ({
    state: { share: round(Math.min(max, Math.max(0, share))), calmSince: calm },
    reason,
  });

  if (!input.production.healthy)
    return {
      state: { share: 0, calmSince: null, paused: true },
      reason: `paused: ${input.production.reason}`,
    };
  const current = Math.max(state.share, 0);
  const full = saturated(input.pool, tuning);
  if (full) return to(Math.max(min, current / 2), full);
  if (state.paused) return to(max, `production healthy again: resuming at ${fmt(max)}%`);
  if (j?.verdict === 'rollback') return to(min, `rollback verdict (score ${j.score.toFixed(2)})`);
  if (j && j.score >= j.threshold / 2) {
    const cap = Math.max(min, (3 * max) / 4);
    return to(
      Math.min(Math.max(current, min), cap),
      `anomaly score ${j.score.toFixed(2)} of ${j.threshold}: less load on a candidate that looks broken`,
    );
  }
  const building = j !== null && j.score >= j.threshold / 4;
  if (j === null || j.verdict === 'insufficient' || building) {
    const why = building
      ? `evidence building (score ${j!.score.toFixed(2)} of ${j!.threshold})`
      : `judge lacks evidence (${j?.reason ?? 'no verdict yet'})`;
    const soon = j?.predictedSecondsToThreshold;
    if (soon !== null && soon !== undefined && soon <= tuning.soonSeconds)
      return to(Math.max(current, min), `${why}; verdict due in ${Math.round(soon)} s`);
    const held = noHeadroom(input.pool, tuning);
    if (held) return to(Math.max(current, min), `${why}; ${held}`);
    return to(Math.max(min, current > 0 ? current * 2 : max), `${why}: raising toward ${fmt(max)}%`);
  }
  // Healthy with a low score.
  const calmFor = input.second - calm! + 1;
  if (calmFor >= tuning.calmSeconds) return to(min, `judged healthy for ${calmFor} s: holding ${fmt(min)}%`);
  return to(
    Math.max(current, min),
    `judged healthy for ${calmFor} s of ${tuning.calmSeconds}: keeping the share`,
  );
}
