/**
 * The adaptive share in the controller: once a second the policy reads the
 * judge's word on this phase, production's own requests and the shadow
 * pool's load, and a change of share reaches the rollout as an event with
 * its reason (the history shows it) and the filters as a control effect.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import { AdaptiveShareLoop } from '../../../daemon/controller/adaptive.js';
import type { ServiceEvidence } from '../../../daemon/controller/evidence.js';
import { rolloutCollector } from '../../../daemon/controller/rollout-metrics.js';
import type { PoolStatus } from '../../../daemon/provision/provisioner.js';
import { MemoryDeploymentRepo } from '../../../daemon/rollout/memory-repo.js';
import { RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { rng, simulateCell, spec } from '../judge/sim.js';
import { plan, T0 } from '../rollout/fixtures.js';
import { ManualClock, RecordingRunner } from '../rollout/scheduler-fixtures.js';
import { checkoutConfig } from './fixtures.js';

const healthy = (score = 0): ServiceEvidence => ({
  verdict: 'healthy',
  reason: null,
  score,
  threshold: 2,
  culprits: [],
  pairs: 500,
  evidence: [],
  predictedSecondsToThreshold: null,
});

async function setup() {
  const repo = new MemoryDeploymentRepo();
  const clock = new ManualClock(T0);
  const runner = new RecordingRunner();
  const scheduler = new RolloutScheduler({ repo, runner, clock });
  scheduler.start();
  const d = scheduler.deploy({
    service: 'checkout',
    version: 'v2',
    previousVersion: 'v1',
    plan: plan({ shadowPercentage: 20, adaptive: { min: 1, max: 20 } }),
  });
  await scheduler.idle();
  assert.equal(repo.get(d.id)?.phase, 'shadowing');
  const world = { evidence: undefined as ServiceEvidence | undefined, pools: [] as PoolStatus[] };
  const loop = new AdaptiveShareLoop({
    scheduler,
    evidence: () => world.evidence,
    pools: () => world.pools,
    now: () => clock.now(),
  });
  const r = rng(7);
  /** One second: cells handed over, then the once-a-second tick. */
  const second = (cells: (s: number) => CellStats[] = () => []) => {
    clock.advance(1000);
    loop.observe(cells(Math.floor(clock.now() / 1000) - 3));
    loop.tick(['checkout']);
  };
  const cell = (s: number, over: Parameters<typeof spec>[0] = {}) =>
    simulateCell(r, spec({ pairsPerSecond: 40, ...over }), s, 'checkout');
  const shares = () =>
    repo
      .transitions(d.id)
      .filter((t) => t.event === 'share')
      .map((t) => t.reason);
  return { repo, runner, scheduler, d, world, loop, second, cell, shares };
}

test('calm judged healthy: the share drops to min once, with its reason in the history and a control effect', async () => {
  const { repo, runner, scheduler, d, world, second, cell, shares } = await setup();
  world.evidence = healthy(0.1);
  runner.clear();

  for (let i = 0; i < 20; i++) second((s) => [cell(s)]);
  await scheduler.idle();

  assert.deepEqual(shares(), ['share 1%: judged healthy for 15 s: holding 1%']);
  assert.deepEqual(repo.get(d.id)?.share?.percentage, 1);
  assert.deepEqual(
    runner.ran.map((x) => x.effect),
    [{ kind: 'control', service: 'checkout', action: 'percentage', percentage: 1 }],
  );
});

test('production failing its own requests pauses mirroring at 0, and resumes at max when it recovers', async () => {
  const { repo, d, world, second, cell, shares } = await setup();
  world.evidence = healthy(0.1);

  for (let i = 0; i < 3; i++) second((s) => [cell(s, { primary: { errorRate: 0.3 }, liveFactor: 2 })]);
  const paused = repo.get(d.id)?.share?.percentage;
  // Mirroring is off: production's live sample alone shows it recovered.
  for (let i = 0; i < 8; i++) second((s) => [cell(s, { pairsPerSecond: 0, liveFactor: 0 }), liveOnly(s)]);

  assert.equal(paused, 0);
  assert.match(
    shares()[0] ?? '',
    /^share 0%: paused: production unhealthy \(\d+(\.\d)?% of its requests failed\)$/,
  );
  assert.equal(repo.get(d.id)?.share?.percentage, 20);
});

test('a saturated shadow pool halves the share; an unmeasured pool is not saturated', async () => {
  const { repo, d, world, second, cell } = await setup();
  world.evidence = healthy(0.1);
  world.pools = [
    {
      version: 'v2',
      pool: 'main',
      desired: 1,
      ready: 1,
      instances: [{ index: 0, endpoint: { host: '127.0.0.1', port: 1 }, healthy: true, cpuPercent: 95 }],
    },
  ];

  second((s) => [cell(s)]);
  const halved = repo.get(d.id)?.share?.percentage;
  world.pools = [
    { ...world.pools[0]!, instances: [{ ...world.pools[0]!.instances[0]!, cpuPercent: undefined }] },
  ];
  second((s) => [cell(s)]);

  assert.equal(halved, 10);
  assert.equal(repo.get(d.id)?.share?.percentage, 10, 'unknown CPU: held (healthy, calm), not halved again');
});

test('a shadow far slower than production is a saturated pool', async () => {
  const { repo, d, world, second, cell, shares } = await setup();
  world.evidence = healthy(0.1);

  second((s) => [cell(s, { shadow: { latencyFactor: 4 } })]);

  assert.equal(repo.get(d.id)?.share?.percentage, 10);
  assert.match(shares()[0] ?? '', /latency \d\.\d× production's/);
});

test('at most once a second: ticks within the same second do nothing', async () => {
  const { repo, d, world, loop, cell } = await setup();
  world.evidence = healthy(0.1);
  loop.observe([cell(Math.floor(T0 / 1000), { shadow: { latencyFactor: 4 } })]);

  loop.tick(['checkout']);
  loop.tick(['checkout']);
  loop.tick(['checkout']);

  assert.equal(repo.get(d.id)?.share?.percentage, 10, 'halved once, not three times');
});

/** Production's live sample alone, with its own failures. */
function liveOnly(second: number): CellStats {
  return {
    key: { service: 'checkout', endpoint: 'GET /b', segment: 'eu', second },
    candidate: simulateCell(rng(1), spec({ pairsPerSecond: 0 }), second).candidate,
    baseline: simulateCell(rng(1), spec({ pairsPerSecond: 0 }), second).baseline,
    live: { stable: { requests: 30, failed: 0, overTail: 0, latSumUs: 0 } },
    examples: {},
  };
}

test('the mirror ratio metric shows the share in force, not the max the routes are made for', async () => {
  const { scheduler, world, second, cell } = await setup();
  world.evidence = healthy(0.1);
  const store = openStore(':memory:');
  const collect = rolloutCollector(
    checkoutConfig().services,
    { scheduler, evidence: () => undefined, pools: () => [] },
    store,
  );
  const ratio = () =>
    collect()
      .find((f) => f.name === 'umbra_rollout_mirror_ratio')
      ?.samples.find((s) => s.labels?.['service'] === 'checkout')?.value;
  const atMax = ratio();

  for (let i = 0; i < 16; i++) second((s) => [cell(s)]);

  assert.equal(atMax, 0.2);
  assert.equal(ratio(), 0.01);
});
