/**
 * An A/B experiment end to end: the real daemon (`umbra daemon`), a real
 * Envoy over ADS and two static versions. The experiment is refused while a
 * deployment is in progress; once started, each user is served by one
 * version on every request, the experiment counts users and outcomes,
 * deployments are refused while it runs, and a stop puts everyone back on
 * A. Then a B that fails is stopped by the guard alone, its users moved back.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { AdminCallError } from '../../../daemon/admin/client.js';
import { drive, freePort, type SeenRequest, startUpstream, waitFor } from '../../harness/index.js';
import { connectAdmin, startDaemon, startProxy, staticShop } from './daemon.js';

const USERS = Array.from({ length: 60 }, (_, i) => `user-${i * 7919}`);

/** Which version served each user, over `rounds` requests per user. */
async function servedBy(
  url: string,
  rounds: number,
  a: { requests: SeenRequest[] },
  b: { requests: SeenRequest[] },
): Promise<Map<string, Set<string>>> {
  a.requests.length = 0;
  b.requests.length = 0;
  for (let r = 0; r < rounds; r++) {
    const res = await drive({
      url,
      requests: USERS.length,
      concurrency: 4,
      headers: (i): Record<string, string> => ({ 'x-user': USERS[i]! }),
    });
    assert.equal(res.statuses[200] ?? 0, USERS.length, JSON.stringify(res.statuses));
  }
  const by = new Map<string, Set<string>>();
  for (const [name, up] of [
    ['A', a],
    ['B', b],
  ] as const)
    for (const r of up.requests) {
      const u = String(r.headers['x-user']);
      by.set(u, (by.get(u) ?? new Set()).add(name));
    }
  return by;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AdminCallError) return err.message;
    throw err;
  }
  assert.fail('expected a refusal');
}

test('an A/B split through the daemon: refused during a deployment, sticky, counted, stopped by hand and by its guard', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 240_000,
}, async (t) => {
  // Arrange: v1 (A) and v2 (B) answer with an outcome header; the daemon splits by x-user.
  const v1 = await startUpstream(t, { body: 'v1', headers: { 'x-outcome': '1' } });
  const v2 = await startUpstream(t, { body: 'v2', headers: { 'x-outcome': '1' } });
  const listen = await freePort();
  const daemon = await startDaemon(t, {
    node: 'edge',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    mirroring: { userSegment: { header: x-user } }
    rollout: { shadowDuration: 10m }
`,
  });
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'experiment' });
  const url = `http://127.0.0.1:${listen}/page`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);
  const start = (split: number) =>
    client.experimentStart({
      service: 'shop',
      version: 'v2',
      split,
      outcome: 'header:x-outcome',
      windowMs: 1000,
    });

  // Bad input and a deployment in progress are refused with their reasons; nothing starts.
  assert.match(await refusal(start(150)), /split: must be a number between 0 and 100/);
  assert.match(
    await refusal(
      client.experimentStart({ service: 'shop', version: 'v2', split: 10, outcome: 'header:x-other' }),
    ),
    /outcome.header: shop's filter reads x-outcome \(services\[0\].experiments.outcomeHeader\)/,
  );
  await client.deploy('shop', 'v2');
  assert.match(await refusal(start(50)), /shop has deployment shop-v2-\d+ in progress \(\w+\)/);
  await client.command('shop', 'abort');
  const phase = async () => (await client.status('shop')).services[0]?.deployment?.phase;
  await waitFor('aborted', async () => (await phase()) === 'aborted');
  assert.deepEqual(await client.experimentStatus('shop'), []);

  // Act: a 50 % split.
  const started = await start(50);
  assert.equal(started.experiment.phase, 'starting');
  await waitFor('running', async () => (await client.experimentStatus('shop'))[0]?.phase === 'running');
  await waitFor('both versions serving users', async () => {
    const by = await servedBy(url, 1, v1, v2);
    return [...by.values()].some((s) => s.has('B')) && [...by.values()].some((s) => s.has('A'));
  });
  // Sticky: over three rounds every user is served by one version only.
  const by = await servedBy(url, 3, v1, v2);
  for (const [user, arms] of by) assert.equal(arms.size, 1, `${user} served by ${[...arms]}`);
  const inB = [...by.values()].filter((s) => s.has('B')).length;
  assert.ok(inB > 10 && inB < 50, `users in B: ${inB} of ${USERS.length}`);
  // Counted once their window closes (a user the split moved while it started is left out, counted);
  // every user had an outcome on both sides.
  const counted = await waitFor('users counted', async () => {
    const [e] = await client.experimentStatus('shop');
    return e && e.usersA + e.usersB > 0 && e.openUsersA + e.openUsersB === 0 ? e : undefined;
  });
  assert.equal(counted.usersA + counted.usersB + counted.droppedUsers, USERS.length);
  assert.ok(counted.usersB <= inB && counted.usersB > 0, `B users counted: ${counted.usersB}`);
  assert.equal(counted.meanA, 1);
  assert.equal(counted.meanB, 1);
  assert.equal(counted.winner, '');
  assert.match(
    await refusal(client.deploy('shop', 'v2')),
    /shop runs experiment shop-v2-ab-\d+; stop it first/,
  );

  // A stop puts everyone on A.
  const stopped = await client.experimentStop('shop', 'enough');
  assert.equal(stopped.experiment.phase, 'stopped');
  assert.equal(stopped.experiment.stopReason, 'stopped by an operator: enough');
  const after = await servedBy(url, 1, v1, v2);
  assert.ok([...after.values()].every((s) => s.size === 1 && s.has('A')));

  // A B that fails every request is stopped by the guard, and its users are back on A.
  v2.setBehaviour({ status: 500, body: 'broken' });
  await start(50);
  const harmful = await waitFor(
    'the guard stopping B',
    async () => {
      await drive({ url, requests: USERS.length, concurrency: 4, headers: (i) => ({ 'x-user': USERS[i]! }) });
      const [e] = await client.experimentStatus('shop');
      return e?.phase === 'stopped' ? e : undefined;
    },
    { timeoutMs: 60_000 },
  );
  assert.equal(harmful.harmful, true);
  assert.match(harmful.stopReason, /^guard: B's errors worse than A's/);
  const back = await servedBy(url, 1, v1, v2);
  assert.ok([...back.values()].every((s) => s.size === 1 && s.has('A')));
});
