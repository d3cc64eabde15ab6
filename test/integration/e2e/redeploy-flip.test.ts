/**
 * A version aborted and deployed again at once, then promoted, while
 * kept-alive load runs through a real Envoy: the aborted deployment's teardown
 * of the candidate's pool (same version, same pool, same cluster) must be done
 * before the new deployment provisions that pool, so it never stops instances
 * the new deployment routes users to. No request may fail on the way.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import { findLeftovers, isRunning } from '../../../daemon/provision/adopt.js';
import { freePort, startKeptAliveLoad, waitFor } from '../../harness/index.js';
import {
  COMMAND_DRIVEN_ROLLOUT,
  connectAdmin,
  killInstances,
  processShop,
  startDaemon,
  startProxy,
  TINY_COMMAND,
} from './daemon.js';

test('abort then redeploy of the same version, promoted at once, fails no kept-alive request', {
  timeout: 240_000,
}, async (t) => {
  // Arrange: v2 shadowing next to v1, Envoy over ADS, kept-alive load on v1.
  const listen = await freePort();
  const daemon = await startDaemon(t, {
    node: 'redeploy-edge',
    services: processShop(listen, {
      replicas: 1,
      versions: { v1: TINY_COMMAND, v2: TINY_COMMAND },
      rollout: COMMAND_DRIVEN_ROLLOUT,
    }),
  });
  const owner = join(daemon.dir, 'instances');
  t.after(() => killInstances(owner, 'shop'));
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'redeploy-flip' });
  const phase = async () => (await client.status('shop')).services[0]?.deployment?.phase;
  await client.deploy('shop', 'v2');
  await waitFor('v2 shadowing', async () => (await phase()) === 'shadowing', { timeoutMs: 60_000 });
  const firstPool = findLeftovers(owner, 'shop').filter((p) => p.env['UMBRA_VERSION'] === 'v2');
  assert.ok(firstPool.length > 0, 'the first deployment runs v2');
  const load = startKeptAliveLoad(`http://127.0.0.1:${listen}/`, 4);
  t.after(() => load.stop());
  await waitFor('load answered by v1', () => (load.answered['v1'] ?? 0) > 50);

  // Act: abort, deploy the same version again at once, promote it to 50 % as soon as it shadows.
  await client.command('shop', 'abort', 'test');
  await waitFor('aborted', async () => (await phase()) === 'aborted');
  await client.deploy('shop', 'v2');
  await waitFor('v2 shadowing again', async () => (await phase()) === 'shadowing', { timeoutMs: 60_000 });
  await client.command('shop', 'promote', 'test');
  await waitFor(
    'Envoy at 50/50',
    async () => {
      const p = (await client.status('shop')).services[0]?.proxies[0];
      return p?.inSync && p.ackedWeights['v1'] === 50 && p.ackedWeights['v2'] === 50;
    },
    { timeoutMs: 60_000 },
  );
  // The aborted deployment's instances are gone (whenever its teardown ran), and load went on since.
  await waitFor('the first v2 pool stopped', () => firstPool.every((p) => !isRunning(p)), {
    timeoutMs: 30_000,
  });
  const v2Before = load.answered['v2'] ?? 0;
  const totalBefore = load.total();
  await waitFor(
    'more load after the teardown',
    () => load.total() > totalBefore + 300 || load.failures.length > 0,
    {
      timeoutMs: 60_000,
    },
  );
  await load.stop();

  // Assert: no user saw an error, and the redeployed v2 still serves its half.
  assert.deepEqual(load.failures, []);
  assert.ok((load.answered['v2'] ?? 0) > v2Before + 50, JSON.stringify(load.answered));
});
