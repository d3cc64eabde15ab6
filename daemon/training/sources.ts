/**
 * Where training history comes from: recorded telemetry files (replayed
 * through the daemon's own ingest → pairing → aggregation path, so the cells
 * are the ones the live judge would have seen) and the store (the cells of
 * past deployments, labelled by how they ended).
 *
 * This is the I/O side of training; train.ts stays pure.
 */
import type { CellStats } from '../aggregate/stats.js';
import type { JudgeParams } from '../judge/types.js';
import { defaultModel, type Model } from '../model/model.js';
import { replay } from '../replay/replay.js';
import type { Store } from '../store/store.js';
import { DEFAULT_TRAIN_OPTIONS, type HistoryRun, trainModel } from './train.js';

/** Phases that mean the deployment was judged bad. */
const REGRESSION_PHASES = new Set(['rolling_back', 'validating', 'rolled_back', 'rollback_failed']);
/** Phases that mean the deployment went through and was kept. */
const HEALTHY_PHASES = new Set(['completed']);

/** Replays one file and returns its cells (every final second, all services). */
export function cellsFromFile(path: string): { cells: CellStats[]; badLines: number } {
  const cells: CellStats[] = [];
  let badLines = 0;
  replay(path, {
    emit(line) {
      if (line['type'] === 'bad_line') badLines++;
    },
    judge(list) {
      for (const c of list) cells.push(c);
      return [];
    },
  });
  return { cells, badLines };
}

/**
 * History runs from files: one run per file and service. Files named in
 * `regressions` are labelled as regressions (their effect sizes tune the
 * mixtures); the others are taken as A/A runs or healthy deploys.
 */
export function historyFromFiles(
  healthy: string[],
  regressions: string[] = [],
): { runs: HistoryRun[]; badLines: number } {
  const runs: HistoryRun[] = [];
  let badLines = 0;
  for (const [paths, regression] of [
    [healthy, false],
    [regressions, true],
  ] as const) {
    for (const path of paths) {
      const r = cellsFromFile(path);
      badLines += r.badLines;
      for (const [service, cells] of byService(r.cells)) {
        runs.push({ source: `${path}#${service}`, cells, regression });
      }
    }
  }
  return { runs, badLines };
}

/**
 * History runs from the store: the paired cells of finished deployments
 * (completed: healthy; rolled back: regression), newest first, at most `limit`.
 */
export function historyFromStore(
  store: Store,
  opts: { service?: string; limit?: number } = {},
): HistoryRun[] {
  const runs: HistoryRun[] = [];
  const deployments = store.listDeployments({
    ...(opts.service ? { service: opts.service } : {}),
    limit: opts.limit ?? 200,
  });
  for (const d of deployments) {
    const regression = REGRESSION_PHASES.has(d.phase);
    if (!regression && !HEALTHY_PHASES.has(d.phase)) continue;
    const cells = store
      .listCells({
        service: d.service,
        fromSecond: Math.floor(d.createdAt / 1000) - 1,
        toSecond: Math.floor(d.updatedAt / 1000) + 2,
        deploymentId: d.id,
      })
      .map((s) => s.cell)
      .filter((c) => c.candidate.pairs > 0);
    if (cells.length > 0) runs.push({ source: `deployment:${d.id}`, cells, regression });
  }
  return runs;
}

function byService(cells: CellStats[]): Map<string, CellStats[]> {
  const m = new Map<string, CellStats[]>();
  for (const c of cells) {
    const l = m.get(c.key.service);
    if (l) l.push(c);
    else m.set(c.key.service, [c]);
  }
  return m;
}

/**
 * A model trained on recorded files, for `umbra replay --history FILE… FILE`:
 * train on the history first, then replay the last file with the result
 * (compare with and without to measure what training is worth).
 */
export function modelFromHistoryFiles(
  paths: string[],
  params: JudgeParams,
  regressions: string[] = [],
): Model {
  const { runs } = historyFromFiles(paths, regressions);
  if (runs.length === 0) return defaultModel();
  return trainModel(runs, { ...DEFAULT_TRAIN_OPTIONS, params });
}

/**
 * Trains on the store's finished deployments and saves the result as a new
 * model version; the daemon's scheduled training calls this. Returns the new
 * model, or null when the store holds no paired history yet (nothing saved).
 */
export function trainFromStore(
  store: Store,
  params: JudgeParams,
  nowMs: number,
  opts: { service?: string; limit?: number } = {},
): Model | null {
  const runs = historyFromStore(store, opts);
  if (runs.length === 0) return null;
  const previous = store.latestModel()?.version ?? 0;
  const model = trainModel(runs, { ...DEFAULT_TRAIN_OPTIONS, params, version: previous + 1 });
  const row = store.saveModel({ createdAt: nowMs, params: model.params, trainedOn: model.trainedOn });
  return { ...model, version: row.version };
}
