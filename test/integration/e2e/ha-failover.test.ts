/**
 * Several daemons on one PostgreSQL: one leads; the leader SIGKILLed in the
 * middle of a deployment is replaced within the lease time, and the new
 * leader resumes the deployment in its phase, with its deadline, with every
 * transition and decision stored before the kill.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { freePort, startUpstream, waitFor } from '../../harness/index.js';
import { startPostgres } from '../../harness/postgres.js';
import { staticShop } from './daemon.js';
import { startHaCluster, withAdmin } from './ha.js';

test('the leader SIGKILLed while shadowing is replaced within the lease; the deployment resumes as it was', {
  timeout: 180_000,
}, async (t) => {
  const pg = await startPostgres();
  t.after(() => pg.stop());
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  const cluster = await startHaCluster(
    {
      pgUrl: pg.url,
      node: 'ha-edge',
      lease: '2s',
      services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    rollout:
      shadowDuration: 10m
      steps: [{ weight: 50, hold: 10m }, { weight: 100, hold: 10m }]
`,
    },
    ['a', 'b', 'c'],
  );
  t.after(() => cluster.close());

  // Exactly one daemon leads (only the leader serves the admin API).
  const first = await cluster.waitForLeader('a leader', 60_000, 200);
  // NOTE: a fresh admin channel per call (withAdmin): a channel opened while a daemon followed can
  // carry a call to the follower's admin server as it shuts down for the leader's, which answers
  // UNIMPLEMENTED (as the CLI does, a command per connection).
  const { deployment } = await withAdmin(first, (c) => c.deploy('shop', 'v2'), 10_000);
  const shadowing = await waitFor(
    'shadowing',
    async () => (await withAdmin(first, (c) => c.status('shop'), 5000)).services[0]?.deployment,
    (d) => d?.phase === 'shadowing',
    { timeoutMs: 30_000 },
  );
  const before = await withAdmin(first, (c) => c.history('shop'), 5000);

  // The leader dies without a word.
  const killedAt = Date.now();
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  const next = await cluster.waitForLeader('a new leader', 30_000, 100);
  const failoverMs = Date.now() - killedAt;
  assert.notEqual(next.name, first.name);
  // Within the lease (2 s) plus a follower's poll, a thread start and the controller's start.
  assert.ok(failoverMs < 10_000, `failover took ${failoverMs} ms`);

  const resumed = (await withAdmin(next, (c) => c.status('shop'), 5000)).services[0]!.deployment!;
  assert.equal(resumed.id, deployment.id);
  assert.equal(resumed.phase, 'shadowing');
  assert.equal(
    resumed.deadlineMs,
    shadowing!.deadlineMs,
    'the shadow deadline is the one set before the kill',
  );
  const after = await withAdmin(next, (c) => c.history('shop'), 5000);
  const transitions = (h: typeof before) =>
    h[0]!.transitions.map((x) => `${x.from}>${x.to} ${x.event} ${x.atMs}`);
  assert.deepEqual(transitions(after).slice(0, transitions(before).length), transitions(before));
  // A follower answers reads from the store and refuses commands, naming the leader.
  const follower = cluster.daemons.find((d) => d !== next && d !== first)!;
  // It learns the new leader from the lease row on its next poll.
  const seen = await waitFor(
    'the follower to name the new leader',
    () => withAdmin(follower, (c) => c.status('shop')),
    (s) => s.leader === `127.0.0.1:${next.admin}`,
    { timeoutMs: 10_000, intervalMs: 200 },
  );
  assert.equal(seen.follower, true);
  assert.equal(seen.services[0]!.deployment!.phase, 'shadowing');
  await assert.rejects(
    withAdmin(follower, (c) => c.command('shop', 'promote', 'to a follower')),
    new RegExp(`follows: send commands to the leader's admin API at 127\\.0\\.0\\.1:${next.admin}`),
  );
  // The new leader takes commands: a promote moves the deployment on.
  const promoted = (await withAdmin(next, (c) => c.command('shop', 'promote', 'after failover'), 10_000))
    .deployment;
  assert.equal(promoted.phase, 'promoting');
});
