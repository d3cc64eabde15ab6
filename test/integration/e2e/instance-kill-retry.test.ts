/**
 * An instance of the serving version SIGKILLed under kept-alive load, with no
 * warning: until something takes it out of Envoy's endpoints (here nothing
 * does: the `static` provisioner's endpoints are fixed, as a remote host's
 * are until its health checks fail), Envoy still picks it, and every
 * connection to it fails. Production routes retry what never reached an
 * instance on another host (and an idempotent request whose connection was
 * reset): no user sees the kill. Real daemon, real Envoy over ADS, two real
 * instance processes.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import test, { type TestContext } from 'node:test';
import { freePort, startKeptAliveLoad, waitFor } from '../../harness/index.js';
import { connectAdmin, startDaemon, startProxy, TINY_SERVER } from './daemon.js';

/** The tiny server as instance `index` of v1 on `port`, killed after the test; resolves once it answers. */
async function instance(t: TestContext, port: number, index: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [TINY_SERVER], {
    env: { ...process.env, PORT: String(port), UMBRA_VERSION: 'v1', UMBRA_INSTANCE: String(index) },
    stdio: 'ignore',
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await waitFor(
    `instance ${index} answering`,
    async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
  );
  return child;
}

test('an instance SIGKILLed under load fails no user request: connection failures are retried elsewhere', {
  timeout: 180_000,
}, async (t) => {
  // Arrange: v1 as two processes at fixed endpoints behind a real Envoy, kept-alive load on both.
  const [a, b, listen] = [await freePort(), await freePort(), await freePort()];
  const victim = await instance(t, a, 0);
  await instance(t, b, 1);
  const daemon = await startDaemon(t, {
    node: 'kill-edge',
    services: `  - name: shop
    stable: v1
    listen: 127.0.0.1:${listen}
    provisioner:
      kind: static
      versions:
        v1: { endpoints: ['127.0.0.1:${a}', '127.0.0.1:${b}'] }
`,
  });
  await connectAdmin(t, daemon);
  const envoy = await startProxy(t, daemon, { name: 'kill-retry' });
  await envoy.waitForStat('cluster.shop-v1.membership_total', 2, { timeoutMs: 60_000 });
  const load = startKeptAliveLoad(`http://127.0.0.1:${listen}/`, 4);
  t.after(() => load.stop());
  await waitFor('load answered by both instances', () => (load.answered['v1'] ?? 0) > 200);
  const refused = async () => (await envoy.stat('cluster.shop-v1.upstream_cx_connect_fail')) ?? 0;
  const refusedBefore = await refused();

  // Act: SIGKILL one instance; it stays in Envoy's endpoints.
  victim.kill('SIGKILL');
  await new Promise((r) => victim.once('exit', r));

  // Assert: Envoy keeps meeting the dead instance (connections refused), yet no user saw an error.
  await waitFor('Envoy to meet the dead instance', refused, (n) => n > refusedBefore + 20, {
    timeoutMs: 30_000,
  });
  const before = load.total();
  await waitFor('more load', () => load.total() > before + 300 || load.failures.length > 0, {
    timeoutMs: 60_000,
  });
  await load.stop();
  assert.deepEqual(load.failures, []);
  assert.ok(((await envoy.stat('cluster.shop-v1.upstream_rq_retry_success')) ?? 0) > 20);
});
