/**
 * A real daemon killed while a deployment serves 50 % on each version, and
 * started again, while kept-alive load runs through a real Envoy: the proxy
 * reconnects to the new daemon, and no request fails on the way (the restarted
 * daemon publishes the deployment's routing again, not a default that drops a
 * cluster the proxy's routes still send traffic to).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import { decodeResource } from '../../../daemon/xds/encode.js';
import { CLUSTER_TYPE } from '../../../daemon/xds/type-urls.js';
import { adsClient, openAds } from '../../harness/ads-client.js';
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

/** shop: v1 (started by `v1Command`) and v2 as processes, one replica, a 50 % step then 100 %. */
function twoVersions(listen: number, v1Command: string): string {
  return processShop(listen, {
    replicas: 1,
    versions: { v1: v1Command, v2: TINY_COMMAND },
    rollout: COMMAND_DRIVEN_ROLLOUT,
  });
}

test('a restart mid-promotion keeps the split and fails no kept-alive request', {
  timeout: 240_000,
}, async (t) => {
  // Arrange: two versions run by the process provisioner, the daemon, Envoy over ADS.
  const listen = await freePort();
  let daemon = await startDaemon(t, { node: 'rr-edge', services: twoVersions(listen, TINY_COMMAND) });
  t.after(() => killInstances(join(daemon.dir, 'instances'), 'shop'));
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'restart-routing' });
  await client.deploy('shop', 'v2');
  await waitFor(
    'shadowing',
    async () => (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing',
  );
  await client.command('shop', 'promote', 'test');
  const split = { v1: 50, v2: 50 };
  const inSync = async () => {
    const p = (await client.status('shop')).services[0]?.proxies[0];
    return p?.inSync && JSON.stringify(p.ackedWeights) === JSON.stringify(split);
  };
  await waitFor('Envoy at 50/50', inSync, { timeoutMs: 60_000 });

  // Act: kept-alive load while the daemon is killed and started again.
  const load = startKeptAliveLoad(`http://127.0.0.1:${listen}/`, 4);
  try {
    daemon.child.kill('SIGKILL');
    await new Promise((r) => daemon.child.once('exit', r));
    daemon = await restartDaemon(t, daemon);
    await waitFor('the restarted daemon with Envoy at 50/50 again', inSync, { timeoutMs: 60_000 });
    const before = load.total();
    await waitFor('more load after the return', async () => load.total() > before + 200);
  } finally {
    await load.stop();
  }
  const served = load.answered;

  // Assert: nothing failed, and both versions kept serving their share.
  assert.deepEqual(load.failures, []);
  assert.ok((served['v1'] ?? 0) > 50 && (served['v2'] ?? 0) > 50, JSON.stringify(served));
  const h = (await client.history('shop', 1))[0]!;
  assert.equal(h.deployment?.phase, 'promoting');
});

test('a proxy that reconnects while the restarted daemon warms up first gets the deployment split, not a default', {
  timeout: 240_000,
}, async (t) => {
  // Arrange: v1 takes 2 s to come up, so a restart's warm-up is long enough for a proxy to connect meanwhile.
  const listen = await freePort();
  let daemon = await startDaemon(t, {
    node: 'first-edge',
    services: twoVersions(listen, `'/bin/sh', '-c', 'sleep 2; exec "$0" "$1"', ${TINY_COMMAND}`),
  });
  const owner = join(daemon.dir, 'instances');
  t.after(() => killInstances(owner, 'shop'));
  const client = await connectAdmin(t, daemon);
  await client.deploy('shop', 'v2');
  await waitFor(
    'shadowing',
    async () => (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing',
  );
  await client.command('shop', 'promote', 'test');
  await waitFor(
    'promoting at 50 %',
    async () => (await client.status('shop')).services[0]?.deployment?.candidateWeight === 50,
  );
  // The daemon and its instances die (a machine reboot, say): the restart must start them again.
  daemon.child.kill('SIGKILL');
  await new Promise((r) => daemon.child.once('exit', r));
  killInstances(owner, 'shop');

  // Act: the daemon starts again; a proxy connects as soon as the xDS port answers.
  daemon = await restartDaemon(t, daemon, { awaitListening: false });
  const ads = adsClient(daemon.ports.xds);
  t.after(() => ads.close());
  const first = await waitFor(
    'the first clusters the restarted daemon sends',
    async () => {
      const stream = openAds(ads, 'first-edge');
      stream.send({ type_url: CLUSTER_TYPE });
      // A stream refused (the port not open yet) ends at once: try again.
      const r = await Promise.race([stream.next(20_000), stream.ended.then(() => undefined)]);
      stream.cancel();
      return r;
    },
    { timeoutMs: 60_000 },
  );
  const names = first.resources.map((r) => String(decodeResource(r)['name']));

  // Assert: the first configuration already has the candidate's cluster the proxies' routes use.
  assert.ok(names.includes('shop-v2'), `first clusters: ${names.join(', ')}`);
  assert.ok(names.includes('shop-v1'), `first clusters: ${names.join(', ')}`);
});
