/**
 * A/B experiments outlive their daemon: the real daemon (`umbra daemon`) is
 * SIGKILLed while an experiment runs and restarted on the same store, with
 * a real Envoy over ADS. The experiment resumes where its last save left it
 * (its users counted, its decision, the same users on B, new users counted),
 * /metrics says so, and an experiment stopped before a restart stays stopped:
 * shown with its decision, never run again.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import Database from 'better-sqlite3';
import { drive, freePort, type SeenRequest, startUpstream, waitFor } from '../../harness/index.js';
import { connectAdmin, restartDaemon, startDaemon, startProxy, staticShop } from './daemon.js';

const users = (from: number, n: number) => Array.from({ length: n }, (_, i) => `user-${(from + i) * 7919}`);

/** Which version served each user (one request each), by the upstreams' logs. */
async function servedBy(
  url: string,
  who: string[],
  a: { requests: SeenRequest[] },
  b: { requests: SeenRequest[] },
): Promise<Map<string, string>> {
  a.requests.length = 0;
  b.requests.length = 0;
  const res = await drive({
    url,
    requests: who.length,
    concurrency: 4,
    headers: (i) => ({ 'x-user': who[i]! }),
  });
  assert.equal(res.statuses[200] ?? 0, who.length, JSON.stringify(res.statuses));
  const by = new Map<string, string>();
  for (const [name, up] of [
    ['A', a],
    ['B', b],
  ] as const)
    for (const r of up.requests)
      by.set(String(r.headers['x-user']), by.has(String(r.headers['x-user'])) ? 'both' : name);
  return by;
}

