/**
 * Telemetry to every daemon of a shared store: the leader lists every live
 * daemon in the proxies' telemetry cluster (EDS). A real Envoy whose filter
 * cannot reach the leader's telemetry (the leader advertises a closed port)
 * streams to a follower: the records it sends there reach the leader's
 * judge (merged seconds), the leader's orders (resume and percentage when
 * shadowing starts, then a pause) reach the filter through the follower,
 * a daemon that dies leaves the cluster, and one that starts joins it,
 * without the stream to the follower being touched, and with PostgreSQL out of reach for longer than
 * the lease the follower pauses the filter until the orders can be read.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import {
  drive,
  type EnvoyProcess,
  freePort,
  startEnvoy,
  startUpstream,
  waitFor,
} from '../../harness/index.js';
import { startPostgres } from '../../harness/postgres.js';
import { staticShop } from './daemon.js';
import {
  followersNameLeader,
  type HaDaemon,
  type HaPorts,
  haConfig,
  startHaCluster,
  withAdmin,
} from './ha.js';

const NODE = 'ha-edge';

/** The daemons of `ds` whose telemetry port Envoy lists in the telemetry cluster, and those with a connection open. */
async function telemetryHosts(envoy: EnvoyProcess): Promise<{ listed: number[]; active: number[] }> {
  const text = await envoy.admin('/clusters');
  const listed = new Set<number>();
  const active: number[] = [];
  for (const m of text.matchAll(/^umbra-telemetry::127\.0\.0\.1:(\d+)::cx_active::(\d+)$/gm)) {
    listed.add(Number(m[1]));
    if (Number(m[2]) > 0) active.push(Number(m[1]));
  }
  return { listed: [...listed].sort(), active };
}

