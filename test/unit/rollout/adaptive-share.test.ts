/**
 * Adaptive shadowing in the rollout machine and its scheduler: a `share`
 * event sets the share in force (with its reason in the history) and sends
 * only a control effect; routes stay made for the plan's max.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { desiredEffects } from '../../../daemon/rollout/desired.js';
import { step } from '../../../daemon/rollout/machine.js';
import { MemoryDeploymentRepo } from '../../../daemon/rollout/memory-repo.js';
import { RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import type { Effect, RolloutEvent } from '../../../daemon/rollout/types.js';
import { ev, kinds, plan, run, shadowing, T0 } from './fixtures.js';
import { ManualClock, RecordingRunner } from './scheduler-fixtures.js';

const adaptive = { shadowPercentage: 20, adaptive: { min: 1, max: 20 } };
const share = (percentage: number, at: number, reason = 'test'): RolloutEvent => ({
  type: 'share',
  percentage,
  reason,
  at,
});
const percentageOf = (effects: Effect[]) =>
  effects.flatMap((e) => (e.kind === 'control' && e.action === 'percentage' ? [e.percentage] : []));

describe('adaptive share in the machine', () => {
  test('a share event sets the share in force, sends only the control effect, and says why', () => {
    const s = shadowing(adaptive);

    const r = step(s, share(4, T0 + 5000, 'judged healthy for 15 s: holding 1%'));

    assert.deepEqual(r.state.share, {
      percentage: 4,
      reason: 'judged healthy for 15 s: holding 1%',
      at: T0 + 5000,
    });
    assert.deepEqual(r.effects, [
      { kind: 'control', service: 'checkout', action: 'percentage', percentage: 4 },
    ]);
    assert.equal(r.reason, 'share 4%: judged healthy for 15 s: holding 1%');
    // The whole desired world re-run (a restart) keeps the share in force and routes for max.
    const world = desiredEffects(r.state);
    assert.deepEqual(percentageOf(world), [4]);
    const route = world.find((e) => e.kind === 'route');
    assert.equal(route?.kind === 'route' ? route.mirror?.percentage : null, 20);
  });

  test('the same share again changes nothing and leaves no history', () => {
    const s = run(shadowing(adaptive), share(4, T0 + 5000)).state;

    const r = step(s, share(4, T0 + 6000));

    assert.equal(r.state, s);
    assert.equal(r.reason, undefined);
  });

  test('a share is clamped to the range max; ignored with a fixed plan, while paused, or outside mirroring phases', () => {
    const clamped = step(run(shadowing(adaptive), share(4, T0 + 3000)).state, share(50, T0 + 5000));
    const fixed = shadowing();
    const paused = run(shadowing(adaptive), ev.command('pause', T0 + 2000)).state;
    const provisioning = run(shadowing(adaptive), ev.command('rollback', T0 + 2000)).state;

    assert.equal(clamped.state.share?.percentage, 20);
    assert.equal(step(fixed, share(4, T0 + 5000)).state, fixed);
    assert.equal(step(paused, share(4, T0 + 5000)).state, paused);
    assert.equal(step(provisioning, share(4, T0 + 5000)).state, provisioning);
  });

  test('a new phase starts again at the plan share (max)', () => {
    const s = run(shadowing(adaptive), share(2, T0 + 5000)).state;

    const r = run(s, ev.verdict('healthy', T0 + 30_000), ev.timer('shadow_end', T0 + 61_000));

    assert.equal(r.state.phase, 'promoting');
    assert.equal(r.state.share, null);
    assert.ok(kinds(r).includes('route'));
  });
});

describe('adaptive share in the scheduler', () => {
  test('a share batch runs after the batch before it and supersedes none of it', async () => {
    const repo = new MemoryDeploymentRepo();
    const runner = new RecordingRunner();
    const scheduler = new RolloutScheduler({ repo, runner, clock: new ManualClock(T0) });
    scheduler.start();
    const d = scheduler.deploy({
      service: 'checkout',
      version: 'v2',
      previousVersion: 'v1',
      plan: plan(adaptive),
    });
    await scheduler.idle();
    scheduler.command('checkout', 'pause');
    await scheduler.idle();
    assert.equal(repo.get(d.id)?.phase, 'shadowing');
    // Resuming re-runs the whole world; its candidate provision hangs, and a share arrives meanwhile.
    runner.holdProvision = 'v2';
    scheduler.command('checkout', 'resume');
    await new Promise((r) => setImmediate(r));
    runner.clear();

    scheduler.toActive('checkout', { type: 'share', percentage: 3, reason: 'test' });
    runner.release();
    await scheduler.idle();

    // The resumed world ran whole, then the share.
    assert.deepEqual(runner.kinds(), [
      'route:{"v1":100}',
      'control:percentage',
      'control:resume',
      'control:percentage',
    ]);
    assert.deepEqual(
      runner.ran
        .slice(1)
        .map(({ effect }) =>
          effect.kind === 'control' && effect.action === 'percentage' ? effect.percentage : effect.kind,
        ),
      [20, 'control', 3],
    );
    assert.equal(repo.get(d.id)?.share?.percentage, 3);
  });
});
