/**
 * What the daemons of one database share for telemetry and for the leader's
 * ACK waits, on a real PostgreSQL: each daemon's telemetry address (listed
 * while the daemon is live), the leader's orders (fenced), and the nodes
 * connected to each daemon (counted while that daemon is live).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { setLogLevel } from '../../../daemon/log.js';
import { FencedError, openPostgresStore } from '../../../daemon/store/postgres.js';
import { usePostgres } from '../../harness/postgres.js';

setLogLevel('silent');

const server = usePostgres();

const open = (url: string, daemonId: string) =>
  openPostgresStore({ url, connectTimeoutMs: 2000, timeoutMs: 2000, daemonId });

async function withDb<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Registers daemons as joinDaemons does (the lease rounds keep `seen_at` fresh). */
const join = (c: pg.Client, ids: string[]) =>
  Promise.all(
    ids.map((id) =>
      c.query(
        `INSERT INTO umbra_daemons (id, address, config_hash, config, seen_at) VALUES ($1, '', '', '{}', clock_timestamp())`,
        [id],
      ),
    ),
  );
/** `id`'s last lease round was `ms` ago. */
const lastSeen = (c: pg.Client, id: string, ms: number) =>
  c.query(
    `UPDATE umbra_daemons SET seen_at = clock_timestamp() - $2 * interval '1 millisecond' WHERE id = $1`,
    [id, ms],
  );

test('the telemetry members are the live daemons that told their address, by id', async () => {
  const url = await server.database();
  const a = open(url, 'a');
  const b = open(url, 'b');
  try {
    await withDb(url, async (c) => {
      await join(c, ['a', 'b', 'c']);
      a.telemetry.advertise('10.0.0.1:7071');
      b.telemetry.advertise('10.0.0.2:7071');
      // c never told one (an older version): not listed.
      assert.deepEqual(a.telemetry.members(2000), ['10.0.0.1:7071', '10.0.0.2:7071']);
      await lastSeen(c, 'b', 3000);
      assert.deepEqual(a.telemetry.members(2000), ['10.0.0.1:7071']);
    });
  } finally {
    a.close();
    b.close();
  }
});

test('orders are stored whole per service, each with a new seq, and refused without the lease', async () => {
  const url = await server.database();
  const a = open(url, 'a');
  try {
    a.telemetry.saveControl('shop', { percentage: 5, paused: false });
    a.telemetry.saveControl('cart', { paused: true });
    const first = a.telemetry.controls();
    assert.deepEqual(
      first.map((r) => [r.service, r.state]),
      [
        ['cart', { paused: true }],
        ['shop', { percentage: 5, paused: false }],
      ],
    );
    a.telemetry.saveControl('shop', { percentage: 2.5, paused: true, split: 0 });
    const shop = a.telemetry.controls().find((r) => r.service === 'shop')!;
    assert.deepEqual(shop.state, { percentage: 2.5, paused: true, split: 0 });
    assert.ok(shop.seq > Math.max(...first.map((r) => r.seq)));
    // A daemon that does not hold the lease writes nothing.
    a.setFence(() => undefined);
    assert.throws(() => a.telemetry.saveControl('shop', { paused: false }), FencedError);
    assert.deepEqual(a.telemetry.controls().find((r) => r.service === 'shop')!.state, shop.state);
  } finally {
    a.close();
  }
});

test('the nodes connected to the other live daemons, with what they ACKed there, as each recorded them', async () => {
  const url = await server.database();
  const a = open(url, 'a');
  const b = open(url, 'b');
  const c = open(url, 'c');
  const nodes = (rows: { node: string }[]) => rows.map((r) => r.node);
  try {
    await withDb(url, async (db) => {
      await join(db, ['a', 'b', 'c']);
      const nack = { nodeId: 'edge-2', typeUrl: 'lds', version: 'v9', message: 'cannot bind' };
      b.xds.setStreams([
        { node: 'edge-1', acked: { CDS: 'c1', RDS: 'r1' } },
        { node: 'edge-2', acked: {}, nack },
      ]);
      c.xds.setStreams([{ node: 'edge-2', acked: { CDS: 'c2' } }]);
      a.xds.setStreams([{ node: 'edge-3', acked: {} }]);
      assert.deepEqual(a.xds.streamsElsewhere(2000), [
        { node: 'edge-1', acked: { CDS: 'c1', RDS: 'r1' } },
        { node: 'edge-2', acked: {}, nack },
        { node: 'edge-2', acked: { CDS: 'c2' } },
      ]);
      // b's proxy edge-1 went away.
      b.xds.setStreams([{ node: 'edge-2', acked: {} }]);
      assert.deepEqual(nodes(a.xds.streamsElsewhere(2000)), ['edge-2', 'edge-2']);
      // b and c die: their streams went with them.
      await lastSeen(db, 'b', 3000);
      await lastSeen(db, 'c', 3000);
      assert.deepEqual(a.xds.streamsElsewhere(2000), []);
      // Pruning forgets the rows of daemons not live for as long.
      a.xds.pruneAnswers(1000);
      const left = await db.query('SELECT daemon FROM umbra_xds_streams ORDER BY daemon');
      assert.deepEqual(
        left.rows.map((r: { daemon: string }) => r.daemon),
        ['a'],
      );
    });
  } finally {
    a.close();
    b.close();
    c.close();
  }
});
