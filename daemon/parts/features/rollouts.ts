/**
 * The rollout machine as the controller runs it: the effect runner over the
 * routing table, provisioners and filters' control stream; the store-backed
 * deployment repository; proxy refusals (xDS NACKs) fed to the deployments
 * they concern; and the scheduler. Also the questions the other features ask
 * of it: what a service serves now, and its deployment in progress.
 */
import { ControllerEffectRunner, type ControlSink } from '../../controller/effects.js';
import { feedRefusals, holdOnStanding, rejectedEvent } from '../../controller/refusal-feed.js';
import { ProxyRefusals } from '../../controller/refusals.js';
import { catchUpMsFor, servingVersion } from '../../controller/serving.js';
import { gatedControl, telemetryControl, webhookFor } from '../../controller/wiring.js';
import { isTerminal } from '../../rollout/phases.js';
import type { DeploymentRepo } from '../../rollout/ports.js';
import { RolloutScheduler } from '../../rollout/scheduler.js';
import { storeDeploymentRepo } from '../../rollout/store-repo.js';
import type { DeploymentState } from '../../rollout/types.js';
import type { UmbradContext } from '../context.js';
import type { RoutingWiring } from './routing.js';
import type { Teardown } from './teardown.js';

export interface RolloutWiring {
  control: ControlSink;
  repo: DeploymentRepo;
  refusals: ProxyRefusals;
  scheduler: RolloutScheduler;
  /** The service's latest deployment (any phase), from the store. */
  latest(service: string): DeploymentState | undefined;
  /** The version serving the service now. */
  serving(service: string): string;
  /** The service's deployment in progress, or null. */
  inProgress(service: string): DeploymentState | null;
  /** Holds what resumed on refusals that arrived while the serving versions came up. */
  holdOnStanding(): void;
}

export function wireRollouts(ctx: UmbradContext, r: RoutingWiring, teardown: Teardown): RolloutWiring {
  const { config, store } = ctx;
  const services = config.services.map((s) => s.name);
  const refusals = new ProxyRefusals(config.services);
  const control = gatedControl(telemetryControl(ctx.telemetry), r.routing);
  const runner = new ControllerEffectRunner({
    routing: r.routing,
    provisioners: r.provisioners,
    control,
    webhookFor: webhookFor(config),
    alertTimeoutMs: config.daemon.alerts.timeout,
  });
  const repo = storeDeploymentRepo(store);
  const latest = (service: string) => repo.list({ service, limit: 1 })[0];
  const serving = (service: string) =>
    servingVersion(config.services.find((c) => c.name === service)!, latest(service));
  let scheduler: RolloutScheduler | undefined;
  const stopRefusals = feedRefusals({
    xds: r.xds,
    // In overlay mode only refusals of Umbra's own edits concern the deployments.
    ...(r.overlay ? { events: r.overlay } : {}),
    refusals,
    runner,
    scheduler: () => scheduler,
    services,
    serving,
  });
  scheduler = new RolloutScheduler({
    repo,
    runner,
    catchUpMs: catchUpMsFor(config),
    standing: (service) => refusals.standing(service).map(rejectedEvent),
  });
  const sched = scheduler;
  // Undone newest first: refusals stop reaching the scheduler before it stops.
  teardown.add('scheduler', () => sched.stop());
  teardown.add('refusal feed', stopRefusals);
  teardown.add(
    'refusal metrics',
    ctx.metrics.register(() => refusals.metrics()),
  );
  return {
    control,
    repo,
    refusals,
    scheduler,
    latest,
    serving,
    inProgress(service) {
      const d = latest(service);
      return d && !isTerminal(d.phase) ? d : null;
    },
    holdOnStanding: () => holdOnStanding(services, refusals, sched),
  };
}
