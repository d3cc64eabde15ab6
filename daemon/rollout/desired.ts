/**
 * The world a deployment state wants, as effects. Pure.
 *
 * Every transition's effects are {@link desiredEffects} of the new state, so
 * re-running them (after a restart, or twice) converges on the same world:
 * that is what makes effects idempotent. Alerts are emitted on entering a
 * phase ({@link phaseAlert}), keyed per deployment and phase.
 *
 * Mirroring is on only while a phase needs copies (shadowing: the candidate;
 * baking: the previous version as a reverse shadow). Every other phase,
 * final ones included, pauses the filters at 0 % and routes no mirror, so
 * no request reaches a serving version twice once a deployment ends.
 *
 * The filter itself is on a service's routes only in {@link FILTER_PHASES}:
 * a route effect's `filter` turns it on and off through RDS.
 */
import { gateFaults } from './chaos-step.js';
import type { Phase } from './phases.js';
import type { DeploymentState, Effect, RouteEffect } from './types.js';

/** Live weights: the candidate's share and the previous version's rest, without zero entries. */
export function weightsOf(s: DeploymentState): Record<string, number> {
  const w: Record<string, number> = {};
  if (s.candidateWeight < 100) w[s.previousVersion] = 100 - s.candidateWeight;
  if (s.candidateWeight > 0) w[s.version] = s.candidateWeight;
  return w;
}

/**
 * Phases that need the Umbra filter on the service's routes: shadowing and
 * baking for copies, promoting for live records of both versions, validating
 * for the restored version's live records. Everywhere else it is not created.
 */
export const FILTER_PHASES: readonly Phase[] = ['shadowing', 'promoting', 'baking', 'validating'];

function route(s: DeploymentState, mirror: RouteEffect['mirror']): RouteEffect {
  return {
    kind: 'route',
    service: s.service,
    weights: weightsOf(s),
    mirror,
    filter: FILTER_PHASES.includes(s.phase),
  };
}

/** The share of eligible requests mirrored now: the adaptive share in force, else the plan's. */
export function shareInForce(s: DeploymentState): number {
  return s.share?.percentage ?? s.plan.shadowPercentage;
}

/** The history's words for a change of share (read back by {@link shareOfTransition}). */
export function shareTransition(percentage: number, why: string): string {
  return `share ${percentage}%: ${why}`;
}

/** A change of share from a `share` transition's reason, or null when it is not one. */
export function shareOfTransition(reason: string): { percentage: number; why: string } | null {
  const m = /^share ([0-9.]+)%: (.*)$/s.exec(reason);
  return m ? { percentage: Number(m[1]), why: m[2]! } : null;
}

/** Whether copies flow now: the phase routes a mirror and the rollout is not paused. */
export function mirroring(s: DeploymentState): boolean {
  return !s.paused && desiredEffects(s).some((e) => e.kind === 'route' && e.mirror !== null);
}

/**
 * The idempotent effects that bring the world to what `s` describes, in the
 * order they must run. With a chaos step in the plan, every phase also says
 * which faults stand: the running experiment's last (once its copies flow),
 * none first.
 */
export function desiredEffects(s: DeploymentState): Effect[] {
  const effects = worldEffects(s);
  if (!s.plan.chaos) return effects;
  const { experiment, faults } = gateFaults(s);
  const f: Effect = { kind: 'faults', service: s.service, experiment, faults };
  return experiment === null ? [f, ...effects] : [...effects, f];
}

function worldEffects(s: DeploymentState): Effect[] {
  const { service, version, previousVersion: previous, plan } = s;
  const candidate = (replicas: number): Effect => ({
    kind: 'provision',
    service,
    version,
    pool: 'main',
    replicas,
  });
  const baseline: Effect[] = plan.baseline
    ? [{ kind: 'provision', service, version: previous, pool: 'baseline', replicas: plan.shadowReplicas }]
    : [];
  const noBaseline: Effect[] = plan.baseline
    ? [{ kind: 'deprovision', service, version: previous, pool: 'baseline' }]
    : [];
  const noCandidate: Effect = { kind: 'deprovision', service, version, pool: 'main' };
  const pausedOrLive: Effect = { kind: 'control', service, action: s.paused ? 'pause' : 'resume' };
  // Off as a pair: a filter that missed the pause (a stream that connects later) still mirrors nothing.
  const mirroringOff: Effect[] = [
    { kind: 'control', service, action: 'pause' },
    { kind: 'control', service, action: 'percentage', percentage: 0 },
  ];
  // Routes are made for the plan's share (an adaptive plan's max); the filters apply the share in force.
  const percentage: Effect = {
    kind: 'control',
    service,
    action: 'percentage',
    percentage: shareInForce(s),
  };

  switch (s.phase) {
    case 'provisioning':
      // Mirroring is already off: a deployment begins after another ended, or at start (parts/controller.ts).
      return [route(s, null), candidate(plan.shadowReplicas), ...baseline];
    case 'shadowing':
      return [
        candidate(plan.shadowReplicas),
        ...baseline,
        route(s, {
          target: version,
          baseline: plan.baseline ? previous : null,
          percentage: plan.shadowPercentage,
        }),
        percentage,
        pausedOrLive,
      ];
    case 'promoting':
      // Capacity first: the candidate is scaled to production size before it takes live weight.
      // Live records (unpaired) judge a step: no copies are needed.
      return [...mirroringOff, candidate(plan.productionReplicas), route(s, null), ...noBaseline];
    case 'baking':
      return [
        candidate(plan.productionReplicas),
        { kind: 'provision', service, version: previous, pool: 'main', replicas: plan.productionReplicas },
        route(s, { target: previous, baseline: null, percentage: plan.shadowPercentage }),
        percentage,
        pausedOrLive,
        ...noBaseline,
      ];
    case 'completed':
      return [
        ...mirroringOff,
        route(s, null),
        { kind: 'deprovision', service, version: previous, pool: 'main' },
        ...noBaseline,
      ];
    case 'rolling_back':
      // Mirroring stops first; the previous version is (re)scaled; weights follow its reported capacity.
      return [
        ...mirroringOff,
        route(s, null),
        { kind: 'provision', service, version: previous, pool: 'main', replicas: plan.productionReplicas },
      ];
    case 'validating':
    case 'rollback_failed':
    case 'rolled_back':
    case 'aborted':
      return [...mirroringOff, route(s, null), noCandidate, ...noBaseline];
  }
}

/** The alert sent on entering a phase, if that phase alerts. */
export function phaseAlert(s: DeploymentState): Effect | null {
  const base = { kind: 'alert' as const, service: s.service, deploymentId: s.id, key: `${s.id}:${s.phase}` };
  const what = `${s.service} ${s.version} (replacing ${s.previousVersion})`;
  switch (s.phase) {
    case 'rolling_back':
      return {
        ...base,
        severity: 'warning',
        message: `${what}: rolling back: ${s.rollback?.reason ?? 'unknown'}`,
      };
    case 'rollback_failed':
      return {
        ...base,
        severity: 'critical',
        message: `${what}: rollback failed, holding: ${s.lastError ?? 'restored version failed validation'}`,
      };
    case 'rolled_back':
      return { ...base, severity: 'info', message: `${what}: rolled back; ${s.previousVersion} validated` };
    case 'completed':
      return { ...base, severity: 'info', message: `${what}: promoted` };
    case 'aborted':
      return { ...base, severity: 'info', message: `${what}: aborted by an operator` };
    default:
      return null;
  }
}
