import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { drive, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterBootstrap, startMirrorRig } from './fixture.js';
import { fnv1a64, startTelemetryServer } from './telemetry-server.js';

test('mirrored requests reach the candidate marked, with the same id and without secrets; records arrive with the right fields', async (t) => {
  // Arrange: stable and candidate answer differently; telemetry collects records.
  const { stable, candidate, telemetry, envoy } = await startMirrorRig(t, {
    name: 'records',
    stable: (r) => ({ body: `stable ${r.path}` }),
    candidate: (r) => ({ status: r.path.includes('bad') ? 500 : 200, body: `candidate!! ${r.path}` }),
    routeName: 'catalog',
    nodeId: 'edge-7',
    filterConfig: { shadowPercentage: 100, flushIntervalMs: 100 },
  });
  const ids: string[] = Array.from({ length: 20 }, () => randomUUID());

  // Act: 20 GETs (mirrored), 5 POSTs (writes: not mirrored by default).
  const gets = await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/items`,
    requests: 20,
    concurrency: 4,
    path: (i) => (i % 5 === 0 ? `/items/bad/${i}` : `/items/${i}`),
    headers: (i) => ({ 'x-request-id': ids[i]!, authorization: 'Bearer secret', cookie: 'session=abc' }),
  });
  const posts = await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/orders`,
    requests: 5,
    method: 'POST',
    body: 'order',
  });
  assert.equal(gets.statuses[200], 20);
  assert.equal(posts.statuses[200], 5);
  await waitFor('candidate hits', () => candidate.hits >= 20);
  await waitFor('records', () => telemetry.records.length >= 45);

  // Assert: the candidate saw each GET once, marked, same id, no secrets; no POST.
  assert.equal(candidate.hits, 20);
  for (const r of candidate.requests) {
    assert.equal(r.method, 'GET');
    assert.equal(r.headers['x-umbra-shadow'], '1');
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.headers.cookie, undefined);
    assert.ok(ids.includes(String(r.headers['x-request-id'])), 'same x-request-id');
  }
  assert.equal(
    stable.requests.filter((r) => r.headers['x-umbra-shadow']).length,
    0,
    'production is not marked',
  );
  const recs = telemetry.records;
  for (const [i, id] of ids.entries()) {
    const arms = recs.filter((r) => r.requestId === id);
    const primary = arms.find((r) => r.arm === 'ARM_PRIMARY');
    const shadow = arms.find((r) => r.arm === 'ARM_CANDIDATE');
    assert.ok(primary && shadow, `both arms for ${id}`);
    const path = i % 5 === 0 ? `/items/bad/${i}` : `/items/${i}`;
    assert.equal(primary.status, 200);
    assert.equal(shadow.status, i % 5 === 0 ? 500 : 200);
    assert.equal(primary.responseBytes, Buffer.byteLength(`stable ${path}`));
    assert.equal(shadow.responseBytes, Buffer.byteLength(`candidate!! ${path}`));
    assert.equal(primary.bodyHash, fnv1a64(Buffer.from(`stable ${path}`)));
    assert.equal(shadow.bodyHash, fnv1a64(Buffer.from(`candidate!! ${path}`)));
    assert.equal(primary.endpoint, 'catalog');
    assert.equal(shadow.endpoint, 'catalog');
    assert.equal(primary.cluster, '', 'only live records name the cluster (a pair is judged by its arms)');
    assert.equal(primary.startUs, shadow.startUs, 'arms share the start time');
    assert.ok(primary.latencyUs > 0 && primary.latencyUs < 5_000_000);
    assert.ok(shadow.latencyUs > 0 && shadow.latencyUs < 5_000_000);
    assert.equal(primary.flags, 0);
    assert.equal(shadow.flags, 0);
    assert.ok(Math.abs(primary.startUs - Date.now() * 1000) < 60_000_000, 'start time is wall clock µs');
  }
  const live = recs.filter((r) => r.arm === 'ARM_LIVE');
  assert.equal(live.length, 5, 'one live record per POST');
  for (const r of live) {
    assert.equal(r.cluster, 'stable');
    assert.equal(r.status, 200);
    assert.equal(r.endpoint, 'catalog');
  }
  const batch = telemetry.batches[0]!;
  assert.equal(batch.proxyId, 'edge-7');
  assert.equal(batch.service, 'shop');
  assert.equal(batch.schemaVersion, 1);
  await waitFor(
    'counters',
    () => telemetry.counters()['mirrored'] === 20 && telemetry.counters()['skippedMethod'] === 5,
    { timeoutMs: 5000 },
  );
  const counters = telemetry.counters();
  assert.equal(counters['requests'], 25);
  await envoy.waitForStat('wasmcustom.umbra.shop.mirrored', 20);
  await envoy.waitForStat('wasmcustom.umbra.shop.skipped_method', 5);
});

