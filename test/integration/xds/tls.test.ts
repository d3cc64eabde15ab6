/**
 * The xDS server with `daemon.xds.tls` against a real Envoy whose bootstrap
 * reaches it through Umbra's TLS socket: configuration is ACKed and served
 * over TLS; a proxy that does not trust the daemon (another CA, another
 * name, no client certificate where one is required) gets nothing; and the
 * telemetry cluster pushed over that stream carries TLS too, so the filter's
 * records reach a TLS telemetry server.
 *
 * The second xDS client, @grpc/grpc-js-xds (1.14), is left out here: its
 * bootstrap accepts only `google_default` and `insecure` channel credentials
 * for the xDS server, so a proxyless gRPC client cannot use TLS to Umbra.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Tls } from '../../../daemon/config/schema.js';
import { serverCredentials } from '../../../daemon/config/tls.js';
import { setLogLevel } from '../../../daemon/log.js';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import { startTelemetryServer } from '../../../daemon/telemetry/server.js';
import { adsBootstrap } from '../../../daemon/xds/bootstrap.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import type { UpstreamTls } from '../../../daemon/xds/resources/tls.js';
import { XdsServer } from '../../../daemon/xds/server.js';
import { ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';
import {
  drive,
  freePort,
  makeTestPki,
  skipWithoutOpenssl,
  startEnvoy,
  TEST_SERVER_NAME,
  type TestPki,
  waitFor,
} from '../../harness/index.js';
import { mustSnapshot, startRig } from './fixture.js';

setLogLevel('silent');

const skip = skipWithoutOpenssl();

/** TLS as a proxy that trusts the test CA sees it. */
function trusting(pki: TestPki): UpstreamTls {
  return { caFile: pki.ca.certFile, serverName: TEST_SERVER_NAME };
}

test('Envoy gets its configuration over TLS, ACKs a pushed route, and serves through it', {
  skip,
}, async (t) => {
  const pki = makeTestPki(t);
  const rig = await startRig(t, { tls: { server: pki.server, envoy: trusting(pki) } });

  const pushed = await rig.publish(renderService(rig.desired({ v2: 100 })));
  const res = await drive({ url: rig.url, requests: 20, concurrency: 2 });
  const status = rig.xds.status(rig.nodeId)!;

  assert.deepEqual(res.statuses, { 200: 20 });
  assert.equal(rig.v1.hits, 0);
  assert.equal(rig.v2.hits, 20, 'served through the pushed route');
  assert.deepEqual(status.acked, status.snapshot);
  assert.equal(status.acked['RDS'], pushed.types.get(ROUTE_TYPE)!.version);
  assert.equal(status.lastNack, undefined);
  assert.ok((await rig.envoy.stat('cluster.umbra-xds.ssl.handshake'))! >= 1, 'the ADS stream runs over TLS');
});

/** A proxy the daemon's TLS must keep out, and the Envoy counter that shows why. */
interface Outsider {
  name: string;
  server(pki: TestPki): Tls;
  envoy(pki: TestPki): UpstreamTls;
  failure: string;
}

const OUTSIDERS: Outsider[] = [
  {
    name: 'trusts another CA',
    server: (pki) => pki.server,
    envoy: (pki) => ({ caFile: pki.otherCa.certFile, serverName: TEST_SERVER_NAME }),
    failure: 'cluster.umbra-xds.ssl.fail_verify_error',
  },
  {
    name: 'expects another name',
    server: (pki) => pki.server,
    envoy: (pki) => ({ caFile: pki.ca.certFile, serverName: 'umbrad.internal' }),
    failure: 'cluster.umbra-xds.ssl.fail_verify_san',
  },
  {
    name: 'shows no client certificate to a daemon that requires one',
    server: (pki) => ({ ...pki.server, clientCaFile: pki.ca.certFile }),
    envoy: (pki) => trusting(pki),
    failure: 'cluster.umbra-xds.ssl.connection_error',
  },
];

for (const outsider of OUTSIDERS) {
  test(`a proxy that ${outsider.name} gets no configuration`, { skip }, async (t) => {
    const pki = makeTestPki(t);
    const xds = await XdsServer.start({
      port: 0,
      credentials: serverCredentials(outsider.server(pki), 'daemon.xds.tls'),
    });
    t.after(() => xds.close());
    const listenerPort = await freePort();
    const nodeId = `outsider-${listenerPort}`;
    xds.setSnapshot(
      nodeId,
      mustSnapshot(
        renderService({
          service: 'shop',
          listener: { name: 'shop', port: listenerPort, address: '127.0.0.1' },
          versions: [{ name: 'v1', endpoints: [{ address: '127.0.0.1', port: 1 }] }],
          weights: { v1: 100 },
        }),
      ),
    );
    // Such an Envoy never becomes ready: do not wait for it.
    const envoy = await startEnvoy(t, {
      name: 'xds-outsider',
      config: adsBootstrap({
        nodeId,
        xdsHost: '127.0.0.1',
        xdsPort: xds.port,
        adminPort: 0,
        tls: outsider.envoy(pki),
      }),
      waitForReady: false,
    });

    // Two refused handshakes: the first attempt and a retry.
    await envoy.waitForStat(outsider.failure, (n) => n >= 2, { timeoutMs: 20_000 });
    const status = xds.status(nodeId)!;

    assert.equal(status.streams, 0, 'no ADS stream was opened');
    assert.deepEqual(status.acked, {});
    assert.equal(await envoy.stat('listener_manager.total_listeners_active'), 0);
    assert.equal(await envoy.stat('cluster_manager.active_clusters'), 1, 'only the static umbra-xds cluster');
    assert.equal(await envoy.stat('cluster.umbra-xds.ssl.handshake'), 0);
  });
}

const wasmPath = join(projectRoot(), 'build', 'filter.wasm');

test("the telemetry cluster pushed over TLS carries TLS too, and the filter's records arrive", {
  skip: skip || (existsSync(wasmPath) ? false : 'build/filter.wasm is missing: run `npm run build:filter`'),
}, async (t) => {
  const pki = makeTestPki(t);
  const pipeline = createPipeline({ pairing: { ttlUs: 3_000_000 } });
  const telemetry = await startTelemetryServer(pipeline.ingest, {
    host: '127.0.0.1',
    port: 0,
    tls: { ...pki.server, clientCaFile: pki.ca.certFile },
  });
  t.after(() => telemetry.close());
  const rig = await startRig(t, {
    tls: { server: pki.server, envoy: trusting(pki) },
    render: { filter: { wasmPath, failOpen: false } },
    mirror: { candidate: 'v2', filterConfig: { shadowPercentage: 100, flushIntervalMs: 100 } },
    filterGate: { share: 100 },
    // What daemon.telemetry.tls.proxy becomes: the proxy's CA file, the name, its client certificate.
    telemetry: { address: '127.0.0.1', port: telemetry.port, tls: { ...trusting(pki), ...pki.client } },
  });

  const res = await drive({ url: rig.url, requests: 20, concurrency: 2 });
  await waitFor('20 pairs at the telemetry server', () => pipeline.pairer.counters.pairs >= 20, {
    timeoutMs: 15_000,
  });

  assert.deepEqual(res.statuses, { 200: 20 });
  assert.equal(rig.v2.hits, 20, 'every request was mirrored');
  assert.equal(pipeline.pairer.counters.pairs, 20, 'every pair reached the telemetry server');
  assert.ok((await rig.envoy.stat('cluster.umbra-telemetry.ssl.handshake'))! >= 1);
  assert.equal(rig.xds.status(rig.nodeId)!.lastNack, undefined);
});
