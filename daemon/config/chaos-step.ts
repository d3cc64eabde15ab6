/**
 * A rollout's chaos step (`services[].rollout.chaos` in umbra.yaml): chaos
 * experiments run on the candidate once shadowing has judged it healthy,
 * before it takes any user traffic (docs/experiments.md).
 *
 * ```yaml
 * rollout:
 *   chaos:
 *     failOn: resilience          # default: report
 *     experiments:
 *       - faults: ['inventory:abort=503@30%']
 *         duration: 30s
 * ```
 *
 * The faults are checked against the service's dependencies with their
 * paths; a step that cannot run (no egress listener, a replica loss, which
 * a candidate at its shadow size cannot afford) is refused at load.
 */
import { z } from 'zod';
import { type ChaosFault, faultProblems, parseFaultText } from './chaos-faults.js';
import { duration } from './fields.js';

/** Longest experiment of a step: the deployment waits for it. */
export const MAX_STEP_DURATION_MS = 3_600_000;

export const ChaosStepExperiment = z.strictObject({
  /** Faults as written on the command line (`DEP:abort=503@30%`); checked against the dependencies. */
  faults: z.array(z.string()).min(1, { error: 'at least one fault' }),
  /** How long the faults stay on (1s..1h). */
  duration: duration('30s', { min: 1000, max: MAX_STEP_DURATION_MS }),
});
export type ChaosStepExperiment = z.infer<typeof ChaosStepExperiment>;

export const RolloutChaos = z.strictObject({
  /**
   * `report` (default): the verdicts are reported and the rollout goes on.
   * `resilience`: a resilience regression fails the deployment, which rolls back.
   */
  failOn: z.enum(['report', 'resilience'], { error: 'must be report or resilience' }).default('report'),
  experiments: z.array(ChaosStepExperiment).min(1, { error: 'at least one experiment' }),
});
export type RolloutChaos = z.infer<typeof RolloutChaos>;

/** What of a service the step's checks read (a `ServiceConfig` fits). */
export interface ChaosStepService {
  egress?: string | undefined;
  dependencies: Record<string, string>;
  rollout: { chaos?: RolloutChaos | undefined };
}

/** The faults of one experiment of a checked step, parsed. Throws on a fault the checks would refuse (a bug). */
export function stepFaults(e: ChaosStepExperiment): ChaosFault[] {
  return e.faults.map((text) => {
    const r = parseFaultText(text);
    if ('error' in r) throw new Error(`unchecked chaos fault ${JSON.stringify(text)}: ${r.error}`);
    return r.fault;
  });
}

/**
 * Every problem of a service's chaos step, reported with its path under
 * `rollout.chaos` (relative to the service). Nothing when it has none.
 */
export function chaosStepChecks(
  s: ChaosStepService,
  report: (path: (string | number)[], message: string) => void,
): void {
  const chaos = s.rollout.chaos;
  if (!chaos) return;
  const at = ['rollout', 'chaos'];
  if (!s.egress)
    report(
      at,
      "needs dependencies and egress: the faults ride on the versions' calls through the egress listener",
    );
  const deps = Object.keys(s.dependencies);
  for (const [i, e] of chaos.experiments.entries()) {
    const seen = new Set<string>();
    for (const [j, text] of e.faults.entries()) {
      const path = [...at, 'experiments', i, 'faults', j];
      const r = parseFaultText(text);
      if ('error' in r) report(path, r.error);
      else if (r.fault.kind === 'lose-replica')
        report(
          path,
          'lose-replica is not available in a deployment step (the candidate runs at its shadow size)',
        );
      else for (const problem of faultProblems(r.fault, deps, seen)) report(path, problem);
    }
  }
}
