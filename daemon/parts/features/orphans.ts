/**
 * Pools a previous daemon left running that nothing names any more
 * (controller/orphans.ts), stopped once the resumed deployments' effects ran;
 * a service running a chaos experiment or an A/B test is left alone.
 */
import type { ChaosRunner } from '../../controller/chaos-runner.js';
import type { ExperimentDesk } from '../../controller/experiments.js';
import { sweepOrphans } from '../../controller/orphans.js';
import type { UmbradContext } from '../context.js';
import type { RolloutWiring } from './rollouts.js';
import type { RoutingWiring } from './routing.js';
import type { Teardown } from './teardown.js';

export function wireOrphanSweep(
  ctx: UmbradContext,
  r: RoutingWiring,
  rollouts: RolloutWiring,
  busy: { chaos: ChaosRunner; experiments: ExperimentDesk },
  teardown: Teardown,
): void {
  const sched = rollouts.scheduler;
  teardown.add(
    'orphaned pools',
    sweepOrphans({
      services: ctx.config.services,
      provisioners: r.provisioners,
      routing: r.routing,
      latest: rollouts.latest,
      busy: (s) => busy.chaos.running(s) !== undefined || busy.experiments.running(s) !== null,
      settled: () => sched.idle(),
      register: (c) => ctx.metrics.register(c),
    }),
  );
}
