/**
 * A real daemon running several services, SIGKILLed and started again while
 * kept-alive load runs on each of them through a real Envoy. The restarted
 * daemon adopts the instances, and its pools come up at different moments
 * (here: instances whose health check answers late). Whatever the order, the
 * proxy must keep every listener, route and cluster as it had them: no
 * request may fail, no listener may be removed or replaced, and the users of
 * a service mid-promotion must stay on their weights throughout.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import {
  type EnvoyProcess,
  freePort,
  type KeptAliveLoad,
  startKeptAliveLoad,
  waitFor,
} from '../../harness/index.js';
import {
  COMMAND_DRIVEN_ROLLOUT,
  connectAdmin,
  killInstances,
  restartDaemon,
  startDaemon,
  startProxy,
  TINY_COMMAND,
} from './daemon.js';

/** A service run by the process provisioner, one replica; `slow` versions answer their health check 400 ms late. */
function service(name: string, listen: number, versions: string[], slow: string[], rollout = ''): string {
  const lines = versions.map((v) => {
    const env = slow.includes(v) ? `, env: { HEALTH_DELAY_MS: '400' }` : '';
    return `        ${v}: { command: [${TINY_COMMAND}]${env} }`;
  });
  return `  - name: ${name}
    stable: v1
    listen: 127.0.0.1:${listen}
    provisioner:
      kind: process
      replicas: 1
      versions:
${lines.join('\n')}
${rollout}`;
}

/** Envoy's counters that move when the proxy's listeners, clusters or a service's routes change. */
async function churn(envoy: EnvoyProcess, routed: string): Promise<Record<string, number>> {
  const names = [
    'listener_manager.listener_removed',
    'listener_manager.listener_modified',
    'listener_manager.listener_added',
    'cluster_manager.cluster_removed',
    `http.${routed}.rds.${routed}-routes.config_reload`,
  ];
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (await envoy.stat(n)) ?? 0;
  return out;
}

test('a daemon restart with several services, one mid-promotion, fails no request and drains no listener', {
  timeout: 300_000,
}, async (t) => {
  // Arrange: shop (answers at once), cart (its health check answers late), and pay mid-promotion
  // at 50/50 whose candidate's health check answers late; one Envoy over ADS.
  const [shopPort, cartPort, payPort] = [await freePort(), await freePort(), await freePort()];
  let daemon = await startDaemon(t, {
    node: 'services-edge',
    services: [
      service('shop', shopPort, ['v1'], []),
      service('cart', cartPort, ['v1'], ['v1']),
      service('pay', payPort, ['v1', 'v2'], ['v2'], COMMAND_DRIVEN_ROLLOUT),
    ].join(''),
  });
  const owner = join(daemon.dir, 'instances');
  t.after(() => {
    for (const s of ['shop', 'cart', 'pay']) killInstances(owner, s);
  });
  const client = await connectAdmin(t, daemon);
  const envoy = await startProxy(t, daemon, { name: 'restart-services' });
  await client.deploy('pay', 'v2');
  await waitFor(
    'pay shadowing',
    async () => (await client.status('pay')).services[0]?.deployment?.phase === 'shadowing',
    { timeoutMs: 60_000 },
  );
  await client.command('pay', 'promote', 'test');
  const want: Record<string, Record<string, number>> = {
    shop: { v1: 100 },
    cart: { v1: 100 },
    pay: { v1: 50, v2: 50 },
  };
  const allInSync = async () => {
    for (const [s, weights] of Object.entries(want)) {
      const p = (await client.status(s)).services[0]?.proxies[0];
      if (!p?.inSync || JSON.stringify(p.ackedWeights) !== JSON.stringify(weights)) return false;
    }
    return true;
  };
  await waitFor('Envoy with every service as wanted', allInSync, { timeoutMs: 60_000 });
  const loads: Record<string, KeptAliveLoad> = {
    shop: startKeptAliveLoad(`http://127.0.0.1:${shopPort}/`, 2),
    cart: startKeptAliveLoad(`http://127.0.0.1:${cartPort}/`, 2),
    pay: startKeptAliveLoad(`http://127.0.0.1:${payPort}/`, 2),
  };
  t.after(() => Promise.all(Object.values(loads).map((l) => l.stop())));
  await waitFor('load answered on every service', () => Object.values(loads).every((l) => l.total() > 50));
  const before = await churn(envoy, 'pay');

  // Act: SIGKILL the daemon (its instances run on) and start it again on the same store.
  daemon.child.kill('SIGKILL');
  await new Promise((r) => daemon.child.once('exit', r));
  daemon = await restartDaemon(t, daemon);
  await waitFor('the restarted daemon with Envoy in sync on every service', allInSync, { timeoutMs: 60_000 });
  const totals = Object.fromEntries(Object.entries(loads).map(([s, l]) => [s, l.total()]));
  await waitFor('more load on every service after the return', () =>
    Object.entries(loads).every(([s, l]) => l.total() > totals[s]! + 100 || l.failures.length > 0),
  );
  await Promise.all(Object.values(loads).map((l) => l.stop()));
  const after = await churn(envoy, 'pay');

  // Assert: no user saw an error; the proxy kept every listener, cluster and pay's routes as they were.
  for (const [s, l] of Object.entries(loads)) assert.deepEqual(l.failures, [], `${s} failures`);
  assert.deepEqual(after, before);
  assert.ok((loads['pay']!.answered['v2'] ?? 0) > 50, JSON.stringify(loads['pay']!.answered));
});
