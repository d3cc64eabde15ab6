/**
 * Carries out the rollout machine's effects: routing through xDS, pools
 * through the provisioners, live filter settings through the telemetry
 * control stream, and alerts through a webhook. Every effect is idempotent
 * (see rollout/desired.ts), so re-running them after a restart is safe.
 */
import { logger } from '../log.js';
import { DRAIN_MS, type PoolRef, type Provisioner } from '../provision/provisioner.js';
import type { EffectRunner } from '../rollout/ports.js';
import type { DeploymentState, Effect, RolloutEventBody } from '../rollout/types.js';
import { desiredFaults } from './chaos-reset.js';
import { RoutingRefused, type RoutingTable, type ServiceRoute } from './routing.js';

const log = logger('effects');

/** The live mirroring state of a service, as the filters should have it. */
export interface MirrorControl {
  paused: boolean;
  percentage: number;
}

/** Sends control messages to every filter stream of a service (and to streams that connect later). */
export interface ControlSink {
  setControl(service: string, control: MirrorControl): void;
}

/** Posts an alert; resolves when delivered (or throws). */
export type AlertSender = (webhook: string, body: Record<string, unknown>) => Promise<void>;

/**
 * What the runner needs of the routing table: apply a route, publish what
 * changed, read a service's route; and set the faults of a chaos step (a
 * routing without egress, as some tests wire, refuses them).
 */
export type RoutingPort = Pick<RoutingTable, 'apply' | 'publish' | 'route'> &
  Partial<Pick<RoutingTable, 'setFaults'>>;

export interface EffectRunnerOptions {
  routing: RoutingPort;
  provisioners: Map<string, Provisioner>;
  control: ControlSink;
  /** Webhook per service (service override, else the daemon's), if any. */
  webhookFor: (service: string) => string | undefined;
  sendAlert?: AlertSender;
  alertTimeoutMs?: number;
  provisionTimeoutMs?: number;
  /** Time between routing away from a pool and stopping it (default {@link DRAIN_MS}). */
  drainMs?: number;
}

/** Whether a route sends live traffic (main pools) or copies (the mirror's pools) to a pool. */
export function routesTo(route: ServiceRoute, ref: PoolRef): boolean {
  if (ref.pool === 'baseline') return route.mirror?.baseline === ref.version;
  return (route.weights[ref.version] ?? 0) > 0 || route.mirror?.target === ref.version;
}

/** A JSON POST with a timeout; a non-2xx answer is an error. */
export function httpAlertSender(timeoutMs: number): AlertSender {
  return async (webhook, body) => {
    const res = await fetch(webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`webhook answered ${res.status}`);
  };
}

export class ControllerEffectRunner implements EffectRunner {
  readonly #o: EffectRunnerOptions;
  readonly #control = new Map<string, MirrorControl>();
  readonly #sendAlert: AlertSender;

  constructor(o: EffectRunnerOptions) {
    this.#o = o;
    this.#sendAlert = o.sendAlert ?? httpAlertSender(o.alertTimeoutMs ?? 5000);
  }

  /** The control state last asked for (paused at 0 % until a deployment says otherwise). */
  control(service: string): MirrorControl {
    return this.#control.get(service) ?? { paused: true, percentage: 0 };
  }

