import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { desiredEffects, phaseAlert } from '../../../daemon/rollout/desired.js';
import type { Phase } from '../../../daemon/rollout/phases.js';
import { RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import { storeDeploymentRepo } from '../../../daemon/rollout/store-repo.js';
import type { DeploymentState } from '../../../daemon/rollout/types.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { plan, T0 } from './fixtures.js';
import { ManualClock, RecordingRunner } from './scheduler-fixtures.js';

const healthy = { verdict: 'healthy' as const, score: 0.1, threshold: 3, culprits: [], explanation: 'ok' };

/** How to bring a fresh deployment into each phase with a runner that reports nothing. */
const drive: Record<string, (s: RolloutScheduler, id: string) => void> = {
  provisioning: () => {},
  shadowing: (s, id) => s.dispatch(id, { type: 'provisioned', version: 'v2', pool: 'main', ready: 1 }),
  promoting: (s, id) => {
    drive['shadowing']!(s, id);
    s.command('checkout', 'promote');
  },
  baking: (s, id) => {
    drive['shadowing']!(s, id);
    for (let i = 0; i < 4; i++) s.command('checkout', 'promote');
  },
  rolling_back: (s, id) => {
    drive['shadowing']!(s, id);
    s.command('checkout', 'rollback');
  },
  validating: (s, id) => {
    drive['rolling_back']!(s, id);
    s.dispatch(id, { type: 'provisioned', version: 'v1', pool: 'main', ready: 4 });
  },
};

/** After the restart: what makes it move on, and where it must end up. */
const next: Record<
  string,
  { act: (s: RolloutScheduler, c: ManualClock) => void; expect: Phase; weight?: number }
> = {
  provisioning: { act: () => {}, expect: 'shadowing' },
  shadowing: {
    act: (s, c) => {
      s.verdict('checkout', 'candidate', healthy);
      c.advance(60_000);
    },
    expect: 'promoting',
  },
  promoting: {
    act: (s, c) => {
      s.verdict('checkout', 'candidate', healthy);
      c.advance(30_000);
    },
    expect: 'promoting',
    weight: 50,
  },
  baking: { act: (_s, c) => c.advance(60_000), expect: 'completed' },
  rolling_back: { act: () => {}, expect: 'validating' },
  validating: { act: (_s, c) => c.advance(120_000), expect: 'rolled_back' },
};

describe('rollout on the SQLite store: restart in every phase', () => {
  for (const phase of Object.keys(drive)) {
    test(`a daemon restarted in ${phase} resumes it`, async () => {
      // A first daemon takes a deployment into the phase, on a database file.
      const path = join(mkdtempSync(join(tmpdir(), 'umbra-rollout-')), 'umbra.db');
      const store1 = openStore(path);
      const s1 = new RolloutScheduler({
        repo: storeDeploymentRepo(store1),
        runner: { run: async () => undefined },
        clock: new ManualClock(T0),
      });
      s1.start();
      const d = s1.deploy({ service: 'checkout', version: 'v2', previousVersion: 'v1', plan: plan() });
      drive[phase]!(s1, d.id);
      await s1.idle();
      const persisted: DeploymentState = storeDeploymentRepo(store1).get(d.id)!;
      assert.equal(persisted.phase, phase);
      // It dies (the database is closed as after a SIGKILL: WAL keeps what was committed).
      store1.close();

      // A second daemon opens the same file.
      const store2 = openStore(path);
      const repo = storeDeploymentRepo(store2);
      assert.deepEqual(repo.get(d.id), persisted);
      const clock = new ManualClock(T0 + 1000);
      const runner = new RecordingRunner();
      const s2 = new RolloutScheduler({ repo, runner, clock });
      s2.start();
      await s2.idle();
      // It re-issued the desired effects of the persisted phase first (idempotent).
      const alert = phaseAlert(persisted);
      const reissued = [...desiredEffects(persisted), ...(alert ? [alert] : [])];
      assert.deepEqual(
        runner.ran.slice(0, reissued.length).map((r) => r.effect),
        reissued,
      );
      // And it carries on from there.
      next[phase]!.act(s2, clock);
      await s2.idle();
      const after = repo.get(d.id)!;
      assert.equal(after.phase, next[phase]!.expect);
      if (next[phase]!.weight !== undefined) assert.equal(after.candidateWeight, next[phase]!.weight);
      await s2.stop();
      store2.close();
    });
  }

  test('the audit log in SQLite records every transition with its reason', async () => {
    const store = openStore(':memory:');
    const repo = storeDeploymentRepo(store);
    const s = new RolloutScheduler({ repo, runner: new RecordingRunner(), clock: new ManualClock(T0) });
    const d = s.deploy({ service: 'checkout', version: 'v2', previousVersion: 'v1', plan: plan() });
    await s.idle();
    s.command('checkout', 'abort', 'wrong build');
    assert.deepEqual(
      repo.transitions(d.id).map((t) => [t.from, t.to, t.event, t.reason]),
      [
        ['provisioning', 'provisioning', 'deploy', 'deploy v2 replacing v1'],
        ['provisioning', 'shadowing', 'provisioned', 'candidate ready'],
        ['shadowing', 'aborted', 'command:abort', 'operator abort (wrong build)'],
      ],
    );
    assert.deepEqual(repo.list({ activeOnly: true }), []);
    store.close();
  });
});
