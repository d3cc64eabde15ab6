/**
 * The SQLite implementation of {@link Store} (better-sqlite3 v12, WAL).
 * `openStore(':memory:')` gives a private in-memory database for tests.
 */
import Database from 'better-sqlite3';
import type { CellStats } from '../aggregate/stats.js';
import { logger } from '../log.js';
import { MIGRATIONS } from './migrations.js';
import { preparePrivateDatabase } from './private-files.js';
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
import type {
  HistogramArm,
  HistogramRow,
  RetentionPolicy,
  Store,
  StoredCell,
  TransitionRow,
} from './store.js';

const log = logger('store');

export { PhaseConflictError };

/** Applies pending migrations in one transaction each; returns the version reached. */
export function migrate(db: Database.Database): number {
  let version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`database schema version ${version} is newer than this umbra (${MIGRATIONS.length})`);
  }
  while (version < MIGRATIONS.length) {
    const sql = MIGRATIONS[version]!;
    const next = version + 1;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${next}`);
    })();
    log.info('schema migrated', { version: next });
    version = next;
  }
  return version;
}

/** Opens (creating if needed, owner-only: see private-files.ts) and migrates the database at `path`. */
export function openStore(path: string): Store {
  if (path !== ':memory:') preparePrivateDatabase(path);
  const db = new Database(path);
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const version = migrate(db);

  const q = {
    insDeployment: db.prepare(
      `INSERT INTO deployments (id, service, version, previous_version, phase, phase_data, created_at, updated_at)
       VALUES (@id, @service, @version, @previousVersion, @phase, @phaseData, @createdAt, @updatedAt)`,
    ),
    getDeployment: db.prepare('SELECT * FROM deployments WHERE id = ?'),
    setPhase: db.prepare(
      `UPDATE deployments SET phase = @to, phase_data = COALESCE(@phaseData, phase_data), updated_at = @at
       WHERE id = @id AND phase = @from`,
    ),
    setPhaseData: db.prepare('UPDATE deployments SET phase_data = ?, updated_at = ? WHERE id = ?'),
    insTransition: db.prepare(
      `INSERT INTO transitions (deployment_id, from_phase, to_phase, event, at, detail)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    listTransitions: db.prepare('SELECT * FROM transitions WHERE deployment_id = ? ORDER BY id'),
    insDecision: db.prepare(
      `INSERT INTO decisions (deployment_id, service, at, verdict, score, threshold, model_version, explanation)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertCell: db.prepare(
      `INSERT OR REPLACE INTO cells (service, endpoint, segment, second, deployment_id, stats)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    upsertHistogram: db.prepare(
      `INSERT OR REPLACE INTO histograms (service, endpoint, arm, minute, count, encoded)
       VALUES (@service, @endpoint, @arm, @minute, @count, @encoded)`,
    ),
    insModel: db.prepare(
      `INSERT INTO models (version, created_at, params, trained_on)
       VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM models), ?, ?, ?) RETURNING version`,
    ),
    getModel: db.prepare('SELECT * FROM models WHERE version = ?'),
    latestModel: db.prepare('SELECT * FROM models ORDER BY version DESC LIMIT 1'),
    listModels: db.prepare(
      'SELECT version, created_at, NULL AS params, trained_on FROM models ORDER BY version DESC LIMIT ?',
    ),
    upsertChaosRun: db.prepare(
      `INSERT OR REPLACE INTO chaos_runs (id, service, phase, started_at, updated_at, data)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    saveExperiment: db.prepare(
      `INSERT OR REPLACE INTO experiments (${EXPERIMENT_COLUMNS.join(', ')})
       VALUES (${EXPERIMENT_COLUMNS.map(() => '?').join(', ')})`,
    ),
    getExperiment: db.prepare('SELECT * FROM experiments WHERE id = ?'),
    pruneCells: db.prepare('DELETE FROM cells WHERE second < ?'),
    pruneHistograms: db.prepare('DELETE FROM histograms WHERE minute < ?'),
    pruneDecisions: db.prepare('DELETE FROM decisions WHERE at < ?'),
  };

  const saveCells = db.transaction((cells: CellStats[], deploymentId: string | null) => {
    for (const c of cells) {
      const { key } = c;
      q.upsertCell.run(key.service, key.endpoint, key.segment, key.second, deploymentId, JSON.stringify(c));
    }
  });
  const saveHistograms = db.transaction((rows: HistogramRow[]) => {
    for (const r of rows) q.upsertHistogram.run(r);
  });
  const transition = db.transaction((t: Parameters<Store['transition']>[0]): TransitionRow => {
    const res = q.setPhase.run({
      id: t.deploymentId,
      from: t.from,
      to: t.to,
      at: t.at,
      phaseData: t.phaseData === undefined ? null : json(t.phaseData),
    });
    if (res.changes !== 1) {
      const cur = q.getDeployment.get(t.deploymentId) as DeploymentDb | undefined;
      throw PhaseConflictError.of(t.deploymentId, t.from, cur?.phase);
    }
    const detail = json(t.detail);
    const ins = q.insTransition.run(t.deploymentId, t.from, t.to, t.event, t.at, detail);
    return {
      id: Number(ins.lastInsertRowid),
      deploymentId: t.deploymentId,
      from: t.from,
      to: t.to,
      event: t.event,
      at: t.at,
      detail: parse(detail),
    };
  });

  return {
    transaction<T>(fn: () => T): T {
      if (db.inTransaction) return fn();
      return db.transaction(fn)();
    },
    schemaVersion: () => version,
    close() {
      if (db.open) db.close();
    },

    createDeployment(d) {
      q.insDeployment.run({ ...d, phaseData: json(d.phaseData) });
    },
    getDeployment(id) {
      const r = q.getDeployment.get(id) as DeploymentDb | undefined;
      return r ? deploymentFrom(r) : undefined;
    },
    listDeployments(filter = {}) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.service !== undefined) {
        where.push('service = ?');
        args.push(filter.service);
      }
      if (filter.excludePhases && filter.excludePhases.length > 0) {
        where.push(`phase NOT IN (${filter.excludePhases.map(() => '?').join(', ')})`);
        args.push(...filter.excludePhases);
      }
      const sql =
        'SELECT * FROM deployments' +
        (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
        ' ORDER BY created_at DESC, id DESC LIMIT ?';
      args.push(filter.limit ?? -1);
      return (db.prepare(sql).all(...args) as DeploymentDb[]).map(deploymentFrom);
    },
    transition,
    updatePhaseData(id, phaseData, at) {
      const res = q.setPhaseData.run(json(phaseData), at, id);
      if (res.changes !== 1) throw new Error(`deployment ${id} does not exist`);
    },
    listTransitions(id) {
      return (q.listTransitions.all(id) as TransitionDb[]).map(transitionFrom);
    },

    recordDecision(d) {
      const explanation = json(d.explanation);
      const res = q.insDecision.run(
        d.deploymentId,
        d.service,
        d.at,
        d.verdict,
        d.score,
        d.threshold,
        d.modelVersion,
        explanation,
      );
      return { ...d, id: Number(res.lastInsertRowid), explanation: parse(explanation) };
    },
    listDecisions(filter = {}) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.deploymentId !== undefined) {
        where.push('deployment_id = ?');
        args.push(filter.deploymentId);
      }
      if (filter.service !== undefined) {
        where.push('service = ?');
        args.push(filter.service);
      }
      const sql =
        'SELECT * FROM decisions' +
        (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
        ' ORDER BY id DESC LIMIT ?';
      args.push(filter.limit ?? -1);
      return (db.prepare(sql).all(...args) as DecisionDb[]).map(decisionFrom);
    },

    decisionCounts(afterId) {
      const max = db.prepare('SELECT MAX(id) AS id FROM decisions').get() as { id: number | null };
      const counts = db
        .prepare(
          'SELECT service, verdict, COUNT(*) AS count FROM decisions WHERE id > ? GROUP BY service, verdict',
        )
        .all(afterId) as { service: string; verdict: string; count: number }[];
      return { lastId: max.id ?? 0, counts };
    },

    getDecision(id) {
      const row = db.prepare('SELECT * FROM decisions WHERE id = ?').get(id) as DecisionDb | undefined;
      return row ? decisionFrom(row) : undefined;
    },

    saveCells(cells, deploymentId = null) {
      if (cells.length > 0) saveCells(cells, deploymentId ?? null);
    },
    listCells(query) {
      const where = ['service = ?', 'second >= ?', 'second < ?'];
      const args: unknown[] = [query.service, query.fromSecond, query.toSecond];
      if (query.endpoint !== undefined) {
        where.push('endpoint = ?');
        args.push(query.endpoint);
      }
      if (query.deploymentId !== undefined) {
        where.push('deployment_id = ?');
        args.push(query.deploymentId);
      }
      const sql = `SELECT deployment_id, stats FROM cells WHERE ${where.join(' AND ')} ORDER BY second, endpoint, segment`;
      return (db.prepare(sql).all(...args) as { deployment_id: string | null; stats: string }[]).map(
        (r): StoredCell => ({ deploymentId: r.deployment_id, cell: JSON.parse(r.stats) as CellStats }),
      );
    },
    saveHistograms(rows) {
      if (rows.length > 0) saveHistograms(rows);
    },
    listHistograms(query) {
      const where = ['service = ?', 'minute >= ?', 'minute < ?'];
      const args: unknown[] = [query.service, query.fromMinute, query.toMinute];
      if (query.endpoint !== undefined) {
        where.push('endpoint = ?');
        args.push(query.endpoint);
      }
      if (query.arm !== undefined) {
        where.push('arm = ?');
        args.push(query.arm);
      }
      const sql = `SELECT * FROM histograms WHERE ${where.join(' AND ')} ORDER BY minute, endpoint, arm`;
      return (db.prepare(sql).all(...args) as (HistogramRow & { arm: HistogramArm })[]).map((r) => ({
        service: r.service,
        endpoint: r.endpoint,
        arm: r.arm,
        minute: r.minute,
        count: r.count,
        encoded: r.encoded,
      }));
    },

    saveModel(m) {
      const params = json(m.params);
      const trainedOn = json(m.trainedOn);
      const r = q.insModel.get(m.createdAt, params, trainedOn) as { version: number };
      return {
        version: r.version,
        createdAt: m.createdAt,
        params: parse(params),
        trainedOn: parse(trainedOn),
      };
    },
    saveChaosRun(r) {
      q.upsertChaosRun.run(r.id, r.service, r.phase, r.startedAt, r.updatedAt, json(r.data));
    },
    listChaosRuns(filter = {}) {
      const where = filter.service === undefined ? '' : ' WHERE service = ?';
      const args = filter.service === undefined ? [] : [filter.service];
      const sql = `SELECT * FROM chaos_runs${where} ORDER BY started_at DESC, id DESC LIMIT ?`;
      return (db.prepare(sql).all(...args, filter.limit ?? 100) as ChaosRunDb[]).map(chaosRunFrom);
    },
    getModel(v) {
      const r = q.getModel.get(v) as ModelDb | undefined;
      return r ? modelFrom(r) : undefined;
    },
    latestModel() {
      const r = q.latestModel.get() as ModelDb | undefined;
      return r ? modelFrom(r) : undefined;
    },
    listModels(limit = 100) {
      return (q.listModels.all(limit) as ModelDb[]).map(modelFrom);
    },

    saveExperiment(e) {
      q.saveExperiment.run(...experimentDb(e));
    },
    getExperiment(id) {
      const r = q.getExperiment.get(id) as ExperimentDb | undefined;
      return r ? experimentFrom(r) : undefined;
    },
    listExperiments(filter = {}) {
      const where = filter.service === undefined ? '' : ' WHERE service = ?';
      const args: unknown[] = filter.service === undefined ? [] : [filter.service];
      args.push(filter.limit ?? -1);
      const sql = `SELECT * FROM experiments${where} ORDER BY started_at DESC, id DESC LIMIT ?`;
      return (db.prepare(sql).all(...args) as ExperimentDb[]).map(experimentFrom);
    },

    prune(policy: RetentionPolicy, nowMs: number) {
      const out = { cells: 0, histograms: 0, decisions: 0 };
      db.transaction(() => {
        if (policy.cellsDays !== undefined) {
          out.cells = q.pruneCells.run(Math.floor((nowMs - policy.cellsDays * DAY_MS) / 1000)).changes;
        }
        if (policy.histogramsDays !== undefined) {
          out.histograms = q.pruneHistograms.run(
            Math.floor((nowMs - policy.histogramsDays * DAY_MS) / 1000),
          ).changes;
        }
        if (policy.decisionsDays !== undefined) {
          out.decisions = q.pruneDecisions.run(nowMs - policy.decisionsDays * DAY_MS).changes;
        }
      })();
      if (out.cells + out.histograms + out.decisions > 0) log.info('retention pruned rows', out);
      return out;
    },
  };
}
