/**
 * What the rollout scheduler needs from the outside world: a place to
 * persist deployments, something that carries out effects, and a clock.
 * Implementations: memory-repo.ts (tests) and store-repo.ts (SQLite through
 * daemon/store); the EffectRunner is wired by the daemon's composition.
 */
import type { Phase } from './phases.js';
import type { DeploymentState, Effect, RolloutEventBody } from './types.js';

/** One entry of the audit log. */
export interface TransitionRecord {
  deploymentId: string;
  from: Phase;
  to: Phase;
  /** What caused it: `deploy`, `timer:step_end`, `verdict:rollback`, `command:abort`, … */
  event: string;
  at: number;
  /** What happened, in words (the machine's `reason`). */
  reason: string;
}

/**
 * Persistence of deployments. All methods are synchronous (better-sqlite3)
 * and each write is atomic.
 */
export interface DeploymentRepo {
  /** Stores a new deployment and its first audit entry (`deploy`); throws if the id exists. */
  create(state: DeploymentState, reason: string): void;
  /**
   * Stores `next`, whose phase was `expectedPhase` (compare-and-set: throws if
   * the stored phase differs, so a step is never applied twice), and, when
   * `transition` is given, appends it to the audit log in the same transaction.
   */
  save(
    next: DeploymentState,
    expectedPhase: Phase,
    transition: { event: string; reason: string } | null,
  ): void;
  get(id: string): DeploymentState | undefined;
  /** Newest first. `activeOnly` leaves out final phases. */
  list(filter?: { service?: string; activeOnly?: boolean; limit?: number }): DeploymentState[];
  /** Oldest first. */
  transitions(deploymentId: string): TransitionRecord[];
}

/**
 * Carries out effects. Must be idempotent: the scheduler re-runs the desired
 * effects of every deployment after a restart, and a superseded effect may be
 * followed by one that undoes it. May resolve with events that report the
 * outcome (e.g. `provisioned` after a `provision`); rejecting means the effect
 * failed (fed back as `effect_failed`).
 */
export interface EffectRunner {
  run(effect: Effect, deployment: DeploymentState): Promise<RolloutEventBody[] | undefined>;
}

/** Time and timers; tests pass a manual clock. */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};
