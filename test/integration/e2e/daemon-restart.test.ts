/**
 * The real daemon (`umbra daemon`) killed with SIGKILL mid-deployment and
 * restarted on the same store: the deployment resumes where it stopped, a real
 * Envoy reconnects and keeps serving, and manual commands go on working.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { drive, freePort, startUpstream, waitFor } from '../../harness/index.js';
import { connectAdmin, restartDaemon, startDaemon, startProxy, staticShop } from './daemon.js';

test('a SIGKILLed daemon resumes the deployment; Envoy keeps serving; commands still work', {
  timeout: 180_000,
}, async (t) => {
  // Arrange: two versions behind static endpoints, a config, the daemon, and Envoy over ADS.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  let daemon = await startDaemon(t, {
    node: 'restart-edge',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    rollout:
      shadowDuration: 10m
      steps: [{ weight: 50, hold: 10m }, { weight: 100, hold: 10m }]
      validationPeriod: 2s
`,
  });
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'restart' });
  const url = `http://127.0.0.1:${listen}/`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);

  // Act 1: deploy v2, then kill the daemon while it shadows.
  const { deployment } = await client.deploy('shop', 'v2');
  await waitFor(
    'shadowing',
    async () => (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing',
  );
  daemon.child.kill('SIGKILL');
  await new Promise((r) => daemon.child.once('exit', r));
  // Production keeps flowing while the daemon is down (Envoy keeps its last configuration).
  const down = await drive({ url, requests: 20, concurrency: 2, keepBodies: true });
  assert.deepEqual(down.statuses, { 200: 20 });
  assert.ok(down.bodies!.every((b) => b.toString() === 'v1'));

  // Act 2: restart on the same store.
  daemon = await restartDaemon(t, daemon);
  const resumed = await waitFor(
    'the restarted daemon',
    async () => (await client.status('shop')).services[0],
  );

  // Assert: same deployment, same phase; a manual promote moves the real traffic split.
  assert.equal(resumed.deployment?.id, deployment.id);
  assert.equal(resumed.deployment?.phase, 'shadowing');
  await client.command('shop', 'promote', 'restart test');
  await waitFor('half the traffic on v2', async () => {
    const r = await drive({ url, requests: 40, concurrency: 2, keepBodies: true });
    const onV2 = r.bodies!.filter((b) => b.toString() === 'v2').length;
    return onV2 > 5 && onV2 < 35;
  });

  // Act 3: an operator rollback, validated, and everything back on v1.
  await client.command('shop', 'rollback', 'restart test');
  const final = await waitFor('rolled_back', async () => {
    const s = (await client.status('shop')).services[0];
    return s?.deployment?.phase === 'rolled_back' ? s : undefined;
  });
  assert.equal(final.stableVersion, 'v1');
  const after = await drive({ url, requests: 20, concurrency: 2, keepBodies: true });
  assert.ok(after.bodies!.every((b) => b.toString() === 'v1'));
  const history = await client.history('shop', 1);
  const phases = history[0]!.transitions.map((tr) => tr.to);
  assert.deepEqual(phases.slice(-4), ['promoting', 'rolling_back', 'validating', 'rolled_back']);
  assert.ok(readFileSync(join(daemon.dir, 'umbra.db')).length > 0);
});
