import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import { setLogLevel } from '../../../daemon/log.js';
import { type BatchInput, encodeBatch, type RecordInput } from '../../../daemon/telemetry/encode.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import { ARM_CANDIDATE, ARM_LIVE, ARM_PRIMARY, FLAG_TIMEOUT } from '../../../daemon/wire/record-contract.js';

setLogLevel('silent');

const BASE = 1_732_700_000_000_000; // µs, a whole second

function setup() {
  const p = createPipeline({ pairing: { ttlUs: 1_000_000 }, aggregate: { closeDelayUs: 0 } });
  const cells: CellStats[] = [];
  p.aggregator.onSecond((c) => cells.push(...c));
  return { ...p, cells };
}

function batch(seq: number, records: RecordInput[], extra: Partial<BatchInput> = {}): Uint8Array {
  return encodeBatch({
    proxyId: 'envoy-1',
    worker: 0,
    service: 'checkout',
    sequence: seq,
    baseTimeUs: BASE,
    records,
    ...extra,
  });
}

const id = (s: string) => Buffer.from(s);

test('a batch flows to pairs and live counts; dictionary names the cell', () => {
  const { ingest, cells, pairer } = setup();
  const dict = [
    { id: 1, value: 'GET /cart' },
    { id: 2, value: 'eu' },
    { id: 3, value: 'checkout-v1' },
  ];
  const r1 = ingest.onBatch(
    7,
    batch(
      1,
      [
        {
          requestId: id('a'),
          arm: ARM_PRIMARY,
          endpoint: 1,
          segment: 2,
          startDeltaUs: 100,
          latencyUs: 1000,
          status: 200,
        },
        {
          requestId: id('b'),
          arm: ARM_LIVE,
          endpoint: 1,
          segment: 2,
          latencyUs: 900,
          status: 200,
          cluster: 3,
        },
      ],
      { dict },
    ),
    BASE + 10_000,
  );
  assert.deepEqual(r1, { ok: true, service: 'checkout', sequence: 1 });
  // Second batch uses the dictionary sent before.
  ingest.onBatch(
    7,
    batch(2, [
      {
        requestId: id('a'),
        arm: ARM_CANDIDATE,
        endpoint: 1,
        segment: 2,
        startDeltaUs: 300,
        latencyUs: 0,
        status: 0,
        flags: FLAG_TIMEOUT,
      },
    ]),
    BASE + 20_000,
  );
  assert.equal(pairer.counters.pairs, 1);
  ingest.advance(BASE + 10_000_000);
  assert.equal(cells.length, 1);
  const c = cells[0]!;
  assert.deepEqual(c.key, { service: 'checkout', endpoint: 'GET /cart', segment: 'eu', second: BASE / 1e6 });
  assert.equal(c.candidate.pairs, 1);
  assert.equal(c.candidate.errShadowOnly, 1);
  assert.deepEqual(c.live['checkout-v1'], {
    requests: 1,
    failed: 0,
    overTail: 0,
    latSumUs: 900,
    tailChecked: 0,
  });
  assert.equal(ingest.counters.records, 3);
  assert.equal(ingest.counters.batches, 2);
});

test('sequence gaps are counted, stale sequences refused, streams are independent', () => {
  const { ingest } = setup();
  const r = (seq: number) => batch(seq, [{ requestId: id(`r${seq}`), arm: ARM_PRIMARY, status: 200 }]);
  assert.equal(ingest.onBatch(1, r(1), BASE).ok, true);
  assert.equal(ingest.onBatch(1, r(4), BASE).ok, true);
  assert.deepEqual(ingest.onBatch(1, r(4), BASE), { ok: false, reason: 'stale_sequence' });
  assert.equal(ingest.onBatch(2, r(1), BASE).ok, true, 'a second stream starts at 1');
  assert.equal(ingest.counters.sequenceGaps, 2);
  assert.equal(ingest.streams.get(1)!.gapBatches, 2);
  assert.equal(ingest.counters.batchesRefused['stale_sequence'], 1);
});

test('garbage, a missing service, a new schema and a service change are refused and change nothing', () => {
  const { ingest, pairer } = setup();
  const good = batch(1, [{ requestId: id('a'), arm: ARM_PRIMARY, status: 200 }]);
  assert.equal(ingest.onBatch(1, good, BASE).ok, true);
  const before = pairer.counters.records;
  const refused = [
    [Buffer.from([0xff, 0xff, 0xff]), 'truncated'],
    [batch(2, [], { service: '' }), 'no_service'],
    [batch(2, [], { schemaVersion: 2 }), 'unsupported_schema'],
    [batch(2, [{ requestId: id('b'), arm: ARM_PRIMARY }], { service: 'payments' }), 'service_changed'],
  ] as const;
  for (const [bytes, reason] of refused) {
    assert.deepEqual(ingest.onBatch(1, bytes, BASE), { ok: false, reason });
  }
  assert.equal(pairer.counters.records, before, 'nothing from refused batches was applied');
  assert.equal(ingest.streams.get(1)!.lastSequence, 1);
  assert.equal(ingest.onBatch(1, batch(2, [], {}), BASE).ok, true, 'the stream carries on');
});

test('bad records are skipped and counted; unknown dictionary ids are named (unknown)', () => {
  const { ingest, cells } = setup();
  ingest.onBatch(
    1,
    batch(1, [
      { requestId: id('a'), arm: 9 },
      { requestId: new Uint8Array(0), arm: ARM_PRIMARY },
      { requestId: id('c'), arm: ARM_PRIMARY, endpoint: 77, status: 200 },
      { requestId: id('c'), arm: ARM_CANDIDATE, endpoint: 77, status: 200 },
    ]),
    BASE,
  );
  assert.deepEqual(ingest.counters.recordsSkipped, { unknown_arm: 1, no_request_id: 1 });
  ingest.advance(BASE + 10_000_000);
  assert.equal(cells[0]!.key.endpoint, '(unknown)');
});

test('filter counters are differenced; a restart (smaller value) counts from zero', () => {
  const { ingest } = setup();
  ingest.onBatch(1, batch(1, [], { counters: [100, 10] }), BASE);
  ingest.onBatch(1, batch(2, [], { counters: [150, 12] }), BASE);
  ingest.onBatch(1, batch(3, [], { counters: [5, 1] }), BASE);
  assert.equal(ingest.counters.filter['requests'], 155);
  assert.equal(ingest.counters.filter['mirrored'], 13);
});

test('the number of streams is capped', () => {
  const p = createPipeline({ ingest: { maxStreams: 2 } });
  assert.equal(p.ingest.openStream(1), true);
  assert.equal(p.ingest.openStream(2), true);
  assert.equal(p.ingest.openStream(3), false);
  p.ingest.closeStream(1);
  assert.equal(p.ingest.openStream(3), true);
  assert.equal(p.ingest.counters.batchesRefused['too_many_streams'], 1);
});
