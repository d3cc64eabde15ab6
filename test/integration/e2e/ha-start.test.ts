/**
 * `umbra daemon` on a shared store refusing what it cannot stand behind: a
 * configuration that differs from a live daemon's (one line naming the
 * setting, exit 1), and a PostgreSQL that cannot be reached yet (it retries,
 * serving nothing, and leads once the database answers).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import test from 'node:test';
import { freePort, waitFor } from '../../harness/index.js';
import { startPostgres } from '../../harness/postgres.js';
import { exited, staticShop } from './daemon.js';
import { haConfig, startHaCluster } from './ha.js';

function setupWith(pgUrl: string, listen: number, pct: number) {
  return {
    pgUrl,
    node: 'ha-edge',
    services: `${staticShop(listen, { v1: 9001, v2: 9002 })}    mirroring: { shadowPercentage: ${pct} }
`,
  };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

test('a daemon whose umbra.yaml differs from a live one on the same database exits with one line naming the setting', {
  timeout: 120_000,
}, async (t) => {
  const pg = await startPostgres();
  t.after(() => pg.stop());
  const listen = await freePort();
  let pct = 10;
  const cluster = await startHaCluster((dir, p) => haConfig(dir, setupWith(pg.url, listen, pct), p), ['a']);
  t.after(() => cluster.close());
  await cluster.waitForLeader('a leader', 60_000, 200);

  pct = 20;
  const b = await cluster.add('b');
  assert.equal(await exited(b.child, 60_000), 1);
  assert.match(
    b.stderr(),
    /umbra\.yaml differs from the one daemon \S+ \(127\.0\.0\.1:\d+\) runs on this database, at services\[0\]\.mirroring\.shadowPercentage/,
  );
});

test('a daemon started while PostgreSQL is down retries, serves nothing, and leads once it answers', {
  timeout: 120_000,
}, async (t) => {
  const pg = await startPostgres();
  t.after(() => pg.stop());
  await pg.halt();
  const listen = await freePort();
  const cluster = await startHaCluster((dir, p) => haConfig(dir, setupWith(pg.url, listen, 10), p), ['a']);
  t.after(() => cluster.close());
  const [a] = cluster.daemons;
  const attempts = () => (a!.stderr().match(/PostgreSQL unreachable; retrying/g) ?? []).length;
  await waitFor('two attempts to reach PostgreSQL', () => attempts() >= 2, { timeoutMs: 60_000 });
  // It had two chances to start anything: nothing listens.
  assert.equal(await refused(a!.admin), true, 'no admin API');
  assert.equal(await refused(a!.xds), true, 'no xDS');
  assert.equal(await refused(a!.telemetry), true, 'no telemetry');

  await pg.resume();
  await cluster.waitForLeader('the daemon to lead', 60_000, 200);
});
