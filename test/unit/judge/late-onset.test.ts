import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PairedCounts } from '../../../daemon/aggregate/stats.js';
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
function secondsToDetect(
  seed: number,
  cellAt: (t: number) => CellSpec = errorsFromMinute,
  burst: (t: number) => boolean = () => false,
): number | null {
  const r = rng(seed);
  let state = initialJudgeState();
  for (let t = 0; t < 120; t++) {
    const cell = simulateCell(r, cellAt(t), 1000 + t);
    if (burst(t)) sharedBurst(cell.candidate);
    const v = judge(state, [cell], trained(), DEFAULT_JUDGE_PARAMS);
    state = v.state;
    if (v.verdict.verdict === 'rollback') return t < 60 ? -1 : t + 1 - 60;
  }
  return null;
}

/**
 * One second of a shared-dependency burst on top of the pairs: 12 of them
 * failed in both arms, and 3 in each arm alone (what a failing database
 * does to both versions at once).
 */
function sharedBurst(c: PairedCounts): void {
  c.primaryFailed += 15;
  c.shadowFailed += 15;
  c.errPrimaryOnly += 3;
  c.errShadowOnly += 3;
  c.statusMismatch += 6;
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

describe('judge: a regression after a shared-dependency burst', () => {
  it('is caught as fast as without it: failures of both arms at once do not contradict the trained floor', () => {
    // +1 % from 60 s; a burst at 20–23 s. Measured: 14 s median with or without the burst; 31 s when
    // the burst's one-armed failures contradicted the floor (the live primary then set it, burst included).
    const onePercent = (t: number): CellSpec => spec({ shadow: { errorRate: t < 60 ? 0.002 : 0.012 } });
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
    const burst = seeds.map((seed) => secondsToDetect(seed, onePercent, (t) => t >= 20 && t < 24));
    const quiet = seeds.map((seed) => secondsToDetect(seed, onePercent));
    assert.ok(
      burst.every((x) => x !== null && x > 0),
      `every run detected after the onset: ${burst}`,
    );
    const median = (xs: (number | null)[]): number => {
      const s = (xs as number[]).slice().sort((a, b) => a - b);
      return (s[3]! + s[4]!) / 2;
    };
    assert.ok(median(burst) <= median(quiet) + 2, `seconds to detect ${burst}, without the burst ${quiet}`);
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
