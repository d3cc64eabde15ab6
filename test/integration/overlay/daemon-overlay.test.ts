/**
 * The real daemon in overlay mode (`daemon.xds.upstream`) beside the Go
 * upstream control plane, with a real Envoy: a deployment promoted to 50 %
 * through the overlay, the daemon SIGKILLed and started again mid-deployment
 * under kept-alive load: the merged state is served again and no request fails.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  freePort,
  startKeptAliveLoad,
  startUpstream,
  startXdsUpstream,
  waitFor,
} from '../../harness/index.js';
import { connectAdmin, restartDaemon, startDaemon, startProxy, staticShop } from '../e2e/daemon.js';
import { upstreamResources } from './fixture.js';

test('a deployment through the overlay survives a SIGKILL of the daemon with no failed request', {
  timeout: 240_000,
}, async (t) => {
  // Arrange: the upstream owns shop (listener, routes, cluster → v1); Umbra knows v2.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  const node = `overlay-daemon-${process.pid}`;
  const upstream = await startXdsUpstream(t);
  await upstream.setSnapshot(
    node,
    '1',
    upstreamResources([{ name: 'shop', listenerPort: listen, endpointPorts: [v1.port] }]),
  );
  const services = `${staticShop(listen, { v1: v1.port, v2: v2.port })}    overlay: { cluster: shop, listener: shop-ingress }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 50, hold: 10m }, { weight: 100, hold: 10m }]
`;
  let daemon = await startDaemon(t, {
    node,
    services,
    xds: `upstream: { address: 127.0.0.1:${upstream.adsPort} }`,
  });
  const client = await connectAdmin(t, daemon);
  const envoy = await startProxy(t, daemon, { name: 'overlay-daemon' });
  await client.deploy('shop', 'v2');
  await waitFor(
    'shadowing',
    async () => (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing',
  );
  await client.command('shop', 'promote', 'test');
  const split = async () => {
    const p = (await client.status('shop')).services[0]?.proxies[0];
    return p?.inSync === true && JSON.stringify(p.ackedWeights) === JSON.stringify({ v1: 50, v2: 50 });
  };
  await waitFor('Envoy at 50/50 through the overlay', split, { timeoutMs: 60_000 });

  // Act: kept-alive load while the daemon is killed and started again.
  const load = startKeptAliveLoad(`http://127.0.0.1:${listen}/`, 4);
  try {
    daemon.child.kill('SIGKILL');
    await new Promise((r) => daemon.child.once('exit', r));
    daemon = await restartDaemon(t, daemon);
    await waitFor('the restarted daemon with Envoy at 50/50 again', split, { timeoutMs: 60_000 });
    const before = load.total();
    await waitFor('more load after the return', () => load.total() > before + 200);
  } finally {
    await load.stop();
  }

  // Assert: nothing failed, both versions served users, the listener was never replaced.
  assert.deepEqual(load.failures, []);
  assert.ok(
    (load.answered['v1'] ?? 0) > 50 && (load.answered['v2'] ?? 0) > 50,
    JSON.stringify(load.answered),
  );
  assert.equal((await envoy.stats())['listener_manager.listener_modified'] ?? 0, 0);
  assert.equal((await upstream.requests()).filter((r) => r.error_message).length, 0);
});
