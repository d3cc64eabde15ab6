/**
 * The worker thread behind pg-bridge.ts: one `pg` connection, driven by
 * requests from the daemon's thread, answered in order. It knows SQL and
 * transactions, nothing of Umbra's tables.
 *
 * Each answer is posted on the port, then the shared counter is bumped and
 * notified, so the waiting thread (Atomics.wait) wakes with the answer queued.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import pg from 'pg';
import type { BridgeAnswer, BridgeRequest, SqlQuery, SqlResult } from './pg-protocol.js';

const { port, signal } = workerData as { port: MessagePort; signal: SharedArrayBuffer };
const counter = new Int32Array(signal);

// NOTE: pg returns BIGINT (int8) as a string to keep precision; every BIGINT
// the store keeps (Unix ms, ids, counts) is far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

let client: pg.Client | undefined;
let options: { url: string; connectTimeoutMs: number; statementTimeoutMs: number } | undefined;
/** Open transactions (BEGIN = 1; batches inside one use savepoints). */
let depth = 0;
/** The connection died inside a transaction: everything fails until it is ended. */
let broken = false;

async function connection(): Promise<pg.Client> {
  if (client) return client;
  if (!options) throw new Error('not connected');
  const c = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    application_name: 'umbrad',
  });
  c.on('error', () => {
    // A dropped connection: the next request opens another one.
    if (client === c) client = undefined;
    if (depth > 0) broken = true;
  });
  try {
    await c.connect();
  } catch (err) {
    await c.end().catch(() => {});
    throw err;
  }
  client = c;
  return c;
}

async function run(q: SqlQuery): Promise<SqlResult> {
  if (broken) throw new Error('the connection to PostgreSQL was lost inside a transaction');
  const c = await connection();
  try {
    const r = await c.query(q.sql, q.params as unknown[] | undefined);
    return { rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? 0 };
  } catch (err) {
    const code = (err as { code?: string }).code;
    // No SQLSTATE: the connection failed, not the statement.
    if (code === undefined && client === c) {
      client = undefined;
      if (depth > 0) broken = true;
      await c.end().catch(() => {});
    }
    throw err;
  }
}

/** Runs the queries atomically (a transaction, or a savepoint inside one); stops at the first unmet expectation. */
async function batch(queries: SqlQuery[]): Promise<{ results: SqlResult[]; failedAt?: number }> {
  const outer = depth === 0;
  // One statement outside a transaction is atomic by itself: no BEGIN and COMMIT round trips.
  if (outer && queries.length === 1 && queries[0]!.expect === undefined)
    return { results: [await run(queries[0]!)] };
  await run({ sql: outer ? 'BEGIN' : 'SAVEPOINT umbra_batch' });
  depth++;
  const results: SqlResult[] = [];
  try {
    for (const [i, q] of queries.entries()) {
      const r = await run(q);
      if (q.expect !== undefined && r.rowCount !== q.expect) {
        await end(outer, false);
        return { results, failedAt: i };
      }
      results.push(r);
    }
  } catch (err) {
    await end(outer, false).catch(() => {});
    throw err;
  }
  await end(outer, true);
  return { results };
}

async function end(outer: boolean, commit: boolean): Promise<void> {
  depth--;
  if (outer) {
    await finish(commit);
    return;
  }
  await run({ sql: commit ? 'RELEASE SAVEPOINT umbra_batch' : 'ROLLBACK TO SAVEPOINT umbra_batch' });
}

/** Ends the outer transaction; a connection lost inside it ends it too (PostgreSQL rolled it back). */
async function finish(commit: boolean): Promise<void> {
  depth = 0;
  if (broken) {
    broken = false;
    if (commit) throw new Error('the connection to PostgreSQL was lost inside a transaction: rolled back');
    return;
  }
  await run({ sql: commit ? 'COMMIT' : 'ROLLBACK' });
}

async function answer(req: BridgeRequest): Promise<unknown> {
  switch (req.op) {
    case 'connect':
      options = req.options;
      await connection();
      return null;
    case 'query':
      return run(req.query);
    case 'batch':
      return batch(req.queries);
    case 'begin':
      await run({ sql: 'BEGIN' });
      depth = 1;
      return null;
    case 'commit':
      await finish(true);
      return null;
    case 'rollback':
      await finish(false);
      return null;
    case 'close':
      await client?.end().catch(() => {});
      client = undefined;
      return null;
  }
}

// Requests are answered one at a time, in order, as the waiting thread sends one at a time.
let queue: Promise<void> = Promise.resolve();
port.on('message', (req: BridgeRequest) => {
  queue = queue.then(async () => {
    let msg: BridgeAnswer;
    try {
      msg = { id: req.id, ok: true, value: await answer(req) };
    } catch (err) {
      const e = err as { message?: string; code?: string };
      msg = { id: req.id, ok: false, message: String(e.message ?? err), ...(e.code ? { code: e.code } : {}) };
    }
    port.postMessage(msg);
    Atomics.add(counter, 0, 1);
    Atomics.notify(counter, 0);
  });
});
