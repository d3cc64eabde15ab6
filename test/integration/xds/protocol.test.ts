/**
 * ADS protocol rules, over real gRPC with a hand-driven client: held
 * requests for unknown nodes, push order, ACK/NACK, stale nonces, unknown
 * types, a missing node id, and clients that vanish mid-update.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { DiscoveryResponse } from '../../../daemon/xds/ads-stream.js';
import type { DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { type AckEvent, type NackRecord, XdsServer } from '../../../daemon/xds/server.js';
import { createSnapshot, type Snapshot } from '../../../daemon/xds/snapshot.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';
import { adsClient, openAds } from '../../harness/ads-client.js';
import { waitFor } from '../../harness/index.js';

/** `http2` changes the clusters (CDS); weights change only the routes (RDS). */
function desired(weights: Record<string, number>, http2 = false): DesiredRouting {
  return {
    upstreamHttp2: http2,
    service: 'shop',
    listener: { name: 'shop', port: 10000, address: '127.0.0.1' },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: 9001 }] },
      { name: 'v2', endpoints: [{ address: '127.0.0.1', port: 9002 }] },
    ],
    weights,
  };
}

function snapshotOf(d: DesiredRouting): Snapshot {
  const r = createSnapshot(renderService(d));
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.snapshot;
}

async function setup(t: { after(fn: () => unknown): void }) {
  const xds = await XdsServer.start({ port: 0 });
  const client = adsClient(xds.port);
  t.after(async () => {
    client.close();
    await xds.close();
  });
  return { xds, client };
}

function names(r: DiscoveryResponse | undefined): number {
  return r?.resources?.length ?? -1;
}

test('a node without a snapshot is held until one is published', async (t) => {
  const { xds, client } = await setup(t);
  const ads = openAds(client, 'edge-unconfigured');

  ads.send({ type_url: CLUSTER_TYPE });
  const early = await ads.next(300);
  xds.setSnapshot('edge-unconfigured', snapshotOf(desired({ v1: 100 })));
  const late = await ads.next();

  assert.equal(early, undefined);
  assert.equal(late?.type_url, CLUSTER_TYPE);
  assert.equal(names(late), 2);
  assert.equal(xds.status('edge-unconfigured')?.streams, 1);
  ads.close();
});

test('clusters and endpoints go out first; the listener and routes only once both are ACKed', async (t) => {
  const { xds, client } = await setup(t);
  const ads = openAds(client, 'edge');
  // Subscribed in the reverse of the safe order, while the node has no snapshot.
  ads.send({ type_url: ROUTE_TYPE, resource_names: ['shop-routes'] });
  ads.send({ type_url: LISTENER_TYPE });
  ads.send({ type_url: ENDPOINT_TYPE, resource_names: ['shop-v1', 'shop-v2'] });
  ads.send({ type_url: CLUSTER_TYPE });
  assert.equal(await ads.next(200), undefined);

  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 })));
  const cds = (await ads.next())!;
  const eds = (await ads.next())!;
  const early = await ads.next(150);
  ads.reply(cds);
  const afterCds = await ads.next(150);
  ads.reply(eds, ['shop-v1', 'shop-v2']);
  const lds = (await ads.next())!;
  const rds = (await ads.next())!;

  assert.deepEqual(
    [cds.type_url, eds.type_url, lds.type_url, rds.type_url],
    [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE],
  );
  assert.equal(early, undefined, 'nothing more before clusters and endpoints are ACKed');
  assert.equal(afterCds, undefined, 'the routes also wait for the endpoints');
  ads.reply(lds);
  ads.reply(rds, ['shop-routes']);
  await xds.waitForAck('edge', ROUTE_TYPE, rds.version_info, 2000);
  const status = xds.status('edge')!;
  assert.deepEqual(status.acked, status.snapshot);
  ads.close();
});

test('RDS and EDS answer only the names asked for; a new name is answered at the same version', async (t) => {
  const { xds, client } = await setup(t);
  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 })));
  const ads = openAds(client, 'edge');

  ads.send({ type_url: ENDPOINT_TYPE, resource_names: ['shop-v1'] });
  const one = (await ads.next())!;
  ads.reply(one, ['shop-v1', 'shop-v2']);
  const two = (await ads.next())!;

  assert.equal(names(one), 1);
  assert.equal(names(two), 2);
  assert.equal(two.version_info, one.version_info);
  assert.notEqual(two.nonce, one.nonce);
  ads.close();
});

