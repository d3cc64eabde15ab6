/**
 * The chaos runner step by step, over a recording routing table and
 * provisioner: the candidate and baseline start, production's weights stay,
 * the faults go on the egress only after the warm-up, the seconds under
 * faults make the verdict, and the end puts everything back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { parseConfig } from '../../../daemon/config/load.js';
import {
  ChaosRefusal,
  ChaosRunner,
  type ChaosRunnerOptions,
} from '../../../daemon/controller/chaos-runner.js';
import type { ServiceRoute } from '../../../daemon/controller/routing.js';
import type { Provisioner } from '../../../daemon/provision/provisioner.js';
import type { RouteEffect } from '../../../daemon/rollout/types.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import type { DesiredFault } from '../../../daemon/xds/resources/desired.js';
import { waitFor } from '../../harness/index.js';

const config = (() => {
  const r = parseConfig(`
services:
  - name: shop
    stable: v1
    egress: 127.0.0.1:15001
    dependencies: { inventory: '127.0.0.1:7000' }
    mirroring: { baseline: true }
    provisioner: { kind: process, versions: { v1: { command: [a] }, v4: { command: [b] } } }
`);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
})();

function rig(
  deployment: { id: string; version: string; phase: string } | null = null,
  ab: string | null = null,
  extra: Partial<ChaosRunnerOptions> = {},
) {
  const log: string[] = [];
  const faults: DesiredFault[][] = [];
  let route: ServiceRoute = { weights: { v1: 100 }, mirror: null, filter: false };
  const routing = {
    route: () => route,
    apply: async (e: RouteEffect) => {
      route = { weights: e.weights, mirror: e.mirror, filter: e.filter };
      log.push(`route ${JSON.stringify(e.weights)} mirror ${e.mirror ? e.mirror.target : 'none'}`);
    },
    setFaults: async (_service: string, f: readonly DesiredFault[]) => {
      faults.push([...f]);
      log.push(`faults ${f.length}`);
    },
    publish: async () => undefined,
  };
  const provisioner = {
    ensure: async (ref: { version: string; pool: string }, n: number) => {
      log.push(`ensure ${ref.version}/${ref.pool} ${n}`);
      return { ...ref, desired: n, ready: n, instances: [] };
    },
    stop: async (ref: { version: string; pool: string }) => {
      log.push(`stop ${ref.version}/${ref.pool}`);
    },
  } as unknown as Provisioner;
  const runner = new ChaosRunner({
    services: config.services,
    routing,
    provisioners: new Map([['shop', provisioner]]),
    control: { setControl: (_s, c) => log.push(`control ${c.paused ? 'paused' : c.percentage}`) },
    deploymentInProgress: () => deployment,
    abRunning: () => ab,
    warmupMs: 10,
    drainMs: 10,
    ...extra,
  });
  return { runner, log, faults, route: () => route };
}

/** One second of cells: `pairs` mirrored requests, of which the candidate and baseline failed these many alone. */
function second(at: number, pairs: number, candidateFailed: number, baselineFailed: number): CellStats[] {
  const arm = (failed: number) => ({ ...emptyPaired(), pairs, shadowFailed: failed, errShadowOnly: failed });
  return [
    {
      key: { service: 'shop', endpoint: '/cart', segment: 'eu', second: at },
      candidate: arm(candidateFailed),
      baseline: arm(baselineFailed),
      live: {},
      examples: {},
    },
  ];
}

