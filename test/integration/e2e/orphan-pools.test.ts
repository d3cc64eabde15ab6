/**
 * A daemon SIGKILLed while it tears a pool down (an aborted candidate
 * draining before its stop) with the next deployment already queued: the
 * restarted daemon resumes the new deployment and adopts every instance,
 * the orphaned pool among them, which nothing names any more. It must stop
 * that pool (counted in /metrics) and never a pool that is named: the
 * serving version's and the new deployment's. Real daemon, real Envoy,
 * kept-alive load on production throughout.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import { findLeftovers, isRunning, type Leftover } from '../../../daemon/provision/adopt.js';
import { freePort, startKeptAliveLoad, waitFor } from '../../harness/index.js';
import {
  COMMAND_DRIVEN_ROLLOUT,
  connectAdmin,
  killInstances,
  processShop,
  restartDaemon,
  startDaemon,
  startProxy,
  TINY_COMMAND,
} from './daemon.js';

test('a pool orphaned by a crash mid-teardown is stopped on restart; named pools are not', {
  timeout: 240_000,
}, async (t) => {
  // Arrange: shop v1 serving through Envoy under kept-alive load, v2 shadowing.
  const listen = await freePort();
  let daemon = await startDaemon(
    t,
    {
      node: 'orphan-edge',
      services: processShop(listen, {
        replicas: 1,
        versions: { v1: TINY_COMMAND, v2: TINY_COMMAND, v3: TINY_COMMAND },
        rollout: COMMAND_DRIVEN_ROLLOUT,
      }),
    },
    ['--metrics', '127.0.0.1:0'],
  );
  const owner = join(daemon.dir, 'instances');
  t.after(() => killInstances(owner, 'shop'));
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'orphan-pools' });
  const phase = async () => (await client.status('shop')).services[0]?.deployment;
  await client.deploy('shop', 'v2');
  await waitFor('v2 shadowing', async () => (await phase())?.phase === 'shadowing', { timeoutMs: 60_000 });
  const load = startKeptAliveLoad(`http://127.0.0.1:${listen}/`, 2);
  t.after(() => load.stop());
  await waitFor('load answered by v1', () => (load.answered['v1'] ?? 0) > 50);

  // Act 1: abort v2 (its teardown routes away, then drains 3 s before the stop), deploy v3 at
  // once, and SIGKILL the daemon while v2 still drains.
  await client.command('shop', 'abort', 'test');
  await waitFor('aborted', async () => (await phase())?.phase === 'aborted');
  await client.deploy('shop', 'v3');
  daemon.child.kill('SIGKILL');
  await new Promise((r) => daemon.child.once('exit', r));
  const of = (v: string): Leftover[] =>
    findLeftovers(owner, 'shop').filter((p) => p.env['UMBRA_VERSION'] === v);
  const orphan = of('v2');
  const serving = of('v1');
  assert.ok(orphan.length > 0, 'the daemon died before it stopped v2');
  assert.ok(serving.length > 0, 'v1 runs');

  // Act 2: the daemon starts again on the same store.
  daemon = await restartDaemon(t, daemon);
  await waitFor('v3 shadowing', async () => (await phase())?.phase === 'shadowing', { timeoutMs: 60_000 });

  // Assert: the orphan is stopped and counted; v1 and v3 run on; users saw no error.
  await waitFor('the orphaned v2 pool stopped', () => orphan.every((p) => !isRunning(p)), {
    timeoutMs: 60_000,
  });
  const metrics = await waitFor('the orphan counted in /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${daemon.ports.metrics}/metrics`)).text();
    return /^umbra_orphan_pools_stopped_total\{service="shop"\} 1$/m.test(text) ? text : undefined;
  });
  assert.ok(metrics);
  assert.ok(
    serving.every((p) => isRunning(p)),
    'the serving version was not touched',
  );
  const candidate = of('v3');
  assert.ok(candidate.length > 0, 'v3 runs');
  const before = load.total();
  await waitFor('more load', () => load.total() > before + 100 || load.failures.length > 0);
  await load.stop();
  assert.deepEqual(load.failures, []);
  assert.ok(
    candidate.every((p) => isRunning(p)),
    'the new deployment’s candidate was not touched',
  );
  assert.equal((await phase())?.version, 'v3');
});
