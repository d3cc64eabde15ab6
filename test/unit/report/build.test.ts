import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildReport } from '../../../daemon/report/build.js';
import type { DeploymentReport } from '../../../daemon/report/model.js';
import { shareTransition } from '../../../daemon/rollout/desired.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { SERVICE, seedRegression, seedWithoutTraffic } from './fixture.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function regressionReport(): { report: DeploymentReport; rollbackAt: number; threshold: number } {
  const store = openStore(':memory:');
  try {
    const seeded = seedRegression(store, T0);
    const built = buildReport(store, seeded.id, T0 + 600_000);
    assert.ok(built.ok, built.ok ? '' : built.message);
    return { report: built.report, rollbackAt: seeded.rollbackAt, threshold: seeded.threshold };
  } finally {
    store.close();
  }
}

describe('the deployment report from the store', () => {
  it('holds every view of a rolled-back regression, with the culprit named', () => {
    const { report: r, rollbackAt, threshold } = regressionReport();
    // The timeline, in order, ending in the final phase.
    assert.deepEqual(
      r.phases.map((p) => p.phase),
      ['provisioning', 'shadowing', 'rolling_back', 'validating', 'rolled_back'],
    );
    assert.equal(r.deployment.final, true);
    // The score climbs through the threshold at the rollback decision.
    const s = r.score;
    assert.equal(s.rollbackAt, rollbackAt);
    assert.equal(s.threshold, threshold);
    const i = s.rollbackIndex!;
    assert.ok(i > 0, 'the rollback decision is on the score line');
    assert.equal(s.at[i], (Math.floor(rollbackAt / 1000) - 3) * 1000, 'at the last second it judged');
    assert.ok(s.candidate[i]! >= threshold, `score at rollback ${s.candidate[i]}`);
    assert.ok(s.candidate[i - 1]! < threshold, `score before rollback ${s.candidate[i - 1]}`);
    assert.ok(
      s.restored.some((v) => v !== null),
      'validation scores are on their own line',
    );
    // The verdict names /cart in eu, with its explanation and example request ids.
    assert.equal(r.verdict?.verdict, 'rollback');
    assert.ok(r.verdict?.culprits.includes('/cart eu errors'), JSON.stringify(r.verdict?.culprits));
    assert.ok((r.verdict?.examples.length ?? 0) > 0);
    assert.equal(r.verdict?.signals[0]?.name, 'errors');
    // The heat map puts the culprit cell first and shows its excess failures.
    const top = r.heatmap.rows[0]!;
    assert.deepEqual([top.endpoint, top.segment, top.culprit], ['/cart', 'eu', true]);
    assert.ok(top.excessErrors > 0.15, `excess ${top.excessErrors}`);
    assert.equal(r.heatmap.rows.length, 9);
    assert.ok(r.heatmap.rows.slice(1).every((row) => !row.culprit && Math.abs(row.excessErrors) < 0.05));
    // Rates per arm: the candidate fails, production does not.
    const cand = r.rates.candidateErrors.filter((v): v is number => v !== null);
    const prim = r.rates.primaryErrors.filter((v): v is number => v !== null);
    assert.ok(Math.max(...cand) > Math.max(...prim));
    // Latency: overall and the culprit's endpoint, one curve per arm, from the histograms.
    assert.deepEqual(
      r.latency.map((g) => g.endpoint),
      ['*', '/cart'],
    );
    for (const g of r.latency) {
      assert.deepEqual(
        g.arms.map((a) => a.arm),
        ['primary', 'candidate', 'live'],
      );
      for (const a of g.arms) {
        assert.ok(a.count > 0);
        assert.ok(
          a.ms.every((v, k) => k === 0 || v >= a.ms[k - 1]!),
          'percentile curves never fall',
        );
      }
    }
    const cart = r.latency[1]!;
    const median = (arm: string) =>
      cart.arms.find((a) => a.arm === arm)!.ms[cart.arms[0]!.percentiles.indexOf(50)]!;
    assert.ok(median('candidate') > median('primary') * 1.05, 'the slower candidate shows in its curve');
    // The configuration in force.
    assert.equal(r.config.anomalyThreshold, threshold);
    assert.equal((r.config.plan as { shadowPercentage: number }).shadowPercentage, 50);
    assert.deepEqual(r.notes, []);
  });

  it('draws the heat map of the deciding culprit signal', () => {
    const store = openStore(':memory:');
    const { id } = seedRegression(store, T0, 'shop-v2-7', 3);
    store.recordDecision({
      deploymentId: id,
      service: SERVICE,
      at: T0 + 9000,
      verdict: 'rollback',
      score: 2.5,
      threshold: 2,
      modelVersion: 0,
      explanation: {
        phase: 'shadowing',
        culprits: [{ endpoint: '*', segment: '*', signal: 'latency_shift' }],
      },
    });
    const built = buildReport(store, id, T0 + 10_000);
    store.close();
    assert.ok(built.ok);
    if (!built.ok) return;
    assert.equal(built.report.heatmap.signal, 'latency_shift');
    assert.match(built.report.heatmap.label, /slower/);
  });

  it('refuses an unknown deployment, naming recent ones', () => {
    const store = openStore(':memory:');
    seedRegression(store, T0);
    const built = buildReport(store, 'shop-v9-0', T0);
    store.close();
    assert.equal(built.ok, false);
    if (built.ok) return;
    assert.equal(built.reason, 'unknown_deployment');
    assert.match(built.message, /no deployment 'shop-v9-0'.*shop-v2-1/);
  });

  it('refuses a store without history', () => {
    const store = openStore(':memory:');
    const built = buildReport(store, 'anything', T0);
    store.close();
    assert.equal(built.ok, false);
    if (built.ok) return;
    assert.equal(built.reason, 'no_history');
    assert.match(built.message, /no deployments yet/);
  });

  it('refuses a deployment that has no cells, saying when it looked', () => {
    const store = openStore(':memory:');
    const id = seedWithoutTraffic(store, T0);
    const built = buildReport(store, id, T0 + 30_000);
    store.close();
    assert.equal(built.ok, false);
    if (built.ok) return;
    assert.equal(built.reason, 'no_cells');
    assert.match(built.message, new RegExp(`'${id}' has no stored traffic between 2026-01-05T10:00:00Z`));
    assert.equal(SERVICE, 'shop');
  });

  it('lists the changes of an adaptive share from the history, leaving the phase timeline as it was', () => {
    const store = openStore(':memory:');
    const { id } = seedRegression(store, T0, 'shop-v2-1', 5);
    const share = (at: number, percentage: number, why: string) =>
      store.transition({
        deploymentId: id,
        from: 'shadowing',
        to: 'shadowing',
        event: 'share',
        at,
        detail: { reason: shareTransition(percentage, why) },
        phaseData: {},
      });
    share(T0 + 6000, 10, 'shadow pool saturated (CPU 93% of a core)');
    share(T0 + 7000, 0, 'paused: production unhealthy (12.5% of its requests failed)');

    const built = buildReport(store, id, T0 + 600_000);
    store.close();

    assert.ok(built.ok);
    if (!built.ok) return;
    assert.deepEqual(built.report.shares, [
      { at: T0 + 6000, percentage: 10, reason: 'shadow pool saturated (CPU 93% of a core)' },
      { at: T0 + 7000, percentage: 0, reason: 'paused: production unhealthy (12.5% of its requests failed)' },
    ]);
    assert.deepEqual(
      built.report.phases.map((p) => p.phase),
      ['provisioning', 'shadowing'],
    );
  });

  it('says so when histograms are missing rather than drawing empty curves', () => {
    const store = openStore(':memory:');
    const { id } = seedRegression(store, T0);
    store.prune({ histogramsDays: 1 }, T0 + 86_400_000 * 30);
    const built = buildReport(store, id, T0);
    store.close();
    assert.ok(built.ok);
    if (!built.ok) return;
    assert.deepEqual(built.report.latency, []);
    assert.match(built.report.notes.join('\n'), /no latency histograms/);
  });
});