/** The counted users of the experiment's last save (its running statistics in the store). */
function savedUsers(dir: string): { A: number; B: number } | undefined {
  const db = new Database(join(dir, 'umbra.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT state FROM experiments WHERE phase = 'running'").get() as
      | { state: string }
      | undefined;
    const state = row
      ? (JSON.parse(row.state) as { arms?: { A: { n: number }; B: { n: number } } } | null)
      : null;
    return state?.arms ? { A: state.arms.A.n, B: state.arms.B.n } : undefined;
  } finally {
    db.close();
  }
}

async function metricValue(port: number, name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('an A/B experiment resumes after a SIGKILL with its counts, decision and split; a stopped one stays stopped', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 300_000,
}, async (t) => {
  // Arrange: B (v2) converts every user, A (v1) none: a decision after a few dozen users.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2', headers: { 'x-outcome': '1' } });
  const listen = await freePort();
  let daemon = await startDaemon(
    t,
    {
      node: 'experiment-restart',
      services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    mirroring: { userSegment: { header: x-user } }
`,
    },
    ['--metrics', '127.0.0.1:0'],
  );
  const client = await connectAdmin(t, daemon);
  await startProxy(t, daemon, { name: 'experiment-restart' });
  const url = `http://127.0.0.1:${listen}/page`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);
  const first = users(0, 80);

  // Act 1: a 50 % split gathers users until it decides, and its statistics are saved.
  const { experiment } = await client.experimentStart({
    service: 'shop',
    version: 'v2',
    split: 50,
    outcome: 'header:x-outcome',
    windowMs: 1000,
  });
  await waitFor('running', async () => (await client.experimentStatus('shop'))[0]?.phase === 'running');
  await waitFor('the split serving both versions', async () => {
    const arms = new Set((await servedBy(url, first, v1, v2)).values());
    return arms.has('A') && arms.has('B');
  });
  const armOf = await servedBy(url, first, v1, v2);
  const before = await waitFor(
    'a decision, its users saved',
    async () => {
      const [e] = await client.experimentStatus('shop');
      const saved = savedUsers(daemon.dir);
      return e?.decision === 'b_better' &&
        e.openUsersA + e.openUsersB === 0 &&
        saved?.A === e.usersA &&
        saved.B === e.usersB
        ? e
        : undefined;
    },
    { timeoutMs: 60_000 },
  );
  assert.equal(before.winner, 'B');

  // Act 2: SIGKILL, production keeps flowing, then a restart on the same store.
  daemon.child.kill('SIGKILL');
  await new Promise((r) => daemon.child.once('exit', r));
  // (Requests without the user key: not part of the experiment.)
  const down = await drive({ url, requests: 10 });
  assert.deepEqual(down.statuses, { 200: 10 });
  daemon = await restartDaemon(t, daemon);

  // Assert: the same experiment runs again with the counts and the decision it had.
  const resumed = await waitFor(
    'the experiment resumed',
    async () => {
      const [e] = await client.experimentStatus('shop');
      return e?.phase === 'running' ? e : undefined;
    },
    { timeoutMs: 60_000 },
  );
  assert.equal(resumed.id, experiment.id);
  assert.equal(resumed.usersA, before.usersA);
  assert.equal(resumed.usersB, before.usersB);
  assert.equal(resumed.decision, 'b_better');
  assert.equal(resumed.startedAtMs, before.startedAtMs);
  // The same users on the same versions (the split is the user key's consistent hash).
  const again = await waitFor('the split live again', async () => {
    const by = await servedBy(url, first, v1, v2);
    return [...by.values()].includes('B') ? by : undefined;
  });
  for (const [user, arm] of armOf) assert.equal(again.get(user), arm, `${user} moved`);
  // /metrics exports the resumed experiment.
  const metrics = daemon.ports.metrics!;
  assert.equal(await metricValue(metrics, 'umbra_experiment_running', `experiment="${experiment.id}"`), 1);
  assert.equal(await metricValue(metrics, 'umbra_experiment_users', 'arm="B"'), before.usersB);
  assert.equal(await metricValue(metrics, 'umbra_experiment_decision', 'decision="b_better"'), 1);
  // New users are counted on top; the users seen before are not counted again.
  await servedBy(url, users(1000, 40), v1, v2);
  const grown = await waitFor('new users counted', async () => {
    const [e] = await client.experimentStatus('shop');
    return e && e.usersA + e.usersB >= before.usersA + before.usersB + 30 && e.openUsersA + e.openUsersB === 0
      ? e
      : undefined;
  });
  assert.ok(grown.usersA + grown.usersB <= before.usersA + before.usersB + 40);

  // Act 3: an operator stops it; another SIGKILL and restart.
  await client.experimentStop('shop', 'B won');
  daemon.child.kill('SIGKILL');
  await new Promise((r) => daemon.child.once('exit', r));
  daemon = await restartDaemon(t, daemon);

  // Assert: shown stopped with its decision, and not run again: every user on A, deployments allowed.
  const ended = await waitFor('the restarted daemon', async () => (await client.experimentStatus('shop'))[0]);
  assert.equal(ended.id, experiment.id);
  assert.equal(ended.phase, 'stopped');
  assert.equal(ended.stopReason, 'stopped by an operator: B won');
  assert.equal(ended.decision, 'b_better');
  assert.equal(ended.usersA + ended.usersB, grown.usersA + grown.usersB);
  assert.equal(
    await metricValue(daemon.ports.metrics!, 'umbra_experiment_running', `experiment="${experiment.id}"`),
    0,
  );
  assert.equal(
    await metricValue(daemon.ports.metrics!, 'umbra_experiment_decision', 'decision="b_better"'),
    1,
  );
  assert.equal(
    await metricValue(daemon.ports.metrics!, 'umbra_experiment_users', 'arm="B",version="v2"'),
    ended.usersB,
  );
  const after = await servedBy(url, first, v1, v2);
  assert.ok(
    [...after.values()].every((arm) => arm === 'A'),
    JSON.stringify([...after]),
  );
  const { deployment } = await client.deploy('shop', 'v2');
  assert.match(deployment.id, /^shop-v2-/);
});
