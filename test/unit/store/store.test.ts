import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { setLogLevel } from '../../../daemon/log.js';
import { MIGRATIONS } from '../../../daemon/store/migrations.js';
import { migrate, openStore, PhaseConflictError } from '../../../daemon/store/sqlite.js';
import { STORE_KINDS, startStoreKinds, stopStoreKinds } from './kinds.js';

setLogLevel('silent');

function cell(second: number, endpoint = 'GET /cart', segment = 'eu'): CellStats {
  const candidate = emptyPaired();
  candidate.pairs = 10;
  candidate.errShadowOnly = 2;
  return {
    key: { service: 'checkout', endpoint, segment, second },
    candidate,
    baseline: emptyPaired(),
    live: { stable: { requests: 5, failed: 1, overTail: 0, latSumUs: 1000 } },
    examples: { errors: ['abcd'] },
  };
}

function deployment(id: string, createdAt: number) {
  return {
    id,
    service: 'checkout',
    version: 'v2',
    previousVersion: 'v1',
    phase: 'provisioning',
    phaseData: { weight: 0 },
    createdAt,
    updatedAt: createdAt,
  };
}

test('migrations run once and record the schema version', () => {
  const db = new Database(':memory:');
  assert.equal(migrate(db), MIGRATIONS.length);
  assert.equal(migrate(db), MIGRATIONS.length, 'second run is a no-op');
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  db.close();
});

test('a database newer than this build is refused', () => {
  const db = new Database(':memory:');
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  assert.throws(() => migrate(db), /newer than this umbra/);
  db.close();
});

before(startStoreKinds);
after(stopStoreKinds);

