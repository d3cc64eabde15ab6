import assert from 'node:assert/strict';
import test, { describe, it } from 'node:test';
import {
  logMixtureE,
  logSignMarginE,
  logSignMixtureE,
  logSumExp,
  oddsShift,
  rateBatchUpdate,
} from '../../../daemon/judge/evalue.js';
import { defaultModel } from '../../../daemon/model/model.js';
import { rng } from './sim.js';

const SIGN = defaultModel().params.signMixture;
const RATE = defaultModel().params.rateMixture;

/**
 * Ville's bound is nearly tight for a martingale with small steps, so the
 * check allows for sampling error: the observed rate must not exceed 1/level
 * by more than three standard errors.
 */
function underVille(rate: number, level: number, runs: number): boolean {
  const a = 1 / level;
  return rate <= a + 3 * Math.sqrt((a * (1 - a)) / runs);
}

/** Fraction of runs whose running e-value ever reached `level` (Ville: ≤ 1/level under the null). */
function signCrossings(p: number, runs: number, steps: number, level: number, seed: number): number {
  const r = rng(seed);
  const logLevel = Math.log(level);
  let crossed = 0;
  for (let i = 0; i < runs; i++) {
    let up = 0;
    let down = 0;
    for (let n = 0; n < steps; n++) {
      if (r() < p) up++;
      else down++;
      if (logSignMixtureE(up, down, SIGN) >= logLevel) {
        crossed++;
        break;
      }
    }
  }
  return crossed / runs;
}

describe('logSumExp', () => {
  it('matches the direct sum and survives huge values', () => {
    assert.ok(Math.abs(logSumExp([0, Math.log(3)]) - Math.log(4)) < 1e-12);
    assert.ok(Math.abs(logSumExp([1000, 1000]) - (1000 + Math.LN2)) < 1e-9);
    assert.equal(logSumExp([]), Number.NEGATIVE_INFINITY);
  });
});

describe('sign-test mixture e-value', () => {
  it('is 1 with no discordant pairs and moves the right way', () => {
    assert.equal(logSignMixtureE(0, 0, SIGN), 0);
    assert.ok(logSignMixtureE(10, 0, SIGN) > logSignMixtureE(9, 0, SIGN));
    assert.ok(logSignMixtureE(10, 5, SIGN) < logSignMixtureE(10, 4, SIGN));
    assert.ok(logSignMixtureE(0, 20, SIGN) < 0);
  });

  it('treats NaN and negative counts as zero', () => {
    assert.equal(logSignMixtureE(Number.NaN, -3, SIGN), 0);
  });

  it('keeps false alarms under 1/level when the arms are exchangeable (p = ½), checked after every pair', () => {
    const at10 = signCrossings(0.5, 2000, 600, 10, 1);
    const at100 = signCrossings(0.5, 2000, 600, 100, 2);
    assert.ok(underVille(at10, 10, 2000), `crossed 10 in ${at10}`);
    assert.ok(underVille(at100, 100, 2000), `crossed 100 in ${at100}`);
  });

  it('stays valid when the shadow is better (p = 0.4)', () => {
    assert.ok(signCrossings(0.4, 2000, 600, 10, 3) <= 0.02);
  });

  it('detects a shift: p = 0.75 reaches 100 within 80 discordant pairs in 90 % of runs', () => {
    assert.ok(signCrossings(0.75, 500, 80, 100, 4) >= 0.9);
  });
});

describe('rate test against a floor', () => {
  function rateCrossings(
    p: number,
    p0: number,
    n: number,
    seconds: number,
    runs: number,
    level: number,
    seed: number,
  ) {
    const r = rng(seed);
    let crossed = 0;
    for (let i = 0; i < runs; i++) {
      let w = new Array<number>(RATE.length).fill(0);
      for (let t = 0; t < seconds; t++) {
        let k = 0;
        for (let j = 0; j < n; j++) if (r() < p) k++;
        w = rateBatchUpdate(w, k, n, p0, RATE);
        if (logMixtureE(w, RATE) >= Math.log(level)) {
          crossed++;
          break;
        }
      }
    }
    return crossed / runs;
  }

  it('keeps false alarms under 1/level at the floor, batch after batch', () => {
    const at10 = rateCrossings(0.002, 0.002, 100, 120, 1500, 10, 5);
    const at100 = rateCrossings(0.002, 0.002, 100, 120, 1500, 100, 6);
    assert.ok(underVille(at10, 10, 1500), `crossed 10 in ${at10}`);
    assert.ok(underVille(at100, 100, 1500), `crossed 100 in ${at100}`);
  });

  it('detects +1 % on a 0.1 % floor at 100 pairs/s within 5 s in most runs', () => {
    assert.ok(rateCrossings(0.011, 0.001, 100, 5, 400, 100, 7) >= 0.6);
  });

  it('ignores degenerate batches', () => {
    const w = [0.5, 0.5];
    const mix = [
      { x: 2, w: 0.5 },
      { x: 4, w: 0.5 },
    ];
    assert.deepEqual(rateBatchUpdate(w, 3, 0, 0.01, mix), w);
    assert.deepEqual(rateBatchUpdate(w, 3, 10, 0, mix), w);
    assert.deepEqual(rateBatchUpdate(w, 3, 10, Number.NaN, mix), w);
  });

  it('shifts odds, never past 1', () => {
    assert.ok(oddsShift(0.9, 64) < 1);
    assert.ok(Math.abs(oddsShift(0.5, 3) - 0.75) < 1e-12);
  });
});

test('the sign test with a margin stays valid at the margin and still finds large shifts', () => {
  const mixture = [0.55, 0.6, 0.7, 0.8, 0.9].map((x) => ({ x, w: 0.2 }));
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  // Arrange: 300 runs of 400 discordant pairs exactly at the null share (0.6).
  let alarms = 0;
  for (let run = 0; run < 300; run++) {
    let up = 0;
    let down = 0;
    let alarmed = false;
    for (let i = 0; i < 400; i++) {
      if (rnd() < 0.6) up++;
      else down++;
      if (!alarmed && logSignMarginE(up, down, mixture, 0.6) >= Math.log(100)) alarmed = true;
    }
    if (alarmed) alarms++;
  }
  // Assert: checked after every pair, at most 1 % (t = 2), with sampling slack.
  assert.ok(alarms <= 6, `false alarms ${alarms}/300`);
  // A shadow alone over the tail 4× as often as production (share 0.8) is found.
  assert.ok(logSignMarginE(160, 40, mixture, 0.6) > Math.log(100));
  // A small shift (share 0.55) is not flagged at all with the margin, though it would be without.
  assert.ok(logSignMarginE(1100, 900, mixture, 0.6) < 0);
  assert.ok(logSignMixtureE(1100, 900, mixture) > Math.log(100));
});
