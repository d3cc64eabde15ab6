import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { LatencyHistogram } from '../../../daemon/aggregate/latency-histogram.js';
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { setLogLevel } from '../../../daemon/log.js';
import { StoreUnavailableError } from '../../../daemon/store/pg-bridge.js';
import { PG_MIGRATIONS } from '../../../daemon/store/pg-migrations.js';
import { openPostgresStore } from '../../../daemon/store/postgres.js';
import { waitFor } from '../../harness/wait.js';
import { freshPostgresUrl, postgresServer, startStoreKinds, stopStoreKinds } from './kinds.js';

setLogLevel('silent');

before(startStoreKinds);
after(stopStoreKinds);

function cell(second: number, pairs: number, failed: number, example: string): CellStats {
  const candidate = emptyPaired();
  candidate.pairs = pairs;
  candidate.errShadowOnly = failed;
  return {
    key: { service: 'checkout', endpoint: 'GET /cart', segment: 'eu', second },
    candidate,
    baseline: emptyPaired(),
    live: { stable: { requests: pairs, failed: 0, overTail: 0, latSumUs: 100 * pairs } },
    examples: { errors: [example] },
  };
}

const open = (url: string, daemonId?: string) =>
  openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, ...(daemonId ? { daemonId } : {}) });

test('cells of one second from two daemons add up; each daemon replaces only its own', async () => {
  const url = await freshPostgresUrl();
  const a = open(url, 'a');
  const b = open(url, 'b');
  try {
    a.saveCells([cell(100, 10, 1, 'r1')], 'd1');
    b.saveCells([cell(100, 5, 2, 'r2'), cell(101, 7, 0, 'r3')], 'd1');
    a.saveCells([cell(100, 12, 1, 'r1')], 'd1'); // a's second 100 again: replaced, not added
    const rows = a.listCells({ service: 'checkout', fromSecond: 0, toSecond: 1000 });
    assert.deepEqual(
      rows.map((r) => [r.cell.key.second, r.cell.candidate.pairs, r.cell.candidate.errShadowOnly]),
      [
        [100, 17, 3],
        [101, 7, 0],
      ],
    );
    assert.equal(rows[0]!.cell.live['stable']!.requests, 17);
    assert.deepEqual(rows[0]!.cell.examples.errors, ['r1', 'r2']);
    assert.equal(rows[0]!.deploymentId, 'd1');
  } finally {
    a.close();
    b.close();
  }
});

test('histograms of one minute from two daemons add up; each daemon replaces only its own', async () => {
  const url = await freshPostgresUrl();
  const a = open(url, 'a');
  const b = open(url, 'b');
  const row = (latenciesUs: number[]) => {
    const h = new LatencyHistogram();
    for (const v of latenciesUs) h.record(v);
    return {
      service: 'checkout',
      endpoint: 'GET /cart',
      arm: 'primary' as const,
      minute: 600,
      count: latenciesUs.length,
      encoded: h.encode(),
    };
  };
  try {
    a.saveHistograms([row([1000, 1000])]);
    b.saveHistograms([row([9000])]);
    a.saveHistograms([row([1000, 1000, 1000])]); // a's minute again: replaced, not added
    b.saveHistograms([{ ...row([5000]), arm: 'candidate' }]);
    const rows = a.listHistograms({ service: 'checkout', fromMinute: 0, toMinute: 6000 });
    assert.deepEqual(
      rows.map((r) => [r.arm, r.count]),
      [
        ['candidate', 1],
        ['primary', 4],
      ],
    );
    const sum = hdr.decodeFromCompressedBase64(rows[1]!.encoded);
    assert.equal(sum.totalCount, 4);
    assert.ok(sum.maxValue >= 8900, `the slow daemon's request is in the sum (max ${sum.maxValue})`);
  } finally {
    a.close();
    b.close();
  }
});

test('data outlives the connection; the schema version is recorded', async () => {
  const url = await freshPostgresUrl();
  const s = open(url);
  s.createDeployment({
    id: 'd1',
    service: 'checkout',
    version: 'v2',
    previousVersion: null,
    phase: 'shadowing',
    phaseData: {},
    createdAt: 1,
    updatedAt: 1,
  });
  s.close();
  const again = open(url);
  assert.equal(again.getDeployment('d1')!.phase, 'shadowing');
  assert.equal(again.schemaVersion(), PG_MIGRATIONS.length);
  again.close();
});

test('PostgreSQL restarted: requests fail within their bound while it is down, then the store reconnects', async () => {
  const url = await freshPostgresUrl();
  const s = open(url);
  try {
    assert.equal(s.listDeployments().length, 0);
    await postgresServer().halt();
    const t0 = Date.now();
    assert.throws(() => s.listDeployments(), StoreUnavailableError);
    assert.ok(Date.now() - t0 < 2000 + 1000, 'within the request bound');
    await postgresServer().resume();
    await waitFor('the store to answer again', () => s.listDeployments().length === 0, { timeoutMs: 15_000 });
  } finally {
    s.close();
  }
});
