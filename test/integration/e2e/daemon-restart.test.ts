/**
 * The real daemon (`umbra daemon`) killed with SIGKILL mid-deployment and
 * restarted on the same store: the deployment resumes where it stopped, a real
 * Envoy reconnects and keeps serving, and manual commands go on working.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { AdminClient } from '../../../daemon/admin/client.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import { drive, freePorts, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { startDaemon, TOKEN } from './daemon.js';

test('a SIGKILLed daemon resumes the deployment; Envoy keeps serving; commands still work', {
  timeout: 180_000,
}, async (t) => {
  // Arrange: two versions behind static endpoints, a config, the daemon, and Envoy over ADS.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const [admin, telemetry, xds, listen] = await freePorts(4);
  const dir = mkdtempSync(join(tmpdir(), 'umbra-restart-'));
  const config = join(dir, 'umbra.yaml');
  writeFileSync(
    config,
    `daemon:
  admin: { listen: 127.0.0.1:${admin} }
  telemetry: { listen: 127.0.0.1:${telemetry} }
  xds: { listen: 127.0.0.1:${xds}, nodes: [restart-edge] }
  store: { path: ${dir}/umbra.db }
  filter: { wasmPath: ${join(projectRoot(), 'build', 'filter.wasm')} }
services:
  - name: shop
    stable: v1
    listen: 127.0.0.1:${listen}
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:${v1.port}'] }
        v2: { endpoints: ['127.0.0.1:${v2.port}'] }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 50, hold: 10m }, { weight: 100, hold: 10m }]
      validationPeriod: 2s
`,
  );
  let daemon = startDaemon(t, config);
  const client = new AdminClient({ address: `127.0.0.1:${admin}`, token: TOKEN, timeoutMs: 3000 });
  t.after(() => client.close());
  await waitFor('the admin API', async () => (await client.status()).services.length === 1);
  await startEnvoy(t, {
    name: 'restart',
    config: adsBootstrap({
      nodeId: 'restart-edge',
      xdsHost: '127.0.0.1',
      xdsPort: xds!,
      adminPort: 0,
    }),
  });
  const url = `http://127.0.0.1:${listen}/`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);

  // Act 1: deploy v2, then kill the daemon while it shadows.
  const { deployment } = await client.deploy('shop', 'v2');
  await waitFor(
    'shadowing',
    async () => (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing',
  );
  daemon.kill('SIGKILL');
  await new Promise((r) => daemon.once('exit', r));
  // Production keeps flowing while the daemon is down (Envoy keeps its last configuration).
  const down = await drive({ url, requests: 20, concurrency: 2, keepBodies: true });
  assert.deepEqual(down.statuses, { 200: 20 });
  assert.ok(down.bodies!.every((b) => b.toString() === 'v1'));

  // Act 2: restart on the same store.
  daemon = startDaemon(t, config);
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
  assert.ok(readFileSync(join(dir, 'umbra.db')).length > 0);
});