test('live records of a route without a name carry the normalised path, cluster and status', async (t) => {
  // Arrange: an unnamed route; nothing mirrored, every request gets a live record.
  const stable = await startUpstream(t, (r) => ({
    status: r.path.startsWith('/gone') ? 404 : 200,
    body: 'ok',
  }));
  const telemetry = await startTelemetryServer(t);
  const b = filterBootstrap({
    stablePort: stable.port,
    telemetryPort: telemetry.port,
    filterConfig: { shadowPercentage: 0, telemetryCluster: 'umbra_telemetry', flushIntervalMs: 100 },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'live-path', args: FLUSH_LOG_ARGS });

  // Act: ids in the path are normalised away; the query is dropped.
  const res = await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/`,
    requests: 6,
    concurrency: 2,
    path: (i) => (i < 4 ? `/users/${1000 + i}/orders?page=${i}` : `/gone/${i}`),
  });
  assert.equal(res.statuses[200], 4);
  assert.equal(res.statuses[404], 2);
  await waitFor('records', () => telemetry.records.length >= 6);

  // Assert
  const live = telemetry.records.filter((r) => r.arm === 'ARM_LIVE');
  assert.equal(live.length, 6);
  const byEndpoint = (e: string) => live.filter((r) => r.endpoint === e);
  assert.equal(byEndpoint('/users/:id/orders').length, 4, JSON.stringify(live.map((r) => r.endpoint)));
  assert.equal(byEndpoint('/gone/:id').length, 2);
  for (const r of live) {
    assert.equal(r.cluster, 'stable');
    assert.equal(r.status, r.endpoint === '/gone/:id' ? 404 : 200);
    assert.ok(r.latencyUs > 0 && r.latencyUs < 5_000_000);
    assert.equal(r.flags, 0);
  }
});

test('with endpointFrom "path" the endpoint is the normalised path even on a named route', async (t) => {
  // Arrange: a named route, and the setting the daemon uses for the routes it renders (unnamed).
  const stable = await startUpstream(t, () => ({ status: 200, body: 'ok' }));
  const telemetry = await startTelemetryServer(t);
  const b = filterBootstrap({
    stablePort: stable.port,
    telemetryPort: telemetry.port,
    routeName: 'catalog',
    filterConfig: {
      shadowPercentage: 0,
      telemetryCluster: 'umbra_telemetry',
      flushIntervalMs: 100,
      endpointFrom: 'path',
    },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'live-path-only', args: FLUSH_LOG_ARGS });

  // Act
  const res = await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/`,
    requests: 3,
    path: (i) => `/users/${1000 + i}`,
  });
  assert.equal(res.statuses[200], 3);
  await waitFor('records', () => telemetry.records.length >= 3);

  // Assert: the route's name is not asked for.
  const live = telemetry.records.filter((r) => r.arm === 'ARM_LIVE');
  assert.deepEqual(
    live.map((r) => r.endpoint),
    ['/users/:id', '/users/:id', '/users/:id'],
  );
});
