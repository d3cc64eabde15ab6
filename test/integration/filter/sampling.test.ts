import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drive, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { copiesAnswered, FLUSH_LOG_ARGS, filterBootstrap, startMirrorRig } from './fixture.js';
import { fnv1a64, startTelemetryServer } from './telemetry-server.js';

/** Whether the filter's consistent hash puts `key` inside `pct` percent. */
function inSegment(key: string, pct: number): boolean {
  return Number(fnv1a64(Buffer.from(key)) % 1_000_000n) < pct * 10_000;
}

/** Binomial bounds: mean ± 5 standard deviations (false alarm < 1e-6). */
function bounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - 5 * sd, n * p + 5 * sd];
}

test('random sampling mirrors the configured share (statistically) on every worker', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const candidate = await startUpstream(t, { body: 'ok' });
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    filterConfig: { shadowPercentage: 30, flushIntervalMs: 100 },
  });
  const envoy = await startEnvoy(t, {
    config: b.config,
    name: 'sampling-random',
    concurrency: 2,
    args: FLUSH_LOG_ARGS,
  });
  const n = 600;
  const res = await drive({ url: `http://127.0.0.1:${envoy.listenerPort}/r`, requests: n, concurrency: 8 });
  assert.equal(res.statuses[200], n);
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', n);
  const mirrored = (await envoy.stat('wasmcustom.umbra.shop.mirrored')) ?? 0;
  await waitFor('candidate hits', () => candidate.hits === mirrored, { timeoutMs: 5000 });
  const [lo, hi] = bounds(n, 0.3);
  assert.ok(mirrored >= lo && mirrored <= hi, `mirrored ${mirrored} outside [${lo}, ${hi}]`);
  assert.equal((await envoy.stat('wasmcustom.umbra.shop.skipped_sampling')) ?? 0, n - mirrored);
});

test('user-segment sampling is a consistent hash: the same users are in on every Envoy, by header or cookie', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const candidate = await startUpstream(t, { body: 'ok' });
  const telemetry = await startTelemetryServer(t);
  const filterConfig = {
    shadowPercentage: 40,
    mirroringStrategy: 'user-segment',
    segmentHeader: 'x-user',
    segmentCookie: 'uid',
    segmentBuckets: 10,
    telemetryCluster: 'umbra_telemetry',
    flushIntervalMs: 100,
  };
  const a = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    telemetryPort: telemetry.port,
    filterConfig,
  });
  const c = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    telemetryPort: telemetry.port,
    filterConfig,
  });
  const envoyA = await startEnvoy(t, {
    config: a.config,
    name: 'segment-a',
    concurrency: 2,
    args: FLUSH_LOG_ARGS,
  });
  const envoyB = await startEnvoy(t, { config: c.config, name: 'segment-b', args: FLUSH_LOG_ARGS });
  const users = Array.from({ length: 200 }, (_, i) => `user-${i * 7919}`);
  // Each user: twice through A by header, once through B by cookie, no key once.
  for (const [port, useCookie] of [
    [envoyA.listenerPort, false],
    [envoyA.listenerPort, false],
    [envoyB.listenerPort, true],
  ] as const) {
    const res = await drive({
      url: `http://127.0.0.1:${port}/seg`,
      requests: users.length,
      concurrency: 8,
      headers: (i): Record<string, string> =>
        useCookie ? { cookie: `theme=dark; uid=${users[i]}; x=1` } : { 'x-user': users[i]! },
    });
    assert.equal(res.statuses[200], users.length);
  }
  await drive({ url: `http://127.0.0.1:${envoyA.listenerPort}/seg`, requests: 10 });
  const expectedIn = users.filter((u) => inSegment(u, 40));
  // Twice through A, once through B for each user in the segment; then nothing more is coming.
  await copiesAnswered(envoyA, expectedIn.length * 2);
  await copiesAnswered(envoyB, expectedIn.length);
  await waitFor('candidate hits', () => candidate.hits >= expectedIn.length * 3);
  // Every user is in (3 copies) or out (0 copies), exactly as the hash says.
  const copies = new Map<string, number>();
  for (const r of candidate.requests) {
    const cookieUser = /uid=([^;]+)/.exec(String(r.headers.cookie ?? ''))?.[1];
    assert.equal(r.headers.cookie, undefined, 'cookies are stripped from the copy');
    const user = String(r.headers['x-user'] ?? cookieUser ?? '');
    copies.set(user, (copies.get(user) ?? 0) + 1);
  }
  assert.equal(candidate.hits, expectedIn.length * 3);
  const byHeader = new Set(
    candidate.requests.filter((r) => r.headers['x-user']).map((r) => String(r.headers['x-user'])),
  );
  assert.deepEqual([...byHeader].sort(), [...expectedIn].sort(), 'header-keyed users in the segment');
  const [lo, hi] = bounds(users.length, 0.4);
  assert.ok(expectedIn.length >= lo && expectedIn.length <= hi, `users in: ${expectedIn.length}`);
  // Cookie-keyed copies come from B: the same users (by record), with segments reported.
  await waitFor(
    'records',
    () => telemetry.records.filter((r) => r.arm === 'ARM_CANDIDATE').length >= expectedIn.length * 3,
  );
  const segments = new Set(telemetry.records.filter((r) => r.arm === 'ARM_PRIMARY').map((r) => r.segment));
  assert.ok(
    [...segments].every((s) => /^bucket-\d$/.test(s)),
    `segments ${[...segments].join(',')}`,
  );
  assert.ok(segments.size >= 5, 'users spread over the buckets');
  const fromB = telemetry.records.filter((r) => r.arm === 'ARM_PRIMARY' && r.proxyId === 'umbra-test').length;
  assert.equal(fromB, expectedIn.length * 3);
  await envoyA.waitForStat('wasmcustom.umbra.shop.skipped_no_segment', 10);
});

