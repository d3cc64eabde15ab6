/**
 * The chaos verdict's error test is anytime valid: over 1,000 simulated
 * experiments where the candidate is exactly as resilient as the baseline,
 * looked at after every second for a minute, the share ever named a
 * regression stays within 10^-t; and a candidate that lost its retry is
 * found in nearly every run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyPaired } from '../../../daemon/aggregate/stats.js';
import { chaosVerdict, emptyTally } from '../../../daemon/chaos/verdict.js';
import { defaultModel } from '../../../daemon/model/model.js';
import { rng } from '../judge/sim.js';

const RUNS = 1000;
const SECONDS = 60;
const PAIRS_PER_SECOND = 100;
const THRESHOLD = 2;

/** Runs whose error score ever reached the threshold, looked at after every second. */
function everFlagged(candidateRate: number, baselineRate: number, seed: number): number {
  const r = rng(seed);
  const options = {
    candidate: 'v2',
    baseline: 'v1',
    faults: 'db:abort=503@30%',
    threshold: THRESHOLD,
    mixture: defaultModel().params.signMixture,
  };
  let flagged = 0;
  for (let run = 0; run < RUNS; run++) {
    const t = emptyTally();
    t.candidate = emptyPaired();
    t.baseline = emptyPaired();
    for (let s = 0; s < SECONDS; s++) {
      t.candidate.pairs += PAIRS_PER_SECOND;
      t.baseline.pairs += PAIRS_PER_SECOND;
      for (let i = 0; i < PAIRS_PER_SECOND; i++) {
        if (r() < candidateRate) t.candidate.errShadowOnly++;
        if (r() < baselineRate) t.baseline.errShadowOnly++;
      }
      if (chaosVerdict(t, options).errorScore >= THRESHOLD) {
        flagged++;
        break;
      }
    }
  }
  return flagged;
}

test('equally resilient versions are named a regression in at most 1 % of runs, however often looked at', () => {
  const flagged = everFlagged(0.05, 0.05, 7);
  assert.ok(flagged / RUNS <= 10 ** -THRESHOLD, `${flagged} of ${RUNS} runs flagged`);
});

test('a candidate failing 12 % where the baseline fails 1 % is found in nearly every run', () => {
  const flagged = everFlagged(0.12, 0.01, 8);
  assert.ok(flagged / RUNS >= 0.99, `${flagged} of ${RUNS} runs flagged`);
});
