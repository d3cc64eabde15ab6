/**
 * The telemetry server over real gRPC (@grpc/grpc-js on loopback), with a
 * client that encodes with protobufjs through @grpc/proto-loader, i.e. an
 * encoder independent of the daemon's hand-rolled decoder (grpc-client.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { setLogLevel } from '../../../daemon/log.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import {
  CONTROL_PAUSE,
  CONTROL_RESUME,
  CONTROL_SET_PERCENTAGE,
  CONTROL_SET_SPLIT,
  startTelemetryServer,
} from '../../../daemon/telemetry/server.js';
import { ARM_CANDIDATE, ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';
import { waitFor } from '../../harness/index.js';
import { openStream, telemetryClient } from './grpc-client.js';

setLogLevel('silent');

function batch(seq: number, records: Record<string, unknown>[], dict: Record<string, unknown>[] = []) {
  return {
    schemaVersion: 1,
    proxyId: 'envoy-1',
    worker: 0,
    service: 'checkout',
    sequence: seq,
    baseTimeUs: Date.now() * 1000,
    dict,
    records,
  };
}

async function setup(
  t: import('node:test').TestContext,
  opts: { maxMessageBytes?: number; maxBatchBytes?: number } = {},
) {
  const p = createPipeline({ pairing: { maxInFlight: 4096 } });
  const server = await startTelemetryServer(p.ingest, { host: '127.0.0.1', port: 0, ...opts });
  const clients: grpc.Client[] = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  const open = () => {
    const c = telemetryClient(server.port);
    clients.push(c);
    return openStream(c);
  };
  return { p, server, open };
}

test('batches encoded by protobufjs are decoded, paired and counted', async (t) => {
  const { p, open } = await setup(t);
  const s = open();
  s.call.write(
    batch(
      1,
      [
        {
          requestId: Buffer.from('a'),
          arm: ARM_PRIMARY,
          endpoint: 1,
          status: 200,
          latencyUs: 100,
          bodyHash: 5,
        },
      ],
      [{ id: 1, value: 'GET /cart' }],
    ),
  );
  s.call.write(
    batch(2, [{ requestId: Buffer.from('a'), arm: ARM_CANDIDATE, endpoint: 1, status: 200, latencyUs: 90 }]),
  );
  await waitFor('the pair', () => p.pairer.counters.pairs === 1);
  assert.equal(p.ingest.counters.records, 2);
  assert.equal(p.ingest.counters.batches, 2);
  assert.equal(p.ingest.streams.size, 1);
  s.call.end();
  await waitFor('the stream to close', () => p.ingest.streams.size === 0);
});

test('every handled batch is acknowledged on its stream (flow control); a refused one is not', async (t) => {
  const { open } = await setup(t);
  const s = open();
  s.call.write(batch(1, []));
  s.call.write(batch(2, []));
  s.call.write({ ...batch(2, []), service: 'checkout' }); // stale sequence: refused
  s.call.write(batch(5, []));
  await waitFor('acks', () => s.acks.length === 3);
  assert.deepEqual(s.acks, [1, 2, 5]);
  assert.equal(s.controls.length, 0, 'acks carry no ordered control');
});

test('control messages reach every stream of the service, and streams that connect later', async (t) => {
  const { p, server, open } = await setup(t);
  const a = open();
  const b = open();
  a.call.write(batch(1, []));
  b.call.write({ ...batch(1, []), service: 'payments' });
  await waitFor(
    'streams identified',
    () => [...p.ingest.streams.values()].filter((s) => s.service !== '').length === 2,
  );
  assert.equal(server.setPercentage('checkout', 0), 1);
  assert.equal(server.setPercentage('checkout', 25), 1);
  assert.equal(server.pause('checkout'), 1);
  await waitFor('controls', () => a.controls.length === 3);
  assert.deepEqual(
    a.controls.map((c) => [c['sequence'], c['kind'], c['shadowPercentage']]),
    [
      [1, CONTROL_SET_PERCENTAGE, 0],
      [2, CONTROL_SET_PERCENTAGE, 25],
      [3, CONTROL_PAUSE, 0],
    ],
  );
  assert.equal(b.controls.length, 0, 'another service is not affected');
  // A stream that connects later learns the current state on its first batch.
  const c = open();
  c.call.write(batch(1, []));
  await waitFor('replayed controls', () => c.controls.length === 2);
  assert.deepEqual(
    c.controls.map((m) => [m['kind'], m['shadowPercentage']]),
    [
      [CONTROL_SET_PERCENTAGE, 25],
      [CONTROL_PAUSE, 0],
    ],
  );
  assert.throws(() => server.setPercentage('checkout', 101), /0\.\.100/);

  // A filter keeps what another daemon told it on an earlier stream: a resume and a split of 0 are replayed too.
  server.resume('checkout');
  server.setSplit('checkout', 0);
  const d = open();
  d.call.write(batch(1, []));
  await waitFor('replayed controls', () => d.controls.length === 3);
  assert.deepEqual(
    d.controls.map((m) => [m['kind'], m['shadowPercentage'], m['splitPercentage']]),
    [
      [CONTROL_SET_PERCENTAGE, 25, 0],
      [CONTROL_RESUME, 0, 0],
      [CONTROL_SET_SPLIT, 0, 0],
    ],
  );
});

test('a stream of garbage is refused with INVALID_ARGUMENT; others carry on', async (t) => {
  const { p, server, open } = await setup(t);
  const good = open();
  good.call.write(batch(1, [{ requestId: Buffer.from('x'), arm: ARM_PRIMARY, status: 200 }]));
  // A raw client: bytes that are not a Batch.
  const raw = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  t.after(() => raw.close());
  const call = raw.makeBidiStreamRequest(
    '/umbra.telemetry.v1.Telemetry/Stream',
    (b: Buffer) => b,
    (b: Buffer) => b,
  );
  let status: grpc.StatusObject | undefined;
  call.on('status', (s: grpc.StatusObject) => {
    status = s;
  });
  call.on('error', () => {});
  for (let i = 0; i < 12; i++) call.write(Buffer.from([0xff, 0xff, 0xff, i]));
  await waitFor('the garbage stream to be refused', () => status !== undefined);
  assert.equal(status!.code, grpc.status.INVALID_ARGUMENT);
  assert.match(status!.details, /bad batches in a row/);
  const refused = Object.values(p.ingest.counters.batchesRefused).reduce((a, b) => a + b, 0);
  assert.ok(refused >= 10, `refused ${refused}`);
  good.call.write(batch(2, [{ requestId: Buffer.from('x'), arm: ARM_CANDIDATE, status: 200 }]));
  await waitFor('the good stream to keep pairing', () => p.pairer.counters.pairs === 1);
});

test('an oversized batch is dropped and counted, the stream carries on; beyond the gRPC limit the stream ends', async (t) => {
  const { p, open } = await setup(t, { maxBatchBytes: 32 * 1024, maxMessageBytes: 256 * 1024 });
  const records = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      requestId: Buffer.from(`id-${i}`.padEnd(60, 'x')),
      arm: ARM_PRIMARY,
      status: 200,
    }));
  const s = open();
  s.call.write(batch(1, records(1000))); // ~70 KB: over our limit, under gRPC's
  s.call.write(batch(2, records(1)));
  await waitFor('the small batch', () => p.ingest.counters.records === 1);
  assert.equal(p.ingest.counters.batchesRefused['oversized'], 1);
  assert.equal(s.status(), undefined, 'the stream is still open');

  const big = open();
  big.call.write(batch(1, records(5000))); // ~350 KB: over gRPC's limit
  await waitFor('the oversized stream to end', () => big.status() !== undefined);
  assert.equal(big.status()!.code, grpc.status.RESOURCE_EXHAUSTED);
  s.call.write(batch(3, records(1)));
  await waitFor('the first stream to be served still', () => p.ingest.counters.batches === 2);
});
