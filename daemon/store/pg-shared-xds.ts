/**
 * The xDS state the daemons of one PostgreSQL database share (docs/ha.md):
 * the leader stores every snapshot it publishes for a node (fenced: a daemon
 * that lost the lease cannot overwrite its successor's), the others read
 * and serve them, and record the ACKs and NACKs their proxies send, which
 * the leader reads back into its refusal handling.
 */
import type { SyncPg } from './pg-bridge.js';
import type { SqlQuery, SqlResult } from './pg-protocol.js';
import { rowsOf, upserts } from './pg-sql.js';

/** A proxy's answer received by another daemon: `ack` (an AckEvent) or `nack` (a NackRecord), as JSON. */
export interface StoredXdsAnswer {
  id: number;
  daemon: string;
  kind: 'ack' | 'nack';
  answer: unknown;
}

export interface SharedXds {
  /** Stores a node's snapshot (text of xds/snapshot-codec.ts) and versions; fenced, like every leader's write. */
  publish(node: string, versions: Record<string, string>, snapshot: string): void;
  /** The versions stored per node (compare, then read the snapshots that changed). */
  versions(): Map<string, string>;
  /** The stored snapshot text of a node, with its versions as stored. */
  snapshot(node: string): { versions: string; snapshot: string } | undefined;
  /** Records a proxy's answer received by this daemon. */
  recordAnswer(kind: 'ack' | 'nack', answer: unknown): void;
  /**
   * Answers of other daemons with an id above `afterId` (oldest first, at most
   * `limit`), and before them those with an id up to `afterId` recorded in the
   * last `windowMs` (the caller skips the ones it handled: see ha/xds-answers.ts).
   */
  answersAfter(afterId: number, windowMs: number, limit?: number): StoredXdsAnswer[];
  /** The highest answer id recorded at least `ageMs` ago (where a new leader starts reading). */
  answersBefore(ageMs: number): number;
  /** Deletes answers older than `ageMs`, and the streams of daemons not live for as long; returns how many answers. */
  pruneAnswers(ageMs: number): number;
  /** Records the nodes with an ADS stream open on this daemon now (replaces what it recorded before). */
  setStreams(nodes: readonly StoredXdsStream[]): void;
  /**
   * The nodes with a stream open on another daemon whose lease rounds
   * refreshed its row within `liveMs` (a dead daemon's streams are gone),
   * one entry per such daemon.
   */
  streamsElsewhere(liveMs: number): StoredXdsStream[];
}

/** A node with an ADS stream open on a daemon, as that daemon's xDS server sees it. */
export interface StoredXdsStream {
  node: string;
  /** The last version it ACKed there, by short type name (`CDS`…). */
  acked: Record<string, string>;
  /** Its refusal that stands there (a NackRecord), if any. */
  nack?: unknown;
}

type Fenced = (queries: SqlQuery[]) => { results: SqlResult[]; failedAt?: number };

export function sharedXds(db: SyncPg, fenced: Fenced, daemonId: string): SharedXds {
  return {
    publish(node, versions, snapshot) {
      fenced([
        {
          sql: `INSERT INTO umbra_xds (node, versions, snapshot, token)
                VALUES ($1, $2, $3, COALESCE((SELECT token FROM umbra_lease WHERE name = 'leader'), 0))
                ON CONFLICT (node) DO UPDATE SET versions = EXCLUDED.versions, snapshot = EXCLUDED.snapshot,
                  token = EXCLUDED.token`,
          params: [node, JSON.stringify(versions), snapshot],
        },
      ]);
    },
    versions() {
      const rows = rowsOf<{ node: string; versions: string }>(
        db.query('SELECT node, versions FROM umbra_xds'),
      );
      return new Map(rows.map((r) => [r.node, r.versions]));
    },
    snapshot(node) {
      return rowsOf<{ versions: string; snapshot: string }>(
        db.query('SELECT versions, snapshot FROM umbra_xds WHERE node = $1', [node]),
      )[0];
    },
    recordAnswer(kind, answer) {
      db.query('INSERT INTO umbra_xds_answers (daemon, kind, answer) VALUES ($1, $2, $3)', [
        daemonId,
        kind,
        JSON.stringify(answer),
      ]);
    },
    answersAfter(afterId, windowMs, limit = 1000) {
      type Row = { id: string | number; daemon: string; kind: 'ack' | 'nack'; answer: string };
      const late = rowsOf<Row>(
        db.query(
          `SELECT id, daemon, kind, answer FROM umbra_xds_answers
           WHERE id <= $1 AND daemon <> $2 AND at >= clock_timestamp() - $3 * interval '1 millisecond' ORDER BY id`,
          [afterId, daemonId, windowMs],
        ),
      );
      const fresh = rowsOf<Row>(
        db.query(
          'SELECT id, daemon, kind, answer FROM umbra_xds_answers WHERE id > $1 AND daemon <> $2 ORDER BY id LIMIT $3',
          [afterId, daemonId, limit],
        ),
      );
      return [...late, ...fresh].map((r) => ({
        id: Number(r.id),
        daemon: r.daemon,
        kind: r.kind,
        answer: JSON.parse(r.answer),
      }));
    },
    answersBefore(ageMs) {
      const row = rowsOf<{ id: string | number | null }>(
        db.query(
          `SELECT MAX(id) AS id FROM umbra_xds_answers WHERE at <= clock_timestamp() - $1 * interval '1 millisecond'`,
          [ageMs],
        ),
      )[0];
      return Number(row?.id ?? 0);
    },
    pruneAnswers(ageMs) {
      // The streams a daemon that died recorded (it is not live: nobody counts them any more).
      db.query(
        `DELETE FROM umbra_xds_streams s WHERE NOT EXISTS (SELECT 1 FROM umbra_daemons d WHERE d.id = s.daemon
           AND d.seen_at > clock_timestamp() - $1 * interval '1 millisecond')`,
        [ageMs],
      );
      return db.query(
        `DELETE FROM umbra_xds_answers WHERE at < clock_timestamp() - $1 * interval '1 millisecond'`,
        [ageMs],
      ).rowCount;
    },
    setStreams(nodes) {
      db.batch([
        { sql: 'DELETE FROM umbra_xds_streams WHERE daemon = $1', params: [daemonId] },
        // One multi-row statement per 1,000 nodes, as the cells are written.
        ...upserts(
          'umbra_xds_streams',
          ['daemon', 'node', 'acked', 'nack'],
          'daemon, node',
          nodes.map((n) => [
            daemonId,
            n.node,
            JSON.stringify(n.acked),
            n.nack === undefined ? null : JSON.stringify(n.nack),
          ]),
        ),
      ]);
    },
    streamsElsewhere(liveMs) {
      const rows = rowsOf<{ node: string; acked: string; nack: string | null }>(
        db.query(
          `SELECT s.node, s.acked, s.nack FROM umbra_xds_streams s JOIN umbra_daemons d ON d.id = s.daemon
           WHERE s.daemon <> $1 AND d.seen_at > clock_timestamp() - $2 * interval '1 millisecond'
           ORDER BY s.node, s.daemon`,
          [daemonId, liveMs],
        ),
      );
      return rows.map((r) => ({
        node: r.node,
        acked: JSON.parse(r.acked) as Record<string, string>,
        ...(r.nack !== null ? { nack: JSON.parse(r.nack) as unknown } : {}),
      }));
    },
  };
}
