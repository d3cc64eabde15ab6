/**
 * The store `umbra daemon` runs on: SQLite at `daemon.store.path`, or, with
 * `daemon.store.postgres`, the shared PostgreSQL store of several daemons
 * (docs/ha.md): opened with retries while unreachable, joined only with the
 * same configuration as the live daemons, and led through a lease.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { UmbraConfig } from '../../config/schema.js';
import { LeaderLease } from '../../ha/lease.js';
import { joinDaemons } from '../../ha/members.js';
import { describeUrl, openSharedStore } from '../../ha/open.js';
import { openPostgresStore } from '../../store/postgres.js';
import { openStore } from '../../store/sqlite.js';
import type { Store } from '../../store/store.js';
import type { PartsOptions } from '../../umbrad.js';

export interface DaemonStore {
  store: Store;
  /** Where the store is, for the log (no credentials). */
  where: string;
  leadership?: NonNullable<PartsOptions['leadership']>;
}

/** Opens the daemon's store; throws an Error whose message is the one line to print. */
export async function openDaemonStore(config: UmbraConfig, signal: AbortSignal): Promise<DaemonStore> {
  const pgc = config.daemon.store.postgres;
  if (!pgc) {
    const path = config.daemon.store.path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return { store: openStore(path), where: path };
  }
  const id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const address = pgc.advertise ?? config.daemon.admin.listen;
  const store = await openSharedStore(pgc, { signal }, id);
  try {
    await joinDaemons({
      url: pgc.url,
      id,
      address,
      config,
      leaseMs: pgc.lease,
      connectTimeoutMs: pgc.connectTimeout,
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const lease = new LeaderLease({
    url: pgc.url,
    holder: id,
    address,
    leaseMs: pgc.lease,
    connectTimeoutMs: pgc.connectTimeout,
  });
  return { store, where: `postgres ${describeUrl(pgc.url)} as ${id}`, leadership: { lease, store } };
}

/**
 * The shared store a configuration names, for the commands that read the
 * store directly (`umbra report`, `umbra model train`): opened once, no retry
 * (the command fails with one line naming the setting); undefined when the
 * configuration uses SQLite (`daemon.store.path`).
 */
export function openConfiguredSharedStore(config: UmbraConfig): Store | undefined {
  const pgc = config.daemon.store.postgres;
  if (!pgc) return undefined;
  try {
    return openPostgresStore({ url: pgc.url, connectTimeoutMs: pgc.connectTimeout, timeoutMs: pgc.timeout });
  } catch (err) {
    throw new Error(`daemon.store.postgres (${describeUrl(pgc.url)}): ${(err as Error).message}`);
  }
}
