/**
 * A proxy's refusal lands with whichever side caused it: a refusal of the
 * upstream's own resource goes upstream with Envoy's error detail, a refusal
 * of Umbra's edit stays with Umbra (reported, edit withdrawn) and the upstream
 * is ACKed with what it sent once the proxy accepts it unedited.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLUSTER_TYPE, LISTENER_TYPE } from '../../../daemon/xds/type-urls.js';
import { drive, freePort, startUpstream, waitFor } from '../../harness/index.js';
import { shopService, startOverlayRig, upstreamResources } from './fixture.js';

test("a refusal of the upstream's own cluster goes upstream with Envoy's error, and traffic stays", async (t) => {
  const web = await startUpstream(t, { body: 'web' });
  const listenerPort = await freePort();
  const url = `http://127.0.0.1:${listenerPort}/`;
  const good = upstreamResources([{ name: 'web', listenerPort, endpointPorts: [web.port] }]);
  const rig = await startOverlayRig(t, { resources: good });
  await waitFor('web serves', async () =>
    (await drive({ url, requests: 1 })).statuses[200] ? true : undefined,
  );

  const bad = { name: 'broken', type: 'STATIC', connectTimeout: '-1s' };
  await rig.upstream.setSnapshot(rig.nodeId, '2', { ...good, clusters: [...good.clusters!, bad] });
  const nack = await waitFor('the upstream receives a CDS NACK', async () =>
    (await rig.upstream.requests()).find((r) => r.type_url === CLUSTER_TYPE && r.error_message),
  );
  const res = await drive({ url, requests: 10, concurrency: 1 });

  assert.equal(nack.error_message, rig.xds.status(rig.nodeId)?.lastNack?.message, "Envoy's own error detail");
  assert.match(nack.error_message!, /duration/);
  assert.equal(nack.version_info, '1', 'a NACK carries the version last accepted');
  assert.notEqual(nack.response_nonce, '');
  assert.deepEqual(rig.umbraNacks, [], 'not a refusal of anything Umbra made');
  assert.deepEqual(res.statuses, { 200: 10 }, 'the proxy keeps its last good configuration');
});

test("a refusal of Umbra's edit stays with Umbra; the upstream's listener goes through unedited and is ACKed", async (t) => {
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const [listenerPort, telemetry] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${listenerPort}/`;
  const shop = shopService({ v1: v1.port, v2: v2.port, telemetry }, { v1: 100 });
  const rig = await startOverlayRig(t, {
    resources: upstreamResources([{ name: 'shop', listenerPort, endpointPorts: [v1.port] }]),
    // A filter module that does not exist: Envoy refuses the listener Umbra edited.
    edits: { services: [shop], filter: { wasmPath: '/nonexistent/umbra.wasm' } },
  });
  const [refused] = await waitFor('the relay reports the refusal', async () =>
    rig.umbraNacks.length > 0 ? rig.umbraNacks : undefined,
  );

  await waitFor('the upstream receives the LDS ACK of version 1', async () =>
    (await rig.upstream.requests()).find(
      (r) => r.type_url === LISTENER_TYPE && r.version_info === '1' && r.response_nonce && !r.error_message,
    ),
  );
  const res = await drive({ url, requests: 10, concurrency: 1 });
  const upstreamNacks = (await rig.upstream.requests()).filter((r) => r.error_message);

  assert.equal(refused!.typeUrl, LISTENER_TYPE);
  assert.deepEqual(refused!.resources, ['shop-ingress']);
  assert.deepEqual(upstreamNacks, [], "Umbra's refusal never reaches the upstream");
  assert.deepEqual(res.statuses, { 200: 10 }, "the upstream's unedited listener serves");
  assert.equal(v1.hits, 10);
});