  async run(effect: Effect, deployment: DeploymentState): Promise<RolloutEventBody[] | undefined> {
    switch (effect.kind) {
      case 'route':
        await this.#o.routing.apply(effect);
        return undefined;
      case 'provision':
        return this.#provision(effect, deployment);
      case 'deprovision':
        return this.#deprovision(effect);
      case 'faults':
        // Resolves once every proxy has the faults (or their removal): the chaos step's window starts then.
        if (!this.#o.routing.setFaults) throw new Error('this routing has no egress to put faults on');
        await this.#o.routing.setFaults(effect.service, await desiredFaults(effect.faults));
        return effect.experiment === null
          ? undefined
          : [{ type: 'faults_on', experiment: effect.experiment }];
      case 'control': {
        const now = this.control(effect.service);
        const next: MirrorControl =
          effect.action === 'percentage'
            ? { ...now, percentage: effect.percentage }
            : { ...now, paused: effect.action === 'pause' };
        this.#control.set(effect.service, next);
        this.#o.control.setControl(effect.service, next);
        return undefined;
      }
      case 'alert':
        await this.alert(effect, { phase: deployment.phase, version: deployment.version });
        return undefined;
    }
  }

  /**
   * Logs an alert and posts it to the service's webhook, if any. Also used
   * outside a deployment (a proxy refusing a service's configuration while
   * none is in progress). Never throws: an unreachable webhook must not hold
   * anything up.
   */
  async alert(
    effect: Extract<Effect, { kind: 'alert' }>,
    about: { phase: string; version: string },
  ): Promise<void> {
    const line = {
      service: effect.service,
      deploymentId: effect.deploymentId,
      key: effect.key,
      severity: effect.severity,
      message: effect.message,
    };
    if (effect.severity === 'info') log.info('alert', line);
    else log.warn('alert', line);
    const webhook = this.#o.webhookFor(effect.service);
    if (!webhook) return;
    try {
      await this.#sendAlert(webhook, {
        ...line,
        phase: about.phase,
        version: about.version,
        at: new Date().toISOString(),
      });
    } catch (err) {
      // An unreachable webhook must not hold the rollout: logged, not fed back as a failure.
      log.warn('alert webhook failed', {
        service: effect.service,
        webhook,
        error: (err as Error).message,
      });
    }
  }

  /**
   * Ensures the pool and reports its ready count. A pool not fully ready in
   * time reports what is ready first, then the failure: the machine shifts a
   * rollback's traffic at the restored version's pace instead of waiting for
   * all of it (machine.ts onProvisioned, rollout/desired.ts).
   */
  async #provision(
    effect: Extract<Effect, { kind: 'provision' }>,
    deployment: DeploymentState,
  ): Promise<RolloutEventBody[]> {
    const prov = this.#provisioner(effect.service);
    const ref = { version: effect.version, pool: effect.pool };
    let provisioned: RolloutEventBody;
    let failed: RolloutEventBody | undefined;
    try {
      const status = await prov.ensure(ref, effect.replicas, {
        timeoutMs: this.#o.provisionTimeoutMs ?? deployment.plan.provisionTimeoutMs,
      });
      provisioned = { type: 'provisioned', ...ref, ready: status.ready, desired: status.desired };
    } catch (err) {
      failed = { type: 'effect_failed', effect: 'provision', error: (err as Error).message };
      const ready = prov.status().find((s) => s.version === ref.version && s.pool === ref.pool)?.ready ?? 0;
      if (ready === 0) return [failed];
      provisioned = { type: 'provisioned', ...ref, ready };
    }
    // New endpoints: the role clusters and weights may follow them. Proxies not
    // answering is a routing failure, not a provisioning one: the pool is ready.
    const unrouted = await this.#o.routing.publish().then(
      () => undefined,
      (err: Error) => {
        if (err instanceof RoutingRefused) return err.message;
        throw err;
      },
    );
    const events: RolloutEventBody[] = [provisioned];
    if (unrouted !== undefined) events.push({ type: 'effect_failed', effect: 'route', error: unrouted });
    if (failed) events.push(failed);
    return events;
  }

  /**
   * Stops a pool the route no longer names: route away (the machine's route
   * effect did; publishing again is idempotent), let requests in flight
   * drain, stop every instance, publish without them. A pool with instances
   * but no healthy one (still starting, failing its checks) is stopped too:
   * skipped, it would run on, be restarted forever and be adopted by the next
   * daemon. A pool the service's route still sends users or copies to is
   * never stopped (refused as a failed effect).
   */
  async #deprovision(
    effect: Extract<Effect, { kind: 'deprovision' }>,
  ): Promise<RolloutEventBody[] | undefined> {
    const prov = this.#provisioner(effect.service);
    const ref = { version: effect.version, pool: effect.pool };
    if (!prov.status().some((p) => p.version === ref.version && p.pool === ref.pool)) return undefined;
    const route = this.#o.routing.route(effect.service);
    if (route && routesTo(route, ref)) {
      const error = `${effect.service} ${ref.version} (${ref.pool}) is still routed to; not stopped`;
      log.warn('pool still routed; not stopped', { service: effect.service, ...ref });
      return [{ type: 'effect_failed', effect: 'deprovision', error }];
    }
    await this.#o.routing.publish();
    await new Promise((r) => setTimeout(r, this.#o.drainMs ?? DRAIN_MS));
    await prov.stop(ref);
    await this.#o.routing.publish();
    return undefined;
  }

  #provisioner(service: string): Provisioner {
    const p = this.#o.provisioners.get(service);
    if (!p) throw new Error(`no provisioner for service '${service}'`);
    return p;
  }
}
