/**
 * Runs the judge over a recorded series of cells, second by second, as the
 * daemon would live. Pure; used by training (A/A replay) and the bench.
 */
import type { CellStats } from '../aggregate/stats.js';
import type { Model } from '../model/model.js';
import { bySecond, judge } from './judge.js';
import { initialJudgeState } from './scopes.js';
import type { JudgeParams, Verdict } from './types.js';

export interface TimedVerdict {
  second: number;
  verdict: Verdict;
}

/**
 * Judges `cells` one second at a time (ascending). `stopAtRollback` ends the
 * run at the first rollback, as the rollout machine would.
 */
export function judgeSeries(
  cells: readonly CellStats[],
  model: Model,
  params: JudgeParams,
  stopAtRollback = true,
): TimedVerdict[] {
  let state = initialJudgeState();
  const out: TimedVerdict[] = [];
  for (const [second, ofSecond] of bySecond(cells)) {
    const r = judge(state, ofSecond, model, params);
    state = r.state;
    out.push({ second, verdict: r.verdict });
    if (stopAtRollback && r.verdict.verdict === 'rollback') break;
  }
  return out;
}
