/**
 * A rollout plan from a service's configuration: what a deployment follows,
 * frozen when it begins so a config reload never changes a running rollout.
 */
import { stepFaults } from '../config/chaos-step.js';
import type { ServiceConfig } from '../config/schema.js';
import { shadowReplicas } from '../provision/sizing.js';
import type { RolloutPlan } from './types.js';

/**
 * `productionReplicas` is the size of the stable version now (the process
 * provisioner's `replicas`, or a static version's endpoint count).
 */
export function planFor(service: ServiceConfig, productionReplicas: number): RolloutPlan {
  const { mirroring, rollout } = service;
  return {
    shadowPercentage: mirroring.shadowPercentage,
    ...(mirroring.adaptive ? { adaptive: { ...mirroring.adaptive } } : {}),
    baseline: mirroring.baseline,
    shadowReplicas: shadowReplicas({
      productionReplicas,
      shadowPercentage: mirroring.shadowPercentage,
      headroom: rollout.headroom,
    }),
    productionReplicas,
    shadowDurationMs: rollout.shadowDuration,
    steps: rollout.steps.map((s) => ({ weight: s.weight, holdMs: s.hold })),
    bakeMs: rollout.bake,
    validationPeriodMs: rollout.validationPeriod,
    provisionTimeoutMs: rollout.provisionTimeout,
    capacityTimeoutMs: rollout.capacityTimeout,
    maxHoldExtensions: rollout.maxHoldExtensions,
    ...(rollout.chaos
      ? {
          chaos: {
            failOn: rollout.chaos.failOn,
            experiments: rollout.chaos.experiments.map((e) => ({
              faults: stepFaults(e),
              durationMs: e.duration,
            })),
          },
        }
      : {}),
  };
}

/** The production size of a service's stable version according to its provisioner config. */
export function productionReplicasOf(service: ServiceConfig): number {
  const p = service.provisioner;
  if (p.kind === 'process' || p.kind === 'exec') return p.replicas;
  return p.versions[service.stable]?.endpoints.length ?? 1;
}
