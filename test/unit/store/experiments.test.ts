/**
 * A/B experiments in both stores: saved whole, replaced by id, listed newest
 * first per service, every field read back as written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setLogLevel } from '../../../daemon/log.js';
import type { ExperimentRow } from '../../../daemon/store/store.js';
import { STORE_KINDS, startStoreKinds, stopStoreKinds } from './kinds.js';

setLogLevel('silent');

function experiment(id: string, service: string, startedAt: number): ExperimentRow {
  return {
    id,
    service,
    version: 'v2',
    stable: 'v1',
    phase: 'running',
    spec: { split: 50, outcome: { kind: 'conversion', path: '/buy' }, alpha: 0.05 },
    startedAt,
    stoppedAt: null,
    stopReason: null,
    harmful: false,
    decision: 'undecided',
    decidedAt: null,
    transitions: [{ to: 'running', at: startedAt + 1, reason: 'split live' }],
    latest: { answer: { effect: 0.02, ci: [-0.1, 0.2] } },
    series: [{ at: startedAt + 5000, effect: 0.02, lo: -0.1, hi: 0.2, users: { A: 3, B: 4 } }],
    state: { arms: { A: { n: 3, sum: 1 }, B: { n: 4, sum: 2.5 } }, finished: { A: 'AQAAAA==', B: '' } },
    updatedAt: startedAt + 5000,
  };
}

before(startStoreKinds);
after(stopStoreKinds);

for (const kind of STORE_KINDS) {
  describe(`experiments in the ${kind.name} store`, () => {
    test('are saved, replaced by id and listed newest first', async () => {
      const s = await kind.open();
      const first = experiment('shop-v2-ab-1000', 'shop', 1000);
      s.saveExperiment(first);
      s.saveExperiment(experiment('cart-v2-ab-2000', 'cart', 2000));
      assert.deepEqual(s.getExperiment(first.id), first);
      assert.equal(s.getExperiment('nope'), undefined);

      // Stopped and decided: the same row, replaced.
      const stopped: ExperimentRow = {
        ...first,
        phase: 'stopped',
        stoppedAt: 9000,
        stopReason: 'guard: B errors',
        harmful: true,
        decision: 'b_better',
        decidedAt: 8000,
        state: null,
        updatedAt: 9000,
      };
      s.saveExperiment(stopped);
      assert.deepEqual(s.getExperiment(first.id), stopped);
      s.saveExperiment(experiment('shop-v3-ab-3000', 'shop', 3000));

      assert.deepEqual(
        s.listExperiments().map((e) => e.id),
        ['shop-v3-ab-3000', 'cart-v2-ab-2000', 'shop-v2-ab-1000'],
      );
      assert.deepEqual(
        s.listExperiments({ service: 'shop', limit: 1 }).map((e) => e.id),
        ['shop-v3-ab-3000'],
      );
      assert.deepEqual(s.listExperiments({ service: 'none' }), []);
      s.close();
    });
  });
}
