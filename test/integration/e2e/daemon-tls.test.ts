/**
 * The real daemon (`umbra daemon`) with TLS on all three ports, as a user
 * configures it in umbra.yaml: the admin API and the xDS server over TLS,
 * the telemetry port over mutual TLS. A real Envoy bootstrapped over TLS gets
 * the service, and the telemetry cluster the daemon sends it reaches the
 * telemetry port with its client certificate: the deployment's mirrored
 * records arrive and pair.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { AdminCallError, AdminClient } from '../../../daemon/admin/client.js';
import {
  drive,
  freePort,
  makeTestPki,
  skipWithoutOpenssl,
  startUpstream,
  TEST_SERVER_NAME,
  waitFor,
} from '../../harness/index.js';
import { startDaemon, startProxy, staticShop, TOKEN } from './daemon.js';

test('umbra daemon serves admin, xDS and telemetry over TLS from umbra.yaml, end to end', {
  skip: skipWithoutOpenssl(),
  timeout: 180_000,
}, async (t) => {
  // Arrange: certificates, two versions, the config, the daemon, and Envoy over TLS.
  const pki = makeTestPki(t);
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const listen = await freePort();
  const server = `certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile}`;
  const proxy = `caFile: ${pki.ca.certFile}, serverName: ${TEST_SERVER_NAME}, certFile: ${pki.client.certFile}, keyFile: ${pki.client.keyFile}`;
  // 100 %: the plan asks for ⌈1 × 1.0 × 1.5⌉ = 2 shadow replicas; the static candidate has its one endpoint.
  const daemon = await startDaemon(
    t,
    {
      node: 'tls-edge',
      admin: `tls: { ${server} }`,
      telemetry: `tls: { ${server}, clientCaFile: ${pki.ca.certFile}, proxy: { ${proxy} } }`,
      xds: `tls: { ${server} }`,
      services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    mirroring: { shadowPercentage: 100 }
    rollout: { shadowDuration: 10m }
`,
    },
    ['--metrics', '127.0.0.1:0'],
  );
  const { admin, metrics } = daemon.ports;
  const client = new AdminClient({
    address: `${TEST_SERVER_NAME}:${admin}`,
    token: TOKEN,
    tlsCaFile: pki.ca.certFile,
    timeoutMs: 3000,
  });
  const plaintext = new AdminClient({ address: `127.0.0.1:${admin}`, token: TOKEN, timeoutMs: 3000 });
  t.after(() => {
    client.close();
    plaintext.close();
  });
  await waitFor('the admin API over TLS', async () => (await client.status()).services.length === 1);
  const envoy = await startProxy(t, daemon, {
    name: 'tls-e2e',
    tls: { caFile: pki.ca.certFile, serverName: TEST_SERVER_NAME },
  });
  const url = `http://127.0.0.1:${listen}/`;
  await waitFor('Envoy serving v1', async () => (await drive({ url, requests: 1 })).statuses[200]);

  // Act: shadow v2 (the filter hears it over the telemetry stream), then send traffic.
  await client.deploy('shop', 'v2');
  await waitFor(
    'shadowing',
    async () => (await client.status('shop')).services[0]?.deployment?.phase === 'shadowing',
  );
  const pairs = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    return Number(/^umbra_pairing_pairs_total (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  await waitFor('mirrored pairs at the daemon', async () => {
    await drive({ url, requests: 10, concurrency: 2 });
    return (await pairs()) >= 5;
  });

  // Assert: both of Envoy's connections to the daemon are TLS; plaintext admin is refused.
  assert.ok(v2.hits >= 5, `the candidate got ${v2.hits} mirrored requests`);
  assert.ok((await envoy.stat('cluster.umbra-xds.ssl.handshake'))! >= 1);
  assert.ok((await envoy.stat('cluster.umbra-telemetry.ssl.handshake'))! >= 1);
  await assert.rejects(plaintext.status(), AdminCallError);
});
