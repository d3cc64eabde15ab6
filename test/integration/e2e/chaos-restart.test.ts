/**
 * Chaos experiments across a real daemon restart (`umbra daemon`, a real
 * Envoy, both over the same store and ports): a run still within its window
 * when the daemon comes back resumes, its faults rendered again on the
 * candidate's egress alone; a run whose window passed while the daemon was
 * down is closed as interrupted with what it had. Both stay in `umbra chaos
 * status`.
 */
import assert from 'node:assert/strict';
import test, { type TestContext } from 'node:test';
import type { AdminClient } from '../../../daemon/admin/client.js';
import { drive, freePort, startUpstream, waitFor } from '../../harness/index.js';
import {
  connectAdmin,
  exited,
  restartDaemon,
  startDaemon,
  startProxy,
  staticShop,
  type TestDaemon,
} from './daemon.js';

interface Rig {
  daemon: TestDaemon;
  client: AdminClient;
  /** Users' requests to production. */
  url: string;
  /** The candidate's (v2) and production's (v1) calls to db through the egress listener. */
  candidateDb: string;
  productionDb: string;
}

async function startRig(t: TestContext): Promise<Rig> {
  const v1 = await startUpstream(t, { body: 'same' });
  const v2 = await startUpstream(t, { body: 'same' });
  const db = await startUpstream(t, { body: 'row 42' });
  const [listen, egress] = [await freePort(), await freePort()];
  const daemon = await startDaemon(t, {
    node: 'edge',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    egress: 127.0.0.1:${egress}
    dependencies: { db: 127.0.0.1:${db.port} }
`,
  });
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'chaos-restart' });
  const url = `http://127.0.0.1:${listen}/page`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);
  const base = `http://127.0.0.1:${egress}/shop`;
  return { daemon, client, url, candidateDb: `${base}/v2/main/db/x`, productionDb: `${base}/v1/main/db/x` };
}

/**
 * Users' requests until `until` holds; throws when it has not after 90 s (or
 * 20 000 rounds of 10). Bounded by time first: on a fast machine a count of
 * rounds ran out before the run's warm-up and first tallied second.
 */
async function loadUntil(url: string, what: string, until: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
    if (await until()) return;
    await drive({ url, requests: 10, concurrency: 2 });
  }
  throw new Error(`timed out waiting for ${what}`);
}

const statusOf = async (client: AdminClient) => (await client.chaosStatus('shop'))[0]!;

/** Starts a run on v2 (`db:abort=503`, every request mirrored) and loads production until it has tallied pairs. */
async function underFaults(r: Rig, durationMs: number) {
  const faults = ['db:abort=503'];
  await r.client.chaosStart({ service: 'shop', version: 'v2', faults, durationMs, percentage: 100 });
  await loadUntil(r.url, 'the run injecting with tallied pairs', async () => {
    const e = await statusOf(r.client);
    return e.phase === 'injecting' && (e.verdict?.candidate.pairs ?? 0) > 0;
  });
  return statusOf(r.client);
}

async function restarted(t: TestContext, r: Rig, signal: 'SIGTERM' | 'SIGKILL'): Promise<AdminClient> {
  r.daemon.child.kill(signal);
  await exited(r.daemon.child);
  r.daemon = await restartDaemon(t, r.daemon);
  return connectAdmin(t, r.daemon);
}

test('a chaos run within its window when the daemon restarts resumes, faults again on the candidate alone', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 180_000,
}, async (t) => {
  const r = await startRig(t);
  const before = await underFaults(r, 120_000);

  const client = await restarted(t, r, 'SIGTERM');
  const after = await waitFor('the run resumed under its faults', async () => {
    const e = await statusOf(client);
    return e.phase === 'injecting' && (await drive({ url: r.candidateDb, requests: 1 })).statuses[503]
      ? e
      : undefined;
  });
  const production = await drive({ url: r.productionDb, requests: 10 });
  const users = await drive({ url: r.url, requests: 10 });
  await client.chaosStop('shop');

  assert.equal(after.startedAtMs, before.startedAtMs, 'the same run');
  assert.equal(after.faultsOnAtMs, before.faultsOnAtMs, 'its window runs from when its faults first went on');
  assert.deepEqual(after.faults, ['db:abort=503']);
  assert.ok(
    (after.verdict?.candidate.pairs ?? 0) >= (before.verdict?.candidate.pairs ?? 0),
    'its tally was kept',
  );
  assert.deepEqual(production.statuses, { 200: 10 }, "production's calls to db are not faulted");
  assert.deepEqual(users.statuses, { 200: 10 });
});

test('a chaos run whose window passed while the daemon was down is closed as interrupted, and still listed', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 180_000,
}, async (t) => {
  const r = await startRig(t);
  const before = await underFaults(r, 8000);

  // A crash: nothing is cleaned up; the daemon comes back once the window has ended.
  r.daemon.child.kill('SIGKILL');
  await exited(r.daemon.child);
  await waitFor('the window to end', () => Date.now() > before.faultsOnAtMs + before.durationMs, {
    timeoutMs: 30_000,
  });
  r.daemon = await restartDaemon(t, r.daemon);
  const client = await connectAdmin(t, r.daemon);
  const after = await statusOf(client);
  const candidate = await waitFor(
    'the faults gone from the candidate egress',
    async () => (await drive({ url: r.candidateDb, requests: 1 })).statuses[200],
  );

  assert.equal(after.startedAtMs, before.startedAtMs, 'the same run');
  assert.equal(after.phase, 'interrupted');
  assert.match(after.reason, /interrupted: the daemon was down when its window ended/);
  assert.ok((after.verdict?.candidate.pairs ?? 0) > 0, 'closed with the result it had');
  assert.equal(candidate, 1);
});
