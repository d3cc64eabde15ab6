/**
 * Opens the shared store at a daemon's start: while PostgreSQL cannot be
 * reached, one clear line per attempt and another attempt after a growing
 * pause (0.5 s, doubling, at most 30 s); nothing else starts meanwhile, so
 * the daemon serves nothing it cannot stand behind. Anything that retrying
 * cannot mend (a newer schema, a refused password, no such database) is
 * thrown at once.
 */
import type { PostgresStore as PostgresStoreConfig } from '../config/schema.js';
import { logger } from '../log.js';
import { StoreUnavailableError } from '../store/pg-bridge.js';
import { openPostgresStore, type PostgresStore } from '../store/postgres.js';

const log = logger('ha');

/** `host:port/database` of a PostgreSQL URL, without its credentials (for logs and errors). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

export interface OpenRetry {
  /** Stops retrying (the daemon was asked to stop): the promise rejects. */
  signal?: AbortSignal;
  firstPauseMs?: number;
  maxPauseMs?: number;
}

/** Opens the store as daemon `daemonId` (its cells are its own: see postgres.ts). */
export async function openSharedStore(
  pgc: PostgresStoreConfig,
  retry: OpenRetry = {},
  daemonId = '',
): Promise<PostgresStore> {
  let pause = retry.firstPauseMs ?? 500;
  const maxPause = retry.maxPauseMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return openPostgresStore({
        url: pgc.url,
        connectTimeoutMs: pgc.connectTimeout,
        timeoutMs: pgc.timeout,
        daemonId,
      });
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) {
        throw new Error(`daemon.store.postgres (${describeUrl(pgc.url)}): ${(err as Error).message}`);
      }
      log.error('PostgreSQL unreachable; retrying', {
        at: 'daemon.store.postgres.url',
        server: describeUrl(pgc.url),
        error: err.message,
        attempt,
        retryInMs: pause,
      });
    }
    await new Promise<void>((resolve, reject) => {
      if (retry.signal?.aborted) return reject(new Error('stopped while waiting for PostgreSQL'));
      const t = setTimeout(resolve, pause);
      retry.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(new Error('stopped while waiting for PostgreSQL'));
      });
    });
    pause = Math.min(maxPause, pause * 2);
  }
}
