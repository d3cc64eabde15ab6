/**
 * What each service serves when the daemon starts: the stable version, or the
 * one the latest deployment left serving. A deployment in progress gets the
 * routing it had before the restart published again once the pools it names
 * are ready, never a default that drops clusters the proxies still route to.
 * Nothing is published before every service's start has settled.
 */
import type { ServiceConfig, UmbraConfig } from '../config/schema.js';
import { logger } from '../log.js';
import type { Provisioner } from '../provision/provisioner.js';
import { desiredEffects } from '../rollout/desired.js';
import { isTerminal } from '../rollout/phases.js';
import { productionReplicasOf } from '../rollout/plan.js';
import type { DeploymentState } from '../rollout/types.js';
import { pipelineOptionsFor } from '../telemetry/pipeline.js';
import type { ControlSink } from './effects.js';
import type { RoutingTable } from './routing.js';

const log = logger('controller');

/**
 * How long the start waits for a deployment's other pools (candidate,
 * baseline) before publishing anyway; the scheduler's effects publish again
 * once they are ready.
 */
const START_POOL_WAIT_MS = 15_000;

/** The version a service serves when no deployment is in progress. */
export function servingVersion(cfg: ServiceConfig, latest: DeploymentState | undefined): string {
  if (!latest) return cfg.stable;
  return latest.phase === 'completed' ? latest.version : latest.previousVersion;
}

/**
 * After a restart, how long until the records the proxies buffered while the
 * daemon was down have been judged: the proxies reconnect (within 2 s), flush
 * (each second), and a second is final after the pipeline's close delay.
 */
export function catchUpMsFor(config: UmbraConfig): number {
  const closeDelayUs = pipelineOptionsFor(config).aggregate?.closeDelayUs ?? 0;
  return Math.ceil(closeDelayUs / 1000) + 2_000 + 1_000 + 2_000;
}

export interface ServingStart {
  service: ServiceConfig;
  /** The service's latest deployment, if any. */
  latest: DeploymentState | undefined;
  provisioner: Provisioner;
  routing: RoutingTable;
  control: ControlSink;
}

/**
 * Brings one service's serving version (and a deployment's pools) up and sets
 * its route, without publishing; resolves when its pools are ready or have
 * failed (logged: the daemon still starts).
 */
async function bringUp(o: ServingStart): Promise<void> {
  const { service: s, latest, provisioner: prov, routing } = o;
  const version = servingVersion(s, latest);
  const pools: Promise<unknown>[] = [
    prov.ensure({ version, pool: 'main' }, productionReplicasOf(s), {
      timeoutMs: s.rollout.provisionTimeout,
    }),
  ];
  if (!latest || isTerminal(latest.phase)) {
    routing.setServing(s.name, version);
    o.control.setControl(s.name, { paused: true, percentage: 0 });
  } else {
    for (const e of desiredEffects(latest)) {
      if (e.kind === 'route') routing.setRoute(e);
      if (e.kind === 'provision' && !(e.version === version && e.pool === 'main'))
        pools.push(
          prov
            .ensure({ version: e.version, pool: e.pool }, e.replicas, {
              timeoutMs: Math.min(s.rollout.provisionTimeout, START_POOL_WAIT_MS),
            })
            .catch((err: Error) => log.warn('pool not ready at start', { ...e, error: err.message })),
        );
    }
  }
  await Promise.all(pools).catch((err: Error) =>
    log.error('serving version not ready', { service: s.name, version, error: err.message }),
  );
}

export interface ServicesStart {
  services: readonly ServiceConfig[];
  /** A service's latest deployment, if any. */
  latest: (service: string) => DeploymentState | undefined;
  provisioners: ReadonlyMap<string, Provisioner>;
  routing: RoutingTable;
  control: ControlSink;
}

/**
 * Brings every service's serving version up, then publishes once, when every
 * service's start has settled (its pools ready, or failed within the
 * service's `provisionTimeout`). Resolves when published (or when that
 * failed: logged, the daemon still starts).
 * NOTE: a publish is a state-of-the-world snapshot of every service. A proxy
 * that reconnects from a previous daemon still holds every service's
 * listener, routes and clusters; a publish made while one service's pools
 * were not ready yet would leave that service out (its listener removed,
 * every connection refused) or hold a mid-promotion candidate's weight at 0
 * (its users moved for a moment). Until the first publish the proxy keeps
 * what it has, which is what this daemon renders again once all are ready.
 */
export async function startServices(o: ServicesStart): Promise<void> {
  await Promise.all(
    o.services.map((s) =>
      bringUp({
        service: s,
        latest: o.latest(s.name),
        provisioner: o.provisioners.get(s.name)!,
        routing: o.routing,
        control: o.control,
      }),
    ),
  );
  await o.routing
    .publish()
    .catch((err: Error) => log.error('routing not published at start', { error: err.message }));
}
