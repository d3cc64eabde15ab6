/**
 * Mirroring stops when a deployment ends: the real daemon (`umbra daemon`),
 * a real Envoy and two static versions. While v2 is shadowed at 100 %, every
 * request reaches v1 and a copy reaches v2. Once the deployment is aborted
 * (or completed), the serving version sees each request exactly once: no
 * copy goes to it, nor anywhere else, and no route runs the filter any more.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  drive,
  type EnvoyProcess,
  freePort,
  startUpstream,
  type Upstream,
  waitFor,
} from '../../harness/index.js';
import { connectAdmin, startDaemon, startProxy, staticShop } from './daemon.js';

const N = 40;

/** Sends `N` requests one by one; returns how many each version saw meanwhile. */
async function hitsOf(url: string, ...versions: Upstream[]): Promise<number[]> {
  const before = versions.map((v) => v.hits);
  const r = await drive({ url, requests: N, concurrency: 1 });
  assert.equal(r.statuses[200], N, `every request answered 200: ${JSON.stringify(r.statuses)}`);
  return versions.map((v, i) => v.hits - before[i]!);
}

/**
 * Whether the route configuration Envoy runs enables the Umbra filter on no
 * route (the listener carries it disabled): false after 15 s without.
 */
async function filterOffOnRoutes(envoy: EnvoyProcess): Promise<boolean> {
  return waitFor(
    'the routes without the filter',
    async () => {
      const dump = JSON.stringify(await envoy.configDump('?resource=dynamic_route_configs'));
      return dump.includes('shop-routes') && !dump.includes('typed_per_filter_config');
    },
    { timeoutMs: 15_000 },
  ).catch(() => false);
}

test('after abort and after completion no request reaches the serving version twice', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 240_000,
}, async (t) => {
  // Arrange: two static versions, the daemon, Envoy over ADS.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  const daemon = await startDaemon(t, {
    node: 'edge',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    mirroring: { shadowPercentage: 100 }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 100, hold: 10m }]
      bake: 10m
`,
  });
  const client = await connectAdmin(t, daemon);
  const envoy = await startProxy(t, daemon, { name: 'mirror-off' });
  const url = `http://127.0.0.1:${listen}/`;
  const phase = async () => (await client.status('shop')).services[0]?.deployment?.phase;
  const shadowingV2 = async () => {
    await client.deploy('shop', 'v2');
    await waitFor('shadowing', async () => (await phase()) === 'shadowing');
    await waitFor('copies reaching v2', async () => {
      const before = v2.hits;
      await drive({ url, requests: 5, concurrency: 1 });
      return v2.hits > before;
    });
  };
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);

  // Act 1: shadow v2, then abort.
  await shadowingV2();
  await client.command('shop', 'abort');
  await waitFor('aborted', async () => (await phase()) === 'aborted');
  const offAfterAbort = await filterOffOnRoutes(envoy);

  // Assert 1: v1 serves each request once; v2 gets nothing; no route runs the filter.
  assert.deepEqual(await hitsOf(url, v1, v2), [N, 0], 'after abort: [v1, v2] hits for N requests');
  assert.ok(offAfterAbort, 'no route enables the filter after abort');

  // Act 2: shadow v2 again and promote it through the step and the bake to completed.
  await shadowingV2();
  for (const expected of ['promoting', 'baking', 'completed']) {
    await client.command('shop', 'promote');
    await waitFor(expected, async () => (await phase()) === expected);
  }
  const offAfterCompletion = await filterOffOnRoutes(envoy);

  // Assert 2: v2 now serves each request once; v1 (the old version) gets no copies; no filter.
  assert.deepEqual(await hitsOf(url, v2, v1), [N, 0], 'after completion: [v2, v1] hits for N requests');
  assert.ok(offAfterCompletion, 'no route enables the filter after completion');
});
