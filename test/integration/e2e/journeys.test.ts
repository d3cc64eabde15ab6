/**
 * Journeys (synthetic transactions) on the real daemon and a real Envoy,
 * with two static versions. Real traffic reaches only `/`, where both
 * versions answer alike, so the mirrored copies see nothing wrong; a journey
 * checks `/orders`, which no user asks for.
 *
 * - v2 answers `/orders` with a wrong total: the journey catches it and the
 *   deployment rolls back, naming the journey's step.
 * - `/orders` fails on v1 and v2 alike: the journey fails every run on both,
 *   and the candidate is judged healthy all the same.
 *
 * Journey requests go straight to the versions (never through Envoy: they
 * carry x-umbra-synthetic, never the filter's x-umbra-shadow).
 */
import assert from 'node:assert/strict';
import test, { type TestContext } from 'node:test';
import type { AdminClient } from '../../../daemon/admin/client.js';
import {
  type Behaviour,
  drive,
  freePort,
  type SeenRequest,
  startUpstream,
  waitFor,
} from '../../harness/index.js';
import { connectAdmin, startDaemon, startProxy, staticShop } from './daemon.js';

const ORDERS_OK: Behaviour = { body: '{"total":42}', headers: { 'content-type': 'application/json' } };

/** A version answering `/` with `ok` (the same on both) and `/orders` with `orders`. */
function version(orders: Behaviour): (req: SeenRequest) => Behaviour {
  return (req) => (req.path === '/orders' ? orders : { body: 'ok' });
}

const JOURNEY = `    journeys:
      - name: orders
        every: 1s
        timeout: 2s
        steps:
          - name: total
            path: /orders
            expect: { status: 200, body: { "$.total": 42 } }
`;

/** Starts v1, v2, the daemon (shadowing at 100 %, quick judge) and Envoy; deploys v2 and waits for shadowing. */
async function shadowing(t: TestContext, v1Orders: Behaviour, v2Orders: Behaviour) {
  const v1 = await startUpstream(t, version(v1Orders));
  const v2 = await startUpstream(t, version(v2Orders));
  const listen = await freePort();
  const daemon = await startDaemon(t, {
    node: 'edge',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    mirroring: { shadowPercentage: 100 }
    judge: { anomalyThreshold: 2, minSamples: 20, warmup: 1s }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 100, hold: 10m }]
${JOURNEY}`,
  });
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'journeys' });
  const url = `http://127.0.0.1:${listen}/`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);
  await client.deploy('shop', 'v2');
  await waitFor('shadowing', async () => (await shop(client)).deployment?.phase === 'shadowing');
  return { v1, v2, client, url };
}

async function shop(client: AdminClient) {
  return (await client.status('shop')).services[0]!;
}

/** Every request for /orders a version saw came from a journey, not through Envoy. */
function ordersFromJourneysOnly(seen: SeenRequest[]): void {
  const orders = seen.filter((r) => r.path === '/orders');
  assert.ok(orders.length > 0, 'the journey reached the version');
  for (const r of orders) {
    assert.match(String(r.headers['x-umbra-synthetic']), /^orders\/total #\d+$/);
    assert.equal(r.headers['x-umbra-shadow'], undefined, 'not a mirrored copy');
  }
}

test('a journey catches a regression that mirrored traffic cannot see', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 240_000,
}, async (t) => {
  // Arrange: v2 answers /orders with a wrong total; real traffic only asks for /.
  const { v1, v2, client, url } = await shadowing(t, ORDERS_OK, { ...ORDERS_OK, body: '{"total":0}' });

  // Act: real traffic flows (mirrored to v2, identical answers) until the deployment leaves shadowing.
  let seen: unknown;
  const left = await waitFor(
    'the deployment to leave shadowing',
    async () => {
      const r = await drive({ url, requests: 20, concurrency: 2 });
      assert.equal(r.statuses[200], 20, `users always get 200: ${JSON.stringify(r.statuses)}`);
      const s = await shop(client);
      seen = {
        verdict: s.verdict,
        reason: s.verdictReason,
        score: s.score,
        journeys: s.journeys,
        evidence: s.evidence,
      };
      return s.deployment?.phase === 'shadowing' ? undefined : s;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  ).catch((err: Error) => assert.fail(`${err.message}; last status: ${JSON.stringify(seen)}`));

  // Assert: rolled back because of the journey's step, the only culprit.
  assert.ok(
    ['rolling_back', 'validating', 'rolled_back'].includes(left.deployment!.phase),
    left.deployment!.phase,
  );
  assert.match(left.deployment!.rollbackReason, /synthetic:orders\/total/);
  assert.ok(
    left.culprits.length > 0 && left.culprits.every((c) => c.startsWith('synthetic:orders/total ')),
    JSON.stringify(left.culprits),
  );
  const journey = left.journeys.find((j) => j.name === 'orders')!;
  assert.ok(journey.oneSideFailed > 0, JSON.stringify(journey));
  ordersFromJourneysOnly(v1.requests);
  ordersFromJourneysOnly(v2.requests);
  assert.equal(
    v2.requests.filter((r) => r.path === '/' && r.headers['x-umbra-synthetic'] !== undefined).length,
    0,
    'journeys send only their own steps',
  );
});

test('a journey that fails on both versions alike is not the candidate’s fault', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 240_000,
}, async (t) => {
  // Arrange: /orders is broken on v1 and v2 alike (a shared dependency, say).
  const broken: Behaviour = { status: 500, body: '{"error":"db down"}' };
  const { v1, client, url } = await shadowing(t, broken, broken);

  // Act: real traffic flows until the journey has failed on both versions ten times and the judge has spoken.
  const s = await waitFor(
    'ten runs failing on both versions, and a healthy verdict',
    async () => {
      await drive({ url, requests: 20, concurrency: 2 });
      const s = await shop(client);
      const j = s.journeys.find((x) => x.name === 'orders');
      if (s.deployment?.phase !== 'shadowing') return s;
      return j && j.bothFailed >= 10 && s.verdict === 'healthy' ? s : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );

  // Assert: still shadowing, judged healthy; the journey's last run failed on both, alike.
  assert.equal(s.deployment?.phase, 'shadowing', s.deployment?.rollbackReason);
  assert.equal(s.verdict, 'healthy');
  const j = s.journeys.find((x) => x.name === 'orders')!;
  assert.equal(j.oneSideFailed, 0, JSON.stringify(j));
  const last = j.lastSteps[0]!;
  assert.deepEqual([last.primary.version, last.primary.status], ['v1', 500]);
  assert.deepEqual([last.candidate.version, last.candidate.status], ['v2', 500]);
  ordersFromJourneysOnly(v1.requests);
});
