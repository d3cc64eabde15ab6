/**
 * The store implementations the same tests run against: SQLite in memory and
 * PostgreSQL (a real server from test/harness/postgres.ts, one fresh database
 * per opened store). Call {@link startStoreKinds} in `before` and
 * {@link stopStoreKinds} in `after`.
 */
import { openPostgresStore } from '../../../daemon/store/postgres.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import type { Store } from '../../../daemon/store/store.js';
import { type PostgresServer, startPostgres } from '../../harness/postgres.js';

export interface StoreKind {
  name: 'sqlite' | 'postgres';
  /** A new, empty, migrated store. */
  open(): Promise<Store>;
}

let server: PostgresServer | undefined;
let databases = 0;

export async function startStoreKinds(): Promise<void> {
  server = await startPostgres();
}

export async function stopStoreKinds(): Promise<void> {
  await server?.stop();
  server = undefined;
}

/** The PostgreSQL server behind the `postgres` kind (after {@link startStoreKinds}). */
export function postgresServer(): PostgresServer {
  if (!server) throw new Error('startStoreKinds() first');
  return server;
}

export async function freshPostgresUrl(): Promise<string> {
  return postgresServer().createDatabase(`store_${process.pid}_${++databases}`);
}

export const STORE_KINDS: StoreKind[] = [
  { name: 'sqlite', open: async () => openStore(':memory:') },
  {
    name: 'postgres',
    open: async () =>
      openPostgresStore({ url: await freshPostgresUrl(), connectTimeoutMs: 5000, timeoutMs: 10_000 }),
  },
];
