/**
 * A report of a deployment in progress, completed with what the daemon knows
 * now: the judge's latest score (decisions are stored only when the verdict
 * changes or every few seconds), so the live page's score line moves every
 * second. Pure: returns a new report.
 */
import type { DeploymentReport } from './model.js';

/** The judge's latest word, as the judging loop keeps it (controller/evidence.ts). */
export interface LiveScore {
  score: number;
  threshold: number;
  predictedSecondsToThreshold: number | null;
}

/** Appends `live` at `nowMs` to the line of the subject judged in `phase`; a final deployment is returned as it is. */
export function withLiveScore(
  r: DeploymentReport,
  live: LiveScore | undefined,
  phase: string,
  nowMs: number,
): DeploymentReport {
  if (r.deployment.final || !live || !Number.isFinite(live.score)) return r;
  const last = r.score.at[r.score.at.length - 1];
  if (last !== undefined && last >= nowMs) return r;
  const restored = phase === 'validating';
  const s = r.score;
  return {
    ...r,
    score: {
      ...s,
      at: [...s.at, nowMs],
      candidate: [...s.candidate, restored ? null : live.score],
      restored: [...s.restored, restored ? live.score : null],
      threshold: s.at.length > 0 ? s.threshold : live.threshold,
      verdicts: [...s.verdicts, 'live'],
      phases: [...s.phases, phase],
      predictedSecondsToThreshold: live.predictedSecondsToThreshold,
    },
  };
}
