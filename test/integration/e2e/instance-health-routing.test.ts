/**
 * Routing follows the health of the process provisioner's instances on its
 * own, with no deployment or command to publish it: an instance that fails
 * its checks leaves Envoy's endpoints, so it can die without failing a user;
 * its replacement joins them once it answers. Real daemon, real Envoy over
 * ADS, kept-alive load throughout.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import { findLeftovers } from '../../../daemon/provision/adopt.js';
import { freePort, startKeptAliveLoad, waitFor } from '../../harness/index.js';
import { connectAdmin, killInstances, processShop, startDaemon, startProxy, TINY_COMMAND } from './daemon.js';

test('an instance that fails its checks leaves Envoy, dies unseen, and its replacement joins', {
  timeout: 240_000,
}, async (t) => {
  // Arrange: v1 as two processes behind a real Envoy, kept-alive load on both.
  const listen = await freePort();
  const daemon = await startDaemon(t, {
    node: 'health-edge',
    services: processShop(listen, { replicas: 2, versions: { v1: TINY_COMMAND } }),
  });
  const owner = join(daemon.dir, 'instances');
  t.after(() => killInstances(owner, 'shop'));
  await connectAdmin(t, daemon);
  const envoy = await startProxy(t, daemon, { name: 'health-routing' });
  const members = 'cluster.shop-v1.membership_total';
  await envoy.waitForStat(members, 2, { timeoutMs: 60_000 });
  const load = startKeptAliveLoad(`http://127.0.0.1:${listen}/`, 4);
  t.after(() => load.stop());
  await waitFor('load answered', () => load.total() > 100);
  const [sick] = findLeftovers(owner, 'shop');
  assert.ok(sick, 'an instance of v1 runs');

  // Act 1: one instance starts failing its health checks (it still answers).
  const res = await fetch(`http://127.0.0.1:${sick.env['PORT']}/sicken`);
  assert.equal(res.status, 200);

  // Assert 1: Envoy drops it, with nothing else happening to publish.
  await envoy.waitForStat(members, 1, { timeoutMs: 20_000 });

  // Act 2: it dies; the provisioner starts a replacement on its port.
  process.kill(-sick.pgid, 'SIGKILL');

  // Assert 2: the replacement joins Envoy once healthy, and no user saw an error on the way.
  await envoy.waitForStat(members, 2, { timeoutMs: 30_000 });
  const before = load.total();
  await waitFor('more load', () => load.total() > before + 200 || load.failures.length > 0, {
    timeoutMs: 60_000,
  });
  await load.stop();
  assert.deepEqual(load.failures, []);
});
