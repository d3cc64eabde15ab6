/** Shared fixtures for the rollout tests: a small plan and event builders. */
import assert from 'node:assert/strict';
import { begin, step } from '../../../daemon/rollout/machine.js';
import type {
  CommandName,
  DeploymentState,
  RolloutEvent,
  RolloutPlan,
  StepResult,
  TimerName,
} from '../../../daemon/rollout/types.js';

export const T0 = 1_700_000_000_000;

export function plan(over: Partial<RolloutPlan> = {}): RolloutPlan {
  return {
    shadowPercentage: 10,
    baseline: false,
    shadowReplicas: 1,
    productionReplicas: 4,
    shadowDurationMs: 60_000,
    steps: [
      { weight: 10, holdMs: 30_000 },
      { weight: 50, holdMs: 30_000 },
      { weight: 100, holdMs: 30_000 },
    ],
    bakeMs: 60_000,
    validationPeriodMs: 120_000,
    provisionTimeoutMs: 90_000,
    capacityTimeoutMs: 45_000,
    maxHoldExtensions: 2,
    ...over,
  };
}

export function started(over: Partial<RolloutPlan> = {}): DeploymentState {
  return begin({
    id: 'd1',
    service: 'checkout',
    version: 'v2',
    previousVersion: 'v1',
    plan: plan(over),
    at: T0,
  }).state;
}

export const ev = {
  timer: (timer: TimerName, at: number): RolloutEvent => ({ type: 'timer', timer, at }),
  command: (command: CommandName, at: number, reason?: string): RolloutEvent => ({
    type: 'command',
    command,
    at,
    ...(reason ? { reason } : {}),
  }),
  provisioned: (
    version: string,
    ready: number,
    at: number,
    pool: 'main' | 'baseline' = 'main',
    desired?: number,
  ): RolloutEvent => ({
    type: 'provisioned',
    version,
    pool,
    ready,
    at,
    ...(desired === undefined ? {} : { desired }),
  }),
  verdict: (
    verdict: 'rollback' | 'healthy' | 'insufficient',
    at: number,
    subject: 'candidate' | 'restored' = 'candidate',
  ): RolloutEvent => ({
    type: 'verdict',
    subject,
    verdict,
    score: verdict === 'rollback' ? 3.4 : 0.2,
    threshold: 3,
    culprits: verdict === 'rollback' ? ['GET /pay eu-west errors'] : [],
    explanation: 'test',
    decisionId: 7,
    at,
  }),
};

/** Applies events in order; each must be accepted (not refused). */
export function run(state: DeploymentState, ...events: RolloutEvent[]): StepResult {
  let r: StepResult = { state, effects: [] };
  for (const e of events) {
    r = step(r.state, e);
    assert.equal(r.refused, undefined, `event ${JSON.stringify(e)} was refused: ${r.refused}`);
  }
  return r;
}

/** A deployment driven to `shadowing` at T0 + 1s. */
export function shadowing(over: Partial<RolloutPlan> = {}): DeploymentState {
  return run(started(over), ev.provisioned('v2', 1, T0 + 1000)).state;
}

/** A deployment driven to promotion step `index` (0-based). */
export function promotingAt(index: number): { state: DeploymentState; at: number } {
  let s = shadowing();
  let at = T0 + 1000;
  s = run(s, ev.verdict('healthy', at + 10_000), ev.timer('shadow_end', at + 60_000)).state;
  at += 60_000;
  for (let i = 0; i < index; i++) {
    s = run(s, ev.verdict('healthy', at + 1000), ev.timer('step_end', at + 30_000)).state;
    at += 30_000;
  }
  return { state: s, at };
}

export function kinds(r: StepResult): string[] {
  return r.effects.map((e) => (e.kind === 'control' ? `control:${e.action}` : e.kind));
}
