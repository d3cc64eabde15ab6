/**
 * A running experiment a restarted daemon finds in the store is checked
 * again as a new one would be, against what the service is now: its A must
 * still be the version that serves, and no deployment, chaos or missing
 * user key may stand in its way. One that fails is ended, saved with why
 * (`not resumed: …`), and nothing of it is launched; one that passes runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeriesRegistry } from '../../../daemon/aggregate/series.js';
import { ExperimentDesk } from '../../../daemon/controller/experiments.js';
import { ExperimentJournal } from '../../../daemon/controller/experiments-journal.js';
import { startingStatus } from '../../../daemon/controller/experiments-status.js';
import { EXPERIMENT_DEFAULTS, type ExperimentSpec } from '../../../daemon/experiment/spec.js';
import { setLogLevel } from '../../../daemon/log.js';
import { defaultModel } from '../../../daemon/model/model.js';
import type { Provisioner } from '../../../daemon/provision/provisioner.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { checkoutConfig } from './fixtures.js';

setLogLevel('silent');
const MIXTURE = defaultModel().params.rateMixture;
const SEGMENT = '    mirroring: { userSegment: { header: x-user } }';
const SPEC: ExperimentSpec = {
  service: 'checkout',
  version: 'v2',
  split: 20,
  outcome: { kind: 'conversion', path: '/buy' },
  ...EXPERIMENT_DEFAULTS,
};

interface World {
  serving?: string;
  deployment?: { id: string; phase: string };
  chaos?: string;
  config?: string;
}

/** A store holding a running experiment (A v1, B v2), and a desk that resumes it in `world`. */
async function resumeIn(world: World) {
  const store = openStore(':memory:');
  new ExperimentJournal(store).save(
    { ...startingStatus('checkout-v2-ab-1', SPEC, 'v1', 1000), phase: 'running' },
    null,
    2000,
  );
  const ensured: string[] = [];
  const splits: number[] = [];
  const provisioner = {
    versions: () => ['v1', 'v2', 'v3'],
    ensure: async (ref: { version: string }) => {
      ensured.push(ref.version);
      return {};
    },
    stop: async () => {},
  } as unknown as Provisioner;
  const desk = new ExperimentDesk({
    services: checkoutConfig(world.config ?? SEGMENT).services,
    provisioners: new Map([['checkout', provisioner]]),
    routing: { setSplit: async () => {} },
    setSplit: (_s, p) => splits.push(p),
    registry: new SeriesRegistry(),
    serving: () => world.serving ?? 'v1',
    activeDeployment: () => world.deployment ?? null,
    chaosRunning: () => world.chaos,
    mixture: MIXTURE,
    drainMs: 0,
    store,
  });
  desk.resume(5000);
  await desk.idle();
  return {
    status: desk.status('checkout')[0]!,
    stored: store.getExperiment('checkout-v2-ab-1')!,
    ensured,
    splits,
  };
}

describe('a resumed experiment', () => {
  it('runs again when the service is as it was', async () => {
    const { status, ensured, splits } = await resumeIn({});
    assert.equal(status.phase, 'running');
    assert.deepEqual(ensured, ['v2']);
    assert.deepEqual(splits, [20]);
  });

  const refused: [string, World, RegExp][] = [
    [
      'stable changed: A is no longer what serves',
      { serving: 'v3' },
      /^not resumed: stable: checkout now serves v3, not v1/,
    ],
    [
      'a deployment in progress',
      { deployment: { id: 'd-7', phase: 'shadowing' } },
      /^not resumed: checkout has deployment d-7/,
    ],
    ['chaos running', { chaos: 'chaos c-1 runs on checkout' }, /^not resumed: chaos c-1/],
    ['no user key any more', { config: '' }, /^not resumed: services\[0\]\.mirroring\.userSegment:/],
  ];
  for (const [what, world, reason] of refused)
    it(`is ended, with why, saved, and not launched: ${what}`, async () => {
      const { status, stored, ensured, splits } = await resumeIn(world);
      assert.equal(status.phase, 'stopped');
      assert.match(status.stopReason ?? '', reason);
      assert.equal(stored.phase, 'stopped', 'saved as ended');
      assert.match(stored.stopReason ?? '', reason);
      assert.deepEqual(ensured, [], "B's pool is not started");
      assert.deepEqual(splits, [], 'the filters are not told to split');
    });
});
