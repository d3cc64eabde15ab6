/**
 * Every daemon of a shared store serves xDS: a real Envoy that knows only
 * followers gets the leader's configuration, with the leader's versions,
 * and follows its changes (a deployment's weights); when its daemon dies it
 * moves to another and nothing changes (no listener drains); a listener
 * that Envoy refuses through a follower reaches the leader's refusal
 * handling.
 */
import assert from 'node:assert/strict';
import { createServer as createTcpServer } from 'node:net';
import test, { type TestContext } from 'node:test';
import pg from 'pg';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import { ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';
import { type EnvoyProcess, freePort, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { startPostgres } from '../../harness/postgres.js';
import { staticShop } from './daemon.js';
import { followersNameLeader, type HaDaemon, startHaCluster, withAdmin } from './ha.js';

const NODE = 'ha-edge';

/** Daemons `names` on a fresh PostgreSQL, once one leads and every other names it. */
async function daemons(
  t: TestContext,
  services: string,
  names: string[],
): Promise<{ leader: HaDaemon; followers: HaDaemon[]; pgUrl: string }> {
  const server = await startPostgres();
  t.after(() => server.stop());
  const cluster = await startHaCluster({ pgUrl: server.url, node: NODE, lease: '2s', services }, names);
  t.after(() => cluster.close());
  const leader = await cluster.waitForLeader('a leader', 60_000, 200);
  const followers = cluster.daemons.filter((d) => d !== leader);
  await followersNameLeader(leader, followers, 20_000);
  return { leader, followers, pgUrl: server.url };
}

/** A real Envoy whose xDS cluster lists the daemons `ds` (its ADS stream goes to one of them). */
function proxyOf(t: TestContext, ds: HaDaemon[], name: string, waitForReady = true) {
  const [first, ...more] = ds;
  return startEnvoy(t, {
    name,
    config: adsBootstrap({
      nodeId: NODE,
      xdsHost: '127.0.0.1',
      xdsPort: first!.xds,
      adminPort: 0,
      moreXds: more.map((m) => ({ host: '127.0.0.1', port: m.xds })),
    }),
    readyTimeoutMs: 60_000,
    waitForReady,
  });
}

async function body(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200 ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** The daemon of `ds` the proxy's ADS connection is open to now (Envoy's /clusters), if any. */
async function adsPeer(envoy: EnvoyProcess, ds: HaDaemon[]): Promise<HaDaemon | undefined> {
  const text = await envoy.admin('/clusters');
  return ds.find((d) => new RegExp(`^umbra-xds::127\\.0\\.0\\.1:${d.xds}::cx_active::1$`, 'm').test(text));
}

test('a proxy of a follower gets the leader’s configuration, its versions and its changes; moved to another daemon it sees no change', {
  timeout: 240_000,
}, async (t) => {
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  const { leader, followers, pgUrl } = await daemons(
    t,
    `${staticShop(listen, { v1: v1.port, v2: v2.port })}    rollout:
      shadowDuration: 10m
      steps: [{ weight: 100, hold: 10m }]
`,
    ['a', 'b', 'c'],
  );

  // The proxy knows only the followers: whichever it reaches, the leader's configuration comes through it.
  const envoy = await proxyOf(t, followers, 'follower-proxy');
  await waitFor(
    'v1 through the follower’s proxy',
    () => body(listen),
    (b) => b === 'v1',
    { timeoutMs: 30_000 },
  );

  // The versions Envoy accepted are those the leader published (no spurious change on a move).
  const db = new pg.Client({ connectionString: pgUrl });
  db.on('error', () => {}); // PostgreSQL stops before this client at the end
  await db.connect();
  t.after(() => db.end());
  const stored = async () => {
    const row = (await db.query('SELECT versions FROM umbra_xds WHERE node = $1', [NODE])).rows[0] as
      | { versions: string }
      | undefined;
    return row ? (JSON.parse(row.versions) as Record<string, string>)[ROUTE_TYPE] : undefined;
  };
  const routeVersion = async () => {
    const dump = (await envoy.configDump('?resource=dynamic_route_configs')) as {
      configs: { version_info?: string }[];
    };
    return dump.configs[0]?.version_info;
  };
  assert.equal(await routeVersion(), await stored());

  // The leader moves the deployment's weights: the follower's proxy follows.
  await withAdmin(leader, (c) => c.deploy('shop', 'v2'), 10_000);
  await waitFor(
    'shadowing',
    async () => (await withAdmin(leader, (c) => c.status('shop'), 5000)).services[0]?.deployment?.phase,
    (p) => p === 'shadowing',
    { timeoutMs: 30_000 },
  );
  const before = await routeVersion();
  await withAdmin(leader, (c) => c.command('shop', 'promote', 'weights to v2'), 10_000);
  await waitFor(
    'v2 through the follower’s proxy',
    () => body(listen),
    (b) => b === 'v2',
    { timeoutMs: 30_000 },
  );
  const after = await routeVersion();
  assert.notEqual(after, before);
  assert.equal(after, await stored());
  // The leader's status shows the proxy on the follower: connected, in sync, with the weights it runs.
  const seen = await waitFor(
    'the follower’s proxy in sync in the leader’s status',
    async () => (await withAdmin(leader, (c) => c.status('shop'), 5000)).services[0]?.proxies[0],
    (p) => p?.inSync === true,
    { timeoutMs: 10_000 },
  );
  assert.equal(seen.connected, true);
  assert.deepEqual(seen.ackedWeights, seen.desiredWeights);
  assert.equal(seen.ackedWeights['v2'], 100);
  // The follower it is on dies: Envoy moves its ADS stream to the other follower, which sends the
  // very versions it had; nothing changes and no listener drains.
  const on = await waitFor('the proxy’s ADS peer', () => adsPeer(envoy, followers), { timeoutMs: 10_000 });
  const other = followers.find((f) => f !== on)!;
  const modified = await envoy.stat('listener_manager.listener_modified');
  on.child.kill('SIGKILL');
  await waitFor('the proxy on the other follower', () => adsPeer(envoy, [other]), { timeoutMs: 30_000 });
  await envoy.waitForStat('control_plane.connected_state', 1, { timeoutMs: 10_000 });
  assert.equal(await routeVersion(), after);
  assert.equal(await envoy.stat('listener_manager.listener_modified'), modified, 'no listener changed');
  assert.equal(await body(listen), 'v2');
});

test('a listener Envoy refuses through a follower reaches the leader’s refusal handling', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 240_000,
}, async (t) => {
  const v1 = await startUpstream(t, { body: 'v1' });
  // Something else holds the service's port: Envoy refuses the listener (a NACK).
  const squatter = createTcpServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.after(() => squatter.close());
  const listen = (squatter.address() as { port: number }).port;
  const { leader, followers } = await daemons(t, staticShop(listen, { v1: v1.port }), ['a', 'b']);

  await proxyOf(t, followers, 'refusing-proxy', false);
  const refusal = await waitFor(
    'the refusal on the leader',
    async () => (await withAdmin(leader, (c) => c.status('shop'), 5000)).services[0]?.refusals[0],
    { timeoutMs: 30_000 },
  );
  assert.equal(refusal.node, NODE);
  assert.equal(refusal.type, 'LDS');
  assert.deepEqual(refusal.resources, ['shop-ingress']);
  assert.match(refusal.message, /address already in use|cannot bind/i);
});
