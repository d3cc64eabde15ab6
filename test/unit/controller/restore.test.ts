/**
 * The daemon's effect runner drives a rollback: a restored version that is
 * slower than its provisioning timeout reports what is ready, traffic moves
 * back at that pace, and the re-run provision finishes the restore before the
 * capacity deadline (never rollback_failed for a restore that is progressing).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControllerEffectRunner, type RoutingPort } from '../../../daemon/controller/effects.js';
import type { PoolRef, PoolStatus, Provisioner } from '../../../daemon/provision/provisioner.js';
import { MemoryDeploymentRepo } from '../../../daemon/rollout/memory-repo.js';
import { RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import type { Effect } from '../../../daemon/rollout/types.js';
import { plan, T0 } from '../rollout/fixtures.js';
import { ManualClock } from '../rollout/scheduler-fixtures.js';

/**
 * v2 comes up at once; v1 (the restore) has 3 of 4 ready when its first
 * `ensure` times out, and all 4 on the next one.
 */
class SlowRestore {
  readonly ensured: string[] = [];
  readonly stopped: string[] = [];
  #v1Calls = 0;
  #v1Ready = 0;

  async ensure(ref: PoolRef, replicas: number): Promise<PoolStatus> {
    this.ensured.push(`${ref.version}/${ref.pool}`);
    if (ref.version !== 'v1') return { ...ref, ready: replicas, desired: replicas } as PoolStatus;
    this.#v1Calls++;
    if (this.#v1Calls === 1) {
      this.#v1Ready = 3;
      throw new Error(`v1/main: 3 of ${replicas} healthy after 90000 ms`);
    }
    this.#v1Ready = replicas;
    return { ...ref, ready: replicas, desired: replicas } as PoolStatus;
  }

  status(): PoolStatus[] {
    return this.#v1Calls === 0 ? [] : [{ version: 'v1', pool: 'main', ready: this.#v1Ready } as PoolStatus];
  }

  endpoints(): unknown[] {
    return [];
  }

  async stop(ref: PoolRef): Promise<void> {
    this.stopped.push(`${ref.version}/${ref.pool}`);
  }
}

const healthy = { verdict: 'healthy' as const, score: 0.1, threshold: 3, culprits: [], explanation: 'ok' };

test('a restore slower than its provisioning timeout proceeds at its pace, never rollback_failed', async () => {
  // Arrange: the daemon's runner over a provisioner whose restore is slow.
  const clock = new ManualClock(T0);
  const repo = new MemoryDeploymentRepo();
  const provisioner = new SlowRestore();
  const routes: Effect[] = [];
  const routing: RoutingPort = {
    apply: async (e) => {
      routes.push(e);
    },
    publish: async () => undefined,
    route: () => undefined,
  };
  const runner = new ControllerEffectRunner({
    routing,
    provisioners: new Map([['checkout', provisioner as unknown as Provisioner]]),
    control: { setControl: () => undefined },
    webhookFor: () => undefined,
  });
  const scheduler = new RolloutScheduler({ repo, runner, clock });
  scheduler.start();
  const d = scheduler.deploy({ service: 'checkout', version: 'v2', previousVersion: 'v1', plan: plan() });
  await scheduler.idle();
  // Healthy verdicts walk it to the second step: v2 takes 50%.
  for (const hold of [60_000, 30_000]) {
    scheduler.verdict('checkout', 'candidate', healthy);
    clock.advance(hold);
    await scheduler.idle();
  }
  assert.equal(repo.get(d.id)?.candidateWeight, 50);

  // Act: an operator rolls back.
  scheduler.command('checkout', 'rollback', 'test');
  await scheduler.idle();

  // Assert: 3 of 4 ready moved 75% back to v1; the re-run provision restored the rest.
  const weights = routes.flatMap((e) => (e.kind === 'route' ? [JSON.stringify(e.weights)] : []));
  assert.deepEqual(weights.slice(-2), ['{"v1":75,"v2":25}', '{"v1":100}']);
  assert.equal(provisioner.ensured.filter((p) => p === 'v1/main').length, 2);
  assert.equal(repo.get(d.id)?.phase, 'validating');
  clock.advance(plan().capacityTimeoutMs);
  await scheduler.idle();
  assert.equal(repo.get(d.id)?.phase, 'validating');
  const reasons = repo.transitions(d.id).map((t) => t.reason);
  assert.ok(!reasons.some((r) => /did not regain capacity/.test(r)), reasons.join('\n'));
});
