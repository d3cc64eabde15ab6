import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { drive, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { copiesAnswered, FLUSH_LOG_ARGS, filterBootstrap, startMirrorRig } from './fixture.js';

const FLAG_GENERATED_ID = 16;
const FLAG_MIRROR_ABANDONED = 32;

/** Sends a body in chunks without content-length (chunked transfer encoding). */
function postChunked(url: string, chunks: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    const next = (i: number): void => {
      if (i >= chunks.length) {
        req.end();
        return;
      }
      req.write(chunks[i]);
      setTimeout(() => next(i + 1), 5);
    };
    next(0);
  });
}

test('bodies are mirrored intact up to maxBodyBytes; larger ones are not mirrored and are counted', async (t) => {
  const { stable, candidate, telemetry, envoy } = await startMirrorRig(t, {
    name: 'bodies',
    filterConfig: {
      shadowPercentage: 100,
      methods: ['GET', 'POST'],
      maxBodyBytes: 100_000,
      flushIntervalMs: 100,
    },
  });
  const body = Buffer.alloc(99_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 13) % 256;
  const big = Buffer.alloc(200_000, 7);
  const url = `http://127.0.0.1:${envoy.listenerPort}/upload`;

  await drive({ url, requests: 3, method: 'POST', body, headers: () => ({ 'x-kind': 'fits' }) });
  await drive({
    url,
    requests: 2,
    method: 'POST',
    body: big,
    headers: () => ({ 'x-kind': 'declared-too-big' }),
  });
  const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(10_000, i));
  assert.equal(await postChunked(url, chunks), 200);

  await envoy.waitForStat('wasmcustom.umbra.shop.requests', 6);
  await copiesAnswered(envoy, 3);
  assert.equal(candidate.hits, 3, 'only the bodies within the limit were mirrored');
  for (const r of candidate.requests) {
    assert.equal(r.headers['x-kind'], 'fits');
    assert.ok(r.body.equals(body), 'mirrored body is intact');
  }
  // Production got every body intact, mirrored or not.
  assert.equal(stable.requests.length, 6);
  assert.ok(
    stable.requests
      .filter((r) => r.headers['x-kind'] === 'declared-too-big')
      .every((r) => r.body.equals(big)),
  );
  assert.ok(stable.requests[5]!.body.equals(Buffer.concat(chunks)), 'chunked production body intact');
  await envoy.waitForStat('wasmcustom.umbra.shop.skipped_body_size', 3);
  // The chunked one was abandoned mid-way: its primary record says so, and it has no shadow.
  await waitFor(
    'primary records',
    () => telemetry.records.filter((r) => r.arm === 'ARM_PRIMARY').length === 4,
    { timeoutMs: 5000 },
  );
  const abandoned = telemetry.records.filter((r) => (r.flags & FLAG_MIRROR_ABANDONED) !== 0);
  assert.equal(abandoned.length, 1);
  assert.equal(telemetry.records.filter((r) => r.requestId === abandoned[0]!.requestId).length, 1);
});

