/**
 * One run of a journey: every step sent to both arms at once (the version
 * judged and the one it is compared with), with the same inputs, in
 * lockstep, so both see the same moment and load. Each arm keeps the values
 * it extracted (ids differ between versions); a step that fails on either
 * arm ends the run there: later steps would lack their inputs, and a step
 * that did not run on both arms is missing data, never evidence.
 */
import { randomUUID } from 'node:crypto';
import { checkStep } from './assertions.js';
import { sendStep } from './http.js';
import type { Journey, Step } from './journey.js';
import { type ArmOutcome, armOutcome } from './records.js';
import { fillTemplate } from './template.js';

/** Where an arm's requests go. */
export interface Target {
  host: string;
  port: number;
  /** The version there, for results. */
  version?: string;
}

/** Both arms of one step: `primary` is the version compared with, `candidate` the mirror target. */
export interface StepPair {
  step: string;
  /** Unix µs when both requests were sent. */
  startUs: number;
  primary: ArmOutcome;
  candidate: ArmOutcome;
}

export interface RunHooks {
  nowUs(): number;
  /** Before a step's requests go out (its second must stay open: see the aggregator's onPending). */
  stepStarting(startUs: number): void;
  /** A step's two outcomes; false ends the run (the phase changed meanwhile). */
  stepDone(pair: StepPair): boolean;
  /** After stepDone (also when the run ends there). */
  stepEnded(startUs: number): void;
}

export interface RunResult {
  run: number;
  /** Unix ms. */
  startedAt: number;
  steps: StepPair[];
  /** Why the run ended before its last step, if it did. */
  stopped?: string;
}

/** Headers every journey request carries, so that services can tell synthetic traffic apart. */
export const SYNTHETIC_HEADER = 'x-umbra-synthetic';

export async function runJourney(
  journey: Journey,
  run: number,
  targets: { primary: Target; candidate: Target },
  hooks: RunHooks,
): Promise<RunResult> {
  const startedAt = Math.floor(hooks.nowUs() / 1000);
  const base = new Map<string, string>([
    ['run', String(run)],
    ['uuid', randomUUID()],
    ['unixMs', String(startedAt)],
  ]);
  for (const [name, t] of journey.variables) base.set(name, fillTemplate(t, base));
  const vars = { primary: new Map(base), candidate: new Map(base) };
  const result: RunResult = { run, startedAt, steps: [] };
  for (const step of journey.steps) {
    const startUs = hooks.nowUs();
    hooks.stepStarting(startUs);
    let keepGoing = false;
    try {
      const [p, c] = await Promise.all([
        sendArm(journey, step, run, targets.primary, vars.primary),
        sendArm(journey, step, run, targets.candidate, vars.candidate),
      ]);
      const pair: StepPair = { step: step.name, startUs, primary: p, candidate: c };
      result.steps.push(pair);
      keepGoing = hooks.stepDone(pair);
      if (!keepGoing) result.stopped = 'the deployment moved on';
      else if (p.failures.length > 0 || c.failures.length > 0) {
        keepGoing = false;
        result.stopped = `step ${step.name} failed`;
      }
    } finally {
      hooks.stepEnded(startUs);
    }
    if (!keepGoing) break;
  }
  return result;
}

async function sendArm(
  journey: Journey,
  step: Step,
  run: number,
  target: Target,
  vars: Map<string, string>,
): Promise<ArmOutcome> {
  const headers: Record<string, string> = { [SYNTHETIC_HEADER]: `${journey.name}/${step.name} #${run}` };
  for (const [h, t] of step.headers) headers[h] = fillTemplate(t, vars);
  const res = await sendStep({
    host: target.host,
    port: target.port,
    method: step.method,
    path: fillTemplate(step.path, vars),
    headers,
    ...(step.body ? { body: fillTemplate(step.body, vars) } : {}),
    timeoutMs: journey.timeoutMs,
  });
  const check = checkStep(step, res);
  for (const [name, value] of check.extracted) vars.set(name, value);
  return armOutcome(res, check.failures);
}
