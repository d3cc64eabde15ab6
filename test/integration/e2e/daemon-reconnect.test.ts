/**
 * How soon a real Envoy (the shipped bootstrap, the filter the daemon renders)
 * reaches a real daemon that comes back after an outage long enough for
 * reconnect backoffs to grow: the ADS stream and the filter's telemetry
 * stream are both connected again within a couple of seconds of the daemon's
 * ports answering.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import test from 'node:test';
import { drive, freePort, startUpstream, waitFor } from '../../harness/index.js';
import { connectAdmin, restartDaemon, startDaemon, startProxy, staticShop } from './daemon.js';

/** Whether something accepts TCP connections on the loopback port now. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Budget from a port answering to the stream being connected (the goal is 2 s; load on the machine adds some). */
const RECONNECT_BUDGET_MS = 2500;
/** Down long enough for a default backoff (500 ms doubling to 30 s) to reach several seconds. */
const OUTAGE_MS = 15_000;

test('after an outage, xDS and telemetry reconnect within seconds of the daemon answering', {
  timeout: 180_000,
}, async (t) => {
  // Arrange: a service behind a static endpoint shadowing v2 (so its routes run the filter), the
  // daemon, Envoy over ADS, traffic through the filter.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  let daemon = await startDaemon(t, {
    node: 'reconnect-edge',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    rollout: { shadowDuration: 10m }
`,
  });
  const { telemetry, xds } = daemon.ports;
  const client = await connectAdmin(t, daemon);
  const envoy = await startProxy(t, daemon, { name: 'reconnect', concurrency: 1 });
  await client.deploy('shop', 'v2');
  await waitFor(
    'shadowing',
    async () => (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing',
  );
  const url = `http://127.0.0.1:${listen}/`;
  const ads = 'control_plane.connected_state';
  const stream = 'wasmcustom.umbra.shop.stream_connected';
  // Traffic all along: the filter opens its stream once it has seen requests.
  let loading = true;
  const load = (async () => {
    for (let i = 0; i < 100_000 && loading; i++) await drive({ url, requests: 20, concurrency: 1 });
  })();
  t.after(async () => {
    loading = false;
    await load;
  });
  await waitFor(
    'both streams connected',
    async () => (await envoy.stat(ads)) === 1 && (await envoy.stat(stream)) === 1,
  );

  // Act: the daemon goes away for a while, then comes back.
  daemon.child.kill('SIGKILL');
  await new Promise((r) => daemon.child.once('exit', r));
  await waitFor(
    'both streams down',
    async () => (await envoy.stat(ads)) === 0 && (await envoy.stat(stream)) === 0,
  );
  await new Promise((r) => setTimeout(r, OUTAGE_MS)); // let the backoffs grow
  // The restart is timed from its ports answering, so it is not awaited here.
  daemon = await restartDaemon(t, daemon, { awaitListening: false });
  const up: Record<string, number> = {};
  const connected: Record<string, number> = {};
  // Each probe notes when a port first answers and when its stream is first connected again.
  await waitFor(
    'both streams connected again',
    async () => {
      const now = Date.now();
      if (up['xds'] === undefined && (await listening(xds))) up['xds'] = now;
      if (up['telemetry'] === undefined && (await listening(telemetry))) up['telemetry'] = now;
      if (connected['xds'] === undefined && (await envoy.stat(ads)) === 1) connected['xds'] = Date.now();
      if (connected['telemetry'] === undefined && (await envoy.stat(stream)) === 1)
        connected['telemetry'] = Date.now();
      // Connected before a probe saw the port: it came up since the last probe.
      for (const k of Object.keys(connected)) up[k] ??= now;
      return Object.keys(connected).length === 2 ? connected : undefined;
    },
    { timeoutMs: 60_000 },
  );

  // Assert: each stream was back within the budget of its port answering.
  const xdsMs = (connected['xds'] ?? Number.POSITIVE_INFINITY) - (up['xds'] ?? 0);
  const telemetryMs = (connected['telemetry'] ?? Number.POSITIVE_INFINITY) - (up['telemetry'] ?? 0);
  console.log(JSON.stringify({ reconnect: { xdsMs, telemetryMs } }));
  assert.ok(xdsMs <= RECONNECT_BUDGET_MS, `ADS reconnected ${xdsMs} ms after the daemon answered`);
  assert.ok(
    telemetryMs <= RECONNECT_BUDGET_MS,
    `telemetry reconnected ${telemetryMs} ms after the daemon answered`,
  );
  // And status shows what the proxy ACKed from the restarted daemon, not only what it wants.
  const proxies = await waitFor('the proxy in sync', async () => {
    const p = (await client.status('shop')).services[0]?.proxies;
    return p?.[0]?.inSync ? p : undefined;
  });
  assert.deepEqual(proxies, [
    {
      nodeId: 'reconnect-edge',
      connected: true,
      inSync: true,
      desiredWeights: { v1: 100 },
      ackedWeights: { v1: 100 },
      hasAcked: true,
    },
  ]);
  assert.deepEqual((await drive({ url, requests: 20 })).statuses, { 200: 20 });
});
