/**
 * A clean stop of the real daemon (`umbra daemon`, SIGTERM) with the process
 * provisioner running the service: the instances keep serving a real Envoy
 * under load while the daemon is away, and the restarted daemon adopts the
 * same processes. With `--stop-instances` a stop does stop them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import { findLeftovers } from '../../../daemon/provision/adopt.js';
import { drive, freePort, waitFor } from '../../harness/index.js';
import {
  connectAdmin,
  exited,
  killInstances,
  processShop,
  restartDaemon,
  startDaemon,
  startProxy,
  TINY_COMMAND,
} from './daemon.js';

test('SIGTERM leaves the instances serving; the restarted daemon adopts them; --stop-instances stops them', {
  timeout: 180_000,
}, async (t) => {
  // Arrange: one service of two local processes, the daemon, and Envoy over ADS.
  const listen = await freePort();
  let daemon = await startDaemon(t, {
    node: 'stop-edge',
    services: processShop(listen, { replicas: 2, versions: { v1: TINY_COMMAND } }),
  });
  const owner = join(daemon.dir, 'instances');
  // Whatever happens, no instance outlives the test.
  t.after(() => killInstances(owner, 'shop'));
  const client = await connectAdmin(t, daemon);
  await waitFor('both instances ready', async () => {
    const s = (await client.status('shop')).services[0];
    return s?.pools.some((p) => p.version === 'v1' && p.ready === 2);
  });
  await startProxy(t, daemon, { name: 'stop' });
  const url = `http://127.0.0.1:${listen}/`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);
  const before = findLeftovers(owner, 'shop').filter((p) => p.pid === p.pgid);
  assert.equal(before.length, 2, 'two instances running');

  // Act 1: load through Envoy while the daemon is stopped cleanly and started again.
  let loading = true;
  const load = (async () => {
    const total = { count: 0, statuses: {} as Record<number, number>, errors: 0 };
    for (let i = 0; i < 10_000 && loading; i++) {
      const r = await drive({ url, requests: 50, concurrency: 2, timeoutMs: 5000 });
      total.count += r.count;
      total.errors += r.errors;
      for (const [k, v] of Object.entries(r.statuses))
        total.statuses[Number(k)] = (total.statuses[Number(k)] ?? 0) + v;
    }
    return total;
  })();
  daemon.child.kill('SIGTERM');
  assert.equal(await exited(daemon.child), 0, 'the daemon exits cleanly');
  const whileDown = findLeftovers(owner, 'shop').filter((p) => p.pid === p.pgid);
  daemon = await restartDaemon(t, daemon);
  await waitFor('the restarted daemon with both instances ready', async () => {
    const s = (await client.status('shop')).services[0];
    return s?.pools.some((p) => p.version === 'v1' && p.ready === 2);
  });
  // Load goes on for a while after the return, then stops.
  const afterReturn = await drive({ url, requests: 200, concurrency: 2, timeoutMs: 5000 });
  loading = false;
  const served = await load;

  // Assert: the same processes served throughout, every request answered 200.
  const ids = (ps: { pid: number; startTime: number }[]) => ps.map((p) => `${p.pid}@${p.startTime}`).sort();
  assert.deepEqual(ids(whileDown), ids(before), 'the instances outlived the stop');
  const after = findLeftovers(owner, 'shop').filter((p) => p.pid === p.pgid);
  assert.deepEqual(ids(after), ids(before), 'the restarted daemon adopted them');
  assert.ok(served.count > 100, `load ran (${served.count} requests)`);
  assert.deepEqual(served.statuses, { 200: served.count });
  assert.equal(served.errors, 0);
  assert.deepEqual(afterReturn.statuses, { 200: 200 });

  // Act 2: the user asks for the instances to stop with the daemon.
  daemon.child.kill('SIGKILL');
  await exited(daemon.child);
  daemon = await restartDaemon(t, daemon, { args: ['--metrics', 'off', '--stop-instances'] });
  await waitFor('the daemon with both instances ready again', async () => {
    const s = (await client.status('shop')).services[0];
    return s?.pools.some((p) => p.version === 'v1' && p.ready === 2);
  });
  daemon.child.kill('SIGTERM');
  assert.equal(await exited(daemon.child), 0);

  // Assert: nothing of the service runs any more.
  assert.deepEqual(findLeftovers(owner, 'shop'), []);
});
