import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { MergedSeconds } from '../../../daemon/ha/merged-seconds.js';
import { setLogLevel } from '../../../daemon/log.js';
import { openPostgresStore, type PostgresStore } from '../../../daemon/store/postgres.js';
import { usePostgres } from '../../harness/postgres.js';

setLogLevel('silent');

const server = usePostgres();

function cell(service: string, second: number, pairs: number, failed: number): CellStats {
  const candidate = emptyPaired();
  candidate.pairs = pairs;
  candidate.errShadowOnly = failed;
  return {
    key: { service, endpoint: 'GET /cart', segment: 'eu', second },
    candidate,
    baseline: emptyPaired(),
    live: { stable: { requests: pairs, failed, overTail: 0, latSumUs: 100 * pairs } },
    examples: {},
  };
}

/** Registers daemons as live members (their lease rounds would keep `seen_at` fresh). */
async function members(url: string, ids: string[]): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (const id of ids) {
    await c.query(
      `INSERT INTO umbra_daemons (id, address, config_hash, config, seen_at) VALUES ($1, '', '', '{}', clock_timestamp())`,
      [id],
    );
  }
  return c;
}

const LEASE_MS = 2000;

test('a second is judged once every live daemon closed it, as the sum of their cells', async () => {
  const url = await server.database();
  const a = openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, daemonId: 'a' });
  const b = openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, daemonId: 'b' });
  const sql = await members(url, ['a', 'b']);
  let clock = 0;
  const merged = new MergedSeconds({ seconds: a.seconds, leaseMs: LEASE_MS, now: () => clock });
  const seen: { second: number; cells: CellStats[] }[] = [];
  merged.onCells((cells, second) => seen.push({ second, cells }));
  try {
    a.seconds.saveWatermark(99);
    b.seconds.saveWatermark(99);
    merged.poll(); // the first second taken is 100

    // a closes 100; b has saved its cells of 100 but is still aggregating it (b is slow).
    a.saveCells([cell('checkout', 100, 10, 1), cell('search', 100, 4, 0)]);
    a.seconds.saveWatermark(100);
    b.saveCells([cell('checkout', 100, 5, 2)]);
    merged.poll();
    assert.equal(seen.length, 0, 'not judged while b has not closed 100');

    b.saveCells([cell('checkout', 100, 6, 2)]); // b's final cells of 100 replace its earlier ones
    b.seconds.saveWatermark(100);
    merged.poll();
    assert.deepEqual(
      seen.map((s) => [
        s.second,
        s.cells.map((c) => [c.key.service, c.candidate.pairs, c.candidate.errShadowOnly]),
      ]),
      [
        [
          100,
          [
            ['checkout', 16, 3],
            ['search', 4, 0],
          ],
        ],
      ],
      'judged once, the sum of both daemons',
    );
    assert.equal(seen[0]!.cells[0]!.live['stable']!.requests, 16);
    merged.poll();
    assert.equal(seen.length, 1, 'a second is handed on once');

    // b falls behind: 101 waits for it at most one lease from the moment a closed it.
    a.saveCells([cell('checkout', 101, 3, 0)]);
    a.seconds.saveWatermark(101);
    merged.poll();
    clock += LEASE_MS - 1;
    merged.poll();
    assert.equal(seen.length, 1, 'still waiting for b within the lease');
    clock += 1;
    merged.poll();
    assert.deepEqual(
      seen.slice(1).map((s) => [s.second, s.cells[0]!.candidate.pairs]),
      [[101, 3]],
      'taken with what the store holds once the lease passed',
    );

    // b dies: once its row is older than the lease it holds nothing back.
    await sql.query(
      `UPDATE umbra_daemons SET seen_at = clock_timestamp() - interval '1 hour' WHERE id = 'b'`,
    );
    a.saveCells([cell('checkout', 102, 2, 0)]);
    a.seconds.saveWatermark(102);
    merged.poll();
    assert.deepEqual(
      seen.slice(2).map((s) => s.second),
      [102],
    );
  } finally {
    await sql.end();
    a.close();
    b.close();
  }
});

