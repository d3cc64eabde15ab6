/**
 * A provision effect reports what happened to the pool; proxies not
 * answering the routing published after it is a routing failure, never a
 * provisioning one (which would roll a healthy candidate back).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControllerEffectRunner } from '../../../daemon/controller/effects.js';
import { RoutingRefused, type RoutingTable, type ServiceRoute } from '../../../daemon/controller/routing.js';
import type { Provisioner } from '../../../daemon/provision/provisioner.js';
import { step } from '../../../daemon/rollout/machine.js';
import type { RolloutEvent } from '../../../daemon/rollout/types.js';
import { shadowing, T0 } from '../rollout/fixtures.js';

function runner(publish: () => Promise<void>): ControllerEffectRunner {
  const provisioner = {
    ensure: async () => ({ ready: 4, desired: 4 }),
  } as unknown as Provisioner;
  return new ControllerEffectRunner({
    routing: { publish } as unknown as RoutingTable,
    provisioners: new Map([['checkout', provisioner]]),
    control: { setControl: () => undefined },
    webhookFor: () => undefined,
  });
}

const effect = { kind: 'provision', service: 'checkout', version: 'v2', pool: 'main', replicas: 4 } as const;

test('routing that proxies do not answer after a provision is a route failure; the pool is provisioned', async () => {
  const events = await runner(() =>
    Promise.reject(new RoutingRefused('no ACK of RDS 9f from edge in 10000 ms')),
  ).run(effect, shadowing());

  assert.deepEqual(events, [
    { type: 'provisioned', version: 'v2', pool: 'main', ready: 4, desired: 4 },
    { type: 'effect_failed', effect: 'route', error: 'no ACK of RDS 9f from edge in 10000 ms' },
  ]);
  // The machine holds on it; it does not roll back.
  let s = shadowing();
  for (const e of events ?? []) s = step(s, { ...e, at: T0 + 5000 } as RolloutEvent).state;
  assert.equal(s.phase, 'shadowing');
  assert.equal(s.paused?.auto, true);
});

test('any other failure to publish is still the effect’s failure', async () => {
  await assert.rejects(
    runner(() => Promise.reject(new Error('inconsistent configuration'))).run(effect, shadowing()),
    /inconsistent configuration/,
  );
});

/** A runner over one pool of checkout (`instances` of them healthy or not) and the route `route`; records what it does. */
function deprovisioner(o: { healthy: boolean[]; route?: ServiceRoute }) {
  const order: string[] = [];
  const pools = o.healthy.length
    ? [
        {
          version: 'v1',
          pool: 'main',
          desired: o.healthy.length,
          ready: o.healthy.filter(Boolean).length,
          instances: o.healthy.map((healthy, index) => ({
            index,
            healthy,
            endpoint: { host: '127.0.0.1', port: 9001 + index },
          })),
        },
      ]
    : [];
  const provisioner = {
    status: () => pools,
    endpoints: () => pools.flatMap((p) => p.instances.filter((i) => i.healthy).map((i) => i.endpoint)),
    stop: async (ref: { version: string; pool: string }) => {
      order.push(`stop ${ref.version}/${ref.pool}`);
    },
  } as unknown as Provisioner;
  const r = new ControllerEffectRunner({
    routing: {
      apply: async () => undefined,
      publish: async () => void order.push('publish'),
      route: () => o.route,
    },
    provisioners: new Map([['checkout', provisioner]]),
    control: { setControl: () => undefined },
    webhookFor: () => undefined,
    drainMs: 0,
  });
  const run = () =>
    r.run({ kind: 'deprovision', service: 'checkout', version: 'v1', pool: 'main' }, shadowing());
  return { order, run };
}

test('a deprovision routes away and drains before it stops the pool, then publishes without it', async () => {
  const { order, run } = deprovisioner({
    healthy: [true],
    route: { weights: { v2: 100 }, mirror: null, filter: false },
  });

  const events = await run();

  assert.equal(events, undefined);
  assert.deepEqual(order, ['publish', 'stop v1/main', 'publish']);
});

test('a pool whose instances are not healthy (starting, failing checks) is stopped all the same', async () => {
  const { order, run } = deprovisioner({ healthy: [false, false] });

  await run();

  assert.deepEqual(order, ['publish', 'stop v1/main', 'publish']);
});

test('a pool the provisioner does not run needs nothing', async () => {
  const { order, run } = deprovisioner({ healthy: [] });

  assert.equal(await run(), undefined);
  assert.deepEqual(order, []);
});

test('a pool the route still sends users or copies to is never stopped', async () => {
  const routes: ServiceRoute[] = [
    { weights: { v1: 10, v2: 90 }, mirror: null, filter: true },
    { weights: { v2: 100 }, mirror: { target: 'v1', baseline: null, percentage: 5 }, filter: true },
  ];
  for (const route of routes) {
    const { order, run } = deprovisioner({ healthy: [true], route });

    const events = await run();

    assert.deepEqual(order, [], JSON.stringify(route));
    assert.equal(events?.[0]?.type, 'effect_failed');
    assert.match(JSON.stringify(events), /checkout v1 \(main\) is still routed to; not stopped/);
  }
});
