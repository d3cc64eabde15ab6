/**
 * The controller's experiments on the shadow environment: chaos on the
 * candidate's leg (its verdict judged on final seconds) and A/B tests (their
 * split tapped from ingested live records, ticked once a second). Each
 * refuses to start while the other runs on the same service.
 */
import { ChaosRunner } from '../../controller/chaos-runner.js';
import { experimentCollector } from '../../controller/experiment-metrics.js';
import { ExperimentDesk } from '../../controller/experiments.js';
import { logger } from '../../log.js';
import { defaultModel } from '../../model/model.js';
import { pipelineOptionsFor } from '../../telemetry/pipeline.js';
import type { UmbradContext } from '../context.js';
import type { RolloutWiring } from './rollouts.js';
import type { RoutingWiring } from './routing.js';
import type { Teardown } from './teardown.js';

const log = logger('controller');

/** The chaos runner; its faults are lifted first when the controller stops. */
export function wireChaos(
  ctx: UmbradContext,
  r: RoutingWiring,
  rollouts: RolloutWiring,
  abRunning: (service: string) => string | null,
  teardown: Teardown,
): ChaosRunner {
  const chaos = new ChaosRunner({
    // The last seconds under faults are judged once final: the pipeline's close delay, and a flush.
    drainMs: Math.ceil((pipelineOptionsFor(ctx.config).aggregate?.closeDelayUs ?? 0) / 1000) + 2000,
    services: ctx.config.services,
    routing: r.routing,
    provisioners: r.provisioners,
    control: rollouts.control,
    deploymentInProgress: (service) => {
      const d = rollouts.inProgress(service);
      return d ? { id: d.id, version: d.version, phase: d.phase } : null;
    },
    abRunning,
  });
  // Experiments end first: their faults lifted, their pools stopped, production's route as it was.
  teardown.add('chaos', () => chaos.close(), { first: true });
  return chaos;
}

/** The A/B desk, fed by the ingest's split tap and ticked once a second. */
export function wireExperiments(
  ctx: UmbradContext,
  r: RoutingWiring,
  rollouts: RolloutWiring,
  chaos: ChaosRunner,
  teardown: Teardown,
): ExperimentDesk {
  const telemetry = ctx.telemetry;
  const desk = new ExperimentDesk({
    services: ctx.config.services,
    provisioners: r.provisioners,
    routing: r.routing,
    ...(telemetry ? { setSplit: (s: string, p: number) => telemetry.setSplit(s, p) } : {}),
    registry: ctx.pipeline.registry,
    serving: rollouts.serving,
    activeDeployment: (service) => {
      const d = rollouts.inProgress(service);
      return d ? { id: d.id, phase: d.phase } : null;
    },
    mixture: defaultModel().params.rateMixture,
    overlay: r.overlay !== undefined,
    settled: () => rollouts.scheduler.idle(),
    chaosRunning: (service) => chaos.running(service),
  });
  ctx.pipeline.ingest.splitTap = (rec) => desk.onRecord(rec);
  const ticker = setInterval(() => {
    try {
      desk.tick(Date.now());
    } catch (err) {
      log.error('experiment tick failed', { error: err as Error });
    }
  }, 1000);
  ticker.unref();
  const offMetrics = ctx.metrics.register(experimentCollector(() => desk.status()));
  teardown.add('experiments', async () => {
    clearInterval(ticker);
    ctx.pipeline.ingest.splitTap = null;
    offMetrics();
    await desk.idle();
  });
  return desk;
}