test('a NACK is recorded with its detail and reported, the version is not re-sent, the next one is', async (t) => {
  const { xds, client } = await setup(t);
  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 })));
  const ads = openAds(client, 'edge');
  ads.send({ type_url: CLUSTER_TYPE });
  const first = (await ads.next())!;

  const nacked = once(xds, 'nack') as Promise<[NackRecord]>;
  ads.reply(first, [], 'cluster shop-v1: no such thing');
  const [nack] = await nacked;
  const waited = xds.waitForAck('edge', CLUSTER_TYPE, first.version_info, 1000).then(
    () => 'acked',
    (e: Error) => e.message,
  );
  const resent = await ads.next(300);
  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 }, true)));
  const fixed = (await ads.next())!;
  const acked = once(xds, 'ack') as Promise<[AckEvent]>;
  ads.reply(fixed);
  const [ack] = await acked;

  assert.equal(nack.nodeId, 'edge');
  assert.equal(nack.typeUrl, CLUSTER_TYPE);
  assert.equal(nack.version, first.version_info);
  assert.equal(nack.message, 'cluster shop-v1: no such thing');
  assert.match(await waited, /NACKed by edge: cluster shop-v1/);
  assert.equal(resent, undefined);
  assert.notEqual(fixed.version_info, first.version_info);
  assert.equal(ack.version, fixed.version_info);
  assert.equal(xds.status('edge')!.lastNack, undefined);
  ads.close();
});

test('a stale nonce is ignored: no response, no ACK', async (t) => {
  const { xds, client } = await setup(t);
  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 })));
  const ads = openAds(client, 'edge');
  ads.send({ type_url: CLUSTER_TYPE });
  const first = (await ads.next())!;
  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 }, true)));
  // The second push waits for the first to be answered.
  assert.equal(await ads.next(200), undefined);
  ads.reply(first);
  const second = (await ads.next())!;
  let acks = 0;
  xds.on('ack', () => acks++);

  ads.send({ type_url: CLUSTER_TYPE, response_nonce: first.nonce, version_info: first.version_info });
  ads.send({ type_url: CLUSTER_TYPE, response_nonce: 'no-such-nonce' });
  const after = await ads.next(300);

  assert.equal(after, undefined);
  assert.equal(acks, 0);
  assert.equal(xds.status('edge')!.acked['CDS'], first.version_info);
  ads.reply(second);
  await xds.waitForAck('edge', CLUSTER_TYPE, second.version_info, 2000);
  ads.close();
});

test('an unknown type URL is left unanswered and the stream stays usable', async (t) => {
  const { xds, client } = await setup(t);
  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 })));
  const ads = openAds(client, 'edge');

  ads.send({ type_url: 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig' });
  const unknown = await ads.next(300);
  ads.send({ type_url: CLUSTER_TYPE });
  const clusters = await ads.next();

  assert.equal(unknown, undefined);
  assert.equal(clusters?.type_url, CLUSTER_TYPE);
  ads.close();
});

test('a stream whose first request has no node id is ended with INVALID_ARGUMENT; others carry on', async (t) => {
  const { xds, client } = await setup(t);
  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 })));
  const nameless = openAds(client, '');
  const ads = openAds(client, 'edge');

  nameless.send({ type_url: CLUSTER_TYPE });
  const status = await nameless.ended;
  ads.send({ type_url: CLUSTER_TYPE });
  const r = await ads.next();

  assert.equal(status.code, 3);
  assert.match(status.details, /node\.id/);
  assert.equal(r?.type_url, CLUSTER_TYPE);
  ads.close();
});

test('a client that disconnects mid-update is forgotten; later pushes and new clients work', async (t) => {
  const { xds, client } = await setup(t);
  xds.setSnapshot('edge', snapshotOf(desired({ v1: 100 })));
  const gone = openAds(client, 'edge');
  gone.send({ type_url: CLUSTER_TYPE });
  await gone.next();

  gone.cancel();
  await waitFor('the cancelled stream to close', () => xds.status('edge')!.streams === 0, {
    timeoutMs: 5000,
  });
  const streamsAfterCancel = xds.status('edge')!.streams;
  xds.setSnapshot('edge', snapshotOf(desired({ v2: 100 })));
  const fresh = openAds(client, 'edge');
  fresh.send({ type_url: CLUSTER_TYPE });
  const r = await fresh.next();

  assert.equal(streamsAfterCancel, 0);
  assert.equal(r?.type_url, CLUSTER_TYPE);
  assert.equal(xds.status('edge')!.streams, 1);
  fresh.close();
});

test('a node id without a snapshot is forgotten when its last stream closes', async (t) => {
  const { xds, client } = await setup(t);
  const ads = openAds(client, 'stranger');
  ads.send({ type_url: CLUSTER_TYPE });
  await waitFor('the stranger node to connect', () => xds.status('stranger'), { timeoutMs: 5000 });
  const whileConnected = xds.status('stranger');

  ads.cancel();
  await waitFor('the stranger node to be forgotten', () => xds.status('stranger') === undefined, {
    timeoutMs: 5000,
  });

  assert.equal(whileConnected?.streams, 1);
  assert.equal(xds.status('stranger'), undefined);
  assert.deepEqual(xds.nodeIds(), []);
});
