/** Synthetic journeys of every service, run against the deployment in progress once the scheduler runs. */
import { JourneyLoop } from '../../controller/journeys.js';
import type { UmbradContext } from '../context.js';
import type { RolloutWiring } from './rollouts.js';
import type { RoutingWiring } from './routing.js';
import type { Teardown } from './teardown.js';

export function wireJourneys(
  ctx: UmbradContext,
  r: RoutingWiring,
  rollouts: RolloutWiring,
  teardown: Teardown,
): JourneyLoop {
  const journeys = new JourneyLoop({
    services: ctx.config.services,
    provisioners: r.provisioners,
    latest: (service) => rollouts.scheduler.latest(service),
    registry: ctx.pipeline.registry,
    aggregator: ctx.pipeline.aggregator,
    nowUs: ctx.now,
  });
  journeys.start();
  teardown.add('journeys', () => journeys.stop());
  return journeys;
}