test('an experiment: candidate and baseline up, faults after the warm-up, verdict on the seconds under faults, all put back', async () => {
  const r = rig();

  // Start: refused nothing; v4 is the candidate, v1 (serving) the baseline.
  const started = r.runner.start({
    service: 'shop',
    version: 'v4',
    faults: [{ kind: 'abort', dependency: 'inventory', status: 503, percent: 30 }],
    durationMs: 1000,
    onRegression: 'fail',
  });
  assert.equal(started.phase, 'warming');
  assert.equal(started.baseline, 'v1');

  // Injecting: the faults are on the egress; production's weights are unchanged.
  const injecting = await waitFor('injecting', () => r.runner.status('shop')[0]?.phase === 'injecting');
  assert.ok(injecting);
  assert.deepEqual(r.faults[0], [{ dependency: 'inventory', percent: 30, abortStatus: 503 }]);
  assert.deepEqual(r.route().weights, { v1: 100 });
  assert.equal(r.route().mirror?.target, 'v4');

  // Seconds before the faults do not count; those under them do.
  const on = Math.floor(r.runner.status('shop')[0]!.faultsOnAt! / 1000);
  r.runner.onSecond(second(on - 5, 100, 100, 0));
  r.runner.onSecond(second(on + 1, 200, 60, 2));

  // End: faults lifted, mirror off, pools stopped, the verdict given.
  const ended = await waitFor('ended', () => {
    const e = r.runner.status('shop')[0]!;
    return ['passed', 'failed'].includes(e.phase) ? e : undefined;
  });
  assert.equal(ended.phase, 'failed');
  assert.equal(ended.verdict?.regression, true);
  assert.equal(ended.verdict?.culprit, '/cart/errors');
  assert.equal(ended.verdict?.candidate.pairs, 200, 'the second before the faults is not in the verdict');
  assert.deepEqual(r.faults.at(-1), []);
  assert.deepEqual(r.log, [
    'ensure v4/main 1',
    'ensure v1/baseline 1',
    'route {"v1":100} mirror v4',
    'control 10',
    'faults 1',
    'faults 0',
    'control paused',
    'route {"v1":100} mirror none',
    'stop v4/main',
    'stop v1/baseline',
  ]);
  assert.match(
    r.runner.deployRefusal('shop', 'v4') ?? '',
    /^v4 failed its chaos experiment: resilience regression/,
  );
  assert.equal(r.runner.deployRefusal('shop', 'v1'), undefined);
});

test('refused with the reason while a deployment or an A/B experiment is in progress, and for the version serving production', () => {
  const busy = rig({ id: 'd3', version: 'v4', phase: 'shadowing' });
  const req = {
    service: 'shop',
    version: 'v4',
    faults: [{ kind: 'delay' as const, dependency: 'inventory', ms: 200, percent: 100 }],
    durationMs: 1000,
    onRegression: 'report' as const,
  };

  assert.throws(
    () => busy.runner.start(req),
    (e: Error) => e instanceof ChaosRefusal && /deployment d3 of v4 in progress/.test(e.message),
  );
  assert.throws(() => rig().runner.start({ ...req, version: 'v1' }), /v1 serves production/);
  const split = rig(null, 'shop-v5-ab-1');
  assert.throws(() => split.runner.start(req), /runs A\/B experiment shop-v5-ab-1; stop it first/);
  assert.deepEqual(busy.log, [], 'nothing started');
  assert.deepEqual(split.log, [], 'nothing started beside the A/B experiment');
});

test('replica loss: the candidate runs one more replica than it loses, and loses them when the faults go on', async () => {
  const r = rig();

  r.runner.start({
    service: 'shop',
    version: 'v4',
    faults: [{ kind: 'lose-replica', replicas: 2 }],
    durationMs: 1000,
    onRegression: 'report',
  });
  await waitFor('ended', () => ['passed', 'failed'].includes(r.runner.status('shop')[0]!.phase));

  assert.deepEqual(r.log.slice(0, 6), [
    'ensure v4/main 3',
    'ensure v1/baseline 3',
    'route {"v1":100} mirror v4',
    'control 10',
    'faults 0',
    'ensure v4/main 1',
  ]);
  assert.ok(!r.log.some((l) => l.startsWith('ensure v1/main')), "production's pool is never resized");
});

