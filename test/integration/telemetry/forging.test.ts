/**
 * Telemetry is not an open door: against the daemon's telemetry part over
 * real gRPC, a stream without the daemon's telemetry token is refused before
 * anything it sends is read; a batch from a proxy the daemon did not configure, or naming a
 * service it did not configure that proxy for, is refused and counted; and
 * one batch naming 21,000 junk series cannot fill the shared series registry
 * and blind the judge to the real proxy's records.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { parseConfig } from '../../../daemon/config/load.js';
import { setLogLevel } from '../../../daemon/log.js';
import { telemetryPart } from '../../../daemon/parts/telemetry.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { TOKEN_METADATA } from '../../../daemon/telemetry/server.js';
import { startUmbrad } from '../../../daemon/umbrad.js';
import { ARM_CANDIDATE, ARM_LIVE, ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';
import { openStream, telemetryClient, until } from './grpc-client.js';

setLogLevel('silent');

const config = (dir: string) =>
  [
    'daemon:',
    `  telemetry: { listen: "127.0.0.1:0", tokenFile: ${JSON.stringify(join(dir, 'telemetry.token'))} }`,
    '  xds: { nodes: [edge-1, edge-2] }',
    'services:',
    '  - name: checkout',
    '    stable: v1',
    '    provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:9001"] } } }',
  ].join('\n');

async function daemon(t: import('node:test').TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-forging-'));
  const loaded = parseConfig(config(dir));
  assert.ok(loaded.ok);
  const d = await startUmbrad(
    { config: loaded.config, store: openStore(':memory:'), pipeline: { maxSeries: 20_000 } },
    [telemetryPart({})],
  );
  const client = telemetryClient(d.context.telemetry!.port);
  t.after(async () => {
    client.close();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = readFileSync(join(dir, 'telemetry.token'), 'utf8').trim();
  /** A stream that presents `presented` (by default the daemon's token, as its filters do). */
  const open = (presented: string | null = token) => {
    const metadata = new grpc.Metadata();
    if (presented !== null) metadata.set(TOKEN_METADATA, presented);
    return openStream(client, metadata);
  };
  return { p: d.context.pipeline, open };
}

const batch = (o: {
  proxyId?: string;
  service?: string;
  seq: number;
  records?: Record<string, unknown>[];
  dict?: Record<string, unknown>[];
}) => ({
  schemaVersion: 1,
  proxyId: o.proxyId ?? 'edge-1',
  worker: 0,
  service: o.service ?? 'checkout',
  sequence: o.seq,
  baseTimeUs: Date.now() * 1000,
  dict: o.dict ?? [],
  records: o.records ?? [],
});

const pair = (id: string, endpoint: number, segment: number) => [
  { requestId: Buffer.from(id), arm: ARM_PRIMARY, endpoint, segment, status: 200, latencyUs: 100 },
  { requestId: Buffer.from(id), arm: ARM_CANDIDATE, endpoint, segment, status: 503, latencyUs: 90 },
];

test('a proxy the daemon did not configure, or a service it did not configure it for, is refused and counted', async (t) => {
  const { p, open } = await daemon(t);
  const dict = [{ id: 1, value: 'GET /cart' }];

  const stranger = open();
  stranger.call.write(batch({ proxyId: 'forger', seq: 1, records: pair('a', 1, 0), dict }));
  const otherService = open();
  otherService.call.write(batch({ service: 'payments', seq: 1, records: pair('b', 1, 0), dict }));
  await until(
    'both refusals',
    () =>
      p.ingest.counters.batchesRefused['unknown_proxy'] === 1 &&
      p.ingest.counters.batchesRefused['unknown_service'] === 1,
  );
  assert.equal(p.ingest.counters.records, 0, 'nothing of theirs reached pairing');
  assert.deepEqual(stranger.acks, [], 'a refused batch is not acknowledged');

  const real = open();
  real.call.write(batch({ seq: 1, records: pair('c', 1, 0), dict }));
  await until('the configured proxy’s pair', () => p.pairer.counters.pairs === 1);
  assert.deepEqual(real.acks, [1]);

  // A stream may not change its proxy id once it has one.
  real.call.write(batch({ proxyId: 'edge-2', seq: 2 }));
  await until('proxy_changed', () => p.ingest.counters.batchesRefused['proxy_changed'] === 1);
});

test('one batch of 21,000 junk series cannot blind the judge to the real proxy’s records', async (t) => {
  const { p, open } = await daemon(t);
  // 150 endpoints × 140 segments = 21,000 series, more than the registry's 20,000.
  const dict: Record<string, unknown>[] = [];
  for (let e = 1; e <= 150; e++) dict.push({ id: e, value: `GET /junk/${e}` });
  for (let s = 0; s < 140; s++) dict.push({ id: 1000 + s, value: `seg-${s}` });
  const records: Record<string, unknown>[] = [];
  for (let e = 1; e <= 150; e++) {
    for (let s = 0; s < 140; s++) {
      records.push({
        requestId: Buffer.from(`j${e}-${s}`),
        arm: ARM_PRIMARY,
        endpoint: e,
        segment: 1000 + s,
      });
    }
  }
  const junk = open();
  junk.call.write(batch({ seq: 1, records, dict }));
  await until('the junk batch', () => junk.acks.length === 1, 15_000);
  const skipped = p.ingest.counters.recordsSkipped;
  assert.equal(p.registry.seriesCount, 5_000, 'one stream adds at most its share (a quarter) of series');
  assert.equal(skipped['stream_series_limit'], 21_000 - 5_000, 'the excess is refused and counted');

  const real = open();
  real.call.write(
    batch({
      seq: 1,
      records: pair('r1', 1, 2),
      dict: [
        { id: 1, value: 'GET /cart' },
        { id: 2, value: 'eu' },
      ],
    }),
  );
  await until('the real pair', () => p.pairer.counters.pairs === 1);
  assert.ok(p.registry.knownSeries('checkout', 'GET /cart', 'eu') >= 0, 'the real series exists');
  assert.equal(skipped['series_limit'], undefined, 'the registry never filled');
});

