/**
 * The judge as a replay hook: one judge state per service, fed every final
 * second's cells in order, exactly as the daemon's judging loop feeds a
 * shadowing phase. Pure computation over the cells: replaying the same input
 * gives the same verdicts.
 */
import type { CellStats } from '../aggregate/stats.js';
import {
  DEFAULT_JUDGE_PARAMS,
  initialJudgeState,
  type JudgeParams,
  type JudgeState,
  judge,
} from '../judge/index.js';
import { defaultModel, type Model } from '../model/model.js';
import type { ReplayJudge, ReplayVerdict } from './replay.js';

export interface ReplayJudgeOptions {
  params?: Partial<JudgeParams>;
  model?: Model;
}

export function judgeHook(o: ReplayJudgeOptions = {}): ReplayJudge {
  const params: JudgeParams = { ...DEFAULT_JUDGE_PARAMS, ...o.params };
  const model = o.model ?? defaultModel();
  const states = new Map<string, JudgeState>();
  return (cells: CellStats[]): ReplayVerdict[] => {
    const byService = new Map<string, CellStats[]>();
    for (const c of cells) {
      const list = byService.get(c.key.service);
      if (list) list.push(c);
      else byService.set(c.key.service, [c]);
    }
    const out: ReplayVerdict[] = [];
    for (const [service, list] of byService) {
      const r = judge(states.get(service) ?? initialJudgeState(), list, model, params);
      states.set(service, r.state);
      const v = r.verdict;
      out.push({
        service,
        verdict: v.verdict,
        score: v.score,
        threshold: v.threshold,
        culprits: v.culprits,
        reason: v.reason,
        predictedSecondsToThreshold: v.explanation.predictedSecondsToThreshold,
      });
    }
    return out;
  };
}
