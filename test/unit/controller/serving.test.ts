/** What a service serves when the daemon starts, from its configuration and latest deployment. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RoutingTable } from '../../../daemon/controller/routing.js';
import { catchUpMsFor, servingVersion, startServices } from '../../../daemon/controller/serving.js';
import type { PoolRef, PoolStatus, Provisioner } from '../../../daemon/provision/provisioner.js';
import type { DeploymentState } from '../../../daemon/rollout/types.js';
import { promotingAt, shadowing } from '../rollout/fixtures.js';
import { checkoutConfig } from './fixtures.js';

const config = checkoutConfig();
const cfg = config.services[0]!;

function inPhase(phase: DeploymentState['phase']): DeploymentState {
  return { ...shadowing(), phase };
}

test('no deployment yet: the configured stable version', () => {
  assert.equal(servingVersion(cfg, undefined), 'v1');
});

test('a completed deployment serves its version; every other phase the previous one', () => {
  assert.equal(servingVersion(cfg, inPhase('completed')), 'v2');
  for (const phase of ['rolled_back', 'rollback_failed', 'aborted', 'shadowing', 'baking'] as const) {
    assert.equal(servingVersion(cfg, inPhase(phase)), 'v1', phase);
  }
  // Mid-promotion the candidate takes a share, but production's version is still the previous one.
  assert.equal(servingVersion(cfg, promotingAt(1).state), 'v1');
});

test('catching up after a restart waits past the pipeline’s close delay, longer for longer mirror timeouts', () => {
  const longer = { ...config, services: [{ ...cfg, mirroring: { ...cfg.mirroring, timeout: 10_000 } }] };
  assert.ok(catchUpMsFor(config) > 5_000);
  assert.ok(catchUpMsFor(longer) > catchUpMsFor(config));
});

test('the start publishes once, after every service is up, never one service without the others', async () => {
  // Arrange: two services whose serving pools come up one after the other.
  const two = checkoutConfig(`  - name: cart
    stable: v1
    listen: 127.0.0.1:10002
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:9003'] }
`);
  const order: string[] = [];
  const ready = new Map<string, () => void>();
  const provisionerOf = (service: string) =>
    ({
      ensure: (ref: PoolRef) =>
        new Promise<PoolStatus>((resolve) =>
          ready.set(service, () => {
            order.push(`${service} ready`);
            resolve({ ...ref, desired: 1, ready: 1, instances: [] });
          }),
        ),
    }) as unknown as Provisioner;
  const routing = {
    setServing: () => undefined,
    setRoute: () => undefined,
    publish: async () => void order.push('publish'),
  } as unknown as RoutingTable;

  // Act
  const started = startServices({
    services: two.services,
    latest: () => undefined,
    provisioners: new Map(two.services.map((s) => [s.name, provisionerOf(s.name)])),
    routing,
    control: { setControl: () => undefined },
  });
  await new Promise((r) => setImmediate(r));
  ready.get('checkout')!();
  await new Promise((r) => setImmediate(r));
  ready.get('cart')!();
  await started;

  // Assert
  assert.deepEqual(order, ['checkout ready', 'cart ready', 'publish']);
});
