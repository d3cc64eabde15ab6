/**
 * The PostgreSQL implementation of {@link Store}, for several daemons on one
 * database (docs/ha.md). Synchronous like the SQLite store, through
 * pg-bridge.ts; the same tests run against both (test/unit/store/).
 *
 * Fencing: with a fence set (the leader's lease, daemon/ha/), every write of
 * the rollout machine and the judge (deployments, transitions, decisions,
 * models) checks, in its own transaction, that the lease row still names this
 * holder with this token and has not expired; otherwise it throws
 * {@link FencedError} and writes nothing. The row is locked FOR SHARE, so a
 * new holder cannot take the lease while such a write is in flight.
 */
import type { CellStats } from '../aggregate/stats.js';
import { logger } from '../log.js';
import { SqlError, SyncPg } from './pg-bridge.js';
import { PG_MIGRATIONS } from './pg-migrations.js';
import type { SqlQuery, SqlResult } from './pg-protocol.js';
import { type SharedSeconds, sharedSeconds } from './pg-shared.js';
import { type SharedTelemetry, sharedTelemetry } from './pg-shared-telemetry.js';
import { type SharedXds, sharedXds } from './pg-shared-xds.js';
import { mergeByKey, mergeHistograms, rowsOf, upserts, whereOf } from './pg-sql.js';
import {
  type ChaosRunDb,
  chaosRunFrom,
  DAY_MS,
  type DecisionDb,
  type DeploymentDb,
  decisionFrom,
  deploymentFrom,
  EXPERIMENT_COLUMNS,
  type ExperimentDb,
  experimentDb,
  experimentFrom,
  json,
  type ModelDb,
  modelFrom,
  PhaseConflictError,
  parse,
  type TransitionDb,
  transitionFrom,
} from './rows.js';
import type { HistogramRow, RetentionPolicy, Store, StoredCell, TransitionRow } from './store.js';

const log = logger('store');

/** The lease a write must hold: see daemon/ha/lease.ts. */
export interface Fence {
  /** The lease row's name. */
  name: string;
  holder: string;
  token: number;
}

/** A write refused because this daemon no longer holds the lease it was given. */
export class FencedError extends Error {}

export interface PostgresStoreOptions {
  url: string;
  /** Longest wait to open a connection, ms. */
  connectTimeoutMs: number;
  /** Longest wait for any one answer, ms (the daemon's thread waits that long at most). */
  timeoutMs: number;
  /**
   * The daemon whose cells this store writes (default ''). Each daemon keeps
   * its own row per cell key; `listCells` adds the rows of one key up (counts
   * add), so a second's cell is the sum of what every daemon saw of it.
   */
  daemonId?: string;
}

export interface PostgresStore extends Store {
  /** Sets (or clears, with undefined) the lease every fenced write checks. */
  setFence(fence: (() => Fence | undefined) | undefined): void;
  /** Watermarks and merged seconds of the daemons on the database (pg-shared.ts). */
  readonly seconds: SharedSeconds;
  /** What the leader publishes over xDS, and the answers of proxies connected to other daemons (pg-shared-xds.ts). */
  readonly xds: SharedXds;
  /** The daemons' telemetry addresses and the leader's orders to the filters (pg-shared-telemetry.ts). */
  readonly telemetry: SharedTelemetry;
}

/** Serialises migrations of daemons starting together (any constant shared by them). */
const MIGRATION_LOCK = 0x756d6272;

/** Applies pending migrations in one transaction; refuses a schema newer than this build. */
export function migratePostgres(db: SyncPg): number {
  return db.transaction(() => {
    db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    db.query('CREATE TABLE IF NOT EXISTS umbra_schema (version INTEGER NOT NULL)');
    const row = db.query('SELECT version FROM umbra_schema').rows[0] as { version: number } | undefined;
    let version = row?.version ?? 0;
    if (version > PG_MIGRATIONS.length) {
      throw new Error(
        `PostgreSQL schema version ${version} is newer than this umbra (${PG_MIGRATIONS.length}): upgrade umbrad`,
      );
    }
    if (!row) db.query('INSERT INTO umbra_schema (version) VALUES (0)');
    while (version < PG_MIGRATIONS.length) {
      db.query(PG_MIGRATIONS[version]!);
      version++;
      db.query('UPDATE umbra_schema SET version = $1', [version]);
      log.info('schema migrated', { store: 'postgres', version });
    }
    return version;
  });
}

