/**
 * The harness itself on a real Envoy: start, ready, proxy, stats, refusal.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import test from 'node:test';
import {
  drive,
  httpListener,
  runEnvoyToExit,
  simpleRoute,
  startEnvoy,
  startUpstream,
  staticBootstrap,
  staticCluster,
} from '../../harness/index.js';

test('a real Envoy proxies to a controlled upstream and reports stats', async (t) => {
  const upstream = await startUpstream(t, { status: 203, body: 'hello from upstream' });
  const envoy = await startEnvoy(t, {
    name: 'harness',
    config: staticBootstrap({
      listeners: [httpListener({ routes: [simpleRoute({ cluster: 'app' })] })],
      clusters: [staticCluster({ name: 'app', port: upstream.port })],
    }),
  });
  // Envoy picked both ports; the harness read them back.
  assert.ok(envoy.adminPort > 0);
  assert.deepEqual(Object.keys(envoy.listenerPorts), ['ingress']);

  const result = await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/x`,
    requests: 20,
    concurrency: 2,
    keepBodies: true,
  });

  assert.equal(result.count, 20);
  assert.deepEqual(result.statuses, { 203: 20 });
  assert.equal(result.bodies![0]!.toString(), 'hello from upstream');
  assert.equal(upstream.hits, 20);
  await envoy.waitForStat('cluster.app.upstream_rq_203', 20);
  const dump = await envoy.configDump();
  assert.ok(JSON.stringify(dump).includes('"app"'));
});

test('an upstream that resets is seen by the client as a 503 from Envoy', async (t) => {
  const upstream = await startUpstream(t, { mode: 'reset' });
  const envoy = await startEnvoy(t, {
    config: staticBootstrap({
      listeners: [httpListener({ routes: [simpleRoute({ cluster: 'app' })] })],
      clusters: [staticCluster({ name: 'app', port: upstream.port })],
    }),
  });
  const result = await drive({ url: `http://127.0.0.1:${envoy.listenerPort}/`, requests: 3, concurrency: 1 });
  assert.deepEqual(result.statuses, { 503: 3 });
});

test('a port in use fails the start with a one-line cause', async (t) => {
  // The blocker binds first (port 0), then Envoy is told to listen on the port it holds.
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.after(() => blocker.close());
  const listenPort = (blocker.address() as AddressInfo).port;
  await assert.rejects(
    startEnvoy(t, {
      config: staticBootstrap({
        listeners: [httpListener({ port: listenPort, routes: [simpleRoute({ cluster: 'app' })] })],
        clusters: [staticCluster({ name: 'app', port: 9 })],
      }),
    }),
    (err: Error) => err.message.includes(String(listenPort)) && /in use/.test(err.message),
  );
});

test('Envoy refuses a bootstrap that names a missing cluster', async () => {
  const { code, log } = await runEnvoyToExit({
    config: staticBootstrap({
      listeners: [httpListener({ routes: [simpleRoute({ cluster: 'missing' })] })],
      clusters: [],
    }),
  });
  assert.notEqual(code, 0);
  assert.match(log, /unknown cluster 'missing'|missing/);
});
