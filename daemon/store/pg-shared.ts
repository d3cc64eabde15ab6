/**
 * What the daemons of one PostgreSQL database share beyond the store
 * interface (docs/ha.md): each daemon's watermark of closed seconds, and the
 * sum of every daemon's cells of a second, which the leader's judge reads
 * once every live daemon closed it (daemon/ha/merged-seconds.ts).
 */
import type { CellStats } from '../aggregate/stats.js';
import type { SyncPg } from './pg-bridge.js';
import { mergeByKey, rowsOf } from './pg-sql.js';

/** One daemon of the database as the leader's judge sees it. */
export interface DaemonWatermark {
  daemon: string;
  /** The last second it closed (null: it has saved none yet). */
  second: number | null;
  /** Whether its lease rounds refreshed its row within the liveness window asked for. */
  live: boolean;
}

export interface SharedSeconds {
  /** Records that this daemon closed every second up to `second`; never moves back. */
  saveWatermark(second: number): void;
  /** Every daemon registered on the database (umbra_daemons), with its watermark. */
  watermarks(liveMs: number): DaemonWatermark[];
  /** Every service's cells of seconds [fromSecond, toSecond), summed over daemons, by second then key. */
  cellsBetween(fromSecond: number, toSecond: number): CellStats[];
}

export function sharedSeconds(db: SyncPg, daemonId: string): SharedSeconds {
  return {
    saveWatermark(second) {
      db.query(
        `INSERT INTO umbra_watermarks (daemon, second) VALUES ($1, $2)
         ON CONFLICT (daemon) DO UPDATE SET second = GREATEST(umbra_watermarks.second, EXCLUDED.second)`,
        [daemonId, second],
      );
    },
    watermarks(liveMs) {
      const rows = rowsOf<{ daemon: string; second: string | number | null; live: boolean }>(
        db.query(
          `SELECT d.id AS daemon, w.second,
                  d.seen_at > clock_timestamp() - $1 * interval '1 millisecond' AS live
           FROM umbra_daemons d LEFT JOIN umbra_watermarks w ON w.daemon = d.id ORDER BY d.id`,
          [liveMs],
        ),
      );
      return rows.map((r) => ({
        daemon: r.daemon,
        second: r.second === null ? null : Number(r.second),
        live: r.live,
      }));
    },
    cellsBetween(fromSecond, toSecond) {
      const rows = rowsOf<{ stats: string }>(
        db.query(
          `SELECT stats FROM cells WHERE second >= $1 AND second < $2
           ORDER BY second, service, endpoint, segment, daemon`,
          [fromSecond, toSecond],
        ),
      );
      return mergeByKey(
        rows.map((r) => ({ deploymentId: null, cell: JSON.parse(r.stats) as CellStats })),
      ).map((s) => s.cell);
    },
  };
}
