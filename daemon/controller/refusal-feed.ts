/**
 * Feeds proxy refusals (xDS NACKs) to where they act: the deployment in
 * progress of the service they concern is held (rollout/rejection.ts), or,
 * when there is none, the alert goes out at once from here. An ACK of the
 * version the node should have now clears a refusal by that node and type.
 */
import type { EventEmitter } from 'node:events';
import { logger } from '../log.js';
import { refusalText } from '../rollout/rejection.js';
import type { RolloutScheduler } from '../rollout/scheduler.js';
import type { RolloutEventBody } from '../rollout/types.js';
import { type AckEvent, type NackRecord, SHORT_NAME, type XdsServer } from '../xds/index.js';
import type { ControllerEffectRunner } from './effects.js';
import type { ProxyRefusals, Refusal } from './refusals.js';

const log = logger('controller');

export interface RefusalFeedOptions {
  xds: XdsServer;
  /**
   * Where the NACKs and ACKs come from (default the xDS server; in overlay
   * mode the relay, which passes on only refusals of Umbra's own edits).
   */
  events?: Pick<EventEmitter, 'on' | 'off'>;
  refusals: ProxyRefusals;
  runner: ControllerEffectRunner;
  /** The scheduler, once it exists (refusals that arrive before it: {@link holdOnStanding}). */
  scheduler: () => RolloutScheduler | undefined;
  /** Every configured service. */
  services: readonly string[];
  /** The version a service serves outside a deployment (for the alert). */
  serving: (service: string) => string;
  now?: () => number;
}

/** The machine's event for a refusal. */
export function rejectedEvent(r: Refusal): RolloutEventBody {
  const { at: _at, ...rejection } = r;
  return { type: 'rejected', rejection };
}

/**
 * Applies an event to the service's deployment in progress; false when there
 * is none (or no scheduler yet, or it is stopping). Never throws: it runs
 * inside the xDS server's event dispatch, where a throw would end the stream.
 */
function toActive(o: RefusalFeedOptions, service: string, body: RolloutEventBody): boolean {
  try {
    return o.scheduler()?.toActive(service, body) ?? false;
  } catch (err) {
    log.error('refusal event failed', { service, event: body.type, error: (err as Error).message });
    return false;
  }
}

/** Subscribes to the xDS server's NACKs and ACKs; returns the unsubscribe function. */
export function feedRefusals(o: RefusalFeedOptions): () => void {
  const now = o.now ?? Date.now;
  const onNack = (n: NackRecord): void => {
    for (const { service, refusal } of o.refusals.nack(n, now())) {
      const held = toActive(o, service, rejectedEvent(refusal));
      if (held) continue;
      void o.runner.alert(
        {
          kind: 'alert',
          service,
          deploymentId: '',
          key: `${service}:rejected:${refusal.node}:${refusal.type}:${refusal.version}`,
          severity: 'critical',
          message: `${service} (no deployment in progress): ${refusalText(refusal)}`,
        },
        { phase: 'idle', version: o.serving(service) },
      );
    }
  };
  const onAck = (a: AckEvent): void => {
    const current = o.xds.status(a.nodeId)?.snapshot[SHORT_NAME[a.typeUrl]];
    const cleared = o.refusals.ack(a, current);
    if (a.version !== current) return;
    for (const service of cleared)
      log.info('proxy refusal cleared', { service, node: a.nodeId, version: a.version });
    const accepted: RolloutEventBody = {
      type: 'accepted',
      node: a.nodeId,
      xdsType: SHORT_NAME[a.typeUrl],
      version: a.version,
    };
    // Every service: a deployment held before a restart has a refusal the (new) table never saw.
    for (const service of o.services) toActive(o, service, accepted);
  };
  const events = o.events ?? o.xds;
  events.on('nack', onNack);
  events.on('ack', onAck);
  return () => {
    events.off('nack', onNack);
    events.off('ack', onAck);
  };
}

/** Holds each service's deployment in progress on the refusals that stand for it (after a start). */
export function holdOnStanding(
  services: readonly string[],
  refusals: ProxyRefusals,
  scheduler: RolloutScheduler,
): void {
  for (const service of services) {
    for (const r of refusals.standing(service)) scheduler.toActive(service, rejectedEvent(r));
  }
}
