/**
 * The deployment state machine: `begin()` and `step()` are pure functions of
 * their arguments (no clock, no I/O). Time comes in on the events (`at`), and
 * the machine's wishes go out as effects (desired.ts) and one deadline in the
 * state, which the scheduler arms.
 *
 * Rules beyond the diagram in phases.ts:
 *  - A hold (shadowing, each promotion step) ends by advancing only if the
 *    latest verdict in it is `healthy`; otherwise it is extended, and after
 *    `plan.maxHoldExtensions` extensions the rollout pauses itself and alerts.
 *  - A `rollback` verdict about the candidate acts in every forward phase,
 *    paused or not: safety is never paused.
 *  - Verdicts about another subject than the phase judges are ignored.
 *  - Commands not valid in a phase are refused with a message and change nothing.
 *  - A final phase never moves again (never flap).
 */
import { desiredEffects, phaseAlert } from './desired.js';
import type { Phase } from './phases.js';
import { FORWARD_PHASES, isTerminal } from './phases.js';
import type {
  DeploymentState,
  Effect,
  RolloutEvent,
  RolloutPlan,
  StepResult,
  TimerName,
  VerdictRecord,
} from './types.js';

type Ev<T extends RolloutEvent['type']> = Extract<RolloutEvent, { type: T }>;

/** The input of a new deployment. */
export interface BeginInput {
  id: string;
  service: string;
  version: string;
  previousVersion: string;
  plan: RolloutPlan;
  at: number;
}

/** A new deployment in `provisioning`, and the effects that start its candidate. */
export function begin(input: BeginInput): StepResult {
  const state: DeploymentState = {
    ...input,
    phase: 'provisioning',
    candidateWeight: 0,
    stepIndex: -1,
    deadline: { timer: 'provision_timeout', atMs: input.at + input.plan.provisionTimeoutMs },
    phaseStartedAt: input.at,
    extensions: 0,
    paused: null,
    ready: { candidate: false, baseline: !input.plan.baseline },
    lastVerdict: null,
    rollback: null,
    lastError: null,
    createdAt: input.at,
    updatedAt: input.at,
  };
  delete (state as Partial<BeginInput>).at;
  return {
    state,
    effects: desiredEffects(state),
    reason: `deploy ${input.version} replacing ${input.previousVersion}`,
  };
}

/** Applies one event. Returns the same state object (and no effects) when nothing changes. */
export function step(state: DeploymentState, event: RolloutEvent): StepResult {
  switch (event.type) {
    case 'command':
      return onCommand(state, event);
    case 'timer':
      return onTimer(state, event);
    case 'verdict':
      return onVerdict(state, event);
    case 'provisioned':
      return onProvisioned(state, event);
    case 'effect_failed':
      return onEffectFailed(state, event);
  }
}

// ── building results ─────────────────────────────────────────────────────────

const same = (state: DeploymentState): StepResult => ({ state, effects: [] });
const refuse = (state: DeploymentState, message: string): StepResult => ({
  state,
  effects: [],
  refused: message,
});

/** A change of data with no effects and no audit entry (e.g. a verdict recorded). */
function quiet(state: DeploymentState, at: number, patch: Partial<DeploymentState>): StepResult {
  return { state: { ...state, ...patch, updatedAt: at }, effects: [] };
}

/** A change that re-asserts the desired world (weights, pause), with an audit reason. */
function update(
  state: DeploymentState,
  at: number,
  patch: Partial<DeploymentState>,
  reason: string,
): StepResult {
  const next = { ...state, ...patch, updatedAt: at };
  return { state: next, effects: desiredEffects(next), reason };
}

/** Entering a phase (or a new promotion step): fresh hold, verdicts and extensions; phase alert. */
function enter(
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
    updatedAt: at,
  };
  const effects: Effect[] = desiredEffects(next);
  const alert = phase !== state.phase ? phaseAlert(next) : null;
  if (alert) effects.push(alert);
  return { state: next, effects, reason };
}

