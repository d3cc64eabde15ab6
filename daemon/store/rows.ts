/**
 * The rows of the store's tables as both implementations (sqlite.ts,
 * postgres.ts) read them, and their mapping to the types of store.ts.
 */
import type {
  ChaosRunRow,
  DecisionRow,
  DeploymentRow,
  ExperimentRow,
  ModelRow,
  TransitionRow,
} from './store.js';

/** Thrown when a compare-and-set transition finds another phase. */
export class PhaseConflictError extends Error {
  /** The error for a transition of `id` from `from` that found the deployment in `current` (undefined: no such deployment). */
  static of(id: string, from: string, current: string | undefined): PhaseConflictError {
    return new PhaseConflictError(
      current === undefined
        ? `deployment ${id} does not exist`
        : `deployment ${id} is in phase ${current}, not ${from}`,
    );
  }
}

export const DAY_MS = 86_400_000;

export function json(v: unknown): string {
  return JSON.stringify(v ?? null);
}

export function parse(s: string): unknown {
  return JSON.parse(s);
}

export interface DeploymentDb {
  id: string;
  service: string;
  version: string;
  previous_version: string | null;
  phase: string;
  phase_data: string;
  created_at: number;
  updated_at: number;
}

export function deploymentFrom(r: DeploymentDb): DeploymentRow {
  return {
    id: r.id,
    service: r.service,
    version: r.version,
    previousVersion: r.previous_version,
    phase: r.phase,
    phaseData: parse(r.phase_data),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface TransitionDb {
  id: number;
  deployment_id: string;
  from_phase: string;
  to_phase: string;
  event: string;
  at: number;
  detail: string;
}

export function transitionFrom(r: TransitionDb): TransitionRow {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    from: r.from_phase,
    to: r.to_phase,
    event: r.event,
    at: r.at,
    detail: parse(r.detail),
  };
}

export interface DecisionDb {
  id: number;
  deployment_id: string | null;
  service: string;
  at: number;
  verdict: string;
  score: number;
  threshold: number;
  model_version: number | null;
  explanation: string;
}

export function decisionFrom(r: DecisionDb): DecisionRow {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    service: r.service,
    at: r.at,
    verdict: r.verdict,
    score: r.score,
    threshold: r.threshold,
    modelVersion: r.model_version,
    explanation: parse(r.explanation),
  };
}

export interface ModelDb {
  version: number;
  created_at: number;
  params: string | null;
  trained_on: string;
}

export function modelFrom(r: ModelDb): ModelRow {
  return {
    version: r.version,
    createdAt: r.created_at,
    params: r.params === null ? null : parse(r.params),
    trainedOn: parse(r.trained_on),
  };
}

export interface ChaosRunDb {
  id: string;
  service: string;
  phase: string;
  started_at: number | string;
  updated_at: number | string;
  data: string;
}

export function chaosRunFrom(r: ChaosRunDb): ChaosRunRow {
  return {
    id: r.id,
    service: r.service,
    phase: r.phase,
    startedAt: Number(r.started_at),
    updatedAt: Number(r.updated_at),
    data: parse(r.data),
  };
}

export interface ExperimentDb {
  id: string;
  service: string;
  version: string;
  stable: string;
  phase: string;
  spec: string;
  started_at: number;
  stopped_at: number | null;
  stop_reason: string | null;
  harmful: number;
  decision: string;
  decided_at: number | null;
  transitions: string;
  latest: string;
  series: string;
  state: string;
  updated_at: number;
}

/** The columns of `experiments`, in the order {@link experimentDb} gives their values. */
export const EXPERIMENT_COLUMNS = [
  'id',
  'service',
  'version',
  'stable',
  'phase',
  'spec',
  'started_at',
  'stopped_at',
  'stop_reason',
  'harmful',
  'decision',
  'decided_at',
  'transitions',
  'latest',
  'series',
  'state',
  'updated_at',
] as const;

export function experimentDb(e: ExperimentRow): unknown[] {
  return [
    e.id,
    e.service,
    e.version,
    e.stable,
    e.phase,
    json(e.spec),
    e.startedAt,
    e.stoppedAt,
    e.stopReason,
    e.harmful ? 1 : 0,
    e.decision,
    e.decidedAt,
    json(e.transitions),
    json(e.latest),
    json(e.series),
    json(e.state),
    e.updatedAt,
  ];
}

export function experimentFrom(r: ExperimentDb): ExperimentRow {
  return {
    id: r.id,
    service: r.service,
    version: r.version,
    stable: r.stable,
    phase: r.phase,
    spec: parse(r.spec),
    startedAt: Number(r.started_at),
    stoppedAt: r.stopped_at === null ? null : Number(r.stopped_at),
    stopReason: r.stop_reason,
    harmful: Number(r.harmful) === 1,
    decision: r.decision,
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
    transitions: parse(r.transitions),
    latest: parse(r.latest),
    series: parse(r.series),
    state: parse(r.state),
    updatedAt: Number(r.updated_at),
  };
}
