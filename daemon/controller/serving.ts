/**
 * What each service serves when the daemon starts: the stable version, or the
 * one the latest deployment left serving. A deployment in progress gets the
 * routing it had before the restart published again once the pools it names
 * are ready, never a default that drops clusters the proxies still route to.
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
 * Brings one service's serving version up and publishes its routing; resolves
 * when published (or when that failed: logged, the daemon still starts).
 */
export async function startServing(o: ServingStart): Promise<void> {
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
  await Promise.all(pools)
    .then(() => routing.publish())
    .catch((err: Error) =>
      log.error('serving version not ready', { service: s.name, version, error: err.message }),
    );
}