const timer = (name: TimerName, at: number, ms: number) => ({ timer: name, atMs: at + ms });

// ── phase entries ────────────────────────────────────────────────────────────

function toShadowing(s: DeploymentState, at: number, reason: string): StepResult {
  return enter(s, 'shadowing', at, { deadline: timer('shadow_end', at, s.plan.shadowDurationMs) }, reason);
}

function toStep(s: DeploymentState, index: number, at: number, reason: string): StepResult {
  const st = s.plan.steps[index]!;
  return enter(
    s,
    'promoting',
    at,
    { stepIndex: index, candidateWeight: st.weight, deadline: timer('step_end', at, st.holdMs) },
    `${reason}: candidate at ${st.weight}% (step ${index + 1}/${s.plan.steps.length})`,
  );
}

function toBaking(s: DeploymentState, at: number, reason: string): StepResult {
  return enter(
    s,
    'baking',
    at,
    { candidateWeight: 100, deadline: timer('bake_end', at, s.plan.bakeMs) },
    reason,
  );
}

/** Promote by one stage: shadowing → first step → … → last step → baking → completed. */
function advance(s: DeploymentState, at: number, reason: string): StepResult {
  if (s.phase === 'shadowing') return toStep(s, 0, at, reason);
  if (s.phase === 'promoting') {
    const next = s.stepIndex + 1;
    return next < s.plan.steps.length ? toStep(s, next, at, reason) : toBaking(s, at, reason);
  }
  return enter(s, 'completed', at, { candidateWeight: 100, paused: null }, reason);
}

