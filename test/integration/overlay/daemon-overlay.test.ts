/**
 * The real daemon in overlay mode (`daemon.xds.upstream`) beside the Go
 * upstream control plane, with a real Envoy: a deployment promoted to 50 %
 * through the overlay, the daemon SIGKILLed and started again mid-deployment
 * under kept-alive load: the merged state is served again and no request fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import {
  freePorts,
  startEnvoy,
  startKeptAliveLoad,
  startUpstream,
  startXdsUpstream,
} from '../../harness/index.js';
import { connectAdmin, startDaemon, staticShop, until, writeDaemonConfig } from '../e2e/daemon.js';
import { upstreamResources } from './fixture.js';

test('a deployment through the overlay survives a SIGKILL of the daemon with no failed request', {
  timeout: 240_000,
}, async (t) => {
  // Arrange: the upstream owns shop (listener, routes, cluster → v1); Umbra knows v2.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const [admin, telemetry, xds, envoyAdmin, listen] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const node = `overlay-daemon-${process.pid}`;
  const upstream = await startXdsUpstream(t);
  await upstream.setSnapshot(
    node,
    '1',
    upstreamResources([{ name: 'shop', listenerPort: listen, endpointPorts: [v1.port] }]),
  );
  const dir = mkdtempSync(join(tmpdir(), 'umbra-overlay-'));
  const shop = `${staticShop(listen, { v1: v1.port, v2: v2.port })}    overlay: { cluster: shop, listener: shop-ingress }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 50, hold: 10m }, { weight: 100, hold: 10m }]
`;
  const config = writeDaemonConfig(
    dir,
    { admin, telemetry, xds, node },
    shop,
    `, upstream: { address: 127.0.0.1:${upstream.adsPort} }`,
  );
  let daemon = startDaemon(t, config);
  const client = await connectAdmin(t, admin);
  const envoy = await startEnvoy(t, {
    name: 'overlay-daemon',
    config: adsBootstrap({ nodeId: node, xdsHost: '127.0.0.1', xdsPort: xds, adminPort: envoyAdmin }),
  });
  await client.deploy('shop', 'v2');
  await until('shadowing', async () =>
    (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing' ? true : undefined,
  );
  await client.command('shop', 'promote', 'test');
  const split = async () => {
    const p = (await client.status('shop')).services[0]?.proxies[0];
    return p?.inSync && JSON.stringify(p.ackedWeights) === JSON.stringify({ v1: 50, v2: 50 })
      ? true
      : undefined;
  };
  await until('Envoy at 50/50 through the overlay', split, 60_000);

  // Act: kept-alive load while the daemon is killed and started again.
  const load = startKeptAliveLoad(`http://127.0.0.1:${listen}/`, 4);
  try {
    daemon.kill('SIGKILL');
    await new Promise((r) => daemon.once('exit', r));
    daemon = startDaemon(t, config);
    await until('the restarted daemon with Envoy at 50/50 again', split, 60_000);
    const before = load.total();
    await until('more load after the return', async () => (load.total() > before + 200 ? true : undefined));
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
