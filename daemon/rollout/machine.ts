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
 *  - A proxy refusing configuration (xDS NACK) holds the rollout and alerts;
 *    it is never a reason to roll back (rejection.ts).
 *  - After a restart, a judged deadline is never met on a verdict from
 *    before it: it waits for the evidence buffered while the daemon was down.
 */
import { chaosEnded, enterChaosStep, onChaosVerdict, onFaultsOn, rerunExperiment } from './chaos-gate.js';
import { chaosStepDue, inChaosStep } from './chaos-step.js';
import { onCommand } from './commands.js';
import { desiredEffects, shareInForce, shareTransition } from './desired.js';
import { FORWARD_PHASES } from './phases.js';
import { onAccepted, onRejected } from './rejection.js';
import {
  advance,
  autoPause,
  enter,
  holdMs,
  quiet,
  same,
  timer,
  toRollbackFailed,
  toRollingBack,
  toShadowing,
  update,
} from './transitions.js';
import type { DeploymentState, RolloutEvent, RolloutPlan, StepResult, VerdictRecord } from './types.js';

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
    rejection: null,
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
    case 'rejected':
      return onRejected(state, event);
    case 'accepted':
      return onAccepted(state, event);
    case 'restarted':
      return onRestarted(state, event);
    case 'share':
      return onShare(state, event);
    case 'faults_on':
      return onFaultsOn(state, event);
    case 'chaos_verdict':
      return onChaosVerdict(state, event);
  }
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
    case 'chaos_end':
      return chaosEnded(s, at);
  }
}

/** Deadlines that end a judged period; the others (provisioning, capacity) fire on time alone. */
const JUDGED_TIMERS: ReadonlySet<string> = new Set(['shadow_end', 'step_end', 'bake_end', 'validation_end']);

/**
 * After a restart the verdict from before the daemon went down is stale, and
 * the evidence of the time it was down is still buffered in the proxies. A
 * judged deadline that passed meanwhile (or falls before that evidence can
 * arrive) moves to the end of the catch-up, and the hold ends on a verdict
 * given since.
 */
function onRestarted(s: DeploymentState, e: Ev<'restarted'>): StepResult {
  // The chaos step's tally lived in memory: its experiment runs again, whole.
  if (inChaosStep(s) && !s.paused) return rerunExperiment(s, e.at, 'the daemon restarted');
  const d = s.deadline;
  if (!d || s.paused || !JUDGED_TIMERS.has(d.timer) || d.atMs >= e.at + e.catchUpMs) return same(s);
  const late = d.atMs <= e.at ? `${d.timer} passed while the daemon was down` : `${d.timer} is due`;
  return update(
    s,
    e.at,
    { deadline: timer(d.timer, e.at, e.catchUpMs), lastVerdict: null },
    `${late}; judging on the evidence that arrives in the next ${e.catchUpMs / 1000}s`,
  );
}

/** End of a judged hold: advance on a healthy verdict, else extend, else pause and alert. */
function holdEnded(s: DeploymentState, at: number): StepResult {
  if (s.lastVerdict?.verdict === 'healthy') {
    const healthy = `judged healthy (score ${s.lastVerdict.score.toFixed(2)})`;
    return chaosStepDue(s) ? enterChaosStep(s, at, healthy) : advance(s, at, healthy);
  }
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
  return autoPause(s, at, reason, hold, {
    key: `${s.id}:${s.phase}:${s.stepIndex}:paused`,
    message: `paused in ${s.phase}: ${reason}; promote, rollback or resume`,
  });
}

function onVerdict(s: DeploymentState, e: Ev<'verdict'>): StepResult {
  const judged =
    s.phase === 'validating' ? 'restored' : FORWARD_PHASES.includes(s.phase) ? 'candidate' : null;
  if (judged === null || e.subject !== judged || s.phase === 'provisioning') return same(s);
  // Inside the chaos step the judge measures the injected faults, not the version.
  if (inChaosStep(s)) return same(s);
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

/**
 * Replicas a shadow pool needs ready: the plan's size, or every replica the
 * pool can have when the provisioner cannot make it that large (a static
 * version has its configured endpoints, whatever the plan asks for).
 */
function neededReady(s: DeploymentState, e: Ev<'provisioned'>): number {
  const can = e.desired ?? s.plan.shadowReplicas;
  return Math.max(1, Math.min(s.plan.shadowReplicas, can));
}

function onProvisioned(s: DeploymentState, e: Ev<'provisioned'>): StepResult {
  if (s.phase === 'provisioning') {
    const ready = { ...s.ready };
    const needed = neededReady(s, e);
    if (e.version === s.version && e.pool === 'main' && e.ready >= needed) ready.candidate = true;
    else if (e.version === s.previousVersion && e.pool === 'baseline' && e.ready >= needed) {
      ready.baseline = true;
    } else return same(s);
    if (ready.candidate && ready.baseline && !s.paused)
      return toShadowing({ ...s, ready }, e.at, 'candidate ready');
    return quiet(s, e.at, { ready });
  }
  if (s.phase !== 'rolling_back' || e.version !== s.previousVersion || e.pool !== 'main') return same(s);
  // Shift back at the pace of the previous version's capacity; never back toward the candidate.
  const full = Math.max(1, Math.min(s.plan.productionReplicas, e.desired ?? s.plan.productionReplicas));
  const share = Math.min(100, Math.floor((100 * e.ready) / full));
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

/** Phases whose mirroring the adaptive share steers. */
const MIRRORING_PHASES: ReadonlySet<string> = new Set(['shadowing', 'baking']);

/**
 * Adaptive shadowing: a new share in force, with its reason in the history.
 * Only the filters' share changes (a control effect): routes stay made for
 * the plan's max, so no route is pushed.
 */
function onShare(s: DeploymentState, e: Ev<'share'>): StepResult {
  const range = s.plan.adaptive;
  if (!range || !MIRRORING_PHASES.has(s.phase) || s.paused) return same(s);
  const percentage = Math.min(range.max, Math.max(0, e.percentage));
  if (percentage === shareInForce(s)) return same(s);
  return {
    state: { ...s, share: { percentage, reason: e.reason, at: e.at }, updatedAt: e.at },
    effects: [{ kind: 'control', service: s.service, action: 'percentage', percentage }],
    reason: shareTransition(percentage, e.reason),
  };
}

function onEffectFailed(s: DeploymentState, e: Ev<'effect_failed'>): StepResult {
  const error = `${e.effect}: ${e.error}`;
  if (!FORWARD_PHASES.includes(s.phase)) return quiet(s, e.at, { lastError: error });
  if (e.effect === 'provision')
    return toRollingBack({ ...s, lastError: error }, e.at, `provisioning failed: ${e.error}`);
  if (e.effect === 'route' && !s.paused) {
    // A NACK holds the rollout and is reported; it is never read as a verdict.
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