test('a stream without the daemon’s telemetry token, or with a wrong one, is refused and counted; its pairs never count', async (t) => {
  const { p, open } = await daemon(t);
  const dict = [{ id: 1, value: 'GET /cart' }];
  const forged: Record<string, unknown>[] = [];
  for (let i = 0; i < 30; i++) forged.push(...pair(`f${i}`, 1, 0));

  const anonymous = open(null);
  anonymous.call.write(batch({ seq: 1, records: forged, dict }));
  const guessed = open('not-the-token');
  guessed.call.write(batch({ seq: 1, records: forged, dict }));
  await until('both streams ended', () => anonymous.status() !== undefined && guessed.status() !== undefined);

  assert.equal(anonymous.status()!.code, grpc.status.UNAUTHENTICATED);
  assert.equal(guessed.status()!.code, grpc.status.UNAUTHENTICATED);
  assert.equal(p.ingest.counters.batchesRefused['unauthenticated'], 2);
  assert.equal(p.ingest.counters.batches, 0);
  assert.equal(p.pairer.counters.pairs, 0, 'no forged pair reached the judge');

  const filter = open();
  filter.call.write(batch({ seq: 1, records: pair('real', 1, 0), dict }));
  await until('the filter’s pair', () => p.pairer.counters.pairs === 1);
});

test('junk upstream cluster names from one stream cannot fill the cluster registry for live records', async (t) => {
  const { p, open } = await daemon(t);
  // 3 batches × 3,500 names = 10,500, more than the registry's 10,000 clusters.
  const junk = open();
  for (let b = 0; b < 3; b++) {
    const dict: Record<string, unknown>[] = [];
    const records: Record<string, unknown>[] = [];
    for (let i = 1; i <= 3_500; i++) {
      dict.push({ id: b * 3_500 + i, value: `junk-cluster-${b}-${i}` });
      records.push({ arm: ARM_LIVE, cluster: b * 3_500 + i, status: 200, latencyUs: 10 });
    }
    junk.call.write(batch({ seq: b + 1, records, dict }));
  }
  await until('the junk batches', () => junk.acks.length === 3, 15_000);
  assert.equal(
    p.registry.clusterName.length,
    2_500,
    'one stream adds at most its share (a quarter) of cluster names',
  );
  assert.equal(p.ingest.counters.recordsSkipped['stream_cluster_limit'], 10_500 - 2_500);

  const real = open();
  real.call.write(
    batch({
      seq: 1,
      records: [{ arm: ARM_LIVE, cluster: 1, status: 200, latencyUs: 10 }],
      dict: [{ id: 1, value: 'shop-v1' }],
    }),
  );
  await until('the real live record', () => real.acks.length === 1);
  assert.ok(p.registry.knownCluster('shop-v1') >= 0, 'the real cluster is known');
  assert.equal(p.ingest.counters.recordsSkipped['cluster_limit'], undefined, 'the registry never filled');
});

test('streams that reconnect cannot add more than their proxy’s share; other proxies keep theirs', async (t) => {
  const { p, open } = await daemon(t);
  /** 6,000 new series (60 endpoints × 100 segments) named `tag`, from `proxyId`. */
  const flood = (proxyId: string, tag: string) => {
    const dict: Record<string, unknown>[] = [];
    const records: Record<string, unknown>[] = [];
    for (let e = 1; e <= 60; e++) dict.push({ id: e, value: `GET /${tag}/${e}` });
    for (let s = 0; s < 100; s++) dict.push({ id: 1000 + s, value: `seg-${s}` });
    for (let e = 1; e <= 60; e++)
      for (let s = 0; s < 100; s++)
        records.push({
          requestId: Buffer.from(`${tag}${e}-${s}`),
          arm: ARM_PRIMARY,
          endpoint: e,
          segment: 1000 + s,
        });
    const stream = open();
    stream.call.write(batch({ proxyId, seq: 1, records, dict }));
    return stream;
  };

  for (const tag of ['a', 'b', 'c']) {
    const s = flood('edge-1', tag);
    await until(`flood ${tag}`, () => s.acks.length === 1, 15_000);
  }
  const skipped = p.ingest.counters.recordsSkipped;
  assert.equal(p.registry.seriesCount, 10_000, 'one proxy id adds at most half of the registry');
  assert.equal(skipped['stream_series_limit'], 2 * 1_000, 'each of the first two streams hit its own share');
  assert.equal(skipped['proxy_series_limit'], 6_000, 'the third found its proxy’s share used up');

  const other = flood('edge-2', 'd');
  await until('the other proxy', () => other.acks.length === 1, 15_000);
  assert.equal(p.registry.seriesCount, 15_000, 'another proxy still adds its stream’s share');
});
