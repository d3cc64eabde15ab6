/**
 * The data of the rollout machine: the state of one deployment, the events
 * it reacts to and the effects it asks for. All plain JSON-serialisable
 * objects: a state is persisted as is (phase + the rest as phase data) and
 * restored after a restart.
 *
 * States are immutable: `step()` returns a new object when anything changes
 * and the same object when nothing does.
 */
import type { ChaosFault } from '../config/chaos-faults.js';
import type { Phase } from './phases.js';

/** The chaos step of a plan: experiments on the candidate once shadowing judged it healthy (chaos-gate.ts). */
export interface ChaosStepPlan {
  /** `resilience`: a resilience regression rolls the deployment back; `report`: it is only reported. */
  failOn: 'report' | 'resilience';
  experiments: { faults: ChaosFault[]; durationMs: number }[];
}

/** What a deployment follows, frozen from the service's config when it starts. */
export interface RolloutPlan {
  /** Share of eligible requests mirrored to the candidate while shadowing (0..100). */
  shadowPercentage: number;
  /**
   * Adaptive shadowing: the range the share in force moves in (daemon/adaptive);
   * `shadowPercentage` is then its max. Absent: the share is fixed.
   */
  adaptive?: { min: number; max: number };
  /** Also mirror to a baseline (previous version, candidate-sized). */
  baseline: boolean;
  /** Replicas of the candidate (and baseline) while shadowing: see provision/sizing.ts. */
  shadowReplicas: number;
  /** Replicas of a version serving production (the candidate from promoting on; the previous when restored). */
  productionReplicas: number;
  shadowDurationMs: number;
  /** Candidate weights (1..100, increasing, the last 100) and how long each is held. */
  steps: { weight: number; holdMs: number }[];
  bakeMs: number;
  validationPeriodMs: number;
  provisionTimeoutMs: number;
  capacityTimeoutMs: number;
  /** Times a hold is extended for lack of evidence before the rollout pauses itself. */
  maxHoldExtensions: number;
  /** Absent: no chaos step. */
  chaos?: ChaosStepPlan;
}

/** The timers a deployment may wait on (at most one at a time). */
export type TimerName =
  | 'provision_timeout'
  | 'shadow_end'
  | 'step_end'
  | 'bake_end'
  | 'capacity_timeout'
  | 'validation_end'
  /** End of a chaos experiment of the chaos step (armed once its faults are on). */
  | 'chaos_end';

/** A judge verdict as the machine keeps it. */
export interface VerdictRecord {
  verdict: 'rollback' | 'healthy' | 'insufficient';
  score: number;
  threshold: number;
  culprits: string[];
  explanation: string;
  /** The stored decision (for `umbra explain`), when there is one. */
  decisionId?: number;
  at: number;
}

/**
 * A proxy's refusal of configuration (an xDS NACK), attributed to what it
 * refused. Kept on the deployment while it stands; cleared when that proxy
 * accepts the version of that type it should have now.
 */
export interface ConfigRejection {
  /** The proxy's node id. */
  node: string;
  /** Short xDS type name: `CDS`, `EDS`, `LDS` or `RDS`. */
  type: string;
  /** The refused version of that type. */
  version: string;
  /** Names of the refused resources. */
  resources: string[];
  /** The proxy's own error detail. */
  message: string;
  at: number;
}

/** One chaos experiment's word on the candidate, as the machine keeps it. */
export interface ChaosStepVerdict {
  /** Index into `plan.chaos.experiments`. */
  experiment: number;
  /** The faults as written (`inventory:abort=503@30%`). */
  faults: string;
  regression: boolean;
  /** The endpoint and signal behind a regression (`/cart/errors`), or null. */
  culprit: string | null;
  /** Candidate pairs seen under the faults: 0 is no evidence. */
  pairs: number;
  explanation: string;
  at: number;
}

/**
 * The chaos step while the deployment is in it (a gate at the end of
 * shadowing) and after: which experiment runs, since when its faults are
 * on, and the verdicts so far.
 */
export interface ChaosStepState {
  experiment: number;
  /** When the running experiment's faults were on every proxy; null while they are applied. */
  faultsOnAt: number | null;
  /** The running experiment's verdict so far. */
  verdict: ChaosStepVerdict | null;
  /** The verdicts of the experiments that ended, in order. */
  results: ChaosStepVerdict[];
  /** Every experiment ran (or the candidate was promoted past the step). */
  done: boolean;
}

/** One deployment's state. */
export interface DeploymentState {
  id: string;
  service: string;
  /** The candidate. */
  version: string;
  /** The version being replaced (serving production when the deployment began). */
  previousVersion: string;
  phase: Phase;
  plan: RolloutPlan;
  /** The candidate's share of live traffic, 0..100 (the previous version has the rest). */
  candidateWeight: number;
  /** Index into plan.steps while promoting; -1 before. */
  stepIndex: number;
  /** The one armed timer; null when the phase waits on an event (or is paused or final). */
  deadline: { timer: TimerName; atMs: number } | null;
  /** When the current phase (or promotion step) started. */
  phaseStartedAt: number;
  /** Consecutive hold extensions for lack of evidence in this phase/step. */
  extensions: number;
  /** Set while paused; the time that was left on the deadline is kept to re-arm it on resume. */
  paused: { at: number; reason: string; remainingMs: number | null; auto: boolean } | null;
  /** Pools reported ready while provisioning. */
  ready: { candidate: boolean; baseline: boolean };
  /** The latest verdict about the version being judged in this phase/step (reset when it changes). */
  lastVerdict: VerdictRecord | null;
  /** Why the deployment is rolling back, and the previous version's capacity as reported. */
  rollback: { reason: string; from: Phase; decisionId?: number; readyReplicas: number } | null;
  /** The last error an effect reported, kept for status. */
  lastError: string | null;
  /**
   * A proxy refusal that holds the rollout, while it stands. Optional: states
   * persisted before it existed have none.
   */
  rejection?: ConfigRejection | null;
  /**
   * Adaptive shadowing: the share in force in this phase and why, as last
   * set by a `share` event; absent or null: `plan.shadowPercentage`. Reset
   * when a phase begins.
   */
  share?: { percentage: number; reason: string; at: number } | null;
  /** The chaos step, once begun (absent before, and in plans without one). */
  chaos?: ChaosStepState | null;
  createdAt: number;
  updatedAt: number;
}