test('path include/exclude prefixes, custom stripped headers, and a generated id for a malformed one', async (t) => {
  const { stable, candidate, telemetry, envoy } = await startMirrorRig(t, {
    name: 'policy',
    filterConfig: {
      shadowPercentage: 100,
      includePaths: ['/api/'],
      excludePaths: ['/api/admin'],
      stripHeaders: ['X-Secret', 'authorization'],
      flushIntervalMs: 100,
    },
  });
  const paths = ['/api/items?x=1', '/api/admin/users', '/other', '/api'];
  const longId = 'z'.repeat(200);
  await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/`,
    requests: 8,
    path: (i) => paths[i % 4]!,
    headers: (i): Record<string, string> => ({
      'x-secret': 's3cret',
      authorization: 'Basic abc',
      'x-keep': 'yes',
      ...(i === 4 ? { 'x-request-id': longId } : {}),
    }),
  });
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', 8);
  await waitFor('candidate hits', () => candidate.hits === 2, { timeoutMs: 5000 });
  assert.deepEqual(
    candidate.requests.map((r) => r.path),
    ['/api/items?x=1', '/api/items?x=1'],
  );
  for (const r of candidate.requests) {
    assert.equal(r.headers['x-secret'], undefined);
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.headers['x-keep'], 'yes');
  }
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.skipped_path'), 6);
  // The malformed id was replaced by a generated UUID shared by both arms.
  await waitFor(
    'records with generated id',
    () => telemetry.records.filter((r) => (r.flags & FLAG_GENERATED_ID) !== 0).length === 2,
    { timeoutMs: 5000 },
  );
  const flagged = telemetry.records.filter((r) => (r.flags & FLAG_GENERATED_ID) !== 0);
  assert.deepEqual(flagged.map((r) => r.arm).sort(), ['ARM_CANDIDATE', 'ARM_PRIMARY']);
  assert.equal(flagged[0]!.requestId, flagged[1]!.requestId);
  assert.ok(
    candidate.requests.some((r) => r.headers['x-request-id'] === flagged[0]!.requestId),
    'the shadow got that id',
  );
  assert.match(
    flagged[0]!.requestId,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.ok(
    stable.requests.some((r) => r.headers['x-request-id'] === longId),
    'production keeps its own id',
  );
  // Endpoint names without a route name: the normalised path.
  assert.ok(telemetry.records.some((r) => r.endpoint === '/api/items'));
});

test('shadow calls in flight are capped per worker; the rest count as shadow_busy and production is unaffected', async (t) => {
  const stable = await startUpstream(t, { body: 'fast' });
  const candidate = await startUpstream(t, { delayMs: 2000, body: 'slow' });
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    filterConfig: {
      shadowPercentage: 100,
      maxShadowInFlight: 3,
      shadowTimeoutMs: 5000,
      flushIntervalMs: 100,
    },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'busy', args: FLUSH_LOG_ARGS });
  const res = await drive({ url: `http://127.0.0.1:${envoy.listenerPort}/b`, requests: 40, concurrency: 4 });
  assert.equal(res.statuses[200], 40);
  assert.ok(Math.max(...res.latenciesMs) < 1800, 'production did not wait for the 2 s shadow');
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', 40);
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.mirrored'), 3);
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.shadow_busy'), 37);
  // Once the slow calls finish, slots free up again.
  await envoy.waitForStat('wasmcustom.umbra.shop.shadow_in_flight', 3);
  await envoy.waitForStat('wasmcustom.umbra.shop.shadow_in_flight', 0, { timeoutMs: 8000 });
  await drive({ url: `http://127.0.0.1:${envoy.listenerPort}/b`, requests: 2 });
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', 42);
  const stats = await envoy.stats();
  assert.equal(
    stats['wasmcustom.umbra.shop.mirrored'],
    5,
    JSON.stringify(Object.entries(stats).filter(([k]) => k.includes('umbra'))),
  );
});

test('oversized headers and many headers are mirrored without harming the VM or production', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const candidate = await startUpstream(t, { body: 'ok' });
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    filterConfig: { shadowPercentage: 100, flushIntervalMs: 100 },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'big-headers', args: FLUSH_LOG_ARGS });
  const big = 'v'.repeat(12 * 1024); // Node's HTTP server (the upstream) refuses more than 16 KiB of headers
  const many: Record<string, string> = {};
  for (let i = 0; i < 90; i++) many[`x-h${i}`] = `value-${i}`;
  const res = await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/h`,
    requests: 20,
    concurrency: 2,
    headers: (i): Record<string, string> => (i % 2 === 0 ? { 'x-big': big } : many),
  });
  assert.equal(res.statuses[200], 20);
  await waitFor('candidate hits', () => candidate.hits === 20, { timeoutMs: 5000 });
  assert.ok(candidate.requests.filter((r) => r.headers['x-big'] === big).length === 10);
  assert.ok(candidate.requests.filter((r) => r.headers['x-h89'] === 'value-89').length === 10);
  // The VM is still healthy: later requests are still mirrored.
  await drive({ url: `http://127.0.0.1:${envoy.listenerPort}/h`, requests: 5 });
  await waitFor('candidate hits after', () => candidate.hits === 25, { timeoutMs: 5000 });
  await envoy.waitForStat('wasmcustom.umbra.shop.mirrored', 25);
});

test('a request aborted before it completes gives its in-flight slot back', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const candidate = await startUpstream(t, { body: 'ok' });
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    filterConfig: {
      shadowPercentage: 100,
      methods: ['GET', 'POST'],
      maxShadowInFlight: 1,
      flushIntervalMs: 100,
    },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'aborted', args: FLUSH_LOG_ARGS });
  // A POST that sends part of its body, then the client goes away.
  await new Promise<void>((resolve) => {
    const req = request(`http://127.0.0.1:${envoy.listenerPort}/upload`, { method: 'POST' });
    req.on('error', () => resolve());
    req.write(Buffer.alloc(1000, 1));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 200);
  });
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', 1);
  await envoy.waitForStat('wasmcustom.umbra.shop.shadow_in_flight', 0);
  // The single slot is free again: the next request is mirrored.
  await drive({ url: `http://127.0.0.1:${envoy.listenerPort}/after`, requests: 1 });
  await waitFor('mirrored after the abort', () => candidate.hits === 1, { timeoutMs: 5000 });
  assert.equal(candidate.requests[0]!.path, '/after');
  assert.equal((await envoy.stat('wasmcustom.umbra.shop.shadow_busy')) ?? 0, 0);
});
