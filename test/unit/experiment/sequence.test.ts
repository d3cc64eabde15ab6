import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ArmTally,
  decide,
  differenceSequence,
  type Interval,
  logGamma,
  logMeanE,
  meanSequence,
} from '../../../daemon/experiment/sequence.js';
import { rng } from '../judge/sim.js';

const ALPHA = 0.05;

/** The plain fixed-sample 95 % interval (normal approximation): valid for one look only. */
function oneLookInterval(b: ArmTally, a: ArmTally): Interval {
  const mb = b.sum / b.n;
  const ma = a.sum / a.n;
  const se = Math.sqrt((mb * (1 - mb)) / b.n + (ma * (1 - ma)) / a.n);
  const d = mb - ma;
  return [d - 1.96 * se, d + 1.96 * se];
}

interface Run {
  /** Whether any look declared a winner (either way). */
  declared: boolean;
  /** The second of the first declaration, or -1. */
  at: number;
  final: Interval;
}

/**
 * One A/B test of `seconds` seconds: `usersPerSecond` users arrive each
 * second, each in B with probability `split`; a user converts with rate
 * pA or pB. The interval is looked at after every second.
 */
function simulate(
  r: () => number,
  o: { seconds: number; usersPerSecond: number; split: number; pA: number; pB: number },
  interval: (b: ArmTally, a: ArmTally) => Interval,
): Run {
  const a: ArmTally = { n: 0, sum: 0 };
  const b: ArmTally = { n: 0, sum: 0 };
  let final: Interval = [-1, 1];
  for (let s = 0; s < o.seconds; s++) {
    for (let u = 0; u < o.usersPerSecond; u++) {
      const inB = r() < o.split;
      const arm = inB ? b : a;
      arm.n++;
      if (r() < (inB ? o.pB : o.pA)) arm.sum++;
    }
    if (a.n === 0 || b.n === 0) continue;
    final = interval(b, a);
    if (decide(final, 0) !== 'undecided') return { declared: true, at: s, final };
  }
  return { declared: false, at: -1, final };
}

describe('confidence sequence of one arm', () => {
  it('log Γ matches known values', () => {
    assert.ok(Math.abs(logGamma(1)) < 1e-12);
    assert.ok(Math.abs(logGamma(5) - Math.log(24)) < 1e-12);
    assert.ok(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-12);
  });

  it('is [0, 1] before data, contains the sample mean, and narrows as data grows', () => {
    assert.deepEqual(meanSequence({ n: 0, sum: 0 }, ALPHA), [0, 1]);
    const small = meanSequence({ n: 100, sum: 30 }, ALPHA);
    const large = meanSequence({ n: 10_000, sum: 3000 }, ALPHA);
    for (const [lo, hi] of [small, large]) assert.ok(lo < 0.3 && 0.3 < hi);
    assert.ok(large[1] - large[0] < (small[1] - small[0]) / 5);
    // Its ends are where the e-value reaches 1/α.
    assert.ok(Math.abs(logMeanE({ n: 10_000, sum: 3000 }, large[0]) + Math.log(ALPHA)) < 1e-6);
  });

  it('reaches 0 with no successes and 1 with only successes', () => {
    assert.equal(meanSequence({ n: 50, sum: 0 }, ALPHA)[0], 0);
    assert.equal(meanSequence({ n: 50, sum: 50 }, ALPHA)[1], 1);
  });
});

describe('A/A: the false-winner rate under continuous monitoring', () => {
  const aa = { seconds: 120, usersPerSecond: 20, split: 0.5, pA: 0.1, pB: 0.1 };

  it('over 1,000 A/A runs looked at every second, a winner is declared in at most α of them', () => {
    const r = rng(20);
    let declared = 0;
    for (let i = 0; i < 1000; i++)
      if (simulate(r, aa, (b, a) => differenceSequence(b, a, ALPHA)).declared) declared++;
    assert.ok(declared / 1000 <= ALPHA, `false winners in ${declared} of 1000 runs (α = ${ALPHA})`);
  });

  it('the same looks through a one-look interval declare far more than α (the simulation can see peeking)', () => {
    const r = rng(20);
    let declared = 0;
    for (let i = 0; i < 1000; i++) if (simulate(r, aa, oneLookInterval).declared) declared++;
    assert.ok(declared / 1000 > 2 * ALPHA, `one-look interval: ${declared} of 1000`);
  });
});

describe('A/B: a real difference is found', () => {
  it('B converting 5 points better is declared B, with an interval around the true effect', () => {
    const r = rng(7);
    const o = { seconds: 600, usersPerSecond: 20, split: 0.5, pA: 0.1, pB: 0.15 };
    let found = 0;
    for (let i = 0; i < 50; i++) {
      const run = simulate(r, o, (b, a) => differenceSequence(b, a, ALPHA));
      if (!run.declared) continue;
      found++;
      assert.ok(run.final[0] > 0 && run.final[1] > 0.05 - 0.001, `interval ${run.final}`);
    }
    assert.ok(found >= 45, `declared in ${found} of 50 runs`);
  });

  it('decides on the smallest effect that matters', () => {
    assert.equal(decide([0.01, 0.04], 0.02), 'b_better');
    assert.equal(decide([-0.04, -0.01], 0.02), 'a_better');
    assert.equal(decide([-0.01, 0.015], 0.02), 'no_effect');
    assert.equal(decide([-0.01, 0.03], 0.02), 'undecided');
    assert.equal(decide([-0.01, 0.015], 0), 'undecided');
  });
});
