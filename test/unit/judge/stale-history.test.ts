import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { DEFAULT_JUDGE_PARAMS, initialJudgeState, judge, type Verdict } from '../../../daemon/judge/index.js';
import type { Model } from '../../../daemon/model/model.js';
import { modelWithFloor } from './sim.js';

/** A model trained when GET /a's bodies were deterministic (body floor 0.1 %). */
function trained(): Model {
  return modelWithFloor({
    discordantErrorRate: 0.001,
    primaryErrorRate: 0.001,
    statusMismatchRate: 0.001,
    bodyMismatchRate: 0.001,
  });
}

/** One second of GET /a: every pair's bodies differ; 30 primaries had a body hash, `novel` of them new to the endpoint. */
function second(sec: number, novel: number): CellStats {
  const c = emptyPaired();
  c.pairs = 100;
  c.bodyMismatch = 100;
  c.bodyHashed = 30;
  c.bodyNovel = novel;
  return {
    key: { service: 'shop', endpoint: 'GET /a', segment: 'eu', second: sec },
    candidate: c,
    baseline: emptyPaired(),
    live: {},
    examples: {},
  };
}

function run(novel: number, seconds: number): Verdict[] {
  let state = initialJudgeState();
  const out: Verdict[] = [];
  for (let s = 0; s < seconds; s++) {
    const r = judge(state, [second(s, novel)], trained(), DEFAULT_JUDGE_PARAMS);
    state = r.state;
    out.push(r.verdict);
  }
  return out;
}

describe('judge: stale history', () => {
  it('does not trust a learned body floor when the primary’s own bodies now all differ', () => {
    const verdicts = run(30, 30);
    assert.ok(verdicts.every((v) => v.verdict !== 'rollback'));
    assert.deepEqual(verdicts.at(-1)!.explanation.model, [
      'bodies of GET /a: history says deterministic, the present varies: not compared',
    ]);
  });

  it('still judges bodies where the primary’s bodies repeat as history says, once confirmed', () => {
    const verdicts = run(3, 30);
    assert.deepEqual(verdicts[0]!.explanation.model, [
      'bodies of GET /a: not compared until 40 primary bodies confirm history (30 so far)',
    ]);
    const first = verdicts.findIndex((v) => v.verdict === 'rollback');
    assert.equal(first, 1, 'rolled back in the second that confirmed history');
    assert.equal(verdicts[first]!.culprits[0]!.signal, 'body_mismatch');
    assert.deepEqual(verdicts[first]!.explanation.model, []);
  });
});
