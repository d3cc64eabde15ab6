/**
 * Operator commands (promote, rollback, pause, resume, abort) as events of
 * the machine. A command not valid in the current phase is refused with a
 * message, and the state is returned unchanged with no effects.
 */
import { rerunExperiment } from './chaos-gate.js';
import { inChaosStep } from './chaos-step.js';
import { isTerminal } from './phases.js';
import {
  advance,
  enter,
  holdMs,
  refuse,
  timer,
  timerOf,
  toRollingBack,
  toShadowing,
  update,
} from './transitions.js';
import type { DeploymentState, RolloutEvent, StepResult } from './types.js';

function finalRefusal(s: DeploymentState, what: string): string {
  return `deployment ${s.id} of ${s.service} is ${s.phase}; nothing to ${what}`;
}

/** Applies an operator command; see docs/cli.md for what each phase accepts. */
export function onCommand(s: DeploymentState, e: Extract<RolloutEvent, { type: 'command' }>): StepResult {
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

/** Lifts a pause (an operator's, or a hold whose cause is gone: rejection.ts). */
export function resume(s: DeploymentState, at: number, by: string): StepResult {
  if (!s.paused) return refuse(s, `${s.service} is not paused`);
  if (s.rejection) {
    const r = s.rejection;
    return refuse(
      s,
      `${s.service} is held: proxy ${r.node} still refuses ${r.type} ${r.version} (${r.message}); fix the configuration (umbra config check) or roll back`,
    );
  }
  if (s.phase === 'provisioning' && s.ready.candidate && s.ready.baseline) {
    return toShadowing({ ...s, paused: null }, at, `${by}: candidate ready`);
  }
  // The pause lifted the chaos step's faults: its experiment runs again.
  if (inChaosStep(s)) return rerunExperiment(s, at, `resumed: ${by}`);
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
