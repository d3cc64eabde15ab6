/**
 * The A/B split on a real Envoy: the filter puts each user in A or B by the
 * consistent hash of the user key, the routes the daemon renders for a split
 * (daemon/xds/resources/filter-gate.ts `splitRoutes`) send B's users to B,
 * and every request of a user gives a live record with the user's id and
 * the outcome header the service set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLAG_OUTCOME } from '../../../daemon/wire/record-contract.js';
import { splitRoutes } from '../../../daemon/xds/resources/filter-gate.js';
import {
  type Cleanup,
  drive,
  httpListener,
  type SeenRequest,
  startEnvoy,
  startUpstream,
  staticBootstrap,
  staticCluster,
  waitFor,
  wasmHttpFilter,
} from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterWasm } from './fixture.js';
import { fnv1a64, startTelemetryServer } from './telemetry-server.js';

const SPLIT = 30;
const HEADER = 'x-umbra-arm';

/** The filter's rule: a user is in B when their point on [0, 100) is at or above 100 − split. */
function inB(user: string): boolean {
  return Number(fnv1a64(Buffer.from(user)) % 1_000_000n) >= (100 - SPLIT) * 10_000;
}

/** The 32 bits of the user's hash a record carries. */
function userId(user: string): number {
  const h = fnv1a64(Buffer.from(user));
  return Number((h ^ (h >> 32n)) & 0xffffffffn) || 1;
}

/** Binomial bounds: mean ± 5 standard deviations. */
function bounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - 5 * sd, n * p + 5 * sd];
}

/** Upstreams A and B, the test telemetry server, and an Envoy with the split routes and the filter. */
async function splitRig(t: Cleanup, split: number, concurrency: number) {
  // A answers with an outcome of 1 on /buy; B answers 2.5 there.
  const a = await startUpstream(t, (r: SeenRequest) => ({
    body: 'A',
    ...(r.path === '/buy' ? { headers: { 'x-outcome': '1' } } : {}),
  }));
  const b = await startUpstream(t, (r: SeenRequest) => ({
    body: 'B',
    ...(r.path === '/buy' ? { headers: { 'x-outcome': '2.5' } } : {}),
  }));
  const telemetry = await startTelemetryServer(t);
  const timeout = { seconds: 15, nanos: 0 };
  const filter = {
    ...wasmHttpFilter({
      wasmPath: filterWasm(),
      configuration: {
        service: 'shop',
        candidateCluster: 'b',
        shadowPercentage: 0,
        splitPercentage: split,
        splitHeader: HEADER,
        segmentHeader: 'x-user',
        outcomeHeader: 'x-outcome',
        telemetryCluster: 'umbra_telemetry',
        flushIntervalMs: 100,
      },
    }),
    disabled: true,
  };
  const config = staticBootstrap({
    listeners: [
      httpListener({
        routes: splitRoutes({ cluster: 'a', timeout }, 'b', HEADER, timeout),
        httpFilters: [filter],
      }),
    ],
    clusters: [
      staticCluster({ name: 'a', port: a.port }),
      staticCluster({ name: 'b', port: b.port }),
      staticCluster({ name: 'umbra_telemetry', port: telemetry.port, http2: true }),
    ],
  });
  const envoy = await startEnvoy(t, { config, name: 'split', concurrency, args: FLUSH_LOG_ARGS });
  return { a, b, telemetry, envoy };
}

test('a split sends the same users to B on every request and worker, leaves A untouched, and records users and outcomes', async (t) => {
  const { a, b, telemetry, envoy } = await splitRig(t, SPLIT, 2);
  const users = Array.from({ length: 300 }, (_, i) => `user-${i * 7919}`);
  const url = `http://127.0.0.1:${envoy.listenerPort}`;
  // Each user twice on /page, once on /buy; A's users also try to pick B themselves once.
  const answers = new Map<string, string[]>();
  for (const path of ['/page', '/page', '/buy', '/forged']) {
    const res = await drive({
      url: `${url}${path}`,
      requests: users.length,
      concurrency: 8,
      keepBodies: true,
      headers: (i): Record<string, string> => ({
        'x-user': users[i]!,
        ...(path === '/forged' ? { [HEADER]: 'b' } : {}),
      }),
    });
    assert.equal(res.statuses[200], users.length);
  }
  for (const r of [...a.requests, ...b.requests]) {
    const user = String(r.headers['x-user']);
    answers.set(user, [...(answers.get(user) ?? []), a.requests.includes(r) ? 'A' : 'B']);
  }

  // Sticky and exactly as the hash says: every request of a user went to one version.
  const expectedB = users.filter(inB);
  for (const u of users) assert.deepEqual(answers.get(u), Array(4).fill(inB(u) ? 'B' : 'A'), u);
  const [lo, hi] = bounds(users.length, SPLIT / 100);
  assert.ok(expectedB.length >= lo && expectedB.length <= hi, `users in B: ${expectedB.length}`);
  // No upstream sees the split header: B's requests lose it at the route, A's forged ones in the filter.
  for (const r of [...a.requests, ...b.requests]) assert.equal(r.headers[HEADER], undefined);

  // One live record per request, with the user and the version that served it.
  const total = users.length * 4;
  await waitFor('records', () => telemetry.records.length >= total, { timeoutMs: 10_000 });
  const live = telemetry.records.filter((r) => r.arm === 'ARM_LIVE');
  assert.equal(live.length, total);
  const idOf = new Map(users.map((u) => [userId(u), u]));
  for (const r of live) {
    const user = idOf.get(r.user);
    assert.ok(user, `record of an unknown user ${r.user}`);
    assert.equal(r.cluster, inB(user) ? 'b' : 'a', `cluster of ${user}`);
    const bought = r.endpoint === '/buy';
    assert.equal((r.flags & FLAG_OUTCOME) !== 0, bought, `outcome flag on ${r.endpoint}`);
    if (bought) assert.equal(r.outcomeMilli, inB(user) ? 2500 : 1000);
  }
});

test('the daemon starts and ends a split live over the control stream, and every user follows', async (t) => {
  const { a, b, telemetry, envoy } = await splitRig(t, 0, 1);
  const url = `http://127.0.0.1:${envoy.listenerPort}/page`;
  const users = Array.from({ length: 100 }, (_, i) => `user-${i * 7919}`);
  const headers = (i: number): Record<string, string> => ({ 'x-user': users[i % users.length]! });
  // No split yet: everyone is served by A, and the filter's stream opens.
  await drive({ url, requests: users.length, concurrency: 4, headers });
  assert.equal(b.hits, 0);
  await waitFor('telemetry stream', () => telemetry.streams >= 1);
  assert.equal(telemetry.control('CONTROL_SET_SPLIT', SPLIT), 1);
  await waitFor('split applied', () => /control: splitPercentage=30/.test(envoy.log()));
  a.requests.length = 0;
  await drive({ url, requests: users.length, concurrency: 4, headers });
  assert.deepEqual(
    b.requests.map((r) => String(r.headers['x-user'])).sort(),
    users.filter(inB).sort(),
    'B serves exactly its users',
  );
  // The split ends: B's users are back on A at once.
  assert.equal(telemetry.control('CONTROL_SET_SPLIT', 0), 1);
  await waitFor('split ended', () => /control: splitPercentage=0/.test(envoy.log()));
  const before = b.hits;
  await drive({ url, requests: users.length, concurrency: 4, headers });
  assert.equal(b.hits, before);
});
