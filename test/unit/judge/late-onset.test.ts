import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_JUDGE_PARAMS, initialJudgeState, judge } from '../../../daemon/judge/index.js';
import type { Model } from '../../../daemon/model/model.js';
import { type CellSpec, modelWithFloor, rng, simulateCell, spec } from './sim.js';

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
function secondsToDetect(seed: number, cellAt: (t: number) => CellSpec = errorsFromMinute): number | null {
  const r = rng(seed);
  let state = initialJudgeState();
  for (let t = 0; t < 120; t++) {
    const cell = simulateCell(r, cellAt(t), 1000 + t);
    const v = judge(state, [cell], trained(), DEFAULT_JUDGE_PARAMS);
    state = v.state;
    if (v.verdict.verdict === 'rollback') return t < 60 ? -1 : t + 1 - 60;
  }
  return null;
}

function errorsFromMinute(t: number): CellSpec {
  return spec({ shadow: { errorRate: t < 60 ? 0.002 : 0.022 } });
}

/** The candidate's median +LAT_SHIFT from 60 s on, 30 pairs a second (one endpoint of a small service). */
const LAT_SHIFT = 0.12;
/** Median seconds to detect: 14 with the recent bet, 28.5 with the fixed-prior mixture alone. */
const MEDIAN_S = 20;
function latencyFromMinute(t: number): CellSpec {
  return spec({ pairsPerSecond: 30, shadow: { latencyFactor: t < 60 ? 1 : 1 + LAT_SHIFT } });
}

describe('judge: a regression that starts late in a run', () => {
  it('is caught about as fast as one from the start: a healthy minute does not blunt the error tests', () => {
    const ttd = [1, 2, 3, 4, 5, 6].map((seed) => secondsToDetect(seed));
    assert.ok(
      ttd.every((x) => x !== null && x > 0),
      `every run detected after the onset: ${ttd}`,
    );
    const sorted = (ttd as number[]).sort((a, b) => a - b);
    assert.ok(sorted[3]! <= 8, `median-ish seconds to detect ${sorted}`);
  });
});

describe('judge: a latency shift that starts late in a run', () => {
  it('is bet on within seconds: a healthy minute does not blunt the latency test', () => {
    const ttd = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => secondsToDetect(seed, latencyFromMinute));
    assert.ok(
      ttd.every((x) => x !== null && x > 0),
      `every run detected after the onset: ${ttd}`,
    );
    const sorted = (ttd as number[]).sort((a, b) => a - b);
    assert.ok(sorted[4]! <= MEDIAN_S, `median seconds to detect ${sorted}`);
  });
});