const FENCE_SQL = `SELECT 1 FROM umbra_lease WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > clock_timestamp() FOR SHARE`;

/** Connects, migrates and returns the store; throws StoreUnavailableError when PostgreSQL cannot be reached. */
export function openPostgresStore(options: PostgresStoreOptions): PostgresStore {
  const db = new SyncPg({
    url: options.url,
    connectTimeoutMs: options.connectTimeoutMs,
    statementTimeoutMs: options.timeoutMs,
    timeoutMs: options.timeoutMs,
  });
  let version: number;
  try {
    db.connect();
    version = migratePostgres(db);
  } catch (err) {
    db.close();
    throw err;
  }
  let fence: (() => Fence | undefined) | undefined;
  const daemonId = options.daemonId ?? '';

  /** Runs `queries` atomically behind the fence (when set); returns their results, or the index that failed. */
  const fenced = (queries: SqlQuery[]): { results: SqlResult[]; failedAt?: number } => {
    const f = fence?.();
    if (fence && !f) throw new FencedError('this daemon does not hold the lease: write refused');
    const all = f
      ? [{ sql: FENCE_SQL, params: [f.name, f.holder, f.token], expect: 1 }, ...queries]
      : queries;
    const out = db.batch(all);
    if (f && out.failedAt === 0) {
      throw new FencedError(
        `lease ${f.name} token ${f.token} is no longer held by ${f.holder}: write refused`,
      );
    }
    return f
      ? {
          results: out.results.slice(1),
          ...(out.failedAt === undefined ? {} : { failedAt: out.failedAt - 1 }),
        }
      : out;
  };

  const one = <T>(sql: string, params: unknown[]): T | undefined => rowsOf<T>(db.query(sql, params))[0];
  const getDeployment = (id: string) => {
    const r = one<DeploymentDb>('SELECT * FROM deployments WHERE id = $1', [id]);
    return r ? deploymentFrom(r) : undefined;
  };

  return {
    setFence(f) {
      fence = f;
    },
    seconds: sharedSeconds(db, daemonId),
    xds: sharedXds(db, fenced, daemonId),
    telemetry: sharedTelemetry(db, fenced, daemonId),
    transaction: (fn) => db.transaction(fn),
    schemaVersion: () => version,
    close: () => db.close(),

    createDeployment(d) {
      try {
        fenced([
          {
            sql: `INSERT INTO deployments (id, service, version, previous_version, phase, phase_data, created_at, updated_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            params: [
              d.id,
              d.service,
              d.version,
              d.previousVersion,
              d.phase,
              json(d.phaseData),
              d.createdAt,
              d.updatedAt,
            ],
          },
        ]);
      } catch (err) {
        // The same words as SQLite's, so callers see one error for one mistake.
        if (err instanceof SqlError && err.code === '23505') {
          throw new Error(`UNIQUE constraint failed: deployments.id (${d.id})`);
        }
        throw err;
      }
    },
    getDeployment,
    listDeployments(filter = {}) {
      const { where, args } = whereOf([
        ['service = ?', filter.service],
        ['NOT (phase = ANY(?))', filter.excludePhases?.length ? filter.excludePhases : undefined],
      ]);
      args.push(filter.limit ?? null);
      const sql = `SELECT * FROM deployments${where} ORDER BY created_at DESC, id DESC LIMIT $${args.length}`;
      return rowsOf<DeploymentDb>(db.query(sql, args)).map(deploymentFrom);
    },
    transition(t): TransitionRow {
      const detail = json(t.detail);
      const out = fenced([
        {
          sql: `UPDATE deployments SET phase = $1, phase_data = COALESCE($2, phase_data), updated_at = $3
                WHERE id = $4 AND phase = $5`,
          params: [t.to, t.phaseData === undefined ? null : json(t.phaseData), t.at, t.deploymentId, t.from],
          expect: 1,
        },
        {
          sql: `INSERT INTO transitions (deployment_id, from_phase, to_phase, event, at, detail)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          params: [t.deploymentId, t.from, t.to, t.event, t.at, detail],
        },
      ]);
      if (out.failedAt !== undefined) {
        throw PhaseConflictError.of(t.deploymentId, t.from, getDeployment(t.deploymentId)?.phase);
      }
      return {
        id: Number(out.results[1]!.rows[0]!['id']),
        deploymentId: t.deploymentId,
        from: t.from,
        to: t.to,
        event: t.event,
        at: t.at,
        detail: parse(detail),
      };
    },
    updatePhaseData(id, phaseData, at) {
      const out = fenced([
        {
          sql: 'UPDATE deployments SET phase_data = $1, updated_at = $2 WHERE id = $3',
          params: [json(phaseData), at, id],
          expect: 1,
        },
      ]);
      if (out.failedAt !== undefined) throw new Error(`deployment ${id} does not exist`);
    },
    listTransitions(id) {
      return rowsOf<TransitionDb>(
        db.query('SELECT * FROM transitions WHERE deployment_id = $1 ORDER BY id', [id]),
      ).map(transitionFrom);
    },

    recordDecision(d) {
      const explanation = json(d.explanation);
      const out = fenced([
        {
          sql: `INSERT INTO decisions (deployment_id, service, at, verdict, score, threshold, model_version, explanation)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
          params: [
            d.deploymentId,
            d.service,
            d.at,
            d.verdict,
            d.score,
            d.threshold,
            d.modelVersion,
            explanation,
          ],
        },
      ]);
      return { ...d, id: Number(out.results[0]!.rows[0]!['id']), explanation: parse(explanation) };
    },
    getDecision(id) {
      const r = one<DecisionDb>('SELECT * FROM decisions WHERE id = $1', [id]);
      return r ? decisionFrom(r) : undefined;
    },
    listDecisions(filter = {}) {
      const { where, args } = whereOf([
        ['deployment_id = ?', filter.deploymentId],
        ['service = ?', filter.service],
      ]);
      args.push(filter.limit ?? null);
      const sql = `SELECT * FROM decisions${where} ORDER BY id DESC LIMIT $${args.length}`;
      return rowsOf<DecisionDb>(db.query(sql, args)).map(decisionFrom);
    },
    decisionCounts(afterId) {
      const max = one<{ id: number | null }>('SELECT MAX(id) AS id FROM decisions', []);
      const counts = rowsOf<{ service: string; verdict: string; count: number }>(
        db.query(
          'SELECT service, verdict, COUNT(*)::bigint AS count FROM decisions WHERE id > $1 GROUP BY service, verdict',
          [afterId],
        ),
      );
      return { lastId: max?.id ?? 0, counts };
    },

    saveCells(cells: CellStats[], deploymentId = null) {
      if (cells.length === 0) return;
      // One round trip for the whole second, atomic like SQLite's transaction.
      db.batch(
        upserts(
          'cells',
          ['service', 'endpoint', 'segment', 'second', 'daemon', 'deployment_id', 'stats'],
          'service, second, endpoint, segment, daemon',
          cells.map((c) => [
            c.key.service,
            c.key.endpoint,
            c.key.segment,
            c.key.second,
            daemonId,
            deploymentId ?? null,
            JSON.stringify(c),
          ]),
        ),
      );
    },
    listCells(query) {
      const { where, args } = whereOf([
        ['service = ?', query.service],
        ['second >= ?', query.fromSecond],
        ['second < ?', query.toSecond],
        ['endpoint = ?', query.endpoint],
        ['deployment_id = ?', query.deploymentId],
      ]);
      const sql = `SELECT deployment_id, stats FROM cells${where} ORDER BY second, endpoint, segment, daemon`;
      return mergeByKey(
        rowsOf<{ deployment_id: string | null; stats: string }>(db.query(sql, args)).map(
          (r): StoredCell => ({ deploymentId: r.deployment_id, cell: JSON.parse(r.stats) as CellStats }),
        ),
      );
    },
    saveHistograms(rows: HistogramRow[]) {
      if (rows.length === 0) return;
      db.batch(
        upserts(
          'histograms',
          ['service', 'endpoint', 'arm', 'minute', 'daemon', 'count', 'encoded'],
          'service, minute, endpoint, arm, daemon',
          rows.map((r) => [r.service, r.endpoint, r.arm, r.minute, daemonId, r.count, r.encoded]),
        ),
      );
    },
    listHistograms(query) {
      const { where, args } = whereOf([
        ['service = ?', query.service],
        ['minute >= ?', query.fromMinute],
        ['minute < ?', query.toMinute],
        ['endpoint = ?', query.endpoint],
        ['arm = ?', query.arm],
      ]);
      const sql = `SELECT service, endpoint, arm, minute, count, encoded FROM histograms${where}
                   ORDER BY minute, endpoint, arm, service, daemon`;
      return mergeHistograms(rowsOf<HistogramRow>(db.query(sql, args)));
    },

    saveModel(m) {
      const params = json(m.params);
      const trainedOn = json(m.trainedOn);
      const out = fenced([
        {
          sql: `INSERT INTO models (version, created_at, params, trained_on)
                VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM models), $1, $2, $3) RETURNING version`,
          params: [m.createdAt, params, trainedOn],
        },
      ]);
      const v = Number(out.results[0]!.rows[0]!['version']);
      return { version: v, createdAt: m.createdAt, params: parse(params), trainedOn: parse(trainedOn) };
    },
    saveChaosRun(r) {
      fenced([
        {
          sql: `INSERT INTO chaos_runs (id, service, phase, started_at, updated_at, data)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (id) DO UPDATE SET phase = EXCLUDED.phase, updated_at = EXCLUDED.updated_at,
                  data = EXCLUDED.data`,
          params: [r.id, r.service, r.phase, r.startedAt, r.updatedAt, json(r.data)],
        },
      ]);
    },
    listChaosRuns(filter = {}) {
      const { where, args } = whereOf([['service = ?', filter.service]]);
      const sql = `SELECT * FROM chaos_runs${where} ORDER BY started_at DESC, id DESC LIMIT $${args.length + 1}`;
      return rowsOf<ChaosRunDb>(db.query(sql, [...args, filter.limit ?? 100])).map(chaosRunFrom);
    },
    getModel(v) {
      const r = one<ModelDb>('SELECT * FROM models WHERE version = $1', [v]);
      return r ? modelFrom(r) : undefined;
    },
    latestModel() {
      const r = one<ModelDb>('SELECT * FROM models ORDER BY version DESC LIMIT 1', []);
      return r ? modelFrom(r) : undefined;
    },
    listModels(limit = 100) {
      return rowsOf<ModelDb>(
        db.query(
          'SELECT version, created_at, NULL AS params, trained_on FROM models ORDER BY version DESC LIMIT $1',
          [limit],
        ),
      ).map(modelFrom);
    },

    saveExperiment(e) {
      // Behind the fence: only the leader runs experiments.
      fenced(upserts('experiments', [...EXPERIMENT_COLUMNS], 'id', [experimentDb(e)]));
    },
    getExperiment(id) {
      const r = one<ExperimentDb>('SELECT * FROM experiments WHERE id = $1', [id]);
      return r ? experimentFrom(r) : undefined;
    },
    listExperiments(filter = {}) {
      const { where, args } = whereOf([['service = ?', filter.service]]);
      args.push(filter.limit ?? null);
      const sql = `SELECT * FROM experiments${where} ORDER BY started_at DESC, id DESC LIMIT $${args.length}`;
      return rowsOf<ExperimentDb>(db.query(sql, args)).map(experimentFrom);
    },

    prune(policy: RetentionPolicy, nowMs: number) {
      const queries: SqlQuery[] = [];
      const kinds: ('cells' | 'histograms' | 'decisions')[] = [];
      if (policy.cellsDays !== undefined) {
        kinds.push('cells');
        queries.push({
          sql: 'DELETE FROM cells WHERE second < $1',
          params: [Math.floor((nowMs - policy.cellsDays * DAY_MS) / 1000)],
        });
      }
      if (policy.histogramsDays !== undefined) {
        kinds.push('histograms');
        queries.push({
          sql: 'DELETE FROM histograms WHERE minute < $1',
          params: [Math.floor((nowMs - policy.histogramsDays * DAY_MS) / 1000)],
        });
      }
      if (policy.decisionsDays !== undefined) {
        kinds.push('decisions');
        queries.push({
          sql: 'DELETE FROM decisions WHERE at < $1',
          params: [nowMs - policy.decisionsDays * DAY_MS],
        });
      }
      const out = { cells: 0, histograms: 0, decisions: 0 };
      if (queries.length === 0) return out;
      const { results } = db.batch(queries);
      for (const [i, k] of kinds.entries()) out[k] = results[i]!.rowCount;
      if (out.cells + out.histograms + out.decisions > 0)
        log.info('retention pruned rows', { store: 'postgres', ...out });
      return out;
    },
  };
}
