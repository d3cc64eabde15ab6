/**
 * Orphaned pools: what names a pool (the serving version, a deployment in
 * progress, an experiment, a route), and a sweep that stops only the pools
 * nothing names, after the routes without them and the drain.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { namedPools, OrphanSweep } from '../../../daemon/controller/orphans.js';
import type { RoutingTable, ServiceRoute } from '../../../daemon/controller/routing.js';
import type { PoolRef, PoolStatus, Provisioner } from '../../../daemon/provision/provisioner.js';
import type { DeploymentState } from '../../../daemon/rollout/types.js';
import { shadowing } from '../rollout/fixtures.js';
import { checkoutConfig } from './fixtures.js';

const config = checkoutConfig();
const cfg = config.services[0]!;
const key = (r: PoolRef) => `${r.version}/${r.pool}`;

test('the serving version is named; a deployment in progress names its pools; an ended one names none', () => {
  assert.deepEqual(namedPools(cfg, undefined).map(key), ['v1/main']);
  assert.deepEqual(
    namedPools(cfg, shadowing({ baseline: true }))
      .map(key)
      .sort(),
    ['v1/baseline', 'v1/main', 'v2/main'],
  );
  const completed: DeploymentState = { ...shadowing(), phase: 'completed' };
  assert.deepEqual(namedPools(cfg, completed).map(key), ['v2/main']);
});

/** A sweep over checkout's pools `running`, with `route` and `latest`; returns it and the pools it stopped, in order. */
function sweepOf(o: { running: string[]; route: ServiceRoute; latest?: DeploymentState; busy?: boolean }) {
  const stopped: string[] = [];
  const order: string[] = [];
  const provisioner = {
    status: (): PoolStatus[] =>
      o.running.map((k) => {
        const [version, pool] = k.split('/') as [string, 'main' | 'baseline'];
        return { version, pool, desired: 1, ready: 1, instances: [] };
      }),
    stop: async (ref: PoolRef) => {
      order.push(`stop ${key(ref)}`);
      stopped.push(key(ref));
    },
  } as unknown as Provisioner;
  const routing = {
    route: () => o.route,
    proxies: () => [{ nodeId: 'edge', connected: true, inSync: true, desired: {}, acked: {} }],
    publish: async () => {
      order.push('publish');
    },
  } as unknown as RoutingTable;
  const sweep = new OrphanSweep({
    services: config.services,
    provisioners: new Map([['checkout', provisioner]]),
    routing,
    latest: () => o.latest,
    busy: () => o.busy ?? false,
    settled: async () => undefined,
    drainMs: 1,
  });
  return { sweep, stopped, order };
}

test('a pool nothing names is stopped after routes without it are published; named ones are not', async () => {
  // Arrange: v2 shadows (the route mirrors to it); v3 and v1's baseline run with nothing naming them.
  const { sweep, stopped, order } = sweepOf({
    running: ['v1/main', 'v2/main', 'v3/main', 'v1/baseline'],
    route: { weights: { v1: 100 }, mirror: { target: 'v2', baseline: null, percentage: 10 }, filter: true },
    latest: shadowing(),
  });

  // Act
  await sweep.run();

  // Assert
  assert.deepEqual(stopped, ['v3/main', 'v1/baseline']);
  assert.equal(order[0], 'publish');
  const counted = sweep.metrics()[0]!.samples;
  assert.deepEqual(counted, [{ labels: { service: 'checkout' }, value: 2 }]);
});

test('a pool only a route names (an A/B split, live weight) is not stopped, nor any while an experiment runs', async () => {
  const routed = sweepOf({
    running: ['v1/main', 'v2/main'],
    route: { weights: { v1: 100 }, mirror: null, filter: false, split: 'v2' },
  });
  await routed.sweep.run();
  assert.deepEqual(routed.stopped, []);

  const busy = sweepOf({
    running: ['v1/main', 'v3/main'],
    route: { weights: { v1: 100 }, mirror: null, filter: false },
    busy: true,
  });
  await busy.sweep.run();
  assert.deepEqual(busy.stopped, []);
});
