/**
 * xDS hands configuration only to the node ids the daemon expects and, with
 * `daemon.xds.tokenFile`, only to proxies that present the token: a real
 * Envoy whose bootstrap carries the token in the ADS GrpcService's
 * initial_metadata gets and ACKs its configuration; a real Envoy naming a
 * node id the daemon does not serve gets nothing; real gRPC clients without
 * the token, or with it but naming another node, are refused before anything
 * is sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { setLogLevel } from '../../../daemon/log.js';
import type { DiscoveryRequest, DiscoveryResponse } from '../../../daemon/xds/ads-stream.js';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { XDS_TOKEN_METADATA, XdsServer } from '../../../daemon/xds/server.js';
import { CLUSTER_TYPE } from '../../../daemon/xds/type-urls.js';
import { adsClient } from '../../harness/ads-client.js';
import { drive, freePort, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { mustSnapshot, waitAllAcked } from './fixture.js';

setLogLevel('silent');

const TOKEN = 'xds-token-for-the-test';

async function served(t: import('node:test').TestContext, nodeId: string) {
  const xds = await XdsServer.start({ port: 0, nodes: new Set([nodeId]), token: TOKEN });
  t.after(() => xds.close());
  const upstream = await startUpstream(t, { body: 'v1' });
  const listenerPort = await freePort();
  const snapshot = mustSnapshot(
    renderService({
      service: 'shop',
      listener: { name: 'shop', port: listenerPort, address: '127.0.0.1' },
      versions: [{ name: 'v1', endpoints: [{ address: '127.0.0.1', port: upstream.port }] }],
      weights: { v1: 100 },
    }),
  );
  xds.setSnapshot(nodeId, snapshot);
  return { xds, snapshot, listenerPort, upstream };
}

/** A raw ADS stream: sends one CDS request naming `nodeId`, resolves with the status it ends with (or a response). */
function rawRequest(
  port: number,
  nodeId: string,
  token?: string,
): Promise<grpc.StatusObject | DiscoveryResponse> {
  const client = adsClient(port);
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set(XDS_TOKEN_METADATA, token);
  const call = (
    client as unknown as {
      StreamAggregatedResources(
        m: grpc.Metadata,
      ): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
    }
  ).StreamAggregatedResources(metadata);
  call.on('error', () => {});
  return new Promise((resolve) => {
    const timer = setTimeout(
      () =>
        resolve({ code: grpc.status.DEADLINE_EXCEEDED, details: 'no answer', metadata: new grpc.Metadata() }),
      5000,
    );
    const done = (r: grpc.StatusObject | DiscoveryResponse) => {
      clearTimeout(timer);
      call.cancel();
      client.close();
      resolve(r);
    };
    call.on('data', done);
    call.on('status', done);
    call.write({ node: { id: nodeId }, type_url: CLUSTER_TYPE });
  });
}

test('an Envoy with the xDS token and an expected node id gets its configuration and serves', async (t) => {
  const nodeId = `access-${process.pid}`;
  const { xds, snapshot, listenerPort, upstream } = await served(t, nodeId);
  await startEnvoy(t, {
    name: 'xds-access',
    config: adsBootstrap({
      nodeId,
      xdsHost: '127.0.0.1',
      xdsPort: xds.port,
      adminPort: 0,
      xdsToken: TOKEN,
    }),
    concurrency: 1,
  });

  await waitAllAcked(xds, nodeId, snapshot);
  const res = await drive({ url: `http://127.0.0.1:${listenerPort}/`, requests: 5 });

  assert.deepEqual(res.statuses, { 200: 5 });
  assert.equal(upstream.hits, 5);
  assert.deepEqual(xds.refused, { unauthenticated: 0, unknownNode: 0 });
});

test('an Envoy naming a node id the daemon does not serve gets nothing, and is counted', async (t) => {
  const { xds } = await served(t, 'the-edge');
  const envoy = await startEnvoy(t, {
    name: 'xds-stranger',
    config: adsBootstrap({
      nodeId: 'not-the-edge',
      xdsHost: '127.0.0.1',
      xdsPort: xds.port,
      adminPort: 0,
      xdsToken: TOKEN,
    }),
    waitForReady: false,
  });

  await waitFor('the unknown node to be refused', () => xds.refused.unknownNode >= 1, { timeoutMs: 15_000 });

  assert.ok(xds.refused.unknownNode >= 1, 'the stream was refused');
  assert.equal(xds.status('not-the-edge'), undefined, 'no state for a node that is not served');
  assert.equal(await envoy.stat('listener_manager.total_listeners_active'), 0);
  assert.equal(await envoy.stat('cluster_manager.active_clusters'), 1, 'only the static umbra-xds cluster');
});

test('a client without the token, or naming another node, is refused before anything is sent', async (t) => {
  const { xds } = await served(t, 'the-edge');

  const anonymous = await rawRequest(xds.port, 'the-edge');
  const wrong = await rawRequest(xds.port, 'the-edge', 'guess');
  const stranger = await rawRequest(xds.port, 'someone-else', TOKEN);
  const edge = await rawRequest(xds.port, 'the-edge', TOKEN);

  assert.equal((anonymous as grpc.StatusObject).code, grpc.status.UNAUTHENTICATED);
  assert.equal((wrong as grpc.StatusObject).code, grpc.status.UNAUTHENTICATED);
  assert.equal((stranger as grpc.StatusObject).code, grpc.status.PERMISSION_DENIED);
  assert.match((stranger as grpc.StatusObject).details, /node id "someone-else" is not served here/);
  assert.equal(
    (edge as DiscoveryResponse).type_url,
    CLUSTER_TYPE,
    'the expected node with the token is answered',
  );
  assert.deepEqual(xds.refused, { unauthenticated: 2, unknownNode: 1 });
});
