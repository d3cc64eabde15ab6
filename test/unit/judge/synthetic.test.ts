/**
 * Journeys' endpoints in the judge: their own weight, their own scope, and
 * no say in production's health.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_JUDGE_PARAMS,
  initialJudgeState,
  type JudgeParams,
  type JudgeState,
  judge,
  type Verdict,
} from '../../../daemon/judge/index.js';
import { assignedWeight, scopeKey } from '../../../daemon/judge/scopes.js';
import { defaultModel } from '../../../daemon/model/model.js';
import { type CellSpec, rng, simulateCell, spec } from './sim.js';

const T0 = 1_700_000_000;
const JOURNEY = 'synthetic:checkout/pay';
const PARAMS: JudgeParams = { ...DEFAULT_JUDGE_PARAMS, synthetic: { [JOURNEY]: 0.2 } };

/** `seconds` of real traffic, plus one journey pair every `every` seconds. */
function run(
  real: CellSpec,
  journey: CellSpec,
  every: number,
  seconds: number,
  params: JudgeParams,
): { verdicts: Verdict[]; state: JudgeState } {
  const r = rng(7);
  let state = initialJudgeState();
  const out: Verdict[] = [];
  for (let t = 0; t < seconds; t++) {
    const cells = [simulateCell(r, real, T0 + t)];
    if (t % every === 0) cells.push(simulateCell(r, journey, T0 + t));
    const v = judge(state, cells, defaultModel(), params);
    state = v.state;
    out.push(v.verdict);
  }
  return { verdicts: out, state };
}

test('a journey that fails on the candidate only is caught on its own endpoint, within 30 s at one run every 5 s', () => {
  const real = spec({ endpoint: 'GET /a', pairsPerSecond: 20 });
  const journey = spec({ endpoint: JOURNEY, segment: '', pairsPerSecond: 1, shadow: { errorRate: 1 } });
  const vs = run(real, journey, 5, 60, PARAMS).verdicts;
  const first = vs.findIndex((v) => v.verdict === 'rollback');
  assert.ok(first >= 0 && first <= 30, `rolled back at ${first} s`);
  assert.deepEqual(
    vs[first]!.culprits.map((c) => c.endpoint),
    [JOURNEY],
  );
});

test('a journey that fails on both versions alike neither rolls back nor makes production look unhealthy', () => {
  const real = spec({ endpoint: 'GET /a', pairsPerSecond: 3 });
  const journey = spec({ endpoint: JOURNEY, segment: '', pairsPerSecond: 1, primary: { errorRate: 1 } });
  const vs = run(real, journey, 1, 120, PARAMS).verdicts;
  assert.equal(vs.filter((v) => v.verdict === 'rollback').length, 0);
  assert.equal(vs.at(-1)!.verdict, 'healthy', vs.at(-1)!.reason ?? '');
});

test('the journey scope has the configured weight; the service scope counts real pairs only; weights sum to at most 1', () => {
  const real = spec({ endpoint: 'GET /a', pairsPerSecond: 20 });
  const journey = spec({ endpoint: JOURNEY, segment: '', pairsPerSecond: 1 });
  const { state } = run(real, journey, 1, 10, { ...PARAMS, liveCandidateCluster: 'shop-v2' });
  assert.equal(state.scopes[scopeKey(JOURNEY, '*')]?.weight, 0.2);
  assert.equal(state.scopes[scopeKey(JOURNEY, '')], undefined, 'no cell scope for a journey');
  assert.equal(state.scopes[scopeKey('*', '*')]?.cand.pairs, 200);
  assert.ok(assignedWeight(state) + DEFAULT_JUDGE_PARAMS.liveShare <= 1 + 1e-12);
});
