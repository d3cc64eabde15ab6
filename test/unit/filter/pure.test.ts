/**
 * The filter's pure logic (configuration, hashing, sampling helpers, request
 * ids, shadow headers, control decoding, batch encoding), compiled from
 * filter/assembly/testing/pure.ts with asc and run in Node's WebAssembly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import asc from 'assemblyscript/asc';
import protobuf from 'protobufjs';
import { projectRoot } from '../../../daemon/platform/envoy-binary.js';
import {
  FILTER_FIELDS,
  FILTER_NUMBER_LIMITS,
  filterConfigErrors,
} from '../../../daemon/xds/resources/filter-limits.js';

interface Pure {
  configError(text: string): string;
  configSummary(text: string): string;
  fnvChunked(bytes: Uint8Array, chunk: number): string;
  segmentPointOf(key: string): number;
  outcomeMilli(value: string): bigint;
  splitOf(key: string, percentage: number): string;
  normalise(path: string): string;
  cookie(header: string, name: string): string;
  pathOk(path: string, include: string, exclude: string): boolean;
  methodOk(method: string, methods: string): boolean;
  region(value: string, regions: string): number;
  recordId(id: string): Uint8Array | null;
  newUuid(seed: bigint): string;
  shadowHeaders(keys: string, values: string, strip: string, id: string): string;
  control(bytes: Uint8Array): string;
  controlSplit(bytes: Uint8Array): number;
  localReplyFlags(body: string): number;
  resetTelemetry(capacity: number): void;
  addRecord(
    id: string,
    arm: number,
    endpoint: string,
    segment: string,
    cluster: string,
    startUs: bigint,
    status: number,
  ): bigint;
  takeBatch(sequence: bigint, baseUs: bigint, max: number): Uint8Array;
  newStream(): void;
  buffered(): number;
}

const root = projectRoot();
let dir = '';
let pure: Pure;
const aborts: string[] = [];
const protoRoot = protobuf.loadSync(join(root, 'proto', 'umbra', 'telemetry', 'v1', 'telemetry.proto'));
const Batch = protoRoot.lookupType('umbra.telemetry.v1.Batch');
const Control = protoRoot.lookupType('umbra.telemetry.v1.Control');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-filter-unit-'));
  const out = join(dir, 'pure.wasm');
  const { error, stderr } = await asc.main(
    [
      join(root, 'filter/assembly/testing/pure.ts'),
      '--outFile',
      out,
      '--target',
      'debug',
      '--sourceMap',
      'false',
      '--bindings',
      'raw',
      '--exportRuntime',
      '--runtime',
      'incremental',
    ],
    {},
  );
  if (error) throw new Error(`asc failed: ${stderr.toString()}`);
  const glue = (await import(pathToFileURL(join(dir, 'pure.js')).href)) as {
    instantiate(m: WebAssembly.Module, imports: object): Promise<Pure>;
  };
  const module = new WebAssembly.Module(await import('node:fs').then((fs) => fs.readFileSync(out)));
  let memory: WebAssembly.Memory | undefined;
  const env = {
    proxy_log(_level: number, ptr: number, size: number): number {
      if (memory) aborts.push(Buffer.from(memory.buffer, ptr, size).toString());
      return 0;
    },
  };
  pure = await glue.instantiate(module, { env });
  memory = (pure as unknown as { memory: WebAssembly.Memory }).memory;
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const minimal = { service: 'shop', candidateCluster: 'candidate' };
const cfg = (o: object): string => JSON.stringify({ ...minimal, ...o });

describe('configuration', () => {
  test('a minimal configuration is valid and gets the documented defaults', () => {
    assert.equal(pure.configError(cfg({})), '');
    const s = pure.configSummary(cfg({}));
    for (const part of [
      'shadowPercentage=0.0',
      'mirroringStrategy=random',
      'methods=GET,HEAD,OPTIONS',
      'maxBodyBytes=65536',
      'stripHeaders=authorization,cookie,proxy-authorization',
      'shadowTimeoutMs=5000',
      'maxShadowInFlight=64',
      'breakerFailures=16',
      'batchMaxRecords=256',
      'flushIntervalMs=1000',
      'bufferMaxRecords=8192',
      'liveSampleEvery=1',
      'endpointFrom=route',
    ]) {
      assert.ok(s.includes(part), `${part} in ${s}`);
    }
  });

  test('every error names the field path', () => {
    const cases: [string, string][] = [
      ['{', '(root): not valid JSON: expected a member name at offset 1'],
      ['{"service": "a', '(root): not valid JSON: unterminated string at offset 14'],
      ['[]', '(root): must be a JSON object'],
      [
        '{"service":"a","candidateCluster":"b",}',
        '(root): not valid JSON: expected a member name at offset 38',
      ],
      ['{"service":"a","service":"b"}', '(root): not valid JSON: duplicate member "service" at offset 28'],
      [cfg({ shadowPercentage: 100.5 }), 'shadowPercentage: must be a number in 0..100'],
      [cfg({ shadowPercentage: '10' }), 'shadowPercentage: must be a number in 0..100'],
      [JSON.stringify({ candidateCluster: 'c' }), 'service: is required'],
      [cfg({ candidateCluster: '' }), 'candidateCluster: must not be empty'],
      [
        cfg({ mirroringStrategy: 'canary' }),
        'mirroringStrategy: must be one of random, user-segment, geographic',
      ],
      [
        cfg({ mirroringStrategy: 'user-segment' }),
        'segmentHeader: user-segment needs segmentHeader or segmentCookie',
      ],
      [
        cfg({ mirroringStrategy: 'geographic', regionHeader: 'x-region' }),
        'regions: must list at least one region for the geographic strategy',
      ],
      [cfg({ methods: 'GET' }), 'methods: must be an array of strings'],
      [cfg({ excludePaths: ['/a', ''] }), 'excludePaths[1]: must be a non-empty string'],
      [cfg({ maxBodyBytes: 1.5 }), 'maxBodyBytes: must be an integer in 0..67108864'],
      [cfg({ flushIntervalMs: 0 }), 'flushIntervalMs: must be an integer in 10..600000'],
      [cfg({ baselineCluster: 'candidate' }), 'baselineCluster: must differ from candidateCluster'],
      [cfg({ batchMaxRecords: 100, bufferMaxRecords: 50 }), 'bufferMaxRecords: must be >= batchMaxRecords'],
      [cfg({ shadowPercent: 5 }), 'shadowPercent: unknown field'],
      [cfg({ breakerCooldownMs: 0 }), 'breakerCooldownMs: must be an integer in 1..600000'],
      [cfg({ endpointFrom: 'cluster' }), 'endpointFrom: must be one of route, path'],
    ];
    for (const [text, expected] of cases) assert.equal(pure.configError(text), expected, text);
  });

  test('the daemon knows exactly the fields the filter accepts (xds/resources/filter-limits.ts)', () => {
    // The filter's list of known fields, read from its source: a field added to one side only would make
    // the daemon refuse a configuration the filter takes, or push one the filter refuses.
    const source = readFileSync(new URL('../../../filter/assembly/config.ts', import.meta.url), 'utf8');
    const list = /const KNOWN: string\[\] = \[([^\]]*)\]/.exec(source)?.[1];
    assert.ok(list, 'KNOWN list found in filter/assembly/config.ts');
    const filterFields = [...list.matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]).sort();
    assert.deepEqual([...FILTER_FIELDS].sort(), filterFields);
  });

  test('the daemon checks the same bounds before it pushes a configuration (xds/resources/filter-limits.ts)', () => {
    for (const [field, { min, max, integer }] of Object.entries(FILTER_NUMBER_LIMITS)) {
      // Cross-checked fields need their partner moved out of the way at the edges.
      const base = field.startsWith('reconnect')
        ? { reconnectMinMs: 10, reconnectMaxMs: 3_600_000 }
        : field === 'batchMaxRecords' || field === 'bufferMaxRecords'
          ? { batchMaxRecords: 1, bufferMaxRecords: 1 << 20 }
          : field === 'splitPercentage'
            ? { segmentHeader: 'x-user' }
            : {};
      for (const value of [min, max]) {
        const c = { ...minimal, ...base, [field]: value };
        assert.equal(pure.configError(JSON.stringify(c)), '', `${field}=${value} is accepted by the filter`);
        assert.deepEqual(filterConfigErrors(c), [], `${field}=${value} is accepted by the daemon`);
      }
      const outside = [min - 1, max + 1, ...(integer ? [min + 0.5] : [])];
      for (const value of outside) {
        const c = { ...minimal, ...base, [field]: value };
        assert.notEqual(
          pure.configError(JSON.stringify(c)),
          '',
          `${field}=${value} is refused by the filter`,
        );
        assert.notDeepEqual(filterConfigErrors(c), [], `${field}=${value} is refused by the daemon`);
      }
    }
  });

  test('a split of users needs a user key, in the filter and in the daemon', () => {
    const c = { ...minimal, splitPercentage: 10 };
    assert.match(pure.configError(JSON.stringify(c)), /^splitPercentage: /);
    assert.deepEqual(filterConfigErrors(c), [
      'splitPercentage: a split of users needs segmentHeader or segmentCookie',
    ]);
    assert.equal(pure.configError(JSON.stringify({ ...c, segmentCookie: 'uid' })), '');
  });

  test('strings with escapes and fractional percentages parse', () => {
    assert.equal(pure.configError(cfg({ service: 'caf\u00e9 "x"\n', shadowPercentage: 0.25 })), '');
    assert.ok(pure.configSummary(cfg({ shadowPercentage: 0.25 })).includes('shadowPercentage=0.25'));
    assert.ok(pure.configSummary(cfg({ methods: ['get', 'Post'] })).includes('methods=GET,POST'));
  });
});

describe('hashing and sampling helpers', () => {
  test('FNV-1a 64 matches the reference vectors and is the same chunk by chunk', () => {
    assert.equal(pure.fnvChunked(new Uint8Array(0), 1), 'cbf29ce484222325');
    assert.equal(pure.fnvChunked(Buffer.from('a'), 1), 'af63dc4c8601ec8c');
    assert.equal(pure.fnvChunked(Buffer.from('foobar'), 4), '85944171f73967e8');
    const data = Buffer.alloc(100_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const whole = pure.fnvChunked(data, data.length);
    for (const chunk of [1, 7, 4096, 65536]) assert.equal(pure.fnvChunked(data, chunk), whole);
  });

  test('segment points are stable, spread over [0, 100) and match the documented formula', () => {
    const points = Array.from({ length: 2000 }, (_, i) => pure.segmentPointOf(`user-${i}`));
    assert.ok(points.every((p) => p >= 0 && p < 100));
    const below30 = points.filter((p) => p < 30).length;
    assert.ok(below30 > 2000 * 0.3 - 5 * 20.5 && below30 < 2000 * 0.3 + 5 * 20.5, `${below30}`);
    assert.equal(pure.segmentPointOf('alice'), pure.segmentPointOf('alice'));
    let h = 0xcbf29ce484222325n;
    for (const b of Buffer.from('alice')) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
    assert.equal(pure.segmentPointOf('alice'), (Number(h % 1_000_000n) * 100) / 1_000_000);
  });

  test('an A/B split puts a user in B above 100 − split on the segment circle, and raising it only adds users', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const inB = (pct: number) => new Set(keys.filter((k) => pure.splitOf(k, pct).startsWith('B')));
    for (const k of keys.slice(0, 50)) assert.equal(inB(30).has(k), pure.segmentPointOf(k) >= 70, k);
    const [b10, b30] = [inB(10), inB(30)];
    assert.ok([...b10].every((k) => b30.has(k)));
    assert.ok(b30.size > 2000 * 0.3 - 5 * 20.5 && b30.size < 2000 * 0.3 + 5 * 20.5, `${b30.size}`);
    assert.equal(inB(0).size, 0);
    let h = 0xcbf29ce484222325n;
    for (const b of Buffer.from('alice')) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
    assert.equal(pure.splitOf('alice', 50).split(' ')[1], String(Number((h ^ (h >> 32n)) & 0xffffffffn)));
  });

  test('outcome header values are read as non-negative decimals in thousandths', () => {
    assert.equal(pure.outcomeMilli('1'), 1000n);
    assert.equal(pure.outcomeMilli('0'), 0n);
    assert.equal(pure.outcomeMilli('2.5'), 2500n);
    assert.equal(pure.outcomeMilli('3.1256'), 3125n);
    assert.equal(pure.outcomeMilli('.5'), 500n);
    assert.equal(pure.outcomeMilli('99999999999'), 4294967295n);
    for (const bad of ['', '.', '-1', '1e3', 'yes', '1.2.3']) assert.equal(pure.outcomeMilli(bad), -1n, bad);
  });

  test('paths are normalised into endpoint names', () => {
    assert.equal(pure.normalise('/users/12345/orders?x=1'), '/users/:id/orders');
    assert.equal(pure.normalise('/o/0f8fad5b-d9cb-469f-a165-70867728950e'), '/o/:id');
    assert.equal(pure.normalise('/blob/deadbeef00/v2'), '/blob/:id/v2');
    assert.equal(pure.normalise('/'), '/');
    assert.equal(pure.normalise('?q'), '/');
    assert.equal(pure.normalise(`/${'z'.repeat(300)}`).length, 96);
  });

  test('cookies, paths, methods and regions', () => {
    assert.equal(pure.cookie('a=1; uid=42; b=2', 'uid'), '42');
    assert.equal(pure.cookie('uid=7', 'uid'), '7');
    assert.equal(pure.cookie('xuid=1; uid =9', 'uid'), '9');
    assert.equal(pure.cookie('uid=; a=1', 'uid'), '-');
    assert.equal(pure.cookie('a=1', 'uid'), '-');
    assert.equal(pure.pathOk('/api/x?y', '/api/', ''), true);
    assert.equal(pure.pathOk('/apix', '/api/', ''), false);
    assert.equal(pure.pathOk('/api/admin/1', '/api/', '/api/admin'), false);
    assert.equal(pure.pathOk('/x', '', '/api'), true);
    assert.equal(pure.methodOk('GET', 'GET,HEAD'), true);
    assert.equal(pure.methodOk('get', 'GET,HEAD'), false);
    assert.equal(pure.methodOk('POST', 'GET,HEAD'), false);
    assert.equal(pure.region('EU-West', 'us-east,eu-west'), 1);
    assert.equal(pure.region('eu', 'us-east,eu-west'), -1);
  });

  test('shadow answers made up by Envoy are recognised', () => {
    assert.equal(pure.localReplyFlags('upstream request timeout'), 1);
    assert.equal(pure.localReplyFlags('no healthy upstream'), 4);
    assert.equal(
      pure.localReplyFlags(
        'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure',
      ),
      4,
    );
    assert.equal(
      pure.localReplyFlags(
        'upstream connect error or disconnect/reset before headers. reset reason: overflow',
      ),
      4,
    );
    assert.equal(
      pure.localReplyFlags(
        'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
      ),
      2,
    );
    assert.equal(pure.localReplyFlags('service unavailable'), 0);
  });
});

describe('request ids and shadow headers', () => {
  test('UUIDs become 16 bytes, other ids their bytes (at most 64), malformed ones are refused', () => {
    assert.deepEqual(
      Buffer.from(pure.recordId('0F8FAD5B-d9cb-469f-a165-70867728950e')!).toString('hex'),
      '0f8fad5bd9cb469fa16570867728950e',
    );
    assert.equal(Buffer.from(pure.recordId('req-17')!).toString(), 'req-17');
    assert.equal(pure.recordId('x'.repeat(100))!.length, 64);
    assert.equal(pure.recordId('x'.repeat(129)), null);
    assert.equal(pure.recordId('has space'), null);
    assert.equal(pure.recordId(''), null);
    assert.equal(pure.recordId('0f8fad5b-d9cb-469f-a165-70867728950z')!.length, 36, 'not hex: kept as text');
    const id = pure.newUuid(42n);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(pure.newUuid(43n), id);
  });

  test('the copy drops stripped and hop-by-hop headers and carries the marker and the id', () => {
    const keys = [
      ':method',
      ':path',
      ':authority',
      'authorization',
      'cookie',
      'x-keep',
      'content-length',
      'x-request-id',
      'x-umbra-shadow',
    ];
    const values = ['GET', '/a', 'shop', 'Bearer t', 'c=1', 'yes', '10', 'old', '0'];
    const out = pure.shadowHeaders(keys.join('\n'), values.join('\n'), 'authorization,cookie', 'new-id');
    assert.equal(
      out,
      'x-umbra-shadow: 1\nx-request-id: new-id\n:method: GET\n:path: /a\n:authority: shop\nx-keep: yes\ncount: 6',
    );
    assert.equal(
      pure.shadowHeaders(':method\n:path', 'GET\n/', 'authorization', 'i'),
      'null',
      'no :authority',
    );
    // Names are matched whole, whatever their length: a 70-byte secret header
    // is stripped, one of the same length that differs by a byte is kept, and
    // so is a name as long as a stripped one ('accept' next to 'cookie').
    const long = `x-secret-${'a'.repeat(61)}`;
    const near = `x-secret-${'a'.repeat(60)}b`;
    const headers = (extra: string): string =>
      pure.shadowHeaders(
        [':method', ':path', ':authority', 'accept', 'cookie', extra].join('\n'),
        ['GET', '/', 'shop', '*/*', 'c=1', 's'].join('\n'),
        `cookie,${long}`,
        'id',
      );
    assert.match(headers(long), /count: 6$/, 'the long secret header is stripped');
    assert.match(headers(near), /count: 7$/, 'a name differing in its last byte is kept');
    assert.doesNotMatch(headers(near), /cookie/);
  });
});

