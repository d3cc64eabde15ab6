/**
 * The report's experiments section: the service's A/B tests from the store
 * (arms, users, the effect with its interval over time, the decision and
 * why), what the daemon holds fresher, and the chaos experiments its chaos
 * runner holds (faults, each arm's figures, verdict and culprit).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildReport } from '../../../daemon/report/build.js';
import { why } from '../../../daemon/report/experiments.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { chaosRegression, seedAbTest, seedChaosRun } from './experiment-fixture.js';
import { seedRegression } from './fixture.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

describe('a report shows the service’s experiments', () => {
  it('an A/B test from the store: arms, users, its interval over time, its decision and why', () => {
    const store = openStore(':memory:');
    const { id } = seedRegression(store, T0);
    const abId = seedAbTest(store, T0 - 3_600_000);
    const built = buildReport(store, id, T0 + 600_000);
    assert.ok(built.ok);
    const [ab, ...more] = built.report.experiments.ab;
    assert.equal(more.length, 0);
    assert.equal(ab!.id, abId);
    assert.equal(ab!.decision, 'b_better');
    assert.equal(ab!.winner, 'B');
    assert.match(
      ab!.why,
      /^B \(v2\) is better: the 95 % anytime-valid interval for B − A, \[0\.\d+, 0\.\d+\], lies above 0\.$/,
    );
    assert.ok(ab!.users.A > 1000 && ab!.users.B > 1000, JSON.stringify(ab!.users));
    assert.equal(ab!.series.at.length, 60);
    assert.ok(
      ab!.series.lo.every(
        (lo, i) => lo <= ab!.series.effect[i]! && ab!.series.effect[i]! <= ab!.series.hi[i]!,
      ),
    );
    assert.ok(ab!.decidedAt !== null && ab!.decidedAt < ab!.stoppedAt!);
    assert.deepEqual(
      ab!.transitions.map((t) => t.to),
      ['running', 'stopped'],
    );
    assert.deepEqual(built.report.experiments.chaos, []);
    store.close();
  });

  it('the chaos runs the store keeps: faults, each arm under them, verdict and culprit', () => {
    const store = openStore(':memory:');
    const { id } = seedRegression(store, T0);
    seedChaosRun(store, chaosRegression(T0 - 120_000));
    seedChaosRun(store, { ...chaosRegression(T0 - 60_000), service: 'other' });
    const built = buildReport(store, id, T0 + 600_000);
    assert.ok(built.ok);
    const chaos = built.report.experiments.chaos;
    assert.equal(chaos.length, 1);
    assert.equal(chaos[0]!.startedAt, T0 - 120_000);
    assert.equal(chaos[0]!.verdict!.culprit, '/cart/errors');
    store.close();
  });

  it('the daemon’s chaos experiments and its fresher A/B state, when it has them', () => {
    const store = openStore(':memory:');
    const { id } = seedRegression(store, T0);
    const abId = seedAbTest(store, T0 - 3_600_000);
    // The runner's copy of a stored run replaces it.
    seedChaosRun(store, { ...chaosRegression(T0 - 60_000), phase: 'injecting' });
    const fresher = { ...store.getExperiment(abId)!, phase: 'running', stoppedAt: null };
    const built = buildReport(store, id, T0 + 600_000, undefined, {
      ab: () => [fresher],
      chaos: () => [chaosRegression(T0 - 60_000)],
    });
    assert.ok(built.ok);
    assert.equal(built.report.experiments.ab[0]!.phase, 'running');
    const [chaos] = built.report.experiments.chaos;
    assert.deepEqual(chaos!.faults, ['inventory:abort=503@30%']);
    assert.equal(chaos!.verdict!.culprit, '/cart/errors');
    assert.deepEqual(
      chaos!.verdict!.arms.map((a) => [a.role, a.version, a.failureRate]),
      [
        ['candidate', 'v2', 0.119],
        ['reference', 'v1', 0.014],
      ],
    );
    assert.equal(built.report.experiments.chaos.length, 1);
    assert.equal(chaos!.phase, 'passed');
    store.close();
  });

  it('says why for each decision', () => {
    const base = {
      ci: [-0.01, 0.02] as [number, number],
      alpha: 0.05,
      minEffect: 0.05,
      stable: 'v1',
      version: 'v2',
      harmful: false,
      stopReason: null,
    };
    assert.equal(
      why({ ...base, decision: 'no_effect' }),
      'No difference as large as ±0.050: the 95 % anytime-valid interval for B − A, [-0.010, 0.020], lies inside (−0.050, +0.050).',
    );
    assert.match(why({ ...base, decision: 'undecided', minEffect: 0 }), /^Undecided: .* contains 0\.$/);
    assert.match(
      why({ ...base, decision: 'undecided', harmful: true, stopReason: "guard: B's errors worse than A's" }),
      /Stopped by its guard: guard: B's errors worse than A's\.$/,
    );
  });
});
