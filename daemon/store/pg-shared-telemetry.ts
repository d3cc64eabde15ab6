/**
 * Telemetry across the daemons of one PostgreSQL database (docs/ha.md):
 * where the proxies reach each daemon's telemetry (its row of
 * `umbra_daemons`), which the leader lists in the proxies' telemetry
 * cluster; and the leader's current order to each service's filters
 * (`umbra_control`, fenced), which every other daemon reads and sends on
 * the streams connected to it.
 */
import type { SyncPg } from './pg-bridge.js';
import type { SqlQuery, SqlResult } from './pg-protocol.js';
import { rowsOf } from './pg-sql.js';

/** What the filters of a service must do; a field never ordered is absent (telemetry/server.ts ControlState). */
export interface StoredControlState {
  percentage?: number;
  paused?: boolean;
  split?: number;
}

export interface StoredControl {
  service: string;
  state: StoredControlState;
  /** Grows with every order stored (any service). */
  seq: number;
  /** The lease term of the leader that stored it. */
  token: number;
}

export interface SharedTelemetry {
  /** Records where the proxies reach this daemon's telemetry (`host:port`). */
  advertise(address: string): void;
  /**
   * The telemetry addresses of the daemons whose lease rounds refreshed
   * their row within `liveMs` (those that told one), by daemon id.
   */
  members(liveMs: number): string[];
  /** Stores a service's current order (the whole state); fenced, like every leader's write. */
  saveControl(service: string, state: StoredControlState): void;
  /** Every service's stored order. */
  controls(): StoredControl[];
}

type Fenced = (queries: SqlQuery[]) => { results: SqlResult[]; failedAt?: number };

export function sharedTelemetry(db: SyncPg, fenced: Fenced, daemonId: string): SharedTelemetry {
  return {
    advertise(address) {
      db.query('UPDATE umbra_daemons SET telemetry = $2 WHERE id = $1', [daemonId, address]);
    },
    members(liveMs) {
      const rows = rowsOf<{ telemetry: string }>(
        db.query(
          `SELECT telemetry FROM umbra_daemons
           WHERE telemetry IS NOT NULL AND seen_at > clock_timestamp() - $1 * interval '1 millisecond'
           ORDER BY id`,
          [liveMs],
        ),
      );
      return rows.map((r) => r.telemetry);
    },
    saveControl(service, state) {
      fenced([
        {
          sql: `INSERT INTO umbra_control (service, percentage, paused, split, token, seq)
                VALUES ($1, $2, $3, $4, COALESCE((SELECT token FROM umbra_lease WHERE name = 'leader'), 0),
                        nextval('umbra_control_seq'))
                ON CONFLICT (service) DO UPDATE SET percentage = EXCLUDED.percentage, paused = EXCLUDED.paused,
                  split = EXCLUDED.split, token = EXCLUDED.token, seq = EXCLUDED.seq`,
          params: [service, state.percentage ?? null, state.paused ?? null, state.split ?? null],
        },
      ]);
    },
    controls() {
      type Row = {
        service: string;
        percentage: number | null;
        paused: boolean | null;
        split: number | null;
        token: string | number;
        seq: string | number;
      };
      return rowsOf<Row>(
        db.query('SELECT service, percentage, paused, split, token, seq FROM umbra_control ORDER BY service'),
      ).map((r) => ({
        service: r.service,
        state: {
          ...(r.percentage !== null ? { percentage: Number(r.percentage) } : {}),
          ...(r.paused !== null ? { paused: r.paused } : {}),
          ...(r.split !== null ? { split: Number(r.split) } : {}),
        },
        seq: Number(r.seq),
        token: Number(r.token),
      }));
    },
  };
}
