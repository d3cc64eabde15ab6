/**
 * The controller as a daemon part: it only wires, one feature at a time
 * (features/), in the order they depend on each other — provisioners, the
 * xDS server and the routing table (routing.ts); the rollout machine
 * (rollouts.ts); chaos and the judge on final seconds (experiments.ts,
 * judging.ts); then, once every service serves, the resumed deployments,
 * journeys, the adaptive share and A/B experiments — over the shared context
 * (see umbrad.ts). Each feature registers how it is undone as it starts;
 * `stop` undoes them newest first (features/teardown.ts).
 *
 * On start it brings every service's serving version up (serving.ts;
 * instances a previous daemon left running are adopted), publishes routing,
 * resumes any deployment in progress from the store, and publishes a
 * {@link ControllerHandle} on the context for the admin part. On stop it
 * leaves the instances running unless asked otherwise.
 */

import type { ExperimentDesk } from '../controller/experiments.js';
import { rolloutCollector } from '../controller/rollout-metrics.js';
import { startServices } from '../controller/serving.js';
import { logger } from '../log.js';
import type { DaemonPart, UmbradContext } from './context.js';
import { wireChaos, wireExperiments } from './features/experiments.js';
import { wireJourneys } from './features/journeys.js';
import { wireJudging } from './features/judging.js';
import { wireOrphanSweep } from './features/orphans.js';
import { wireRollouts } from './features/rollouts.js';
import { wireRouting } from './features/routing.js';
import { Teardown } from './features/teardown.js';

const log = logger('controller');

export interface ControllerPartOptions {
  /** Where instance logs go (default next to the store). */
  logDir?: string;
  /**
   * Stop the instances the provisioners run when the daemon stops. Default:
   * leave them serving; the next daemon adopts them.
   */
  stopInstancesOnExit?: boolean;
}

export function controllerPart(o: ControllerPartOptions = {}): DaemonPart {
  const teardown = new Teardown();
  return {
    name: 'controller',
    async start(ctx: UmbradContext) {
      const { config } = ctx;
      const routing = await wireRouting(ctx, o, teardown);
      const rollouts = wireRollouts(ctx, routing, teardown);
      let desk: ExperimentDesk | undefined;
      const chaos = wireChaos(ctx, routing, rollouts, (s) => desk?.running(s) ?? null, teardown);
      const judge = wireJudging(ctx, routing, rollouts, chaos, teardown);

      // Serving versions first, so traffic flows before any deployment resumes; one publish for all.
      await startServices({
        services: config.services,
        latest: rollouts.latest,
        provisioners: routing.provisioners,
        routing: routing.routing,
        control: rollouts.control,
      });
      routing.routesSet();
      rollouts.scheduler.start();
      chaos.resume();
      const journeys = wireJourneys(ctx, routing, rollouts, teardown);
      judge.startAdaptive();
      rollouts.holdOnStanding();
      desk = wireExperiments(ctx, routing, rollouts, chaos, teardown);

      ctx.controller = {
        experiments: desk,
        scheduler: rollouts.scheduler,
        repo: rollouts.repo,
        evidence: (s) => judge.judging.evidence(s),
        pools: (s) => routing.provisioners.get(s)?.status() ?? [],
        refusals: (s) => rollouts.refusals.standing(s),
        proxies: (s) => routing.routing.proxies(s),
        journeys: (s) => journeys.status(s),
        chaos,
      };
      teardown.add(
        'rollout metrics',
        ctx.metrics.register(rolloutCollector(config.services, ctx.controller, ctx.store)),
      );
      // Pools a previous daemon left that nothing names any more are stopped once the resumed effects ran.
      wireOrphanSweep(ctx, routing, rollouts, { chaos, experiments: desk }, teardown);
      log.info('controller started', {
        xds: routing.xds.port,
        overlay: config.daemon.xds.upstream?.address,
        xdsTls: Boolean(config.daemon.xds.tls),
        services: config.services.map((s) => s.name),
      });
    },
    async stop() {
      await teardown.run();
    },
  };
}
