/**
 * The chaos step of a rollout, as a gate at the end of shadowing. Pure.
 *
 * When shadowing has judged the candidate healthy and the plan has a chaos
 * step, the deployment stays in `shadowing` (the candidate still receives
 * copies only, so users never see it) and runs the step's experiments one
 * after the other: the faults go onto the candidate's (and the baseline's)
 * calls to its dependencies (a `faults` effect), the `chaos_end` timer is
 * armed once they are on every proxy (`faults_on`), and the verdict so far
 * comes in once a second (`chaos_verdict`, controller/chaos-gate.ts). At
 * `chaos_end`:
 * - a resilience regression with `failOn: resilience` rolls back, like any
 *   rollback, naming the fault and the culprit;
 * - otherwise the next experiment starts, or, after the last, the rollout
 *   advances to its first promotion step;
 * - an experiment that saw no paired request (missing data is never
 *   evidence) pauses the rollout; a resume runs it again.
 *
 * The judge's verdicts are ignored inside the gate: they would measure the
 * injected faults, not the version. A pause lifts the faults.
 */
import { describeFault } from '../config/chaos-faults.js';
import { experimentWindowMs, inChaosStep } from './chaos-step.js';
import { advance, autoPause, same, timer, toRollingBack, update } from './transitions.js';
import type { ChaosStepState, ChaosStepVerdict, DeploymentState, RolloutEvent, StepResult } from './types.js';

type Ev<T extends RolloutEvent['type']> = Extract<RolloutEvent, { type: T }>;

/** The faults of experiment `i` as written, for the history and the verdict. */
export function experimentFaults(s: DeploymentState, i: number): string {
  return s.plan.chaos!.experiments[i]!.faults.map(describeFault).join(', ');
}

/** Experiment `i` begins: its faults go on; its window is armed once they are (or after a grace). */
function startExperiment(
  s: DeploymentState,
  at: number,
  i: number,
  results: ChaosStepVerdict[],
  why: string,
): StepResult {
  const chaos: ChaosStepState = { experiment: i, faultsOnAt: null, verdict: null, results, done: false };
  const n = s.plan.chaos!.experiments.length;
  return update(
    s,
    at,
    { chaos, deadline: timer('chaos_end', at, experimentWindowMs(s, i)), extensions: 0 },
    `${why}; chaos experiment ${i + 1}/${n} on ${s.version}: ${experimentFaults(s, i)}`,
  );
}

/** Shadowing judged the candidate healthy: the chaos step begins. */
export function enterChaosStep(s: DeploymentState, at: number, why: string): StepResult {
  return startExperiment(s, at, 0, [], why);
}

/**
 * The running experiment starts again (a resume after a pause, which lifted
 * its faults; a daemon restart, which lost its tally): its faults go on
 * again and its window is armed anew.
 */
export function rerunExperiment(s: DeploymentState, at: number, why: string): StepResult {
  const c = s.chaos!;
  return update(
    s,
    at,
    {
      paused: null,
      chaos: { ...c, faultsOnAt: null, verdict: null },
      deadline: timer('chaos_end', at, experimentWindowMs(s, c.experiment)),
    },
    `${why}; chaos experiment ${c.experiment + 1} runs again`,
  );
}

export function onFaultsOn(s: DeploymentState, e: Ev<'faults_on'>): StepResult {
  const c = s.chaos;
  if (!inChaosStep(s) || s.paused || c!.experiment !== e.experiment || c!.faultsOnAt !== null) return same(s);
  const ms = s.plan.chaos!.experiments[e.experiment]!.durationMs;
  const next: DeploymentState = {
    ...s,
    chaos: { ...c!, faultsOnAt: e.at },
    deadline: timer('chaos_end', e.at, ms),
    updatedAt: e.at,
  };
  return { state: next, effects: [], reason: `chaos: faults on every proxy; judging for ${ms / 1000}s` };
}

export function onChaosVerdict(s: DeploymentState, e: Ev<'chaos_verdict'>): StepResult {
  const c = s.chaos;
  if (!inChaosStep(s) || c!.experiment !== e.experiment || c!.faultsOnAt === null) return same(s);
  const { type: _, ...verdict } = e;
  return { state: { ...s, chaos: { ...c!, verdict }, updatedAt: e.at }, effects: [] };
}

/** The running experiment's window ended: roll back, go on, or pause for lack of evidence. */
export function chaosEnded(s: DeploymentState, at: number): StepResult {
  const c = s.chaos!;
  const plan = s.plan.chaos!;
  const v = c.verdict;
  const i = c.experiment;
  if (!v || v.pairs === 0) {
    const reason = `chaos experiment ${i + 1} (${experimentFaults(s, i)}) saw no paired request under its faults`;
    return autoPause(s, at, reason, null, {
      key: `${s.id}:chaos:${i}:paused`,
      message: `paused in its chaos step: ${reason}; resume, promote or rollback`,
    });
  }
  const results = [...c.results, v];
  const said = `chaos experiment ${i + 1} (${v.faults}): ${v.explanation}`;
  if (v.regression && plan.failOn === 'resilience')
    return toRollingBack({ ...s, chaos: { ...c, results, verdict: null, done: true } }, at, said);
  if (i + 1 < plan.experiments.length)
    return startExperiment(s, at, i + 1, results, v.regression ? `${said} (reported)` : said);
  const done: ChaosStepState = { ...c, results, verdict: null, done: true };
  return advance({ ...s, chaos: done }, at, `chaos step done: ${said}${v.regression ? ' (reported)' : ''}`);
}
