/**
 * The judge's guarantee under adaptive shadowing (docs/judge.md, "Adaptive
 * shadowing and the guarantee"): A/A runs whose share each second is chosen
 * by the policy from the verdicts of the seconds before (predictable
 * sampling) keep false rollbacks under 10^-t. A sampler that looks at a
 * pair's outcome before keeping it breaks the guarantee, and these runs see
 * it: the check has the power to fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AdaptiveRange,
  initialShare,
  nextShare,
  type ShareState,
} from '../../../daemon/adaptive/policy.js';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import {
  DEFAULT_JUDGE_PARAMS,
  initialJudgeState,
  type JudgeParams,
  judge,
} from '../../../daemon/judge/index.js';
import { defaultModel } from '../../../daemon/model/model.js';
import { type CellSpec, rng, simulateCell, spec } from '../judge/sim.js';

const T0 = 1_700_000_000;
const THRESHOLD = 2;
const params: JudgeParams = { ...DEFAULT_JUDGE_PARAMS, anomalyThreshold: THRESHOLD };
/** Production requests per second of each cell; the share decides how many are mirrored. */
const PRODUCTION = [
  { endpoint: 'GET /a', segment: 'eu', rps: 300, medianUs: 3000 },
  { endpoint: 'GET /b', segment: 'eu', rps: 150, medianUs: 20000 },
  { endpoint: 'GET /a', segment: 'us', rps: 100, medianUs: 3000 },
];
const RANGE: AdaptiveRange = { min: 1, max: 20 };

/** Chooses the share for the next second from the verdict of the second just judged. */
type Sampler = (
  state: ShareState,
  verdict: ReturnType<typeof judge>['verdict'],
  second: number,
) => ShareState;

/** The policy as the daemon runs it. */
const policy: Sampler = (state, v, second) =>
  nextShare(RANGE, state, {
    second,
    judge: { ...v, predictedSecondsToThreshold: v.explanation.predictedSecondsToThreshold },
    production: { healthy: true },
    pool: {},
  }).state;

/** As data-dependent as a predictable rule can be: max while the score is above 0, else min, every second. */
const flipFlop: Sampler = (state, v) => ({ ...state, share: v.score > 0 ? RANGE.max : RANGE.min });

/** One A/A run; returns whether it rolled back and the shares it used. */
function aaRun(
  seed: number,
  sampler: Sampler,
  seconds = 60,
  peek = false,
): { rolledBack: boolean; shares: number[] } {
  const r = rng(seed);
  let state = initialJudgeState();
  let share = initialShare(RANGE);
  const shares: number[] = [];
  for (let t = 0; t < seconds; t++) {
    shares.push(share.share);
    const cells = PRODUCTION.map((p) => {
      const s: CellSpec = spec({
        endpoint: p.endpoint,
        segment: p.segment,
        medianUs: p.medianUs,
        pairsPerSecond: Math.round((p.rps * share.share) / 100),
        primary: { errorRate: 0.002 },
      });
      const cell = simulateCell(r, s, T0 + t);
      return peek ? keepUnfavourable(cell) : cell;
    });
    const out = judge(state, cells, defaultModel(), params);
    state = out.state;
    if (out.verdict.verdict === 'rollback') return { rolledBack: true, shares };
    share = sampler(share, out.verdict, T0 + t);
  }
  return { rolledBack: false, shares };
}

/**
 * NOT predictable: drops the pairs whose copy turned out faster than
 * production, or whose production failed alone, after seeing them (a sampler
 * that decides on the outcome).
 */
function keepUnfavourable(c: CellStats): CellStats {
  const p = c.candidate;
  const dropped = p.errPrimaryOnly + p.latPrimarySlower;
  return {
    ...c,
    candidate: {
      ...p,
      pairs: p.pairs - dropped,
      primaryFailed: p.primaryFailed - p.errPrimaryOnly,
      statusMismatch: Math.max(0, p.statusMismatch - p.errPrimaryOnly),
      errPrimaryOnly: 0,
      latPairs: p.latPairs - p.latPrimarySlower,
      latPrimarySlower: 0,
    },
  };
}

describe('adaptive shadowing keeps the judge valid on A/A', () => {
  it(`rolls back fewer than 1 in 100 good versions at t = ${THRESHOLD} under the adaptive policy`, () => {
    const runs = 100;
    let rollbacks = 0;
    let moved = 0;
    for (let i = 0; i < runs; i++) {
      const { rolledBack, shares } = aaRun(9000 + i, policy);
      if (rolledBack) rollbacks++;
      if (new Set(shares).size > 1) moved++;
    }

    assert.ok(rollbacks <= 1, `rollbacks ${rollbacks}/${runs}`);
    assert.ok(moved > runs / 2, `the share moved in ${moved}/${runs} runs: the runs are adaptive`);
  });

  it('stays valid under the most data-dependent predictable sampler (max while the score is above 0)', () => {
    const runs = 100;
    let rollbacks = 0;
    for (let i = 0; i < runs; i++) if (aaRun(12_000 + i, flipFlop).rolledBack) rollbacks++;

    assert.ok(rollbacks <= 1, `rollbacks ${rollbacks}/${runs}`);
  });

  it('a sampler that peeks at the outcome breaks it, and these runs see it', () => {
    const runs = 40;
    let rollbacks = 0;
    for (let i = 0; i < runs; i++) if (aaRun(15_000 + i, policy, 60, true).rolledBack) rollbacks++;

    assert.ok(rollbacks / runs > 0.5, `rollbacks ${rollbacks}/${runs} with an outcome-dependent sampler`);
  });
});