test('a filter streaming to a follower: its records reach the leader’s judge, the leader’s orders reach it', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 300_000,
}, async (t) => {
  const server = await startPostgres();
  t.after(() => server.stop());
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  // Nothing listens there: the first daemon, which leads, tells the proxies a telemetry address they cannot reach.
  const closed = await freePort();
  let advertise: string | undefined = `127.0.0.1:${closed}`;
  const setup = {
    pgUrl: server.url,
    node: NODE,
    lease: '2s',
    services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    mirroring: { shadowPercentage: 100 }
    rollout:
      shadowDuration: 10m
      steps: [{ weight: 100, hold: 10m }]
`,
  };
  const configFor = (dir: string, p: HaPorts): string => {
    const yaml = haConfig(dir, setup, p);
    return advertise
      ? yaml.replace(
          `telemetry: { listen: 127.0.0.1:${p.telemetry} }`,
          `telemetry: { listen: 127.0.0.1:${p.telemetry}, advertise: '${advertise}' }`,
        )
      : yaml;
  };
  const cluster = await startHaCluster(configFor, ['a']);
  t.after(() => cluster.close());
  const leader = await cluster.waitForLeader('a to lead', 60_000, 200);
  advertise = undefined;
  const followers: HaDaemon[] = [await cluster.add('b'), await cluster.add('c')];
  await followersNameLeader(leader, followers, 30_000);

  const envoy = await startEnvoy(t, {
    name: 'ha-telemetry',
    config: adsBootstrap({
      nodeId: NODE,
      xdsHost: '127.0.0.1',
      xdsPort: leader.xds,
      adminPort: 0,
      moreXds: followers.map((f) => ({ host: '127.0.0.1', port: f.xds })),
    }),
    readyTimeoutMs: 60_000,
  });
  // The telemetry cluster lists the three daemons (the leader at the address it advertises).
  const every = [closed, ...followers.map((f) => f.telemetry)].sort();
  await waitFor(
    'three telemetry members',
    () => telemetryHosts(envoy),
    (h) => h.listed.join() === every.join(),
    {
      timeoutMs: 30_000,
    },
  );

  await withAdmin(leader, (c) => c.deploy('shop', 'v2'), 10_000);
  await waitFor(
    'shadowing',
    async () => (await withAdmin(leader, (c) => c.status('shop'), 5000)).services[0]?.deployment?.phase,
    (p) => p === 'shadowing',
    { timeoutMs: 30_000 },
  );
  const url = `http://127.0.0.1:${listen}/`;
  /** Waits until 20 requests give at least 15 copies at v2 (the filter mirrors). */
  const mirrored = (timeoutMs: number) =>
    waitFor(
      'copies at v2',
      async () => {
        const before = v2.hits;
        await drive({ url, requests: 20, concurrency: 2 });
        return v2.hits - before;
      },
      (n) => n >= 15,
      { timeoutMs, intervalMs: 200 },
    );
  // The leader's resume and percentage reach the filter, whose stream can only be on a follower.
  await mirrored(60_000);
  const on = await waitFor('the filter’s stream on a follower', async () => {
    const { active } = await telemetryHosts(envoy);
    return followers.find((f) => active.includes(f.telemetry));
  });
  assert.ok(!(await telemetryHosts(envoy)).active.includes(closed));

  // Its records, aggregated by the follower, reach the leader's judge.
  await waitFor(
    'pairs judged by the leader',
    async () => {
      await drive({ url, requests: 20, concurrency: 2 });
      return (await withAdmin(leader, (c) => c.status('shop'), 5000)).services[0]?.pairs ?? 0;
    },
    (pairs) => pairs > 0,
    { timeoutMs: 60_000, intervalMs: 500 },
  );

  // A pause decided by the leader stops the mirroring of a filter streaming to the follower.
  // NOTE: the filter's counters reach Envoy's stats on its tick: let the last ones land first.
  await new Promise((r) => setTimeout(r, 2000));
  const skipped = (await envoy.stat('wasmcustom.umbra.shop.skipped_paused')) ?? 0;
  await withAdmin(leader, (c) => c.command('shop', 'pause', 'ha-telemetry'), 10_000);
  await waitFor(
    'no copy once paused',
    async () => {
      const before = v2.hits;
      const r = await drive({ url, requests: 20, concurrency: 2 });
      assert.equal(r.statuses[200], 20);
      return v2.hits - before;
    },
    (n) => n === 0,
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  await envoy.waitForStat('wasmcustom.umbra.shop.skipped_paused', (n) => n > skipped, { timeoutMs: 10_000 });

  // The other follower dies: it leaves the telemetry cluster (EDS), and the filter's stream stays where it is.
  const reconnects = (await envoy.stat('wasmcustom.umbra.shop.stream_reconnects')) ?? 0;
  const other = followers.find((f) => f !== on)!;
  other.child.kill('SIGKILL');
  await waitFor(
    'the dead daemon out of the telemetry cluster',
    () => telemetryHosts(envoy),
    (h) => !h.listed.includes(other.telemetry) && h.listed.includes(on.telemetry),
    { timeoutMs: 30_000 },
  );
  await drive({ url, requests: 20, concurrency: 2 });
  assert.ok((await telemetryHosts(envoy)).active.includes(on.telemetry));
  assert.equal(
    (await envoy.stat('wasmcustom.umbra.shop.stream_reconnects')) ?? 0,
    reconnects,
    'no stream reopened',
  );
  // A daemon that joins enters the cluster the same way, and the stream stays too.
  const joined = await cluster.add('d');
  await waitFor(
    'the new daemon in the telemetry cluster',
    () => telemetryHosts(envoy),
    (h) => h.listed.includes(joined.telemetry),
    { timeoutMs: 60_000 },
  );
  await drive({ url, requests: 20, concurrency: 2 });
  assert.ok((await telemetryHosts(envoy)).active.includes(on.telemetry));
  assert.equal(
    (await envoy.stat('wasmcustom.umbra.shop.stream_reconnects')) ?? 0,
    reconnects,
    'no stream reopened when a daemon joined',
  );

  // PostgreSQL out of reach for longer than the lease: nobody can say whether to mirror, so the
  // daemon the filter streams to pauses it; once PostgreSQL is back the stored orders apply again.
  await withAdmin(leader, (c) => c.command('shop', 'resume', 'ha-telemetry'), 10_000);
  await mirrored(90_000);
  // NOTE: the filter's counters reach Envoy's stats on its tick: let the last ones land first.
  await new Promise((r) => setTimeout(r, 2000));
  const skippedBefore = (await envoy.stat('wasmcustom.umbra.shop.skipped_paused')) ?? 0;
  await server.halt();
  await waitFor(
    'no copy while PostgreSQL is out of reach',
    async () => {
      const before = v2.hits;
      const r = await drive({ url, requests: 20, concurrency: 2 });
      assert.equal(r.statuses[200], 20, 'production keeps serving');
      return v2.hits - before;
    },
    (n) => n === 0,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  // Skipped as paused (the filter's own counter), not lost.
  await envoy.waitForStat('wasmcustom.umbra.shop.skipped_paused', (n) => n > skippedBefore, {
    timeoutMs: 10_000,
  });
  await server.resume();
  await mirrored(90_000);
});
