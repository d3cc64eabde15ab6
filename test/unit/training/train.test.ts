import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import { judgeSeries } from '../../../daemon/judge/series.js';
import { DEFAULT_JUDGE_PARAMS } from '../../../daemon/judge/types.js';
import { defaultModel } from '../../../daemon/model/model.js';
import {
  DEFAULT_TRAIN_OPTIONS,
  dispersion,
  type HistoryRun,
  learnFloors,
  quietCells,
  trainModel,
  tuneMixture,
  withinGuarantee,
} from '../../../daemon/training/train.js';
import { type CellSpec, rng, simulateCell, spec } from '../judge/sim.js';

const params = DEFAULT_JUDGE_PARAMS;

function history(
  specs: CellSpec[],
  seconds: number,
  seed: number,
  burst?: (t: number) => number,
): CellStats[] {
  const r = rng(seed);
  const cells: CellStats[] = [];
  for (let t = 0; t < seconds; t++) {
    const extra = burst ? burst(t) : 0;
    for (const s of specs) {
      const live = { ...s, primary: { ...s.primary, errorRate: s.primary.errorRate + extra } };
      live.shadow = { ...s.shadow, errorRate: s.shadow.errorRate + extra };
      cells.push(simulateCell(r, live, t));
    }
  }
  return cells;
}

function firstRollback(cells: CellStats[], model = defaultModel()): number | null {
  const v = judgeSeries(cells, model, params, true).at(-1);
  return v && v.verdict.verdict === 'rollback' ? v.second : null;
}

describe('training: floors', () => {
  it('learns an upper bound of the per-arm discordant rate, close to the truth', () => {
    const cells = history([spec({ primary: { errorRate: 0.002 } })], 300, 1);
    const { floors, pairs } = learnFloors([{ source: 'h', cells }], 0);
    const f = floors['GET /a']!;
    assert.equal(pairs, 30_000);
    // Discordant per direction ≈ 0.002 × 0.998.
    assert.ok(
      f.discordantErrorRate >= 0.0017 && f.discordantErrorRate <= 0.003,
      String(f.discordantErrorRate),
    );
    assert.ok(f.primaryErrorRate >= 0.0017 && f.primaryErrorRate <= 0.003, String(f.primaryErrorRate));
    assert.ok(f.bodyMismatchRate < 0.001);
  });

  it('leaves burst seconds out of the floor and measures dispersion', () => {
    const burst = (t: number) => (t % 30 < 3 ? 0.05 : 0);
    const cells = history([spec({ primary: { errorRate: 0.001 } })], 300, 2, burst);
    const quiet = quietCells(cells, 0);
    assert.ok(
      quiet.length < cells.length && quiet.length >= cells.length * 0.85,
      `${quiet.length}/${cells.length}`,
    );
    const calm = history([spec({ primary: { errorRate: 0.01 } })], 300, 3);
    assert.ok(dispersion([{ source: 'h', cells: calm }], 0) < 1.5);
    // Clumps small enough to pass the quiet-second screen still show as overdispersion.
    const clumpy = history([spec({ primary: { errorRate: 0.01 } })], 300, 4, (t) =>
      t % 10 === 0 ? 0.02 : 0,
    );
    assert.ok(
      dispersion([{ source: 'h', cells: clumpy }], 0) > dispersion([{ source: 'h', cells: calm }], 0),
    );
  });
});

describe('training: mixtures', () => {
  it('keeps half the mass uniform and moves the rest to the observed effects', () => {
    const m = tuneMixture([0.55, 0.7, 0.9], [0.69, 0.71]);
    assert.ok(Math.abs(m.reduce((a, x) => a + x.w, 0) - 1) < 1e-12);
    assert.ok(m[1]!.w > 0.6);
    assert.ok(m[0]!.w > 0.1);
    assert.deepEqual(
      tuneMixture([2, 4], []).map((x) => x.w),
      [0.5, 0.5],
    );
  });
});

describe('training: A/A replay', () => {
  it('accepts a record within Ville and refuses one beyond it', () => {
    assert.ok(withinGuarantee([0, 0.2, 0.5, 0.1, 0, 0, 0.3, 0, 0, 0], 2));
    assert.ok(!withinGuarantee([1.2, 1.5, 1.1, 0.2, 0, 0, 1.4, 0, 0, 0], 2));
  });

  it('trains a model that detects +1 % errors sooner than the untrained one, with no false rollback on fresh A/A runs', () => {
    const specs = [
      spec({ endpoint: 'GET /a', pairsPerSecond: 70, primary: { errorRate: 0.0005 } }),
      spec({ endpoint: 'GET /b', pairsPerSecond: 30, primary: { errorRate: 0.0005 } }),
    ];
    const runs: HistoryRun[] = [0, 1, 2].map((i) => ({
      source: `aa${i}`,
      cells: history(specs, 300, 10 + i),
    }));
    const model = trainModel(runs, { ...DEFAULT_TRAIN_OPTIONS, params, version: 3 });
    assert.equal(model.version, 3);
    assert.equal(model.trainedOn!.healthyRuns, 3);
    assert.equal(model.trainedOn!.falseAlarms.rollbacks, 0);
    assert.ok(Object.keys(model.params.floors).length === 2);

    let falseRollbacks = 0;
    for (let i = 0; i < 40; i++)
      if (firstRollback(history(specs, 60, 100 + i), model) !== null) falseRollbacks++;
    assert.ok(falseRollbacks === 0, `false rollbacks ${falseRollbacks}/40`);

    const bad = specs.map((s) => ({ ...s, shadow: { ...s.shadow, errorRate: s.shadow.errorRate + 0.01 } }));
    const trained: number[] = [];
    const untrained: number[] = [];
    for (let i = 0; i < 15; i++) {
      const cells = history(bad, 60, 200 + i);
      trained.push(firstRollback(cells, model) ?? 60);
      untrained.push(firstRollback(cells) ?? 60);
    }
    const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    assert.ok(
      median(trained) < median(untrained),
      `trained ${median(trained)} vs untrained ${median(untrained)}`,
    );
  });

  it('inflates the floors when history has bursts that break independence', () => {
    // Bursts that hit the arms independently: discordant errors come in clumps.
    const specs = [spec({ pairsPerSecond: 100, primary: { errorRate: 0.001 } })];
    const clumpy = (t: number) => (t % 20 === 7 ? 0.02 : 0);
    const runs: HistoryRun[] = [0, 1, 2].map((i) => ({
      source: `b${i}`,
      cells: history(specs, 300, 300 + i, clumpy),
    }));
    const model = trainModel(runs, { ...DEFAULT_TRAIN_OPTIONS, params });
    assert.ok(model.trainedOn!.dispersion >= 1);
    assert.ok(model.params.floorInflation >= 1);
    assert.ok(withinGuarantee(model.trainedOn!.falseAlarms.maxScores, params.anomalyThreshold));
  });
});
