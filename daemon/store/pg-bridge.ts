/**
 * A synchronous PostgreSQL connection for the synchronous store interface
 * (store.ts): requests go to a worker thread (pg-worker.ts) that owns one
 * `pg` connection; the daemon's thread blocks in Atomics.wait until the answer
 * is queued, at most `timeoutMs` per request. See docs/ha.md for why the
 * store stays synchronous.
 *
 * A request that times out replaces the worker (its connection closes, so
 * PostgreSQL rolls back whatever it had open); a transaction open at that
 * moment is lost, and every request inside it fails until it ends.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { logger } from '../log.js';
import type { BridgeAnswer, BridgeRequest, ConnectOptions, SqlQuery, SqlResult } from './pg-protocol.js';

const log = logger('store');

type Op = BridgeRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** PostgreSQL did not answer in time, or the connection to it failed. */
export class StoreUnavailableError extends Error {}

/** An error PostgreSQL reported for a statement, with its SQLSTATE. */
export class SqlError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** How the worker is started: the built .js file, or the .ts source under tsx (tests, benchmarks). */
function startWorker(port: MessagePort, signal: SharedArrayBuffer): Worker {
  const source = import.meta.url.endsWith('.ts');
  const file = new URL(source ? './pg-worker.ts' : './pg-worker.js', import.meta.url);
  const workerData = { port, signal };
  if (!source) return new Worker(file, { workerData, transferList: [port] });
  // NOTE: a worker does not inherit the `--import tsx` hooks of its parent
  // (Node 20); it registers them itself before loading the TypeScript source.
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(file.href)}); })`;
  return new Worker(code, { eval: true, workerData, transferList: [port] });
}

export interface SyncPgOptions extends ConnectOptions {
  /** Longest wait for one answer, ms. */
  timeoutMs: number;
}

export class SyncPg {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private readonly signal = new SharedArrayBuffer(4);
  private readonly counter = new Int32Array(this.signal);
  private nextId = 1;
  private depth = 0;
  private lostTransaction = false;
  private closed = false;

  constructor(private readonly options: SyncPgOptions) {}

  /** Connects (a worker and its connection); throws StoreUnavailableError when PostgreSQL cannot be reached. */
  connect(): void {
    this.ensureWorker();
  }

  query(sql: string, params?: unknown[]): SqlResult {
    return this.call({ op: 'query', query: { sql, ...(params ? { params } : {}) } }) as SqlResult;
  }

  /** Runs the queries atomically; `failedAt` is the index of the first unmet `expect` (all rolled back). */
  batch(queries: SqlQuery[]): { results: SqlResult[]; failedAt?: number } {
    return this.call({ op: 'batch', queries }) as { results: SqlResult[]; failedAt?: number };
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  /** Runs `fn` in one transaction; nested calls join the outer one. */
  transaction<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.call({ op: 'begin' });
    this.depth = 1;
    let out: T;
    try {
      out = fn();
    } catch (err) {
      this.endTransaction('rollback');
      throw err;
    }
    this.endTransaction('commit');
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.worker) {
      try {
        this.call({ op: 'close' }, Math.min(this.options.timeoutMs, 2000));
      } catch {
        // Closing anyway.
      }
      void this.worker.terminate();
    }
    this.worker = undefined;
  }

  private endTransaction(op: 'commit' | 'rollback'): void {
    const lost = this.lostTransaction;
    this.depth = 0;
    this.lostTransaction = false;
    if (lost) {
      if (op === 'commit')
        throw new StoreUnavailableError('PostgreSQL connection lost inside a transaction: rolled back');
      return;
    }
    this.call({ op });
  }

  private ensureWorker(): void {
    if (this.closed) throw new StoreUnavailableError('store closed');
    if (this.worker) return;
    const { port1, port2 } = new MessageChannel();
    const worker = startWorker(port2, this.signal);
    worker.unref();
    worker.on('error', (err) => log.error('store connection thread failed', { error: err }));
    this.worker = worker;
    this.port = port1;
    const { timeoutMs: _t, ...connect } = this.options;
    // Starting a thread (and, from source, compiling it) comes on top of connecting.
    this.send({ op: 'connect', options: connect }, this.options.connectTimeoutMs + 10_000);
  }

  private call(op: Op, timeoutMs = this.options.timeoutMs): unknown {
    if (this.lostTransaction) {
      throw new StoreUnavailableError('PostgreSQL connection lost inside this transaction');
    }
    this.ensureWorker();
    return this.send(op, timeoutMs);
  }

  private send(op: Op, timeoutMs: number): unknown {
    const id = this.nextId++;
    const port = this.port!;
    port.postMessage({ ...op, id } as BridgeRequest);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.counter, 0);
      for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
        const a = m.message as BridgeAnswer;
        if (a.id !== id) continue; // the answer to a request that timed out
        if (a.ok) return a.value;
        // A SQLSTATE is five characters; Node's own codes (ECONNREFUSED, …) are not.
        const sqlstate = a.code !== undefined && /^[0-9A-Z]{5}$/.test(a.code) ? a.code : undefined;
        if (sqlstate === undefined || sqlstate.startsWith('08') || sqlstate.startsWith('57P')) {
          if (op.op === 'connect') this.dropWorker();
          throw new StoreUnavailableError(`PostgreSQL unavailable: ${a.message}`);
        }
        throw new SqlError(a.message, sqlstate);
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      Atomics.wait(this.counter, 0, seen, left);
    }
    this.dropWorker();
    throw new StoreUnavailableError(`PostgreSQL did not answer within ${timeoutMs} ms (${op.op})`);
  }

  /** Replaces the worker on the next request; its connection (and any open transaction) goes with it. */
  private dropWorker(): void {
    if (this.depth > 0) this.lostTransaction = true;
    void this.worker?.terminate();
    this.port?.close();
    this.worker = undefined;
    this.port = undefined;
  }
}