for (const kind of STORE_KINDS) {
  describe(`the ${kind.name} store`, () => {
    test('chaos runs: saved, replaced by id, listed newest first per service, JSON back as written', async () => {
      const s = await kind.open();
      const run = (id: string, service: string, startedAt: number, phase = 'injecting') => ({
        id,
        service,
        phase,
        startedAt,
        updatedAt: startedAt,
        data: { faults: ['db:abort=503@30%'], seconds: [{ second: 1, pairs: 3 }] },
      });
      s.saveChaosRun(run('shop-1000', 'shop', 1000));
      s.saveChaosRun(run('shop-2000', 'shop', 2000));
      s.saveChaosRun(run('cart-1500', 'cart', 1500));
      s.saveChaosRun({ ...run('shop-1000', 'shop', 1000, 'passed'), updatedAt: 9000 });

      assert.deepEqual(
        s.listChaosRuns({ service: 'shop' }).map((r) => [r.id, r.phase, r.updatedAt]),
        [
          ['shop-2000', 'injecting', 2000],
          ['shop-1000', 'passed', 9000],
        ],
      );
      assert.deepEqual(s.listChaosRuns({ limit: 1 })[0], run('shop-2000', 'shop', 2000));
      assert.equal(s.listChaosRuns().length, 3);
      s.close();
    });

    test('deployments: create, get, list newest first, exclude phases', async () => {
      const s = await kind.open();
      s.createDeployment(deployment('d1', 1000));
      s.createDeployment({ ...deployment('d2', 2000), phase: 'completed' });
      assert.deepEqual(s.getDeployment('d1'), deployment('d1', 1000));
      assert.equal(s.getDeployment('nope'), undefined);
      assert.deepEqual(
        s.listDeployments().map((d) => d.id),
        ['d2', 'd1'],
      );
      assert.deepEqual(
        s.listDeployments({ excludePhases: ['completed', 'rolled_back'] }).map((d) => d.id),
        ['d1'],
      );
      assert.deepEqual(s.listDeployments({ service: 'other' }), []);
      assert.throws(() => s.createDeployment(deployment('d1', 3000)), /UNIQUE/);
      s.close();
    });

    test('transition is a compare-and-set that writes the audit log atomically', async () => {
      const s = await kind.open();
      s.createDeployment(deployment('d1', 1000));
      const t = s.transition({
        deploymentId: 'd1',
        from: 'provisioning',
        to: 'shadowing',
        event: 'provisioned',
        at: 1500,
        detail: { replicas: 1 },
        phaseData: { since: 1500 },
      });
      assert.equal(t.to, 'shadowing');
      const d = s.getDeployment('d1')!;
      assert.equal(d.phase, 'shadowing');
      assert.deepEqual(d.phaseData, { since: 1500 });
      assert.equal(d.updatedAt, 1500);

      // Replaying the same step fails and changes nothing.
      assert.throws(
        () =>
          s.transition({ deploymentId: 'd1', from: 'provisioning', to: 'shadowing', event: 'x', at: 1600 }),
        PhaseConflictError,
      );
      assert.throws(
        () => s.transition({ deploymentId: 'zz', from: 'a', to: 'b', event: 'x', at: 1 }),
        /does not exist/,
      );
      const log = s.listTransitions('d1');
      assert.equal(log.length, 1);
      assert.deepEqual(log[0], { ...t });
      assert.deepEqual(log[0]!.detail, { replicas: 1 });

      // Phase data without a phase change keeps the old data when omitted in a transition.
      s.updatePhaseData('d1', { weight: 10 }, 1700);
      s.transition({ deploymentId: 'd1', from: 'shadowing', to: 'promoting', event: 'healthy', at: 1800 });
      assert.deepEqual(s.getDeployment('d1')!.phaseData, { weight: 10 });
      assert.deepEqual(
        s.listTransitions('d1').map((x) => x.to),
        ['shadowing', 'promoting'],
      );
      s.close();
    });

    test('a failure inside transaction() rolls everything back', async () => {
      const s = await kind.open();
      s.createDeployment(deployment('d1', 1000));
      assert.throws(() =>
        s.transaction(() => {
          s.transition({ deploymentId: 'd1', from: 'provisioning', to: 'shadowing', event: 'e', at: 2 });
          throw new Error('effect failed');
        }),
      );
      assert.equal(s.getDeployment('d1')!.phase, 'provisioning');
      assert.equal(s.listTransitions('d1').length, 0);
      s.close();
    });

    test('decisions keep their explanation and list newest first', async () => {
      const s = await kind.open();
      const a = s.recordDecision({
        deploymentId: 'd1',
        service: 'checkout',
        at: 10,
        verdict: 'healthy',
        score: 0.2,
        threshold: 2,
        modelVersion: null,
        explanation: { signals: [] },
      });
      const b = s.recordDecision({
        deploymentId: null,
        service: 'checkout',
        at: 20,
        verdict: 'rollback',
        score: 3.1,
        threshold: 2,
        modelVersion: 4,
        explanation: { signals: [{ signal: 'errors', count: 9 }] },
      });
      assert.ok(b.id > a.id);
      assert.deepEqual(
        s.listDecisions({ service: 'checkout' }).map((d) => d.verdict),
        ['rollback', 'healthy'],
      );
      assert.deepEqual(s.listDecisions({ deploymentId: 'd1' }), [a]);
      assert.deepEqual(s.listDecisions({ limit: 1 })[0]!.explanation, {
        signals: [{ signal: 'errors', count: 9 }],
      });
      assert.deepEqual(s.getDecision(b.id), b);
      assert.equal(s.getDecision(b.id + 100), undefined);
      s.close();
    });

    test('cells round-trip, upsert by key and filter by time, endpoint and deployment', async () => {
      const s = await kind.open();
      s.saveCells([cell(100), cell(101), cell(101, 'POST /pay')], 'd1');
      s.saveCells([cell(102)]);
      const c = cell(101);
      c.candidate.pairs = 99;
      s.saveCells([c], 'd1');
      const rows = s.listCells({ service: 'checkout', fromSecond: 100, toSecond: 102 });
      assert.equal(rows.length, 3);
      assert.deepEqual(rows[0]!.cell, cell(100));
      assert.equal(rows[1]!.cell.candidate.pairs, 99, 'replaced, not duplicated');
      assert.equal(rows[2]!.cell.key.endpoint, 'POST /pay');
      assert.equal(
        s.listCells({ service: 'checkout', fromSecond: 0, toSecond: 1e9, endpoint: 'POST /pay' }).length,
        1,
      );
      assert.equal(
        s.listCells({ service: 'checkout', fromSecond: 0, toSecond: 1e9, deploymentId: 'd1' }).length,
        3,
      );
      assert.equal(s.listCells({ service: 'other', fromSecond: 0, toSecond: 1e9 }).length, 0);
      s.close();
    });

    test('histograms and models', async () => {
      const s = await kind.open();
      const h = {
        service: 'checkout',
        endpoint: 'GET /cart',
        arm: 'candidate' as const,
        minute: 120,
        count: 3,
        encoded: 'HISTFAA',
      };
      s.saveHistograms([h, { ...h, arm: 'primary', minute: 60 }]);
      assert.deepEqual(
        s.listHistograms({ service: 'checkout', fromMinute: 0, toMinute: 600, arm: 'candidate' }),
        [h],
      );
      assert.equal(s.listHistograms({ service: 'checkout', fromMinute: 0, toMinute: 600 }).length, 2);

      assert.equal(s.latestModel(), undefined);
      const m1 = s.saveModel({ createdAt: 1, params: { w: [0.5, 0.5] }, trainedOn: { runs: 3 } });
      const m2 = s.saveModel({ createdAt: 2, params: { w: [0.4, 0.6] }, trainedOn: { runs: 4 } });
      assert.deepEqual([m1.version, m2.version], [1, 2]);
      assert.deepEqual(s.latestModel(), m2);
      assert.deepEqual(s.getModel(1), m1);
      assert.deepEqual(
        s.listModels().map((m) => [m.version, m.params]),
        [
          [2, null],
          [1, null],
        ],
      );
      s.close();
    });

    test('retention prunes old series and never the audit log', async () => {
      const s = await kind.open();
      const day = 86_400;
      const now = 100 * day * 1000;
      s.createDeployment(deployment('d1', 1));
      s.transition({ deploymentId: 'd1', from: 'provisioning', to: 'shadowing', event: 'e', at: 2 });
      s.saveCells([cell(10 * day), cell(99 * day)]);
      s.saveHistograms([
        { service: 'checkout', endpoint: 'e', arm: 'primary', minute: 60, count: 1, encoded: 'x' },
        { service: 'checkout', endpoint: 'e', arm: 'primary', minute: 99 * day, count: 1, encoded: 'x' },
      ]);
      s.recordDecision({
        deploymentId: 'd1',
        service: 'checkout',
        at: 5,
        verdict: 'healthy',
        score: 0,
        threshold: 2,
        modelVersion: null,
        explanation: {},
      });
      assert.deepEqual(s.prune({}, now), { cells: 0, histograms: 0, decisions: 0 });
      assert.deepEqual(s.prune({ cellsDays: 30, histogramsDays: 30, decisionsDays: 30 }, now), {
        cells: 1,
        histograms: 1,
        decisions: 1,
      });
      assert.equal(s.listCells({ service: 'checkout', fromSecond: 0, toSecond: 1e12 }).length, 1);
      assert.equal(s.listTransitions('d1').length, 1);
      assert.equal(s.getDeployment('d1')!.phase, 'shadowing');
      s.close();
    });
  });
}

test('a file database uses WAL and keeps data across reopen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-store-'));
  try {
    const path = join(dir, 'umbra.db');
    const s = openStore(path);
    s.createDeployment(deployment('d1', 1));
    s.close();
    const db = new Database(path);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    const again = openStore(path);
    assert.equal(again.getDeployment('d1')!.service, 'checkout');
    assert.equal(again.schemaVersion(), MIGRATIONS.length);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
