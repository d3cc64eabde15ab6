/**
 * Sampling before the VM on a real Envoy over ADS, with the routes the
 * daemon renders (filter-gate.ts) and the filter's percentage scaled as the
 * daemon scales it (controller/filter-gate.ts): the share of requests that
 * enters the filter, the share it mirrors and the share that gives a live
 * record are the configured ones, within five standard deviations of a
 * binomial; during a weighted step the live records come from both
 * versions in proportion to their weights.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';
import { filterGatePlan } from '../../../daemon/controller/filter-gate.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { drive, waitFor } from '../../harness/index.js';
import { type SeenRecord, startTelemetryServer } from '../filter/telemetry-server.js';
import { type EnvoyRig, startRig } from './fixture.js';

const wasmPath = join(projectRoot(), 'build', 'filter.wasm');
const skip = existsSync(wasmPath) ? false : 'build/filter.wasm is missing: run `npm run build:filter`';
const render = { filter: { wasmPath, failOpen: false } };
const N = 800;
const P = 20;
const LIVE = 10;

/** The service as umbra.yaml gives it (random unless `mirroring` says otherwise). */
function service(mirroring: string) {
  const parsed = parseConfig(`services:
  - name: shop
    stable: v1
    provisioner: { kind: static, versions: { v1: { endpoints: ['127.0.0.1:1'] } } }
    mirroring: { shadowPercentage: ${P}, liveSample: ${LIVE}${mirroring} }
`);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config.services[0]!;
}

/** Asserts k successes of n are within five standard deviations of a binomial(n, p). */
function assertBinomial(k: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(
    Math.abs(k - n * p) <= 5 * sd,
    `${what}: ${k} of ${n}, expected ${(n * p).toFixed(1)} ± ${(5 * sd).toFixed(1)}`,
  );
}

/** Starts Envoy with the filter configured as the daemon would, and publishes the gated routes. */
async function gatedRig(
  t: Parameters<typeof startRig>[0],
  mirroring: string,
  route: { weights: Record<string, number>; mirrorPercentage: number | null },
  filterConfig: Record<string, unknown> = {},
) {
  const sink = await startTelemetryServer(t);
  const plan = filterGatePlan(service(mirroring), { filter: true, mirrorPercentage: route.mirrorPercentage });
  const inside = plan.insidePercentage(route.mirrorPercentage ?? 0);
  const rig = await startRig(t, {
    render,
    telemetry: { address: '127.0.0.1', port: sink.port },
    mirror: {
      candidate: 'v2',
      filterConfig: { shadowPercentage: inside, liveSampleEvery: 1, flushIntervalMs: 100, ...filterConfig },
    },
  });
  await rig.publish(renderService({ ...rig.desired(route.weights), filterGate: plan.gate! }, render));
  return { rig, sink };
}

/** Waits until every request that entered the filter has its record (and every copy its answer). */
async function settled(rig: EnvoyRig, sink: Awaited<ReturnType<typeof startTelemetryServer>>) {
  const arm = (a: string) => sink.records.filter((r) => r.arm === `ARM_${a.toUpperCase()}`);
  await waitFor(
    'a record for every request that entered the filter',
    () => {
      const c = sink.counters();
      const primary = arm('primary').length;
      return (
        (c['requests'] ?? 0) > 0 &&
        primary + arm('live').length === c['requests'] &&
        arm('candidate').length === primary &&
        rig.v2.hits === primary
      );
    },
    { timeoutMs: 20_000 },
  );
  return { primary: arm('primary'), live: arm('live'), entered: sink.counters()['requests']! };
}

test('random: p + L % enter the filter, p % are mirrored and L % give a live record', {
  skip,
  timeout: 120_000,
}, async (t) => {
  // Arrange
  const { rig, sink } = await gatedRig(t, '', { weights: { v1: 100 }, mirrorPercentage: P });

  // Act
  const res = await drive({ url: rig.url, requests: N, concurrency: 8 });
  const { primary, live, entered } = await settled(rig, sink);

  // Assert
  assert.deepEqual(res.statuses, { 200: N });
  assertBinomial(entered, N, (P + LIVE) / 100, 'entered the filter');
  assertBinomial(primary.length, N, P / 100, 'mirrored');
  assertBinomial(live.length, N, LIVE / 100, 'live records');
});

test('geographic: only listed regions are mirrored, at p %; every region gives live records at L %', {
  skip,
  timeout: 120_000,
}, async (t) => {
  // Arrange: half the requests from eu (listed), half from us (not listed).
  const geo = ', mirroringStrategy: geographic, geographic: { header: x-region, regions: [EU] }';
  const { rig, sink } = await gatedRig(
    t,
    geo,
    { weights: { v1: 100 }, mirrorPercentage: P },
    { mirroringStrategy: 'geographic', regionHeader: 'x-region', regions: ['EU'] },
  );

  // Act
  const region = (i: number) => (i % 2 === 0 ? 'eu' : 'us');
  const res = await drive({
    url: rig.url,
    requests: N,
    concurrency: 8,
    headers: (i) => ({ 'x-region': region(i) }),
  });
  const { primary, live } = await settled(rig, sink);

  // Assert
  assert.deepEqual(res.statuses, { 200: N });
  assert.ok(
    primary.every((r: SeenRecord) => r.segment === 'eu'),
    'only eu is mirrored',
  );
  assertBinomial(primary.length, N / 2, P / 100, 'eu mirrored');
  assertBinomial(live.length, N, LIVE / 100, 'live records');
  const usCopies = rig.v2.requests.filter((r) => r.headers['x-region'] === 'us').length;
  assert.equal(usCopies, 0, 'no copy of an unlisted region');
});

test('a weighted step: L % give live records, from both versions in proportion to their weights', {
  skip,
  timeout: 120_000,
}, async (t) => {
  // Arrange: users split 50/50 (v2 is the candidate); mirroring off, as while promoting.
  const { rig, sink } = await gatedRig(t, '', { weights: { v1: 50, v2: 50 }, mirrorPercentage: null });

  // Act
  const res = await drive({ url: rig.url, requests: N, concurrency: 8 });
  await waitFor(
    'live records',
    () => sink.counters()['requests'] === sink.records.length && sink.records.length > 0,
    { timeoutMs: 20_000 },
  );

  // Assert
  assert.deepEqual(res.statuses, { 200: N });
  assert.ok(sink.records.every((r) => r.arm === 'ARM_LIVE'));
  assertBinomial(sink.records.length, N, LIVE / 100, 'live records');
  const fromV2 = sink.records.filter((r) => r.cluster === 'shop-v2').length;
  // NOTE: with a HUNDRED runtime_fraction every sampled request would go to the first cluster.
  assertBinomial(fromV2, sink.records.length, 0.5, 'live records served by v2');
});