function toRollingBack(s: DeploymentState, at: number, reason: string, decisionId?: number): StepResult {
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

function toRollbackFailed(s: DeploymentState, at: number, why: string): StepResult {
  return enter(s, 'rollback_failed', at, { candidateWeight: 0, lastError: why }, `rollback failed: ${why}`);
}

/** The hold length of the current phase/step (for extensions and auto-pause). */
function holdMs(s: DeploymentState): number | null {
  if (s.phase === 'shadowing') return s.plan.shadowDurationMs;
  if (s.phase === 'promoting') return s.plan.steps[s.stepIndex]!.holdMs;
  if (s.phase === 'baking') return s.plan.bakeMs;
  if (s.phase === 'provisioning') return s.plan.provisionTimeoutMs;
  return null;
}

// ── events ───────────────────────────────────────────────────────────────────

function onTimer(s: DeploymentState, e: Ev<'timer'>): StepResult {
  // A timer that is not the armed one (superseded, or fired early) is stale.
  if (!s.deadline || s.deadline.timer !== e.timer || e.at < s.deadline.atMs) return same(s);
  const at = e.at;
  switch (e.timer) {
    case 'provision_timeout':
      return toRollingBack(s, at, `candidate not ready within ${s.plan.provisionTimeoutMs / 1000}s`);
    case 'shadow_end':
    case 'step_end':
      return holdEnded(s, at);
    case 'bake_end':
      return advance(s, at, 'bake finished');
    case 'capacity_timeout':
      return toRollbackFailed(
        s,
        at,
        `${s.previousVersion} did not regain capacity within ${s.plan.capacityTimeoutMs / 1000}s`,
      );
    case 'validation_end':
      return enter(
        s,
        'rolled_back',
        at,
        {},
        `${s.previousVersion} validated for ${s.plan.validationPeriodMs / 1000}s`,
      );
  }
}

/** End of a judged hold: advance on a healthy verdict, else extend, else pause and alert. */
function holdEnded(s: DeploymentState, at: number): StepResult {
  if (s.lastVerdict?.verdict === 'healthy')
    return advance(s, at, `judged healthy (score ${s.lastVerdict.score.toFixed(2)})`);
  const hold = holdMs(s)!;
  if (s.extensions < s.plan.maxHoldExtensions) {
    const n = s.extensions + 1;
    return update(
      s,
      at,
      { extensions: n, deadline: timer(s.deadline!.timer, at, hold) },
      `hold extended: not enough evidence (${n}/${s.plan.maxHoldExtensions})`,
    );
  }
  const reason = `not enough evidence after ${s.extensions} extensions`;
  const next = update(
    s,
    at,
    { deadline: null, paused: { at, reason, remainingMs: hold, auto: true } },
    `paused: ${reason}`,
  );
  next.effects.push({
    kind: 'alert',
    service: s.service,
    deploymentId: s.id,
    key: `${s.id}:${s.phase}:${s.stepIndex}:paused`,
    severity: 'warning',
    message: `${s.service} ${s.version}: paused in ${s.phase}: ${reason}; promote, rollback or resume`,
  });
  return next;
}

function onVerdict(s: DeploymentState, e: Ev<'verdict'>): StepResult {
  const judged =
    s.phase === 'validating' ? 'restored' : FORWARD_PHASES.includes(s.phase) ? 'candidate' : null;
  if (judged === null || e.subject !== judged || s.phase === 'provisioning') return same(s);
  const record: VerdictRecord = {
    verdict: e.verdict,
    score: e.score,
    threshold: e.threshold,
    culprits: e.culprits,
    explanation: e.explanation,
    at: e.at,
    ...(e.decisionId === undefined ? {} : { decisionId: e.decisionId }),
  };
  if (e.verdict !== 'rollback') return quiet(s, e.at, { lastVerdict: record });
  const culprits = e.culprits.length ? ` (${e.culprits.join(', ')})` : '';
  const why = `anomaly score ${e.score.toFixed(2)} ≥ ${e.threshold}${culprits}`;
  if (s.phase === 'validating')
    return toRollbackFailed({ ...s, lastVerdict: record }, e.at, `${s.previousVersion}: ${why}`);
  const r = toRollingBack(s, e.at, `judge: ${why}`, e.decisionId);
  return { ...r, state: { ...r.state, lastVerdict: record } };
}

function onProvisioned(s: DeploymentState, e: Ev<'provisioned'>): StepResult {
  if (s.phase === 'provisioning') {
    const ready = { ...s.ready };
    if (e.version === s.version && e.pool === 'main' && e.ready >= s.plan.shadowReplicas)
      ready.candidate = true;
    else if (e.version === s.previousVersion && e.pool === 'baseline' && e.ready >= s.plan.shadowReplicas) {
      ready.baseline = true;
    } else return same(s);
    if (ready.candidate && ready.baseline && !s.paused)
      return toShadowing({ ...s, ready }, e.at, 'candidate ready');
    return quiet(s, e.at, { ready });
  }
  if (s.phase !== 'rolling_back' || e.version !== s.previousVersion || e.pool !== 'main') return same(s);
  // Shift back at the pace of the previous version's capacity; never back toward the candidate.
  const share = Math.min(100, Math.floor((100 * e.ready) / s.plan.productionReplicas));
  const candidateWeight = Math.min(s.candidateWeight, 100 - share);
  const rollback = { ...s.rollback!, readyReplicas: e.ready };
  if (candidateWeight === 0) {
    return enter(
      s,
      'validating',
      e.at,
      { candidateWeight: 0, rollback, deadline: timer('validation_end', e.at, s.plan.validationPeriodMs) },
      `${s.previousVersion} serves 100% again; validating for ${s.plan.validationPeriodMs / 1000}s`,
    );
  }
  if (candidateWeight === s.candidateWeight) return quiet(s, e.at, { rollback });
  return update(s, e.at, { candidateWeight, rollback }, `shifted back: candidate at ${candidateWeight}%`);
}

function onEffectFailed(s: DeploymentState, e: Ev<'effect_failed'>): StepResult {
  const error = `${e.effect}: ${e.error}`;
  if (!FORWARD_PHASES.includes(s.phase)) return quiet(s, e.at, { lastError: error });
  if (e.effect === 'provision')
    return toRollingBack({ ...s, lastError: error }, e.at, `provisioning failed: ${e.error}`);
  if (e.effect === 'route' && !s.paused) {
    // NOTE: DESIGN §4 "xDS": a NACK holds the rollout and is reported.
    const reason = `routing refused: ${e.error}`;
    const r = update(
      s,
      e.at,
      {
        lastError: error,
        deadline: null,
        paused: {
          at: e.at,
          reason,
          remainingMs: s.deadline ? Math.max(0, s.deadline.atMs - e.at) : null,
          auto: true,
        },
      },
      `paused: ${reason}`,
    );
    r.effects.push({
      kind: 'alert',
      service: s.service,
      deploymentId: s.id,
      key: `${s.id}:${s.phase}:${s.stepIndex}:route`,
      severity: 'warning',
      message: `${s.service} ${s.version}: ${reason}; rollout held`,
    });
    return r;
  }
  return quiet(s, e.at, { lastError: error });
}

// ── commands ─────────────────────────────────────────────────────────────────

function finalRefusal(s: DeploymentState, what: string): string {
  return `deployment ${s.id} of ${s.service} is ${s.phase}; nothing to ${what}`;
}

function onCommand(s: DeploymentState, e: Ev<'command'>): StepResult {
  const by = e.reason ? `operator ${e.command} (${e.reason})` : `operator ${e.command}`;
  const rollingBack = s.phase === 'rolling_back' || s.phase === 'validating';
  if (isTerminal(s.phase)) {
    if (e.command === 'rollback' && s.phase === 'completed') {
      return refuse(s, `deployment ${s.id} is completed; deploy ${s.previousVersion} to go back`);
    }
    return refuse(s, finalRefusal(s, e.command));
  }
  switch (e.command) {
    case 'promote':
      if (rollingBack) return refuse(s, `${s.service} is ${s.phase}; a rollback cannot be promoted`);
      if (s.paused) return refuse(s, `${s.service} is paused (${s.paused.reason}); resume it first`);
      if (s.phase === 'provisioning')
        return refuse(s, `${s.service} ${s.version} is still provisioning; nothing to promote yet`);
      return advance(s, e.at, by);
    case 'rollback':
      if (rollingBack) return refuse(s, `${s.service} is already ${s.phase}`);
      return toRollingBack(s, e.at, by);
    case 'pause': {
      if (rollingBack) return refuse(s, `${s.service} is ${s.phase}; a rollback cannot be paused`);
      if (s.paused) return refuse(s, `${s.service} is already paused`);
      const remainingMs = s.deadline ? Math.max(0, s.deadline.atMs - e.at) : null;
      return update(
        s,
        e.at,
        { deadline: null, paused: { at: e.at, reason: by, remainingMs, auto: false } },
        `paused: ${by}`,
      );
    }
    case 'resume':
      return resume(s, e.at, by);
    case 'abort':
      if (rollingBack) return refuse(s, `${s.service} is ${s.phase}; a rollback cannot be aborted`);
      return enter(s, 'aborted', e.at, { candidateWeight: 0, paused: null }, by);
  }
}

function resume(s: DeploymentState, at: number, by: string): StepResult {
  if (!s.paused) return refuse(s, `${s.service} is not paused`);
  if (s.phase === 'provisioning' && s.ready.candidate && s.ready.baseline) {
    return toShadowing({ ...s, paused: null }, at, `${by}: candidate ready`);
  }
  // After an automatic pause the hold starts afresh; after a manual one the remaining time is kept.
  const remaining = s.paused.auto ? holdMs(s) : s.paused.remainingMs;
  const name = timerOf(s.phase);
  const deadline = remaining === null || name === null ? null : timer(name, at, remaining);
  return update(
    s,
    at,
    { paused: null, deadline, extensions: s.paused.auto ? 0 : s.extensions },
    `resumed: ${by}`,
  );
}

function timerOf(phase: Phase): TimerName | null {
  if (phase === 'provisioning') return 'provision_timeout';
  if (phase === 'shadowing') return 'shadow_end';
  if (phase === 'promoting') return 'step_end';
  if (phase === 'baking') return 'bake_end';
  return null;
}
