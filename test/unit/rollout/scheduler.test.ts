import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { desiredEffects } from '../../../daemon/rollout/desired.js';
import { MemoryDeploymentRepo } from '../../../daemon/rollout/memory-repo.js';
import { RolloutRefusal, RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import { plan, T0 } from './fixtures.js';
import { ManualClock, RecordingRunner } from './scheduler-fixtures.js';

function setup(repo = new MemoryDeploymentRepo()) {
  const clock = new ManualClock(T0);
  const runner = new RecordingRunner();
  const scheduler = new RolloutScheduler({ repo, runner, clock });
  scheduler.start();
  return { clock, runner, scheduler, repo };
}

/** Deploys checkout v2 (replacing v1) with the default plan. */
function deployV2(scheduler: RolloutScheduler) {
  return scheduler.deploy({ service: 'checkout', version: 'v2', previousVersion: 'v1', plan: plan() });
}

/** A second daemon's scheduler on `repo`, started at `at` (not yet `start()`ed). */
function restartAt(repo: MemoryDeploymentRepo, at: number, catchUpMs?: number) {
  const clock = new ManualClock(at);
  const scheduler = new RolloutScheduler({
    repo,
    runner: new RecordingRunner(),
    clock,
    ...(catchUpMs === undefined ? {} : { catchUpMs }),
  });
  return { clock, scheduler };
}

const healthy = { verdict: 'healthy' as const, score: 0.1, threshold: 3, culprits: [], explanation: 'ok' };

describe('rollout scheduler', () => {
  test('runs a deployment to completion from timers, verdicts and provisioner reports', async () => {
    const { clock, runner, scheduler, repo } = setup();
    // Deploy: persisted in provisioning, provision effect runs, its report moves it to shadowing.
    const d = scheduler.deploy({ service: 'checkout', version: 'v2', previousVersion: 'v1', plan: plan() });
    assert.equal(repo.get(d.id)?.phase, 'provisioning');
    await scheduler.idle();
    assert.equal(repo.get(d.id)?.phase, 'shadowing');
    assert.deepEqual(runner.kinds().slice(0, 2), ['route:{"v1":100}', 'provision:v2']);
    // Healthy verdicts and the timers walk it through each step to completion.
    for (const hold of [60_000, 30_000, 30_000, 30_000, 60_000]) {
      scheduler.verdict('checkout', 'candidate', healthy);
      clock.advance(hold);
      await scheduler.idle();
    }
    assert.equal(repo.get(d.id)?.phase, 'completed');
    assert.deepEqual(
      repo.transitions(d.id).map((t) => `${t.from}→${t.to} ${t.event}`),
      [
        'provisioning→provisioning deploy',
        'provisioning→shadowing provisioned',
        'shadowing→promoting timer:shadow_end',
        'promoting→promoting timer:step_end',
        'promoting→promoting timer:step_end',
        'promoting→baking timer:step_end',
        'baking→completed timer:bake_end',
      ],
    );
    assert.equal(clock.pending, 0, 'no timer left once final');
  });

  test('a deploy while another is in progress is refused and changes nothing', () => {
    const { scheduler, repo } = setup();
    scheduler.deploy({ service: 'checkout', version: 'v2', previousVersion: 'v1', plan: plan() });
    assert.throws(
      () => scheduler.deploy({ service: 'checkout', version: 'v3', previousVersion: 'v1', plan: plan() }),
      (err: Error) =>
        err instanceof RolloutRefusal && /already has deployment .* \(v2\) in provisioning/.test(err.message),
    );
    assert.equal(repo.list().length, 1);
    assert.throws(
      () => scheduler.deploy({ service: 'cart', version: 'v1', previousVersion: 'v1', plan: plan() }),
      /already the version in production/,
    );
  });

  test('commands are refused with the machine message and no state change; unknown services refused', async () => {
    const { scheduler, repo } = setup();
    assert.throws(() => scheduler.command('checkout', 'promote'), /checkout has no deployment/);
    const d = scheduler.deploy({ service: 'checkout', version: 'v2', previousVersion: 'v1', plan: plan() });
    const before = repo.get(d.id);
    const r = scheduler.command('checkout', 'promote');
    assert.match(r.refused ?? '', /still provisioning/);
    assert.deepEqual(repo.get(d.id), before);
    assert.equal(repo.transitions(d.id).length, 1);
    assert.throws(
      () => scheduler.dispatch('nope', { type: 'command', command: 'abort' }),
      /unknown deployment 'nope'/,
    );
  });

  test('a failing provision is fed back: the rest of its batch is skipped and the deployment rolls back', async () => {
    const { runner, scheduler, repo } = setup();
    runner.failProvision = 'v2';
    const d = scheduler.deploy({
      service: 'checkout',
      version: 'v2',
      previousVersion: 'v1',
      plan: plan({ baseline: true }),
    });
    await scheduler.idle();
    const s = repo.get(d.id)!;
    // v1 reported full capacity at once: validating.
    assert.equal(s.phase, 'validating');
    assert.match(s.rollback?.reason ?? '', /provisioning failed: v2 exited with code 1/);
    // The baseline provision after the failed candidate provision never ran.
    assert.ok(!runner.ran.some(({ effect: e }) => e.kind === 'provision' && e.pool === 'baseline'));
  });

  test('a superseded batch skips its remaining effects; alerts still go out', async () => {
    const { runner, scheduler, repo } = setup();
    // The candidate's provision hangs; the baseline provision would come after it.
    runner.holdProvision = 'v2';
    const d = scheduler.deploy({
      service: 'checkout',
      version: 'v2',
      previousVersion: 'v1',
      plan: plan({ baseline: true }),
    });
    await new Promise((r) => setImmediate(r));
    // The operator aborts meanwhile.
    scheduler.command('checkout', 'abort');
    runner.release();
    await scheduler.idle();
    assert.equal(repo.get(d.id)?.phase, 'aborted');
    assert.deepEqual(runner.kinds(), [
      'route:{"v1":100}',
      'provision:v2',
      // (the baseline provision of the first batch was skipped)
      'control:pause',
      'control:percentage',
      'route:{"v1":100}',
      'deprovision:v2',
      'deprovision:v1',
      'alert:',
    ]);
  });

  test("a new deployment's effects wait until the ended one of the same service has torn its pools down", async () => {
    const { clock, runner, scheduler, repo } = setup();
    const first = deployV2(scheduler);
    await scheduler.idle();
    // The abort's teardown of v2 (route away, drain, stop) takes a while.
    runner.holdDeprovision = 'v2';
    scheduler.command('checkout', 'abort');
    await new Promise((r) => setImmediate(r));
    // The same version is deployed again at once.
    clock.advance(1);
    const second = deployV2(scheduler);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const ofSecond = () => runner.ran.filter((r) => r.deploymentId === second.id).map((r) => r.effect.kind);
    assert.deepEqual(ofSecond(), [], 'nothing of the new deployment runs during the teardown');
    runner.release();
    await scheduler.idle();
    // Then the new deployment provisions v2 afresh, after the teardown, and shadows it.
    const teardown = runner.ran.findIndex(
      (r) => r.deploymentId === first.id && r.effect.kind === 'deprovision',
    );
    const provision = runner.ran.findIndex(
      (r) => r.deploymentId === second.id && r.effect.kind === 'provision',
    );
    assert.ok(teardown >= 0 && provision > teardown, runner.kinds().join(', '));
    assert.equal(repo.get(second.id)?.phase, 'shadowing');
  });

  test('after a restart, effects are re-issued and timers re-armed from persisted deadlines', async () => {
    // A first daemon takes the deployment to step 2 of promotion, then dies.
    const first = setup();
    const d = first.scheduler.deploy({
      service: 'checkout',
      version: 'v2',
      previousVersion: 'v1',
      plan: plan(),
    });
    await first.scheduler.idle();
    first.scheduler.command('checkout', 'promote');
    first.scheduler.command('checkout', 'promote');
    await first.scheduler.idle();
    const persisted = first.repo.get(d.id)!;
    assert.equal(persisted.candidateWeight, 50);
    // A second daemon on the same repo, 10 s later.
    const clock = new ManualClock(T0 + 10_000);
    const runner = new RecordingRunner();
    const second = new RolloutScheduler({ repo: first.repo, runner, clock });
    second.start();
    await second.idle();
    // It re-issued exactly the desired effects of the persisted state.
    assert.deepEqual(
      runner.ran.map((r) => r.effect),
      desiredEffects(persisted),
    );
    // Its timer is armed at the persisted deadline (30 s hold from T0): a healthy verdict then advances.
    second.verdict('checkout', 'candidate', healthy);
    clock.advance(persisted.deadline!.atMs - clock.now() - 1);
    assert.equal(first.repo.get(d.id)?.candidateWeight, 50, 'not before its deadline');
    clock.advance(1);
    assert.equal(first.repo.get(d.id)?.candidateWeight, 100);
  });

  test('a deadline that passed while the daemon was down fires at once on restart', async () => {
    const first = setup();
    const d = deployV2(first.scheduler);
    first.scheduler.command('checkout', 'rollback');
    // Down for 10 minutes: past the 45 s capacity timeout.
    const { clock, scheduler: second } = restartAt(first.repo, T0 + 600_000);
    second.start();
    clock.advance(0);
    assert.equal(first.repo.get(d.id)?.phase, 'rollback_failed');
  });

  test('a shadow that ended while the daemon was down is judged on verdicts given after the restart', async () => {
    // A first daemon shadows for 14 s of a 60 s shadow, judged healthy so far, then dies.
    const first = setup();
    const d = deployV2(first.scheduler);
    await first.scheduler.idle();
    first.clock.advance(14_000);
    first.scheduler.verdict('checkout', 'candidate', healthy);
    const shadowEnd = first.repo.get(d.id)!.deadline!.atMs;
    // A second daemon on the same repo, 10 minutes later: the shadow's end is long past.
    const { clock, scheduler: second } = restartAt(first.repo, T0 + 600_000, 8000);

    second.start();
    clock.advance(0);

    // Not promoted on the stale verdict: the deadline waits for the evidence buffered meanwhile.
    const resumed = first.repo.get(d.id)!;
    assert.ok(shadowEnd < clock.now());
    assert.equal(resumed.phase, 'shadowing');
    assert.equal(resumed.lastVerdict, null);
    assert.deepEqual(resumed.deadline, { timer: 'shadow_end', atMs: T0 + 600_000 + 8000 });
    assert.match(first.repo.transitions(d.id).at(-1)!.reason, /shadow_end passed while the daemon was down/);
    // A verdict on the caught-up evidence decides at the new deadline.
    clock.advance(5000);
    second.verdict('checkout', 'candidate', healthy);
    clock.advance(3000);
    assert.equal(first.repo.get(d.id)?.phase, 'promoting');
  });

  test('without a verdict since the restart, a passed shadow end is extended, never promoted', async () => {
    const first = setup();
    const d = deployV2(first.scheduler);
    await first.scheduler.idle();
    first.scheduler.verdict('checkout', 'candidate', healthy);
    const { clock, scheduler: second } = restartAt(first.repo, T0 + 600_000, 8000);

    second.start();
    clock.advance(8000);

    const s = first.repo.get(d.id)!;
    assert.equal(s.phase, 'shadowing');
    assert.equal(s.extensions, 1);
  });

  test('stop() clears timers, lets the running effect finish, starts nothing new, refuses events', async () => {
    const { clock, runner, scheduler } = setup();
    runner.holdProvision = 'v2';
    const d = scheduler.deploy({
      service: 'checkout',
      version: 'v2',
      previousVersion: 'v1',
      plan: plan({ baseline: true }),
    });
    await new Promise((r) => setImmediate(r));
    const stopped = scheduler.stop();
    runner.release();
    await stopped;
    // The baseline provision queued after the held one never ran; no timer is left.
    assert.deepEqual(runner.kinds(), ['route:{"v1":100}', 'provision:v2']);
    assert.equal(clock.pending, 0);
    assert.throws(
      () => scheduler.dispatch(d.id, { type: 'command', command: 'abort' }),
      /the rollout scheduler is stopped/,
    );
  });

  test('a deadline whose transition cannot be stored (the store out of reach) is tried again, not forgotten', async () => {
    // The shared store fails the first write after the deploy, then answers again.
    class FlakyRepo extends MemoryDeploymentRepo {
      failNextSave = false;
      override save(...args: Parameters<MemoryDeploymentRepo['save']>): void {
        if (this.failNextSave) {
          this.failNextSave = false;
          throw new Error('PostgreSQL did not answer within 2000 ms (batch)');
        }
        super.save(...args);
      }
    }
    const repo = new FlakyRepo();
    const { clock, scheduler } = setup(repo);
    const d = deployV2(scheduler);
    await scheduler.idle();
    assert.equal(repo.get(d.id)?.phase, 'shadowing');
    scheduler.verdict('checkout', 'candidate', healthy);
    repo.failNextSave = true;
    clock.advance(60_000);
    await scheduler.idle();
    assert.equal(repo.get(d.id)?.phase, 'shadowing', 'nothing moved without the store');
    // The retry a second later stores the transition the deadline called for.
    clock.advance(1_000);
    await scheduler.idle();
    assert.equal(repo.get(d.id)?.phase, 'promoting');
    assert.equal(repo.transitions(d.id).at(-1)?.event, 'timer:shadow_end');
  });
});
