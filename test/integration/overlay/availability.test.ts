/**
 * Either side going away never takes traffic with it: with the upstream
 * control plane gone the proxy keeps its merged configuration and gets the
 * upstream's changes once it is back; with Umbra's xDS server gone and back
 * (a restart), the same merged state is served again and the listener is
 * not drained.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drive, freePort, startUpstream, startXdsUpstream, waitFor } from '../../harness/index.js';
import { shopService, startOverlayRig, startRelay, upstreamResources } from './fixture.js';

test('the upstream down for a while and back: traffic flows throughout, its change arrives after', async (t) => {
  const a = await startUpstream(t, { body: 'a' });
  const b = await startUpstream(t, { body: 'b' });
  const [listenerPort, upstreamPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${listenerPort}/`;
  const rig = await startOverlayRig(t, {
    resources: upstreamResources([{ name: 'web', listenerPort, endpointPorts: [a.port] }]),
    upstreamPort,
  });
  await waitFor('a serves', async () =>
    (await drive({ url, requests: 1 })).statuses[200] ? true : undefined,
  );

  await rig.upstream.kill();
  const during = await drive({ url, requests: 20, concurrency: 1 });
  const again = await startXdsUpstream(t, { adsPort: upstreamPort });
  await again.setSnapshot(
    rig.nodeId,
    '2',
    upstreamResources([{ name: 'web', listenerPort, endpointPorts: [b.port] }]),
  );
  await waitFor('the change reaches Envoy', async () =>
    (await drive({ url, requests: 1 })).statuses[200] && b.hits > 0 ? true : undefined,
  );
  const after = await drive({ url, requests: 10, concurrency: 1 });

  assert.deepEqual(
    during.statuses,
    { 200: 20 },
    'the proxy kept its configuration while the upstream was down',
  );
  assert.deepEqual(after.statuses, { 200: 10 });
  assert.equal(
    (await again.streams()).open,
    1,
    'the relay reconnected: one upstream stream for the one proxy',
  );
  assert.equal(rig.xds.status(rig.nodeId)?.lastNack, undefined);
});

test("Umbra's xDS server gone and restarted: the same merged state is served again, no listener drained", async (t) => {
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const [listenerPort, telemetry] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${listenerPort}/`;
  const edits = { services: [shopService({ v1: v1.port, v2: v2.port, telemetry }, { v1: 50, v2: 50 })] };
  const rig = await startOverlayRig(t, {
    resources: upstreamResources([{ name: 'shop', listenerPort, endpointPorts: [v1.port] }]),
    edits,
  });
  await waitFor('both versions serve', async () => {
    await drive({ url, requests: 4 });
    return v1.hits > 0 && v2.hits > 0 ? true : undefined;
  });
  const port = rig.xds.port;
  const before = rig.xds.status(rig.nodeId)!.acked;

  rig.relay.close();
  await rig.xds.close();
  const during = await drive({ url, requests: 20, concurrency: 1 });
  const restarted = await startRelay(t, rig.upstream.adsPort, edits, port);
  const status = await waitFor('the restarted server is ACKed', async () => {
    const s = restarted.xds.status(rig.nodeId);
    return s &&
      Object.keys(s.snapshot).length === 4 &&
      Object.keys(s.snapshot).every((k) => s.acked[k] === s.snapshot[k])
      ? s
      : undefined;
  });
  const after = await drive({ url, requests: 20, concurrency: 2 });
  const stats = await rig.envoy.stats();

  assert.deepEqual(during.statuses, { 200: 20 }, 'traffic flows while Umbra is away');
  assert.deepEqual(after.statuses, { 200: 20 });
  assert.deepEqual(status.acked, before, 'the same merged versions, type by type');
  assert.equal(stats['listener_manager.listener_modified'] ?? 0, 0, 'the listener was not replaced');
  assert.equal(stats['listener_manager.total_filter_chains_draining'] ?? 0, 0);
});
