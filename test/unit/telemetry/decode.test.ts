import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import {
  BatchColumns,
  DEFAULT_DECODE_LIMITS,
  DecodeError,
  decodeBatch,
  hashRequestId,
  lastIdH2,
} from '../../../daemon/telemetry/decode.js';
import { setWasmDecoding } from '../../../daemon/telemetry/decode-wasm.js';
import { encodeBatch } from '../../../daemon/telemetry/encode.js';
import { ARM_CANDIDATE, ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';

const root = protobuf.loadSync(
  join(import.meta.dirname, '../../../proto/umbra/telemetry/v1/telemetry.proto'),
);
const Batch = root.lookupType('umbra.telemetry.v1.Batch');

function sample() {
  return {
    schemaVersion: 1,
    proxyId: 'envoy-1',
    worker: 3,
    service: 'checkout',
    sequence: 2 ** 40 + 7,
    baseTimeUs: 1_732_700_000_123_456,
    dict: [
      { id: 1, value: 'GET /cart' },
      { id: 2, value: 'eu' },
      { id: 3, value: 'checkout-v1' },
    ],
    counters: { requests: 1000, mirrored: 100, droppedRecords: 2 ** 33, streamReconnects: 1 },
    records: [
      {
        requestId: Buffer.from('9f2c8e0a1b2c4d5e8f90a1b2c3d4e5f6', 'hex'),
        arm: ARM_PRIMARY,
        endpoint: 1,
        segment: 2,
        startDeltaUs: -1234567,
        latencyUs: 5300,
        status: 200,
        flags: 0,
        responseBytes: 812,
        bodyHash: { low: 0xdeadbeef | 0, high: 0x9f2c0001 | 0, unsigned: true },
        cluster: 3,
        user: 0xfedcba98,
        outcomeMilli: 2500,
      },
      {
        requestId: Buffer.from('text-id-42'),
        arm: ARM_CANDIDATE,
        endpoint: 1,
        startDeltaUs: 2 ** 40,
        latencyUs: 4_000_000_000,
        status: 503,
        flags: 5,
        responseBytes: 2 ** 50,
      },
    ],
  };
}

test('decodes what protobufjs encodes, field for field', () => {
  const bytes = Batch.encode(Batch.fromObject(sample())).finish();
  const c = decodeBatch(bytes, new BatchColumns(1));
  assert.equal(c.schemaVersion, 1);
  assert.equal(c.proxyId, 'envoy-1');
  assert.equal(c.worker, 3);
  assert.equal(c.service, 'checkout');
  assert.equal(c.sequence, 2 ** 40 + 7);
  assert.equal(c.baseTimeUs, 1_732_700_000_123_456);
  assert.deepEqual(c.dictIds.slice(0, c.dictCount), [1, 2, 3]);
  assert.deepEqual(c.dictValues.slice(0, c.dictCount), ['GET /cart', 'eu', 'checkout-v1']);
  assert.equal(c.hasCounters, true);
  assert.deepEqual([...c.counters], [1000, 100, 0, 0, 0, 0, 0, 0, 0, 2 ** 33, 0, 1]);
  assert.equal(c.count, 2);
  assert.equal(c.arm[0], ARM_PRIMARY);
  assert.equal(c.endpoint[0], 1);
  assert.equal(c.segment[0], 2);
  assert.equal(c.startDeltaUs[0], -1234567);
  assert.equal(c.latencyUs[0], 5300);
  assert.equal(c.status[0], 200);
  assert.equal(c.responseBytes[0], 812);
  assert.equal(c.hashLo[0], 0xdeadbeef | 0);
  assert.equal(c.hashHi[0], 0x9f2c0001 | 0);
  assert.equal(c.cluster[0], 3);
  assert.equal(c.user[0], 0xfedcba98);
  assert.equal(c.outcomeMilli[0], 2500);
  assert.equal(c.user[1], 0);
  assert.equal(
    Buffer.from(c.buf.subarray(c.idOff[0]!, c.idOff[0]! + c.idLen[0]!)).toString('hex'),
    '9f2c8e0a1b2c4d5e8f90a1b2c3d4e5f6',
  );
  assert.equal(c.startDeltaUs[1], 2 ** 40);
  assert.equal(c.latencyUs[1], 4_000_000_000);
  assert.equal(c.flags[1], 5);
  assert.equal(c.responseBytes[1], 2 ** 50);
  assert.equal(c.segment[1], 0);
  // The inline hash is the exported one.
  const id = Buffer.from('text-id-42');
  assert.equal(c.idH1[1], hashRequestId(id));
  assert.equal(c.idH2[1], lastIdH2);
});

test('our encoder round-trips through protobufjs and our decoder', () => {
  const bytes = encodeBatch({
    proxyId: 'p',
    worker: 1,
    service: 's',
    sequence: 9,
    baseTimeUs: 1_732_700_000_000_001,
    dict: [{ id: 1, value: 'e' }],
    counters: [5, 4],
    records: [
      {
        requestId: Buffer.from('a'),
        arm: 2,
        endpoint: 1,
        startDeltaUs: -5,
        latencyUs: 7,
        status: 200,
        hashLo: -1,
        hashHi: 3,
      },
    ],
  });
  const viaPb = Batch.toObject(Batch.decode(bytes), { longs: Number }) as Record<string, unknown>;
  assert.equal(viaPb['service'], 's');
  assert.equal(viaPb['baseTimeUs'], 1_732_700_000_000_001);
  const rec = (viaPb['records'] as Record<string, unknown>[])[0]!;
  assert.equal(rec['startDeltaUs'], -5);
  const c = decodeBatch(bytes, new BatchColumns());
  assert.equal(c.hashLo[0], -1);
  assert.equal(c.hashHi[0], 3);
  assert.equal(c.startDeltaUs[0], -5);
  assert.deepEqual([...c.counters.subarray(0, 2)], [5, 4]);
});

test('unknown fields are skipped at every level', () => {
  const known = Buffer.from(
    encodeBatch({ service: 's', records: [{ requestId: Buffer.from('x'), arm: 1, status: 200 }] }),
  );
  // field 99 varint, field 100 length-delimited, field 101 fixed32, field 102 fixed64
  const extra = Buffer.from([
    0x98, 0x06, 0x2a, 0xa2, 0x06, 0x02, 0x41, 0x42, 0xad, 0x06, 1, 2, 3, 4, 0xb1, 0x06, 1, 2, 3, 4, 5, 6, 7,
    8,
  ]);
  const c = decodeBatch(Buffer.concat([extra, known, extra]), new BatchColumns());
  assert.equal(c.service, 's');
  assert.equal(c.count, 1);
  assert.equal(c.status[0], 200);
});

test('malformed and oversized batches fail with a reason, never anything else', () => {
  const cols = new BatchColumns(4);
  const cases: [Uint8Array, string][] = [
    [Buffer.from([0x22, 0x05, 0x61]), 'truncated'], // service runs past the end
    [Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'bad_varint'],
    [Buffer.from([0x0f]), 'bad_wire_type'], // field 1, wire type 7
    [Buffer.from([0x20, 0x01]), 'bad_wire_type'], // service as a varint
    [Buffer.from([0x00]), 'bad_tag'],
    [encodeBatch({ service: 'x'.repeat(2000) }), 'oversized'],
    [encodeBatch({ service: 's', records: [{ requestId: new Uint8Array(500), arm: 1 }] }), 'oversized'],
  ];
  for (const [bytes, reason] of cases) {
    assert.throws(
      () => decodeBatch(bytes, cols),
      (e: unknown) => e instanceof DecodeError && e.reason === reason,
      `expected ${reason}`,
    );
  }
  const many = encodeBatch({
    service: 's',
    records: Array.from({ length: 20 }, () => ({ requestId: Buffer.from('a'), arm: 1 })),
  });
  assert.throws(
    () => decodeBatch(many, cols, { ...DEFAULT_DECODE_LIMITS, maxRecords: 10 }),
    (e: unknown) => e instanceof DecodeError && e.reason === 'oversized',
  );
});

test('random garbage only ever yields DecodeError or a (meaningless) batch', () => {
  const cols = new BatchColumns(4);
  let x = 1;
  for (let n = 0; n < 3000; n++) {
    const len = n % 200;
    const bytes = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      bytes[i] = x >>> 24;
    }
    try {
      decodeBatch(bytes, cols);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `unexpected ${String(e)}`);
    }
  }
});

