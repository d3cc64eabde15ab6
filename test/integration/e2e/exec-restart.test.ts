/**
 * The real daemon (`umbra daemon`) with the exec provisioner across a crash
 * and a stop: SIGKILLed, it leaves the versions the deploy script runs
 * serving a real Envoy; restarted, it takes them over by ensuring them again
 * (the same processes, none restarted); stopped with --stop-instances, it
 * runs the script's stop and they go.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { AdminClient } from '../../../daemon/admin/client.js';
import { waitFor } from '../../harness/index.js';
import { connectAdmin, exited, restartDaemon, startDaemon, startProxy } from './daemon.js';
import { answers, execSetup, running, scriptCalls, scriptPids } from './exec.js';

/** Resolves once the daemon reports v1's main pool with both replicas ready. */
function v1Ready(client: AdminClient): Promise<true> {
  return waitFor(
    'v1 ready',
    async () => {
      const s = (await client.status('shop')).services[0];
      return s?.pools.some((p) => p.version === 'v1' && p.pool === 'main' && p.ready === 2)
        ? true
        : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

test('a crashed daemon leaves the exec versions serving; the next one takes them over; --stop-instances stops them', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 240_000,
}, async (t) => {
  // Arrange: the daemon, its versions run by the script, Envoy over ADS.
  const { dir, setup, listen } = await execSetup(t, 'exec-restart-edge', {
    versions: '        v1: {}\n        v2: {}',
  });
  let daemon = await startDaemon(t, setup);
  await v1Ready(await connectAdmin(t, daemon));
  await startProxy(t, daemon, { name: 'exec-restart' });
  const url = `http://127.0.0.1:${listen}/catalog`;
  await waitFor('Envoy serving v1', async () =>
    (await answers(url, 4)).every((a) => a.status === 200 && a.version === 'v1') ? true : undefined,
  );
  const pids = scriptPids(dir, 'v1');
  assert.equal(pids.length, 2);

  // Act 1: the daemon crashes.
  daemon.child.kill('SIGKILL');
  await exited(daemon.child);

  // Assert 1: production goes on, from the same processes.
  const down = await answers(url, 20);
  assert.deepEqual(
    down.filter((a) => a.status !== 200 || a.version !== 'v1'),
    [],
    'every request answered by v1 while the daemon is down',
  );

  // Act 2: a new daemon on the same config and store, this time to stop its instances with it.
  daemon = await restartDaemon(t, daemon, { args: ['--metrics', 'off', '--stop-instances'] });
  await v1Ready(await connectAdmin(t, daemon));

  // Assert 2: it ensured v1 again, and the script kept the processes it had.
  assert.equal(scriptCalls(dir).filter((c) => c === 'ensure v1 main 2 1').length, 2);
  assert.deepEqual(scriptPids(dir, 'v1'), pids);
  assert.ok(pids.every(running));
  assert.ok(!scriptCalls(dir).some((c) => c.startsWith('stop')), 'nothing stopped so far');

  // Act 3: a clean stop with --stop-instances.
  daemon.child.kill('SIGTERM');
  await exited(daemon.child);

  // Assert 3: the script was told to stop v1, and its processes are gone.
  assert.ok(scriptCalls(dir).includes('stop v1 main 0 1'));
  assert.deepEqual(scriptPids(dir, 'v1'), []);
  await waitFor('the v1 processes gone', async () => (pids.some(running) ? undefined : true), {
    timeoutMs: 15_000,
  });
});
