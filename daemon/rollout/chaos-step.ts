/**
 * Where a deployment stands in its chaos step (chaos-gate.ts has the
 * transitions): predicates and the faults the step wants now. Pure; imported
 * by desired.ts, so it imports no transition.
 */
import type { ChaosFault } from '../config/chaos-faults.js';
import type { DeploymentState } from './types.js';

/** Time allowed for an experiment's faults to reach every proxy; past it, it ends without evidence (a pause). */
export const FAULTS_ON_GRACE_MS = 30_000;

/** Whether the deployment is inside the chaos step now. */
export function inChaosStep(s: DeploymentState): boolean {
  return s.phase === 'shadowing' && !!s.chaos && !s.chaos.done;
}

/** Whether a healthy end of shadowing must run the chaos step first. */
export function chaosStepDue(s: DeploymentState): boolean {
  return s.phase === 'shadowing' && !!s.plan.chaos && !s.chaos;
}

/** The running experiment's faults (none outside the gate, or while paused). */
export function gateFaults(s: DeploymentState): { experiment: number | null; faults: ChaosFault[] } {
  if (!inChaosStep(s) || s.paused) return { experiment: null, faults: [] };
  const i = s.chaos!.experiment;
  return { experiment: i, faults: s.plan.chaos!.experiments[i]!.faults };
}

/** How long experiment `i`'s timer runs before its faults are known to be on (then re-armed to its duration). */
export function experimentWindowMs(s: DeploymentState, i: number): number {
  return FAULTS_ON_GRACE_MS + s.plan.chaos!.experiments[i]!.durationMs;
}
