/**
 * The overlay relays an independent control plane (go-control-plane, Go) to a
 * real Envoy: what Umbra does not manage reaches the proxy byte for byte, the
 * upstream's changes arrive, and every upstream response is ACKed upstream
 * with its own version and nonce once the proxy has ACKed it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  type TypeUrl,
} from '../../../daemon/xds/type-urls.js';
import { fetchResources } from '../../harness/ads-client.js';
import { drive, freePort, startUpstream, waitFor } from '../../harness/index.js';
import { startOverlayRig, upstreamResources } from './fixture.js';

const TYPES: TypeUrl[] = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE];

test('resources of an unmanaged service reach Envoy exactly as the upstream sent them, and it serves them', async (t) => {
  const web = await startUpstream(t, { body: 'web' });
  const listenerPort = await freePort();
  const resources = upstreamResources([{ name: 'web', listenerPort, endpointPorts: [web.port] }]);
  const rig = await startOverlayRig(t, { resources });

  const res = await waitFor('web answers through Envoy', async () => {
    const r = await drive({ url: `http://127.0.0.1:${listenerPort}/`, requests: 10, concurrency: 1 });
    return r.statuses[200] === 10 ? r : undefined;
  });
  const direct = await fetchResources(rig.upstream.adsPort, rig.nodeId, TYPES, {
    [ENDPOINT_TYPE]: ['web'],
    [ROUTE_TYPE]: ['web-routes'],
  });
  const relayed = new Map<string, string>();
  for (const type of TYPES) {
    for (const name of ['web', 'web-ingress', 'web-routes']) {
      const r = rig.xds.ackedResource(rig.nodeId, type, name);
      if (r) relayed.set(`${type} ${name}`, Buffer.from(r.value).toString('hex'));
    }
  }

  assert.deepEqual(res.statuses, { 200: 10 });
  assert.equal(direct.size, 4);
  assert.deepEqual(relayed, direct, 'what Envoy ACKed is byte for byte what the upstream sends');
  assert.deepEqual(rig.relay.errors(rig.nodeId), []);
});

test("an upstream change reaches Envoy and the upstream's version is ACKed upstream with its nonce", async (t) => {
  const a = await startUpstream(t, { body: 'a' });
  const b = await startUpstream(t, { body: 'b' });
  const listenerPort = await freePort();
  const url = `http://127.0.0.1:${listenerPort}/`;
  const rig = await startOverlayRig(t, {
    resources: upstreamResources([{ name: 'web', listenerPort, endpointPorts: [a.port] }]),
  });
  await waitFor('a serves', async () =>
    (await drive({ url, requests: 1 })).statuses[200] ? true : undefined,
  );

  await rig.upstream.setSnapshot(
    rig.nodeId,
    '2',
    upstreamResources([{ name: 'web', listenerPort, endpointPorts: [b.port] }]),
  );
  await waitFor('upstream sees version 2 ACKed for every type', async () => {
    const seen = await rig.upstream.requests();
    const acked = new Set(
      seen.filter((r) => r.version_info === '2' && !r.error_message).map((r) => r.type_url),
    );
    return TYPES.every((t) => acked.has(t)) ? true : undefined;
  });
  const before = b.hits;
  const res = await drive({ url, requests: 10, concurrency: 1 });
  const seen = await rig.upstream.requests();

  assert.deepEqual(res.statuses, { 200: 10 });
  assert.equal(b.hits - before, 10, 'every request reaches the new endpoint');
  assert.equal(seen.filter((r) => r.error_message).length, 0, 'nothing was NACKed upstream');
  // Each ACK names a nonce the upstream sent on that stream: requests are answers, never guesses.
  for (const r of seen.filter((x) => x.version_info === '2')) assert.notEqual(r.response_nonce, '');
});
