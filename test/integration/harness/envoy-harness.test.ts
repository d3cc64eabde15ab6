/**
 * The harness itself on a real Envoy: start, ready, proxy, stats, refusal.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import test from 'node:test';
import {
  drive,
  freePorts,
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
  const [adminPort, listenPort] = await freePorts(2);
  const envoy = await startEnvoy(t, {
    name: 'harness',
    config: staticBootstrap({
      adminPort: adminPort!,
      listeners: [httpListener({ port: listenPort!, routes: [simpleRoute({ cluster: 'app' })] })],
      clusters: [staticCluster({ name: 'app', port: upstream.port })],
    }),
  });

  const result = await drive({
    url: `http://127.0.0.1:${listenPort}/x`,
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
  const [adminPort, listenPort] = await freePorts(2);
  await startEnvoy(t, {
    config: staticBootstrap({
      adminPort: adminPort!,
      listeners: [httpListener({ port: listenPort!, routes: [simpleRoute({ cluster: 'app' })] })],
      clusters: [staticCluster({ name: 'app', port: upstream.port })],
    }),
  });
  const result = await drive({ url: `http://127.0.0.1:${listenPort}/`, requests: 3, concurrency: 1 });
  assert.deepEqual(result.statuses, { 503: 3 });
});

test('a port in use fails the start with a one-line cause', async (t) => {
  const [adminPort, listenPort] = await freePorts(2);
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(listenPort, '127.0.0.1', () => r()));
  t.after(() => blocker.close());
  await assert.rejects(
    startEnvoy(t, {
      config: staticBootstrap({
        adminPort: adminPort!,
        listeners: [httpListener({ port: listenPort!, routes: [simpleRoute({ cluster: 'app' })] })],
        clusters: [staticCluster({ name: 'app', port: 9 })],
      }),
    }),
    (err: Error) => err.message.includes(String(listenPort)) && /in use/.test(err.message),
  );
});

test('Envoy refuses a bootstrap that names a missing cluster', async () => {
  const [adminPort, listenPort] = await freePorts(2);
  const { code, log } = await runEnvoyToExit({
    config: staticBootstrap({
      adminPort: adminPort!,
      listeners: [httpListener({ port: listenPort!, routes: [simpleRoute({ cluster: 'missing' })] })],
      clusters: [],
    }),
  });
  assert.notEqual(code, 0);
  assert.match(log, /unknown cluster 'missing'|missing/);
});
