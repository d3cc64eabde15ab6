/**
 * The faults of a chaos experiment as the experiment applies them. Their
 * written forms and checks live with the configuration
 * (config/chaos-faults.ts), since umbra.yaml names them too (a rollout's
 * chaos step); they are re-exported here for the experiment's users.
 */
import type { ChaosFault } from '../config/chaos-faults.js';
import type { DesiredFault } from '../xds/resources/desired.js';

export {
  type AbortFault,
  type ChaosFault,
  type DelayFault,
  describeFault,
  faultErrors,
  parseFault,
  type ReplicaLossFault,
  replicasLost,
} from '../config/chaos-faults.js';

/** The faults that ride on xDS (delays and aborts on dependencies). */
export function dependencyFaults(faults: readonly ChaosFault[]): DesiredFault[] {
  const out: DesiredFault[] = [];
  for (const f of faults) {
    if (f.kind === 'delay') out.push({ dependency: f.dependency, percent: f.percent, delayMs: f.ms });
    if (f.kind === 'abort') out.push({ dependency: f.dependency, percent: f.percent, abortStatus: f.status });
  }
  return out;
}