/** The manual commands; each is an event through the same machine. */
export type CommandName = 'promote' | 'rollback' | 'pause' | 'resume' | 'abort';

/** Which version a verdict is about: the candidate, or (while validating) the restored version. */
export type VerdictSubject = 'candidate' | 'restored';

/** A provisioner pool: a version's main pool, or the small baseline copy of the previous version. */
export type Pool = 'main' | 'baseline';

/** Everything that can happen to a deployment, stamped with the time it happened (ms). */
export type RolloutEvent = RolloutEventBody & { at: number };

export type RolloutEventBody =
  /** A timer armed from `state.deadline` fired; stale timers are ignored. */
  | { type: 'timer'; timer: TimerName }
  /** A judge verdict; ignored when its subject is not the one this phase judges. */
  | ({ type: 'verdict'; subject: VerdictSubject } & Omit<VerdictRecord, 'at'>)
  /**
   * A pool has `ready` healthy replicas (reported by the provisioner, possibly
   * several times) of the `desired` it can have: fewer than asked for when
   * its size is fixed (a static version's endpoints).
   */
  | { type: 'provisioned'; version: string; pool: Pool; ready: number; desired?: number }
  /** An effect could not be carried out. */
  | { type: 'effect_failed'; effect: Effect['kind']; error: string }
  /** A proxy refused configuration (xDS NACK): the rollout holds; never a rollback on its own. */
  | { type: 'rejected'; rejection: Omit<ConfigRejection, 'at'> }
  /** The proxy that refused accepted the version of that type it should have now: the refusal no longer stands. */
  | { type: 'accepted'; node: string; xdsType: string; version: string }
  /** An operator command (CLI or admin API). */
  | { type: 'command'; command: CommandName; reason?: string }
  /**
   * The daemon started again on this deployment. Records the proxies buffered
   * while it was down arrive within `catchUpMs`: a judged deadline that falls
   * before then waits for them.
   */
  | { type: 'restarted'; catchUpMs: number }
  /**
   * Adaptive shadowing: the share of eligible requests to mirror from now on
   * (0..plan max) and why. Acts only with an adaptive plan, while a phase
   * mirrors and the rollout is not paused.
   */
  | { type: 'share'; percentage: number; reason: string }
  /** The faults of the chaos step's experiment are on every proxy. */
  | { type: 'faults_on'; experiment: number }
  /** The chaos step's experiment's verdict so far (once a second while its faults are on). */
  | ({ type: 'chaos_verdict' } & Omit<ChaosStepVerdict, 'at'>);

/** Routing wanted for the service: rendered into Envoy config by the xDS side. */
export interface RouteEffect {
  kind: 'route';
  service: string;
  /** Live traffic share per version, summing to 100. */
  weights: Record<string, number>;
  /** Where copies go; null: no mirroring. */
  mirror: { target: string; baseline: string | null; percentage: number } | null;
  /**
   * The phase needs the Umbra filter on the service's routes (copies, or live
   * records to judge). False: the filter is not created for any request of the
   * service, which then costs the proxy nothing.
   */
  filter: boolean;
}

/** The effects the machine asks for. Each is declarative and idempotent: running it twice is harmless. */
export type Effect =
  | RouteEffect
  /** Ensure `replicas` healthy instances of a version's pool (more or fewer than now: scale to it). */
  | { kind: 'provision'; service: string; version: string; pool: Pool; replicas: number }
  /** Ensure no instances of a version's pool are running. */
  | { kind: 'deprovision'; service: string; version: string; pool: Pool }
  /**
   * The faults on the service's candidate and baseline calls to its
   * dependencies (never production's): those of the chaos step's running
   * experiment (`experiment`), or none (`experiment` null).
   */
  | { kind: 'faults'; service: string; experiment: number | null; faults: ChaosFault[] }
  /** A live message to the filters over the telemetry stream. */
  | { kind: 'control'; service: string; action: 'pause' | 'resume' }
  | { kind: 'control'; service: string; action: 'percentage'; percentage: number }
  /** A webhook notification; `key` is stable per deployment and phase so receivers can drop repeats. */
  | {
      kind: 'alert';
      service: string;
      deploymentId: string;
      key: string;
      severity: 'info' | 'warning' | 'critical';
      message: string;
    };

/** What `step()` returns. */
export interface StepResult {
  /** The next state: the same object as the input when nothing changed. */
  state: DeploymentState;
  /** Effects to run, in order, after the state is persisted. */
  effects: Effect[];
  /** Set when a command was refused; the state is unchanged and there are no effects. */
  refused?: string;
  /** A short description of what happened, for the audit log (set when state changed meaningfully). */
  reason?: string;
}