test('a watermark never moves back', async () => {
  const url = await server.database();
  const a = openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, daemonId: 'a' });
  const sql = await members(url, ['a']);
  try {
    a.seconds.saveWatermark(10);
    a.seconds.saveWatermark(8);
    assert.deepEqual(a.seconds.watermarks(LEASE_MS), [{ daemon: 'a', second: 10, live: true }]);
  } finally {
    await sql.end();
    a.close();
  }
});

test('after a lease-long wait for a slow daemon, the others lose none of the seconds they are closing', async () => {
  const url = await server.database();
  const [a, b, c] = ['a', 'b', 'c'].map((daemonId) =>
    openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, daemonId }),
  ) as [PostgresStore, PostgresStore, PostgresStore];
  const sql = await members(url, ['a', 'b', 'c']);
  let clock = 0;
  const merged = new MergedSeconds({ seconds: a.seconds, leaseMs: LEASE_MS, now: () => clock });
  const seen: [number, number][] = [];
  const early: number[] = [];
  merged.onCells((cells, second) => {
    seen.push([second, cells[0]!.candidate.pairs]);
    if (merged.finalThrough() < second) early.push(second); // a run starting now would replay too little
  });
  try {
    for (const s of [a, b, c]) s.seconds.saveWatermark(99);
    merged.poll(); // the first second taken is 100

    // a (fast) closes 100-103; b closes 100-101 and is still aggregating 102; c is stuck at 99.
    a.saveCells([100, 101, 102, 103].map((s) => cell('checkout', s, 10, 0)));
    a.seconds.saveWatermark(103);
    b.saveCells([100, 101].map((s) => cell('checkout', s, 5, 0)));
    b.saveCells([cell('checkout', 102, 1, 0)]); // b's cells of 102 so far
    b.seconds.saveWatermark(101);
    merged.poll();
    clock += LEASE_MS;
    merged.poll();
    assert.deepEqual(
      seen,
      [
        [100, 15],
        [101, 15],
      ],
      'taken after a lease only up to what b closed, not up to a',
    );

    // b closes 102 and 103 a moment later: taken whole, c still behind.
    b.saveCells([cell('checkout', 102, 5, 0), cell('checkout', 103, 5, 0)]);
    b.seconds.saveWatermark(103);
    merged.poll();
    assert.deepEqual(
      seen.slice(2),
      [
        [102, 15],
        [103, 15],
      ],
      "b's final cells of 102 and 103 counted",
    );
    assert.equal(merged.finalThrough(), 103);
    assert.deepEqual(early, [], 'final for all before handed on');
  } finally {
    await sql.end();
    for (const s of [a, b, c]) s.close();
  }
});

test('a live daemon that saves no watermark is waited for one lease, not one lease per second', async () => {
  const url = await server.database();
  const a = openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, daemonId: 'a' });
  const b = openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, daemonId: 'b' });
  const sql = await members(url, ['a', 'b']); // b: an older version, live but never saving a watermark
  let clock = 0;
  const merged = new MergedSeconds({ seconds: a.seconds, leaseMs: LEASE_MS, now: () => clock });
  const seen: number[] = [];
  merged.onCells((_cells, second) => seen.push(second));
  try {
    a.seconds.saveWatermark(99);
    merged.poll(); // the first second taken is 100; b seen without a watermark

    a.saveCells([cell('checkout', 100, 1, 0)]);
    a.seconds.saveWatermark(100);
    merged.poll();
    assert.deepEqual(seen, [], 'b is waited for within the lease');
    clock += LEASE_MS;
    merged.poll();
    assert.deepEqual(seen, [100]);

    a.saveCells([cell('checkout', 101, 1, 0)]);
    a.seconds.saveWatermark(101);
    merged.poll();
    assert.deepEqual(seen, [100, 101], 'b no longer waited for');

    // b is upgraded and saves watermarks: waited for again.
    b.seconds.saveWatermark(101);
    a.saveCells([cell('checkout', 102, 1, 0)]);
    a.seconds.saveWatermark(102);
    merged.poll();
    assert.deepEqual(seen, [100, 101], 'waiting for b again');
    b.seconds.saveWatermark(102);
    merged.poll();
    assert.deepEqual(seen, [100, 101, 102]);
  } finally {
    await sql.end();
    a.close();
    b.close();
  }
});
