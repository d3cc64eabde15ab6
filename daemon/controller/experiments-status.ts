/**
 * An A/B experiment as the daemon shows it (status, /metrics, the report)
 * and as the store keeps it (experiments-journal.ts). Plain data.
 */
import type { ExperimentTick } from '../experiment/runner.js';
import type { Decision } from '../experiment/sequence.js';
import type { ExperimentSpec } from '../experiment/spec.js';
import type { ArmName } from '../experiment/tally.js';

/**
 * `starting`: B's pool and the split route are being set up (also while a
 * restarted daemon sets them up again); `running`: the split is live and
 * counted; `stopped`: every user is back on A (by an operator, its guard,
 * or a start that failed).
 */
export type ExperimentPhase = 'starting' | 'running' | 'stopped';

/** One phase change. */
export interface ExperimentTransition {
  to: ExperimentPhase;
  at: number;
  reason: string;
}

/** The answer at one moment: the effect B − A with its interval, and the users counted. */
export interface ExperimentPoint {
  at: number;
  effect: number;
  lo: number;
  hi: number;
  users: Record<ArmName, number>;
  decision: Decision;
}

/** One experiment as status shows it. Plain data; a snapshot at the time of the call. */
export interface ExperimentStatus {
  id: string;
  spec: ExperimentSpec;
  /** Version A: the version serving the service when the experiment started. */
  stable: string;
  phase: ExperimentPhase;
  startedAtMs: number;
  stoppedAtMs: number | null;
  /** Why it stopped (`stopped by an operator: …`, `guard: …`). */
  stopReason: string | null;
  /** The guard stopped it: B was harmful. */
  harmful: boolean;
  latest: ExperimentTick | null;
  /** When the answer first reached a decision (null: never). */
  decidedAtMs: number | null;
  /** Phase changes, oldest first. */
  transitions: ExperimentTransition[];
  /** The answer every few seconds (at each save), oldest first; thinned when long. */
  series: ExperimentPoint[];
}

/** An experiment as it starts: phase `starting`, nothing counted, stopped or decided yet. */
export function startingStatus(
  id: string,
  spec: ExperimentSpec,
  stable: string,
  startedAtMs: number,
): ExperimentStatus {
  return {
    id,
    spec,
    stable,
    phase: 'starting',
    startedAtMs,
    stoppedAtMs: null,
    stopReason: null,
    harmful: false,
    latest: null,
    decidedAtMs: null,
    transitions: [],
    series: [],
  };
}
