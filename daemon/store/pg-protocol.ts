/** The messages between pg-bridge.ts (the daemon's thread) and pg-worker.ts (the connection's thread). */

/** One statement; with `expect`, a batch stops and rolls back unless exactly that many rows were affected. */
export interface SqlQuery {
  sql: string;
  params?: unknown[];
  expect?: number;
}

export interface SqlResult {
  rows: Record<string, unknown>[];
  rowCount: number;
}

export interface ConnectOptions {
  url: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
}

export type BridgeRequest = { id: number } & (
  | { op: 'connect'; options: ConnectOptions }
  | { op: 'query'; query: SqlQuery }
  | { op: 'batch'; queries: SqlQuery[] }
  | { op: 'begin' }
  | { op: 'commit' }
  | { op: 'rollback' }
  | { op: 'close' }
);

export type BridgeAnswer =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; message: string; code?: string };
