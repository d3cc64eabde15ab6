import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_JUDGE_PARAMS, initialJudgeState, judge } from '../../../daemon/judge/index.js';
import type { Model } from '../../../daemon/model/model.js';
import { modelWithFloor, rng, simulateCell, spec } from './sim.js';

/** A model whose history says 0.2 % of pairs fail on one arm only. */
function trained(): Model {
  return modelWithFloor({
    discordantErrorRate: 0.002,
    primaryErrorRate: 0.002,
    statusMismatchRate: 0.002,
    bodyMismatchRate: 1,
  });
}

/** Seconds from the onset (at 60 s) of +2 % candidate failures to the first rollback, or null. */
function secondsToDetect(seed: number): number | null {
  const r = rng(seed);
  let state = initialJudgeState();
  for (let t = 0; t < 120; t++) {
    const errorRate = t < 60 ? 0.002 : 0.022;
    const cell = simulateCell(r, spec({ shadow: { errorRate } }), 1000 + t);
    const v = judge(state, [cell], trained(), DEFAULT_JUDGE_PARAMS);
    state = v.state;
    if (v.verdict.verdict === 'rollback') return t < 60 ? -1 : t + 1 - 60;
  }
  return null;
}

describe('judge: a regression that starts late in a run', () => {
  it('is caught about as fast as one from the start: a healthy minute does not blunt the error tests', () => {
    const ttd = [1, 2, 3, 4, 5, 6].map(secondsToDetect);
    assert.ok(
      ttd.every((x) => x !== null && x > 0),
      `every run detected after the onset: ${ttd}`,
    );
    const sorted = (ttd as number[]).sort((a, b) => a - b);
    assert.ok(sorted[3]! <= 8, `median-ish seconds to detect ${sorted}`);
  });
});
