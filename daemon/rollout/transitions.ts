/**
 * Building blocks of the machine's transitions: result builders and phase
 * entries. Pure; used by machine.ts (events) and commands.ts (operator
 * commands).
 */
import { desiredEffects, phaseAlert } from './desired.js';
import type { Phase } from './phases.js';
import type { DeploymentState, Effect, StepResult, TimerName } from './types.js';

// ── building results ─────────────────────────────────────────────────────────

export const same = (state: DeploymentState): StepResult => ({ state, effects: [] });
export const refuse = (state: DeploymentState, message: string): StepResult => ({
  state,
  effects: [],
  refused: message,
});

/** A change of data with no effects and no audit entry (e.g. a verdict recorded). */
export function quiet(state: DeploymentState, at: number, patch: Partial<DeploymentState>): StepResult {
  return { state: { ...state, ...patch, updatedAt: at }, effects: [] };
}

/** A change that re-asserts the desired world (weights, pause), with an audit reason. */
export function update(
  state: DeploymentState,
  at: number,
  patch: Partial<DeploymentState>,
  reason: string,
): StepResult {
  const next = { ...state, ...patch, updatedAt: at };
  return { state: next, effects: desiredEffects(next), reason };
}

/** Entering a phase (or a new promotion step): fresh hold, verdicts and extensions; phase alert. */
export function enter(
  state: DeploymentState,
  phase: Phase,
  at: number,
  patch: Partial<DeploymentState>,
  reason: string,
): StepResult {
  const next: DeploymentState = {
    ...state,
    deadline: null,
    ...patch,
    phase,
    phaseStartedAt: at,
    extensions: 0,
    lastVerdict: null,
    share: null,
    updatedAt: at,
  };
  const effects: Effect[] = desiredEffects(next);
  const alert = phase !== state.phase ? phaseAlert(next) : null;
  if (alert) effects.push(alert);
  return { state: next, effects, reason };
}

export const timer = (name: TimerName, at: number, ms: number) => ({ timer: name, atMs: at + ms });

/**
 * The rollout pauses itself for lack of evidence, and says so by a warning
 * alert (`key` once per deployment and hold; `message` after the version).
 * `remainingMs`: what a resume re-arms (null: the hold starts afresh).
 */
export function autoPause(
  s: DeploymentState,
  at: number,
  reason: string,
  remainingMs: number | null,
  alert: { key: string; message: string },
): StepResult {
  const r = update(
    s,
    at,
    { deadline: null, paused: { at, reason, remainingMs, auto: true } },
    `paused: ${reason}`,
  );
  r.effects.push({
    kind: 'alert',
    service: s.service,
    deploymentId: s.id,
    key: alert.key,
    severity: 'warning',
    message: `${s.service} ${s.version}: ${alert.message}`,
  });
  return r;
}

// ── phase entries ────────────────────────────────────────────────────────────

export function toShadowing(s: DeploymentState, at: number, reason: string): StepResult {
  return enter(s, 'shadowing', at, { deadline: timer('shadow_end', at, s.plan.shadowDurationMs) }, reason);
}

export function toStep(s: DeploymentState, index: number, at: number, reason: string): StepResult {
  const st = s.plan.steps[index]!;
  return enter(
    s,
    'promoting',
    at,
    { stepIndex: index, candidateWeight: st.weight, deadline: timer('step_end', at, st.holdMs) },
    `${reason}: candidate at ${st.weight}% (step ${index + 1}/${s.plan.steps.length})`,
  );
}

export function toBaking(s: DeploymentState, at: number, reason: string): StepResult {
  return enter(
    s,
    'baking',
    at,
    { candidateWeight: 100, deadline: timer('bake_end', at, s.plan.bakeMs) },
    reason,
  );
}

/** Promote by one stage: shadowing → first step → … → last step → baking → completed. */
export function advance(s: DeploymentState, at: number, reason: string): StepResult {
  if (s.phase === 'shadowing') return toStep(s, 0, at, reason);
  if (s.phase === 'promoting') {
    const next = s.stepIndex + 1;
    return next < s.plan.steps.length ? toStep(s, next, at, reason) : toBaking(s, at, reason);
  }
  return enter(s, 'completed', at, { candidateWeight: 100, paused: null }, reason);
}

export function toRollingBack(
  s: DeploymentState,
  at: number,
  reason: string,
  decisionId?: number,
): StepResult {
  const rollback = {
    reason,
    from: s.phase,
    readyReplicas: 0,
    ...(decisionId === undefined ? {} : { decisionId }),
  };
  return enter(
    s,
    'rolling_back',
    at,
    { rollback, paused: null, deadline: timer('capacity_timeout', at, s.plan.capacityTimeoutMs) },
    `rolling back: ${reason}`,
  );
}

export function toRollbackFailed(s: DeploymentState, at: number, why: string): StepResult {
  return enter(s, 'rollback_failed', at, { candidateWeight: 0, lastError: why }, `rollback failed: ${why}`);
}

/** The hold length of the current phase/step (for extensions and auto-pause). */
export function holdMs(s: DeploymentState): number | null {
  if (s.phase === 'shadowing') return s.plan.shadowDurationMs;
  if (s.phase === 'promoting') return s.plan.steps[s.stepIndex]!.holdMs;
  if (s.phase === 'baking') return s.plan.bakeMs;
  if (s.phase === 'provisioning') return s.plan.provisionTimeoutMs;
  return null;
}

/** The timer that ends a hold in a phase, if it has one. */
export function timerOf(phase: Phase): TimerName | null {
  if (phase === 'provisioning') return 'provision_timeout';
  if (phase === 'shadowing') return 'shadow_end';
  if (phase === 'promoting') return 'step_end';
  if (phase === 'baking') return 'bake_end';
  return null;
}