test('geographic sampling mirrors only the listed regions, sampled, and reports the region', async (t) => {
  const { candidate, telemetry, envoy } = await startMirrorRig(t, {
    name: 'sampling-geo',
    filterConfig: {
      shadowPercentage: 50,
      mirroringStrategy: 'geographic',
      regionHeader: 'x-region',
      regions: ['eu-west', 'US-East'],
      flushIntervalMs: 100,
    },
  });
  const regionOf = (i: number): string => ['eu-west', 'us-east', 'ap-south', ''][i % 4]!;
  const n = 800;
  await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/geo`,
    requests: n,
    concurrency: 8,
    headers: (i): Record<string, string> => (regionOf(i) ? { 'x-region': regionOf(i) } : {}),
  });
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', n);
  const mirrored = (await envoy.stat('wasmcustom.umbra.shop.mirrored')) ?? 0;
  await waitFor('candidate hits', () => candidate.hits === mirrored, { timeoutMs: 5000 });
  const regions = new Set(candidate.requests.map((r) => String(r.headers['x-region'])));
  assert.deepEqual([...regions].sort(), ['eu-west', 'us-east']);
  const [lo, hi] = bounds(n / 2, 0.5);
  assert.ok(mirrored >= lo && mirrored <= hi, `mirrored ${mirrored} outside [${lo}, ${hi}]`);
  await envoy.waitForStat('wasmcustom.umbra.shop.skipped_no_segment', n / 4);
  await waitFor(
    'records',
    () => telemetry.records.filter((r) => r.arm === 'ARM_PRIMARY').length === mirrored,
    { timeoutMs: 5000 },
  );
  const segs = new Set(telemetry.records.filter((r) => r.arm === 'ARM_PRIMARY').map((r) => r.segment));
  assert.deepEqual([...segs].sort(), ['eu-west', 'us-east'], 'regions are reported in lower case');
});
