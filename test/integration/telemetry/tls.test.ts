/**
 * The telemetry server with `daemon.telemetry.tls`: with `clientCaFile` it
 * takes streams only from clients whose certificate that CA signed (a plain
 * @grpc/grpc-js client stands in for the filter); and the real chain, Envoy
 * with the built filter streaming its records through a TLS cluster, gets
 * its records in, with and without a client certificate.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Tls } from '../../../daemon/config/schema.js';
import { setLogLevel } from '../../../daemon/log.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import { startTelemetryServer } from '../../../daemon/telemetry/server.js';
import { ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';
import {
  type CertFiles,
  drive,
  makeTestPki,
  skipWithoutOpenssl,
  startEnvoy,
  startUpstream,
  TEST_SERVER_NAME,
  type TestPki,
} from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterBootstrap } from '../filter/fixture.js';

setLogLevel('silent');

const PROTO = join(import.meta.dirname, '../../../proto/umbra/telemetry/v1/telemetry.proto');
const pkg = grpc.loadPackageDefinition(
  protoLoader.loadSync(PROTO, { longs: Number, enums: Number, defaults: true }),
) as unknown as { umbra: { telemetry: { v1: { Telemetry: grpc.ServiceClientConstructor } } } };

type Duplex = grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>;

const skip = skipWithoutOpenssl();

async function until(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startServer(t: import('node:test').TestContext, tls: Tls) {
  const p = createPipeline({ pairing: { ttlUs: 3_000_000 } });
  const server = await startTelemetryServer(p.ingest, { host: '127.0.0.1', port: 0, tls });
  t.after(() => server.close());
  return { p, server };
}

interface Stream {
  /** How the stream ended (bounded: rejects after 10 s). */
  ended: Promise<grpc.StatusObject>;
  /** The status, if the stream has ended. */
  status(): grpc.StatusObject | undefined;
}

/** Opens a stream with these credentials and sends one batch of `records` primary records. */
function sendBatch(
  t: import('node:test').TestContext,
  port: number,
  creds: grpc.ChannelCredentials,
  records: number,
): Stream {
  const client = new pkg.umbra.telemetry.v1.Telemetry(`127.0.0.1:${port}`, creds, {
    // The certificate names localhost; a TLS server name may not be an IP address.
    'grpc.ssl_target_name_override': TEST_SERVER_NAME,
    'grpc.default_authority': TEST_SERVER_NAME,
  }) as unknown as grpc.Client & { Stream(): Duplex };
  t.after(() => client.close());
  const call = client.Stream();
  let status: grpc.StatusObject | undefined;
  const ended = new Promise<grpc.StatusObject>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the stream did not end within 10 s')), 10_000);
    timer.unref();
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      clearTimeout(timer);
      resolve(s);
    });
  });
  ended.catch(() => {});
  call.on('error', () => {});
  call.write({
    schemaVersion: 1,
    proxyId: 'envoy-tls',
    worker: 0,
    service: 'checkout',
    sequence: 1,
    baseTimeUs: Date.now() * 1000,
    dict: [{ id: 1, value: 'GET /cart' }],
    records: Array.from({ length: records }, (_, i) => ({
      requestId: Buffer.from(`tls-${records}-${i}`),
      arm: ARM_PRIMARY,
      endpoint: 1,
      latencyUs: 1000,
      status: 200,
    })),
  });
  return { ended, status: () => status };
}

function clientCreds(pki: TestPki, cert?: CertFiles): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    readFileSync(pki.ca.certFile),
    cert ? readFileSync(cert.keyFile) : null,
    cert ? readFileSync(cert.certFile) : null,
  );
}

test('with clientCaFile only clients whose certificate that CA signed may stream', { skip }, async (t) => {
  const pki = makeTestPki(t);
  const { p, server } = await startServer(t, { ...pki.server, clientCaFile: pki.ca.certFile });

  const refused = await Promise.all(
    [grpc.credentials.createInsecure(), clientCreds(pki), clientCreds(pki, pki.otherClient)].map(
      (creds, i) => sendBatch(t, server.port, creds, i + 1).ended,
    ),
  );
  const refusedRecords = p.ingest.counters.records;
  const signed = sendBatch(t, server.port, clientCreds(pki, pki.client), 8);
  await until('the signed client’s records', () => p.ingest.counters.records === 8);

  // Plaintext, no client certificate, a certificate from another CA: all refused.
  for (const s of refused) assert.equal(s.code, grpc.status.UNAVAILABLE, s.details);
  assert.equal(refusedRecords, 0);
  assert.equal(signed.status(), undefined, 'the signed client keeps its stream');
  assert.equal(p.ingest.counters.batches, 1);
});

test('without clientCaFile any client that trusts the CA may stream, a plaintext one may not', {
  skip,
}, async (t) => {
  const pki = makeTestPki(t);
  const { p, server } = await startServer(t, pki.server);

  const plaintext = await sendBatch(t, server.port, grpc.credentials.createInsecure(), 1).ended;
  const trusting = sendBatch(t, server.port, clientCreds(pki), 3);
  await until('the trusting client’s records', () => p.ingest.counters.records === 3);

  assert.equal(plaintext.code, grpc.status.UNAVAILABLE, plaintext.details);
  assert.equal(trusting.status(), undefined, 'the trusting client keeps its stream');
});

for (const mutual of [false, true]) {
  const what = mutual ? 'mutual TLS (Envoy shows a client certificate)' : 'TLS';
  test(`the filter's records reach the daemon through an Envoy cluster over ${what}`, { skip }, async (t) => {
    const pki = makeTestPki(t);
    const stable = await startUpstream(t, { body: 'same body' });
    const candidate = await startUpstream(t, { body: 'same body' });
    const { p, server } = await startServer(t, {
      ...pki.server,
      ...(mutual ? { clientCaFile: pki.ca.certFile } : {}),
    });
    const b = await filterBootstrap({
      stablePort: stable.port,
      candidatePort: candidate.port,
      telemetryPort: server.port,
      telemetryTls: {
        caFile: pki.ca.certFile,
        serverName: TEST_SERVER_NAME,
        ...(mutual ? pki.client : {}),
      },
      filterConfig: { shadowPercentage: 100, telemetryCluster: 'umbra_telemetry', flushIntervalMs: 100 },
    });
    const envoy = await startEnvoy(t, { config: b.config, name: 'telemetry-tls', args: FLUSH_LOG_ARGS });

    const res = await drive({ url: `http://127.0.0.1:${b.listenerPort}/cart`, requests: 30, concurrency: 2 });
    await until('30 pairs', () => p.pairer.counters.pairs === 30, 15_000);

    assert.deepEqual(res.statuses, { 200: 30 });
    assert.equal(candidate.hits, 30);
    assert.deepEqual(p.ingest.counters.batchesRefused, {});
    // The records came over TLS: Envoy's cluster completed a handshake with the daemon.
    assert.ok((await envoy.stat('cluster.umbra_telemetry.ssl.handshake'))! >= 1);
  });
}