describe('telemetry encoding', () => {
  test('control messages decode; malformed ones are refused, unknown fields skipped', () => {
    const ok = Control.encode(Control.create({ sequence: 3, kind: 1, shadowPercentage: 12.5 })).finish();
    assert.equal(pure.control(ok), '3,1,12.5');
    assert.equal(pure.control(ok.subarray(0, ok.length - 2)), 'null');
    const extra = Buffer.concat([Buffer.from(ok), Buffer.from([0x22, 0x02, 0x68, 0x69, 0x28, 0x05])]);
    assert.equal(pure.control(extra), '3,1,12.5');
    assert.equal(pure.control(new Uint8Array(0)), '0,0,0.0');
    const split = Control.encode(Control.create({ sequence: 4, kind: 5, splitPercentage: 30 })).finish();
    assert.equal(pure.control(split), '4,5,0.0');
    assert.equal(pure.controlSplit(split), 30);
  });

  test('batches carry meta, counters, records with relative start times, and each dictionary entry once per stream', () => {
    pure.resetTelemetry(4);
    pure.addRecord(
      '0f8fad5b-d9cb-469f-a165-70867728950e',
      1,
      'catalog',
      'bucket-3',
      'stable',
      1_000_000n,
      200,
    );
    pure.addRecord('0f8fad5b-d9cb-469f-a165-70867728950e', 2, 'catalog', 'bucket-3', '', 1_000_000n, 500);
    const first = Batch.decode(pure.takeBatch(1n, 1_000_500n, 10)) as unknown as {
      schemaVersion: number;
      proxyId: string;
      worker: number;
      service: string;
      sequence: { toString(): string };
      dict: { id: number; value: string }[];
      records: {
        arm: number;
        endpoint: number;
        segment: number;
        cluster: number;
        startDeltaUs: { toString(): string };
        status: number;
        requestId: Uint8Array;
      }[];
    };
    assert.equal(first.schemaVersion, 1);
    assert.equal(first.proxyId, 'node-1');
    assert.equal(first.worker, 7);
    assert.equal(first.service, 'shop');
    assert.equal(first.sequence.toString(), '1');
    const names = new Map(first.dict.map((e) => [e.id, e.value]));
    assert.deepEqual([...names.values()].sort(), ['bucket-3', 'catalog', 'stable']);
    assert.equal(first.records.length, 2);
    assert.equal(names.get(first.records[0]!.endpoint), 'catalog');
    assert.equal(names.get(first.records[0]!.segment), 'bucket-3');
    assert.equal(names.get(first.records[0]!.cluster), 'stable');
    assert.equal(first.records[1]!.cluster, 0, 'no cluster: 0');
    assert.equal(first.records[0]!.startDeltaUs.toString(), '-500');
    assert.equal(
      Buffer.from(first.records[0]!.requestId).toString('hex'),
      '0f8fad5bd9cb469fa16570867728950e',
    );
    assert.ok(pure.takeBatch(2n, 0n, 10).length < 60, 'an empty batch is small');

    pure.addRecord('b', 4, 'catalog', '', 'stable', 5n, 200);
    const second = Batch.decode(pure.takeBatch(3n, 0n, 10)) as unknown as { dict: unknown[] };
    assert.equal(second.dict.length, 0, 'entries are not repeated on the same stream');
    pure.newStream();
    pure.addRecord('c', 4, 'catalog', '', 'stable', 5n, 200);
    const third = Batch.decode(pure.takeBatch(1n, 0n, 10)) as unknown as { dict: { value: string }[] };
    assert.deepEqual(
      third.dict.map((e) => e.value).sort(),
      ['catalog', 'stable'],
      'a new stream gets them again',
    );
  });

  test('batches are canonical protobuf: zero fields left out, long entries and batches past the first buffer intact', () => {
    pure.resetTelemetry(400);
    pure.newStream();
    const longName = `/${'a'.repeat(300)}`;
    const longId = 'x'.repeat(64);
    pure.addRecord(longId, 1, longName, '', '', -5_000_000_000n, 503);
    pure.addRecord('', 4, 'catalog', '', 'stable', 7n, 0);
    for (let i = 0; i < 298; i++)
      pure.addRecord(`${longId.slice(0, 60)}${i}`, 2, 'e', 'eu', '', BigInt(i), 200);
    const bytes = pure.takeBatch(3n, 1n << 40n, 400);
    assert.ok(bytes.length > 16384, `a batch past the first buffer (${bytes.length} bytes)`);
    const decoded = Batch.decode(bytes);
    // protobufjs writes exactly the fields a decoded message carries, in field order: the same bytes back
    // mean every field was in order, well formed, and only the non-zero ones were written.
    assert.deepEqual(Buffer.from(Batch.encode(decoded).finish()), Buffer.from(bytes));
    const b = decoded as unknown as {
      dict: { id: number; value: string }[];
      records: { requestId: Uint8Array; arm: number; status: number; cluster: number; endpoint: number }[];
    };
    assert.equal(b.records.length, 300);
    const names = new Map(b.dict.map((e) => [e.id, e.value]));
    assert.equal(names.get(b.records[0]!.endpoint), longName, 'a dictionary entry over 127 bytes');
    assert.equal(Buffer.from(b.records[0]!.requestId).toString(), longId);
    assert.equal(b.records[1]!.requestId.length, 0, 'a live record carries no id');
    assert.equal(names.get(b.records[1]!.cluster), 'stable');
    assert.equal(b.records[299]!.status, 200);
  });

  test('the buffer is bounded: the oldest records go first and drops are counted', () => {
    pure.resetTelemetry(4);
    let dropped = 0n;
    const before = pure.addRecord('r0', 4, 'e', '', '', 0n, 200);
    for (let i = 1; i < 6; i++) dropped = pure.addRecord(`r${i}`, 4, 'e', '', '', BigInt(i), 200);
    assert.equal(dropped - before, 2n);
    assert.equal(pure.buffered(), 4);
    const b = Batch.decode(pure.takeBatch(1n, 0n, 3)) as unknown as {
      records: { requestId: Uint8Array }[];
      counters: { droppedRecords: { toString(): string } };
    };
    assert.deepEqual(
      b.records.map((r) => Buffer.from(r.requestId).toString()),
      ['r2', 'r3', 'r4'],
    );
    assert.equal(b.counters.droppedRecords.toString(), String(dropped));
    assert.equal(pure.buffered(), 1);
    assert.deepEqual(aborts, [], 'nothing aborted');
  });
});
