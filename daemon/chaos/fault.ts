/**
 * The faults of a chaos experiment as the experiment applies them. Their
 * written forms and checks live with the configuration
 * (config/chaos-faults.ts), since umbra.yaml names them too (a rollout's
 * chaos step); they are re-exported here for the experiment's users.
 */
import type { ChaosFault } from '../config/chaos-faults.js';
import type { DesiredEndpoint, DesiredFault } from '../xds/resources/desired.js';

export {
  type AbortFault,
  type ChaosFault,
  type DelayFault,
  describeFault,
  faultErrors,
  parseFault,
  type ReplicaLossFault,
  type ResetFault,
  replicasLost,
} from '../config/chaos-faults.js';

/** Whether any of the faults resets connections (they then need the reset sink's address). */
export function resets(faults: readonly ChaosFault[]): boolean {
  return faults.some((f) => f.kind === 'reset');
}

/**
 * The faults that ride on xDS (delays, aborts and resets on dependencies);
 * `resetSink` is where reset calls go, required when {@link resets}.
 */
export function dependencyFaults(faults: readonly ChaosFault[], resetSink?: DesiredEndpoint): DesiredFault[] {
  const out: DesiredFault[] = [];
  for (const f of faults) {
    if (f.kind === 'reset') {
      if (!resetSink) throw new Error('a reset fault needs the reset sink');
      out.push({ dependency: f.dependency, percent: f.percent, reset: resetSink });
    }
    if (f.kind === 'delay') out.push({ dependency: f.dependency, percent: f.percent, delayMs: f.ms });
    if (f.kind === 'abort') out.push({ dependency: f.dependency, percent: f.percent, abortStatus: f.status });
  }
  return out;
}
