/**
 * The daemons of one database (table `umbra_daemons`): each registers the
 * shared part of its configuration (shared-config.ts) when it starts, and a
 * daemon whose configuration differs from a live one's is refused, naming the
 * first setting that differs. A daemon is live while its lease rounds keep
 * its row fresh (lease.ts), within two lease times.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { UmbraConfig } from '../config/schema.js';
import { firstDifference, sharedConfig } from './shared-config.js';

/** Serialises joins of daemons starting together. */
const JOIN_LOCK = 0x756d6273;

/** Another live daemon on the database runs a different configuration. */
export class ConfigMismatchError extends Error {}

export interface JoinOptions {
  url: string;
  id: string;
  address: string;
  config: UmbraConfig;
  leaseMs: number;
  connectTimeoutMs: number;
}

/** Registers this daemon; throws {@link ConfigMismatchError} when a live daemon's configuration differs. */
export async function joinDaemons(o: JoinOptions): Promise<void> {
  const mine = sharedConfig(o.config);
  const text = JSON.stringify(mine);
  const hash = createHash('sha256').update(text).digest('hex');
  const c = new pg.Client({ connectionString: o.url, connectionTimeoutMillis: o.connectTimeoutMs });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [JOIN_LOCK]);
    const live = await c.query(
      `SELECT id, address, config FROM umbra_daemons
       WHERE id <> $1 AND config_hash <> $2 AND seen_at > clock_timestamp() - $3 * interval '1 millisecond'
       ORDER BY seen_at DESC`,
      [o.id, hash, 2 * o.leaseMs],
    );
    const other = live.rows[0] as { id: string; address: string; config: string } | undefined;
    if (other) {
      const at = firstDifference(JSON.parse(other.config), mine) ?? '(unknown)';
      throw new ConfigMismatchError(
        `umbra.yaml differs from the one daemon ${other.id} (${other.address}) runs on this database, at ${at}: ` +
          'every daemon of one database must run the same configuration (upgrade them one at a time: docs/ha.md)',
      );
    }
    await c.query(
      `INSERT INTO umbra_daemons (id, address, config_hash, config, seen_at) VALUES ($1, $2, $3, $4, clock_timestamp())
       ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, config_hash = EXCLUDED.config_hash,
         config = EXCLUDED.config, seen_at = EXCLUDED.seen_at`,
      [o.id, o.address, hash, text],
    );
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await c.end().catch(() => {});
  }
}
