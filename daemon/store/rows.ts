/**
 * The rows of the store's tables as both implementations (sqlite.ts,
 * postgres.ts) read them, and their mapping to the types of store.ts.
 */
import type { ChaosRunRow, DecisionRow, DeploymentRow, ModelRow, TransitionRow } from './store.js';

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
