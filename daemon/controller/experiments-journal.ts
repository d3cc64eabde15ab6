/**
 * The A/B experiments' record in the store, so that a daemon that restarts
 * (or the next leader) resumes a running experiment where its last save
 * left it and still shows the ended ones. Saved at every phase change and
 * decision, and every few seconds while the experiment runs (the answer
 * gains a point of its series at each save). A failed save is logged and the
 * experiment goes on in memory: the next save catches up.
 */

import { NAME } from '../config/fields.js';
import type { ExperimentRunner } from '../experiment/runner.js';
import { parseSnapshot, type RunnerSnapshot } from '../experiment/snapshot.js';
import { type ExperimentSpec, specFieldErrors } from '../experiment/spec.js';
import { logger } from '../log.js';
import type { ExperimentRow, ExperimentStore } from '../store/store.js';
import type { ExperimentPoint, ExperimentStatus } from './experiments-status.js';

const log = logger('experiments');

/** Time between saves of a running experiment. */
export const SAVE_EVERY_MS = 5000;
/**
 * Longer between saves when a save costs more than this share of the
 * daemon's time (a million users: a 5 MB row, some 200 ms a save), since
 * the daemon's time belongs to ingest first.
 */
const SAVE_SHARE = 0.02;
/** Points of the series kept; beyond, every other one is dropped (the first and last stay). */
const MAX_POINTS = 720;

const PHASES = new Set(['starting', 'running', 'stopped']);

export class ExperimentJournal {
  readonly #saved = new Map<string, number>();
  /** Per experiment, the time to wait after its last save. */
  readonly #every = new Map<string, number>();

  constructor(
    private readonly store: Pick<ExperimentStore, 'saveExperiment' | 'listExperiments'> | undefined,
    private readonly everyMs = SAVE_EVERY_MS,
  ) {}

  /** Whether a running experiment's periodic save is due. */
  due(id: string, nowMs: number): boolean {
    const every = this.#every.get(id) ?? this.everyMs;
    return nowMs - (this.#saved.get(id) ?? Number.NEGATIVE_INFINITY) >= every;
  }

  /**
   * Adds the latest answer to the series (when there is one) and writes the
   * experiment with its runner's state (none once stopped).
   */
  save(s: ExperimentStatus, runner: ExperimentRunner | null, nowMs: number): void {
    const a = s.latest?.answer;
    if (a)
      addPoint(s.series, {
        at: nowMs,
        effect: a.effect,
        lo: a.ci[0],
        hi: a.ci[1],
        users: { ...a.users },
        decision: a.decision,
      });
    this.#saved.set(s.id, nowMs);
    if (!this.store) return;
    try {
      const started = performance.now();
      this.store.saveExperiment(rowOf(s, s.phase === 'stopped' ? null : (runner?.snapshot() ?? null), nowMs));
      this.#every.set(s.id, Math.max(this.everyMs, (performance.now() - started) / SAVE_SHARE));
    } catch (err) {
      log.error('experiment not saved', { id: s.id, error: err as Error });
    }
  }

  /** The experiments a daemon starts with: the latest of each service. */
  load(
    services: readonly string[],
    mixtureSize: number,
  ): { status: ExperimentStatus; state: RunnerSnapshot | null }[] {
    const out: { status: ExperimentStatus; state: RunnerSnapshot | null }[] = [];
    for (const service of services) {
      const row = this.store?.listExperiments({ service, limit: 1 })[0];
      if (!row) continue;
      const got = fromRow(row, mixtureSize);
      if (typeof got === 'string')
        log.error('stored experiment unreadable; left alone', { id: row.id, error: got });
      else out.push(got);
    }
    return out;
  }

  /** The stored experiments, newest first (none without a store). */
  list(service?: string, limit = 20): ExperimentRow[] {
    return this.store?.listExperiments({ ...(service === undefined ? {} : { service }), limit }) ?? [];
  }
}

function addPoint(series: ExperimentPoint[], p: ExperimentPoint): void {
  series.push(p);
  if (series.length <= MAX_POINTS) return;
  const last = series.pop()!;
  const kept = series.filter((_, i) => i % 2 === 0);
  series.splice(0, series.length, ...kept, last);
}

export function rowOf(s: ExperimentStatus, state: RunnerSnapshot | null, nowMs: number): ExperimentRow {
  return {
    id: s.id,
    service: s.spec.service,
    version: s.spec.version,
    stable: s.stable,
    phase: s.phase,
    spec: s.spec,
    startedAt: s.startedAtMs,
    stoppedAt: s.stoppedAtMs,
    stopReason: s.stopReason,
    harmful: s.harmful,
    decision: s.latest?.answer.decision ?? 'undecided',
    decidedAt: s.decidedAtMs,
    transitions: s.transitions,
    latest: s.latest,
    series: s.series,
    state,
    updatedAt: nowMs,
  };
}

/** A stored experiment as the desk holds it, or what is wrong with it (named by its field). */
export function fromRow(
  r: ExperimentRow,
  mixtureSize: number,
): { status: ExperimentStatus; state: RunnerSnapshot | null } | string {
  if (!PHASES.has(r.phase)) return `phase: unknown '${r.phase}'`;
  if (typeof r.stable !== 'string' || !NAME.test(r.stable))
    return `stable: not a version name, got ${JSON.stringify(r.stable)}`;
  if (typeof r.spec !== 'object' || r.spec === null || Array.isArray(r.spec)) return 'spec: not an object';
  // The row drives routes and pools on resume: the same rules as a new experiment's.
  const spec = {
    minEffect: 0,
    ...(r.spec as Partial<ExperimentSpec>),
    service: r.service,
    version: r.version,
  };
  const bad = specFieldErrors(spec);
  if (bad.length > 0) return `spec.${bad.join('; spec.')}`;
  if (!Array.isArray(r.transitions)) return 'transitions: not a list';
  if (!Array.isArray(r.series)) return 'series: not a list';
  let state: RunnerSnapshot | null = null;
  if (r.state !== null && r.phase !== 'stopped') {
    const parsed = parseSnapshot(r.state, mixtureSize);
    if (typeof parsed === 'string') return parsed;
    state = parsed;
  }
  return {
    status: {
      id: r.id,
      spec: spec as ExperimentSpec,
      stable: r.stable,
      phase: r.phase as ExperimentStatus['phase'],
      startedAtMs: r.startedAt,
      stoppedAtMs: r.stoppedAt,
      stopReason: r.stopReason,
      harmful: r.harmful,
      latest: (r.latest ?? null) as ExperimentStatus['latest'],
      decidedAtMs: r.decidedAt,
      transitions: r.transitions as ExperimentStatus['transitions'],
      series: r.series as ExperimentStatus['series'],
    },
    state,
  };
}
