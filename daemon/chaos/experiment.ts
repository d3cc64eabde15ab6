/**
 * A chaos experiment: a version run beside production on mirrored traffic
 * only (the candidate), faults injected into its world alone (its calls to
 * the service's dependencies, its replicas), and a verdict on how it took
 * them. With a baseline arm configured, the previous version runs the same
 * way under the same faults, so the verdict is a resilience difference.
 *
 * This file is the model: the request as checked at the edge, the phases,
 * and what a reader sees. The runner (controller/chaos-runner.ts) acts.
 */
import type { ServiceConfig } from '../config/schema.js';
import { type ChaosFault, faultErrors, replicasLost } from './fault.js';
import type { ChaosVerdict } from './verdict.js';

/** What the user asks for. */
export interface ChaosRequest {
  service: string;
  /** The version under test (runs as the candidate); default: the service's stable version. */
  version?: string;
  faults: ChaosFault[];
  /** How long the faults stay on (ms). */
  durationMs: number;
  /** Share of production's eligible requests mirrored to the candidate (0..100); default the service's shadowPercentage. */
  percentage?: number;
  /**
   * `report` (default): the verdict is reported. `fail`: a resilience
   * regression fails the experiment, and a deployment of that version is
   * refused until the experiment is run again and passes.
   */
  onRegression: 'report' | 'fail';
}

/**
 * - `warming`: the candidate (and baseline) start and receive copies; no fault yet.
 * - `injecting`: the faults are on; the seconds are tallied.
 * - `passed` / `failed`: ended on its own, verdict given (`failed`: a regression with `onRegression: fail`).
 * - `stopped`: ended by the user before its time (the verdict covers what was seen).
 * - `aborted`: could not run (a pool did not start, a proxy refused): see `reason`.
 * - `interrupted`: the daemon was down when its window ended; closed by the
 *   next daemon with the verdict over the seconds seen.
 */
export type ChaosPhase =
  | 'warming'
  | 'injecting'
  | 'passed'
  | 'failed'
  | 'stopped'
  | 'aborted'
  | 'interrupted';

export const ENDED: ReadonlySet<ChaosPhase> = new Set([
  'passed',
  'failed',
  'stopped',
  'aborted',
  'interrupted',
]);

/** When the experiment's window ends (Unix ms), given the warm-up it had or will have before the faults. */
export function windowEndsAt(e: ChaosExperiment, warmupMs: number): number {
  return (e.faultsOnAt ?? e.startedAt + warmupMs) + e.durationMs;
}

/** An experiment as the runner keeps it and the admin API shows it. */
export interface ChaosExperiment {
  service: string;
  version: string;
  /** The baseline arm's version (the stable one), or null without a baseline. */
  baseline: string | null;
  faults: ChaosFault[];
  durationMs: number;
  percentage: number;
  onRegression: 'report' | 'fail';
  phase: ChaosPhase;
  /** Unix ms. */
  startedAt: number;
  faultsOnAt?: number;
  endedAt?: number;
  /** The verdict once ended (also while injecting: the verdict so far). */
  verdict?: ChaosVerdict;
  reason?: string;
}

/** Longest experiment accepted. */
export const MAX_DURATION_MS = 3_600_000;

/**
 * Every reason `req` cannot start now, each with its path; empty when it
 * can. `deployment` is the service's deployment in progress (none: null);
 * `running` the experiment that has not ended, if any.
 */
export function startRefusals(
  req: ChaosRequest,
  service: ServiceConfig | undefined,
  deployment: { id: string; version: string; phase: string } | null,
  running: ChaosExperiment | undefined,
): string[] {
  if (!service) return [`service: unknown service '${req.service}'`];
  const errors: string[] = [];
  if (deployment)
    errors.push(
      `service: ${req.service} has deployment ${deployment.id} of ${deployment.version} in progress (${deployment.phase}); ` +
        'an experiment would fight it for the mirror: run it once the deployment ends',
    );
  if (running && !ENDED.has(running.phase))
    errors.push(
      `service: ${req.service} already runs a chaos experiment on ${running.version} (${running.phase})`,
    );
  const versions = Object.keys(service.provisioner.versions);
  const version = req.version ?? service.stable;
  if (!versions.includes(version))
    errors.push(`version: ${service.name} has no version '${version}' (configured: ${versions.join(', ')})`);
  if (service.provisioner.kind === 'static' && replicasLost(req.faults) > 0)
    errors.push('faults: lose-replica needs a provisioner that starts instances (process or exec)');
  errors.push(...faultErrors(req.faults, Object.keys(service.dependencies), 'faults'));
  if (!Number.isInteger(req.durationMs) || req.durationMs < 1000 || req.durationMs > MAX_DURATION_MS)
    errors.push('duration: must be 1s..1h');
  const p = req.percentage;
  if (p !== undefined && !(p > 0 && p <= 100)) errors.push('percentage: must be above 0 and at most 100');
  return errors;
}

/** Candidate replicas the experiment runs: one more than it loses, so one is always left. */
export function candidateReplicas(faults: readonly ChaosFault[]): number {
  return replicasLost(faults) + 1;
}
