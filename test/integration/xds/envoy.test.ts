/**
 * The xDS server against a real Envoy (1.40) bootstrapped from
 * envoy/bootstrap.yaml: every snapshot ACKed, traffic split by the weights
 * (counted at the upstreams), a flip complete within one update, listeners
 * untouched by weight and endpoint changes, and a NACK for an invalid resource.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import type { DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { type NackRecord, type NodeStatus, XdsServer } from '../../../daemon/xds/server.js';
import { CLUSTER_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';
import { drive, freePort, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { mustSnapshot, startRig } from './fixture.js';

test('Envoy ACKs the first snapshot of every type and serves the service it describes', async (t) => {
  const rig = await startRig(t);

  const status = rig.xds.status(rig.nodeId)!;
  const res = await drive({ url: rig.url, requests: 20, concurrency: 2 });

  assert.deepEqual(status.acked, status.snapshot);
  assert.equal(status.streams, 1);
  assert.equal(status.lastNack, undefined);
  assert.deepEqual(res.statuses, { 200: 20 });
  assert.equal(rig.v1.hits, 20);
  assert.equal(rig.v2.hits, 0);
});

test('Envoy splits real requests by the published weights', async (t) => {
  const rig = await startRig(t);

  await rig.publish(renderService(rig.desired({ v1: 75, v2: 25 })));
  const res = await drive({ url: rig.url, requests: 400, concurrency: 4 });

  assert.deepEqual(res.statuses, { 200: 400 });
  assert.equal(rig.v1.hits + rig.v2.hits, 400);
  // 25% of 400 = 100, binomial sd ≈ 8.7: ±40 is more than 4.5 sd.
  assert.ok(Math.abs(rig.v2.hits - 100) <= 40, `v2 got ${rig.v2.hits} of 400`);
});

test('a weight flip is complete once Envoy ACKs the one route update', async (t) => {
  const rig = await startRig(t);
  const before = rig.xds.status(rig.nodeId)!;

  await rig.publish(renderService(rig.desired({ v2: 100 })));
  const res = await drive({ url: rig.url, requests: 50, concurrency: 2 });
  const after = rig.xds.status(rig.nodeId)!;

  assert.deepEqual(res.statuses, { 200: 50 });
  assert.equal(rig.v1.hits, 0, 'no request may reach v1 after the ACK');
  assert.equal(rig.v2.hits, 50);
  assert.notEqual(after.acked['RDS'], before.acked['RDS']);
  for (const type of ['CDS', 'EDS', 'LDS']) assert.equal(after.acked[type], before.acked[type], type);
});

test('weight flips and endpoint changes leave the listener alone', async (t) => {
  const rig = await startRig(t);
  const lds = rig.xds.snapshot(rig.nodeId)!.types.get(LISTENER_TYPE)!.version;
  const dumpBefore = await rig.envoy.configDump('?resource=dynamic_listeners');

  const flips: Array<Record<string, number>> = [{ v2: 100 }, { v1: 50, v2: 50 }, { v1: 100 }, { v2: 1 }];
  for (const weights of flips) {
    const s = await rig.publish(renderService(rig.desired(weights)));
    assert.equal(s.types.get(LISTENER_TYPE)!.version, lds);
  }
  const moved = rig.desired({ v1: 100 });
  moved.versions[0]!.endpoints.push({ address: '127.0.0.1', port: rig.v2.port });
  const s = await rig.publish(renderService(moved));
  const dumpAfter = await rig.envoy.configDump('?resource=dynamic_listeners');
  const stats = await rig.envoy.stats();

  assert.equal(s.types.get(LISTENER_TYPE)!.version, lds);
  const versionOf = (dump: { configs: Array<{ active_state: { version_info: string } }> }) =>
    dump.configs[0]!.active_state.version_info;
  assert.equal(versionOf(dumpAfter), versionOf(dumpBefore));
  assert.equal(stats['listener_manager.listener_modified'] ?? 0, 0);
  assert.equal(stats['listener_manager.total_filter_chains_draining'] ?? 0, 0);
  assert.equal(rig.xds.status(rig.nodeId)!.acked['LDS'], lds);
});

test("an invalid cluster is NACKed with Envoy's reason and the previous configuration keeps serving", async (t) => {
  const rig = await startRig(t);
  const good = rig.xds.snapshot(rig.nodeId)!;
  const input = renderService(rig.desired({ v2: 100 }));
  // PGV rule in cluster.proto: connect_timeout must be > 0.
  (input.clusters![0] as Record<string, unknown>)['connect_timeout'] = { seconds: -1 };
  const bad = mustSnapshot(input);

  const nacked = once(rig.xds, 'nack') as Promise<[NackRecord]>;
  rig.xds.setSnapshot(rig.nodeId, bad);
  const [nack] = await nacked;
  const res = await drive({ url: rig.url, requests: 20, concurrency: 2 });
  const status = rig.xds.status(rig.nodeId)!;

  assert.deepEqual(res.statuses, { 200: 20 });
  assert.equal(nack.typeUrl, CLUSTER_TYPE);
  assert.equal(nack.version, bad.types.get(CLUSTER_TYPE)!.version);
  assert.match(nack.message, /positive duration/);
  assert.deepEqual(status.lastNack?.message, nack.message);
  assert.equal(status.acked['CDS'], good.types.get(CLUSTER_TYPE)!.version);
  assert.equal(
    status.acked['RDS'],
    good.types.get(ROUTE_TYPE)!.version,
    'routes held behind the NACKed clusters',
  );
  assert.deepEqual(status.lastGood, status.acked);
  assert.equal(rig.v1.hits, 20, 'still on the previous good routes');
  assert.equal(rig.v2.hits, 0);

  await rig.publish(renderService(rig.desired({ v2: 100 })));
  const fixed = rig.xds.status(rig.nodeId)!;
  assert.equal(fixed.lastNack, undefined);
  assert.deepEqual(fixed.acked, fixed.snapshot);
});

test('a new version and a route to it in one snapshot: Envoy never routes to a missing cluster', async (t) => {
  const rig = await startRig(t);
  const withoutV2 = rig.desired({ v1: 100 });
  withoutV2.versions = withoutV2.versions.filter((v) => v.name !== 'v2');
  await rig.publish(renderService(withoutV2));
  assert.ok(!rig.xds.snapshot(rig.nodeId)!.types.get(CLUSTER_TYPE)!.items.has('shop-v2'));

  const load = drive({ url: rig.url, requests: 100_000, durationMs: 1500, concurrency: 2 });
  const before = rig.v1.hits;
  await waitFor('the load under way on v1', () => rig.v1.hits >= before + 5, { timeoutMs: 1500 });
  const s = await rig.publish(renderService(rig.desired({ v2: 100 })));
  const res = await load;

  assert.ok(s.types.get(CLUSTER_TYPE)!.items.has('shop-v2'));
  assert.equal(res.errors, 0);
  assert.deepEqual(Object.keys(res.statuses), ['200'], JSON.stringify(res.statuses));
  assert.ok(rig.v2.hits > 0, 'traffic moved to the new version');
});

test('an Envoy that starts while the current snapshot stands NACKed gets the last good one', async (t) => {
  const rig = await startRig(t);
  const good = rig.xds.status(rig.nodeId)!.acked;
  const input = renderService(rig.desired({ v2: 100 }));
  (input.clusters![0] as Record<string, unknown>)['connect_timeout'] = { seconds: -1 };
  const nacked = once(rig.xds, 'nack');
  rig.xds.setSnapshot(rig.nodeId, mustSnapshot(input));
  await nacked;

  await rig.envoy.stop();
  const restarted = await startEnvoy(t, {
    name: 'xds-restart',
    config: adsBootstrap({
      nodeId: rig.nodeId,
      xdsHost: '127.0.0.1',
      xdsPort: rig.xds.port,
      adminPort: 0,
    }),
    concurrency: 1,
  });
  const res = await drive({ url: rig.url, requests: 20, concurrency: 2 });
  const status = rig.xds.status(rig.nodeId)!;

  assert.ok(restarted.pid > 0);
  assert.deepEqual(res.statuses, { 200: 20 });
  assert.equal(rig.v1.hits, 20, 'served by the last good routes');
  assert.deepEqual(status.acked, good);
  assert.equal(status.lastNack?.typeUrl, CLUSTER_TYPE, 'the refusal stays on record');
});

test('an Envoy whose node id has no snapshot yet waits, connected, and comes up once one is published', async (t) => {
  const xds = await XdsServer.start({ port: 0 });
  t.after(() => xds.close());
  const up = await startUpstream(t, { body: 'v1' });
  const listenerPort = await freePort();
  const nodeId = `late-${listenerPort}`;
  const desired: DesiredRouting = {
    service: 'shop',
    listener: { name: 'shop', port: listenerPort, address: '127.0.0.1' },
    versions: [{ name: 'v1', endpoints: [{ address: '127.0.0.1', port: up.port }] }],
    weights: { v1: 100 },
  };
  const envoy = await startEnvoy(t, {
    name: 'xds-late',
    config: adsBootstrap({ nodeId, xdsHost: '127.0.0.1', xdsPort: xds.port, adminPort: 0 }),
    concurrency: 1,
    waitForReady: false,
  });
  // Envoy's stream is up and its first request is in (the node is known): the
  // server had its chance to answer, and Envoy has nothing and is not live.
  await envoy.waitForStat('control_plane.connected_state', 1);
  const whileWaiting: NodeStatus = await waitFor('the node to ask', () => xds.status(nodeId));
  assert.equal((await envoy.stat('cluster_manager.cds.update_success')) ?? 0, 0);
  assert.notEqual((await envoy.admin('/ready')).trim(), 'LIVE');
  xds.setSnapshot(nodeId, mustSnapshot(renderService(desired)));
  await waitFor('Envoy to come up', async () => (await envoy.admin('/ready')).trim() === 'LIVE');
  const res = await drive({ url: `http://127.0.0.1:${listenerPort}/`, requests: 10, concurrency: 1 });

  assert.ok(envoy.pid > 0);
  assert.equal(whileWaiting?.streams, 1);
  assert.deepEqual(whileWaiting?.acked, {});
  assert.deepEqual(res.statuses, { 200: 10 });
  assert.equal(up.hits, 10);
});