test('the WebAssembly fast path decodes exactly what the JavaScript decoder does', () => {
  // Records in the usual shape (some with large values the fast path declines),
  // records with fields out of order, repeated or unknown, and truncated batches.
  let x = 99;
  const rnd = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 4) % n;
  };
  const varint = (out: number[], v: number): void => {
    while (v >= 0x80) {
      out.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
  };
  const big = [0, 1, 127, 128, 300, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 + 5, 2 ** 40];
  const value = (): number => (rnd(4) === 0 ? big[rnd(big.length)]! : rnd(20_000));
  const record = (): number[] => {
    const fields: number[][] = [];
    const id = Array.from({ length: rnd(4) === 0 ? rnd(40) : 16 }, () => rnd(256));
    fields.push([0x0a, id.length, ...id]);
    for (const field of [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13]) {
      if (rnd(8) === 0) continue;
      const f = [field << 3];
      varint(f, value());
      fields.push(f);
    }
    if (rnd(8) !== 0) fields.splice(9, 0, [0x51, ...Array.from({ length: 8 }, () => rnd(256))]);
    if (rnd(6) === 0) fields.push([15 << 3, rnd(100)]); // unknown field
    if (rnd(6) === 0) fields.push([3 << 3, rnd(50)]); // repeated: last wins
    if (rnd(6) === 0) fields.reverse();
    return fields.flat();
  };
  const batch = (): Uint8Array => {
    const out: number[] = [0x22, 1, 0x73]; // service "s"
    const n = rnd(50);
    for (let i = 0; i < n; i++) {
      const r = record();
      out.push(0x4a);
      varint(out, r.length);
      out.push(...r);
      if (rnd(20) === 0) out.push(0x08, 1); // a header field between records
    }
    const bytes = Uint8Array.from(out);
    return rnd(10) === 0 ? bytes.subarray(0, rnd(bytes.length)) : bytes;
  };
  const columns = [
    'idOff',
    'idLen',
    'idH1',
    'idH2',
    'arm',
    'endpoint',
    'segment',
    'startDeltaUs',
    'latencyUs',
    'status',
    'flags',
    'responseBytes',
    'hashLo',
    'hashHi',
    'cluster',
    'user',
    'outcomeMilli',
  ] as const;
  const decodeBoth = (bytes: Uint8Array, wasm: boolean): unknown => {
    setWasmDecoding(wasm);
    try {
      const c = decodeBatch(bytes, new BatchColumns(4));
      return Object.fromEntries(columns.map((k) => [k, [...c[k].subarray(0, c.count)]]));
    } catch (err) {
      return (err as DecodeError).message;
    } finally {
      setWasmDecoding(true);
    }
  };
  let fastRecords = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = batch();
    const viaJs = decodeBoth(bytes, false);
    const viaWasm = decodeBoth(bytes, true);
    assert.deepEqual(viaWasm, viaJs, `batch ${i}`);
    if (typeof viaJs === 'object') fastRecords += (viaJs as { arm: number[] }).arm.length;
  }
  assert.ok(fastRecords > 1000, 'the batches hold enough records');
});