test('runs are stored as they go; a stop suspends them, and the next runner resumes or closes them by their window', async () => {
  const store = openStore(':memory:');
  const first = rig(null, null, { store });
  first.runner.start({
    service: 'shop',
    version: 'v4',
    faults: [{ kind: 'abort', dependency: 'inventory', status: 503, percent: 30 }],
    durationMs: 60_000,
    onRegression: 'fail',
  });
  await waitFor('injecting', () => first.runner.status('shop')[0]?.phase === 'injecting');
  const on = first.runner.status('shop')[0]!.faultsOnAt!;
  first.runner.onSecond(second(Math.floor(on / 1000) + 1, 200, 60, 2));
  const tallied = store.listChaosRuns({ service: 'shop' })[0]!;
  await first.runner.close();
  const suspended = store.listChaosRuns({ service: 'shop' })[0]!;

  // Within its window: resumed under its faults, straight away (no second warm-up), tally kept.
  const again = rig(null, null, { store });
  again.runner.resume();
  await waitFor('resumed', () => again.faults.length > 0);
  const resumed = again.runner.status('shop')[0]!;
  await again.runner.close();
  // Its window passed while no daemon ran: closed with what it had; a regression under `fail` fails it.
  const later = rig(null, null, { store, now: () => on + 120_000 });
  later.runner.resume();
  const closed = later.runner.status('shop')[0]!;

  assert.equal((tallied.data as { seconds: unknown[] }).seconds.length, 1, 'each tallied second is stored');
  assert.equal(suspended.phase, 'injecting', 'a daemon stop suspends: the run is kept as it stood');
  assert.deepEqual(first.faults.at(-1), [], 'its faults were lifted');
  assert.equal(resumed.phase, 'injecting');
  assert.equal(resumed.faultsOnAt, on);
  assert.equal(resumed.verdict?.candidate.pairs, 200);
  assert.deepEqual(again.faults[0], [{ dependency: 'inventory', percent: 30, abortStatus: 503 }]);
  assert.equal(closed.phase, 'failed');
  assert.match(
    closed.reason ?? '',
    /^failed: the daemon was down when its window ended; the verdict covers the 1 s seen/,
  );
  assert.equal(closed.verdict?.regression, true);
  assert.equal(store.listChaosRuns({ service: 'shop' })[0]!.phase, 'failed');
  assert.deepEqual(later.log, [], 'a closed run starts nothing');
  store.close();
});

test('a failed version stays refused after a restart, and a run closed after a restart on a regression under `fail` is failed', async () => {
  const store = openStore(':memory:');
  const req = {
    service: 'shop',
    version: 'v4',
    faults: [{ kind: 'abort' as const, dependency: 'inventory', status: 503, percent: 30 }],
    durationMs: 1000,
    onRegression: 'fail' as const,
  };
  // A run that ends `failed` on its own.
  const first = rig(null, null, { store });
  first.runner.start(req);
  await waitFor('injecting', () => first.runner.status('shop')[0]?.phase === 'injecting');
  const on = Math.floor(first.runner.status('shop')[0]!.faultsOnAt! / 1000);
  first.runner.onSecond(second(on + 1, 200, 60, 2));
  await waitFor('failed', () => first.runner.status('shop')[0]!.phase === 'failed');

  // Restart: a new runner over the same store holds the ended run (runs nothing) and still refuses v4.
  const next = rig(null, null, { store });
  next.runner.resume();

  assert.match(next.runner.deployRefusal('shop', 'v4') ?? '', /^v4 failed its chaos experiment/);
  assert.equal(next.runner.deployRefusal('shop', 'v1'), undefined);
  assert.deepEqual(next.log, [], 'an ended run is held, not run');

  // A run suspended under faults whose window passes while no daemon runs: its regression fails it.
  const third = rig(null, null, { store });
  third.runner.start({ ...req, durationMs: 60_000 });
  await waitFor('injecting', () => third.runner.status('shop')[0]?.phase === 'injecting');
  const on3 = third.runner.status('shop')[0]!.faultsOnAt!;
  third.runner.onSecond(second(Math.floor(on3 / 1000) + 1, 200, 60, 2));
  await third.runner.close();
  const later = rig(null, null, { store, now: () => on3 + 120_000 });
  later.runner.resume();

  assert.equal(later.runner.status('shop')[0]!.phase, 'failed');
  assert.match(later.runner.deployRefusal('shop', 'v4') ?? '', /^v4 failed its chaos experiment/);
  store.close();
});

test('a daemon stop suspends a run without stopping its pools: the next daemon adopts them', async () => {
  const r = rig();
  r.runner.start({
    service: 'shop',
    version: 'v4',
    faults: [{ kind: 'delay', dependency: 'inventory', ms: 200, percent: 100 }],
    durationMs: 60_000,
    onRegression: 'report',
  });
  await waitFor('injecting', () => r.runner.status('shop')[0]?.phase === 'injecting');

  await r.runner.close();

  assert.deepEqual(r.faults.at(-1), [], 'its faults were lifted');
  assert.equal(r.route().mirror, null, 'production mirrors nothing');
  assert.deepEqual(
    r.log.filter((l) => l.startsWith('stop ')),
    [],
    'its pools keep running for the next daemon',
  );
});
