/**
 * The daemon's persistent state: interfaces only. One implementation lives in
 * sqlite.ts (`openStore(path)`; tests pass ':memory:').
 *
 * Conventions:
 *  - times named `at`, `createdAt`, `updatedAt` are Unix milliseconds;
 *    cell seconds are Unix seconds; histogram minutes are the Unix second at
 *    which the minute starts (a multiple of 60);
 *  - fields typed `unknown` hold JSON: whatever the caller passes is stored
 *    with JSON.stringify and returned parsed (a fresh object per read);
 *  - every write is atomic; methods are synchronous (better-sqlite3) and may be
 *    called from any part of the daemon's single thread;
 *  - rows returned are plain objects owned by the caller.
 */
import type { CellStats, HistogramArm, HistogramRow } from '../aggregate/stats.js';

// The aggregator produces these rows; the store keeps them.
export type { HistogramArm, HistogramRow };

/** A deployment of one version of one service, driven by the rollout machine. */
export interface DeploymentRow {
  /** Chosen by the caller, unique (e.g. `checkout-v2-1732700000000`). */
  id: string;
  service: string;
  version: string;
  /** The version it replaces (null for the first deployment of a service). */
  previousVersion: string | null;
  /** The rollout phase (the rollout module owns the set of names; stored as text). */
  phase: string;
  /** Phase-specific data (weights, timers, …), JSON. */
  phaseData: unknown;
  createdAt: number;
  updatedAt: number;
}

/** One phase transition: the audit log. Written in the same transaction as the phase change. */
export interface TransitionRow {
  /** Assigned by the store, increasing. */
  id: number;
  deploymentId: string;
  from: string;
  to: string;
  /** The event that caused it (e.g. `judge_rollback`, `operator_abort`, `timer`). */
  event: string;
  at: number;
  /** JSON. */
  detail: unknown;
}

/** A judge decision with its explanation. */
export interface DecisionRow {
  /** Assigned by the store, increasing. */
  id: number;
  /** The deployment being judged (null for a decision outside a deployment, e.g. replay). */
  deploymentId: string | null;
  service: string;
  at: number;
  /** `rollback` | `healthy` | `insufficient` (the judge owns the set; stored as text). */
  verdict: string;
  score: number;
  threshold: number;
  /** The model version that produced it (null: built-in defaults). */
  modelVersion: number | null;
  /** JSON: signals, counts, effect sizes, example request ids. */
  explanation: unknown;
}

/** A trained judge model. */
export interface ModelRow {
  /** Assigned by the store: 1, 2, 3, … */
  version: number;
  createdAt: number;
  /** JSON: the model's parameters (owned by the judge). */
  params: unknown;
  /** JSON: what it was trained on (runs, time ranges, counts). */
  trainedOn: unknown;
}

/** One stored per-second cell; `deploymentId` tags the run it belonged to, if any. */
export interface StoredCell {
  deploymentId: string | null;
  cell: CellStats;
}

export interface DeploymentStore {
  /** Inserts a new deployment; throws if the id exists. */
  createDeployment(d: DeploymentRow): void;
  getDeployment(id: string): DeploymentRow | undefined;
  /** Newest first (by createdAt); `excludePhases` filters out e.g. terminal phases. */
  listDeployments(filter?: { service?: string; excludePhases?: string[]; limit?: number }): DeploymentRow[];
  /**
   * Moves a deployment to `to` and appends the transition, atomically.
   * Fails (throws) if the deployment's current phase is not `from` — a
   * compare-and-set, so a restarted daemon cannot apply a step twice.
   * Returns the stored transition.
   */
  transition(t: {
    deploymentId: string;
    from: string;
    to: string;
    event: string;
    at: number;
    detail?: unknown;
    phaseData?: unknown;
  }): TransitionRow;
  /** Updates phase data without a phase change (e.g. weight steps); bumps updatedAt. */
  updatePhaseData(deploymentId: string, phaseData: unknown, at: number): void;
  /** Oldest first. */
  listTransitions(deploymentId: string): TransitionRow[];
}

export interface DecisionStore {
  /** Returns the stored row with its id. */
  recordDecision(d: Omit<DecisionRow, 'id'>): DecisionRow;
  /** One decision by id (`umbra explain`). */
  getDecision(id: number): DecisionRow | undefined;
  /** Newest first. */
  listDecisions(filter?: { deploymentId?: string; service?: string; limit?: number }): DecisionRow[];
  /** Decisions with an id above `afterId`, counted per service and verdict; `lastId` is the highest id stored (0: none). */
  decisionCounts(afterId: number): {
    lastId: number;
    counts: { service: string; verdict: string; count: number }[];
  };
}

export interface StatsStore {
  /** Upserts cells (same service/endpoint/segment/second: replaced). */
  saveCells(cells: CellStats[], deploymentId?: string | null): void;
  /** Cells of one service in [fromSecond, toSecond), ordered by second then endpoint, segment. */
  listCells(query: {
    service: string;
    fromSecond: number;
    toSecond: number;
    endpoint?: string;
    deploymentId?: string;
  }): StoredCell[];
  /** Upserts histograms (same service/endpoint/arm/minute: replaced). */
  saveHistograms(rows: HistogramRow[]): void;
  listHistograms(query: {
    service: string;
    fromMinute: number;
    toMinute: number;
    endpoint?: string;
    arm?: HistogramArm;
  }): HistogramRow[];
}

export interface ModelStore {
  /** Stores a new model version (version = previous max + 1) and returns it. */
  saveModel(m: { createdAt: number; params: unknown; trainedOn: unknown }): ModelRow;
  getModel(version: number): ModelRow | undefined;
  latestModel(): ModelRow | undefined;
  /** Newest first, without params (they can be large): `params` is null. */
  listModels(limit?: number): ModelRow[];
}

/**
 * One chaos experiment run (controller/chaos-runner.ts): its definition,
 * course, tally and per-second results so far, and its verdict, so that a
 * restarted daemon resumes it or closes it with what it had.
 */
export interface ChaosRunRow {
  /** Chosen by the caller, unique (`<service>-<startedAt>`). */
  id: string;
  service: string;
  /** The experiment's phase (the chaos module owns the set of names; stored as text). */
  phase: string;
  startedAt: number;
  updatedAt: number;
  /** JSON: the run as the runner keeps it. */
  data: unknown;
}

export interface ChaosRunStore {
  /** Inserts a run, or replaces the one with its id. */
  saveChaosRun(r: ChaosRunRow): void;
  /** Newest first (by startedAt). */
  listChaosRuns(filter?: { service?: string; limit?: number }): ChaosRunRow[];
}

/**
 * An A/B experiment (daemon/controller/experiments.ts owns the meaning of
 * the JSON fields): written when it starts, at each phase change and
 * decision, and every few seconds while it runs, so that a restarted daemon
 * resumes it. Never pruned (an audit row, as a deployment).
 */
export interface ExperimentRow {
  /** Chosen by the caller, unique (e.g. `shop-v2-ab-1732700000000`). */
  id: string;
  service: string;
  /** Version B. */
  version: string;
  /** Version A: the serving version when it started. */
  stable: string;
  /** `starting` | `running` | `stopped` (the controller owns the set; stored as text). */
  phase: string;
  /** JSON: the experiment as asked for (split, outcome, window, alpha, minimal effect). */
  spec: unknown;
  startedAt: number;
  stoppedAt: number | null;
  stopReason: string | null;
  /** Stopped by its guard: B harmed its users. */
  harmful: boolean;
  /** The answer's decision at the last save (`undecided` before any). */
  decision: string;
  /** When the answer first reached a decision (null: never). */
  decidedAt: number | null;
  /** JSON: the phase changes, oldest first. */
  transitions: unknown;
  /** JSON: the last answer and guard verdict. */
  latest: unknown;
  /** JSON: the effect and its interval over time, oldest first. */
  series: unknown;
  /** JSON: the running statistics and users (null once stopped). */
  state: unknown;
  updatedAt: number;
}

export interface ExperimentStore {
  /** Inserts or replaces the experiment with this id, atomically. */
  saveExperiment(e: ExperimentRow): void;
  getExperiment(id: string): ExperimentRow | undefined;
  /** Newest first (by startedAt). */
  listExperiments(filter?: { service?: string; limit?: number }): ExperimentRow[];
}

/** How long time series are kept; undefined keeps forever. Audit rows are never pruned. */
export interface RetentionPolicy {
  cellsDays?: number;
  histogramsDays?: number;
  decisionsDays?: number;
}

export interface Store
  extends DeploymentStore,
    DecisionStore,
    StatsStore,
    ModelStore,
    ChaosRunStore,
    ExperimentStore {
  /** Runs `fn` in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T;
  /** Deletes rows older than the policy allows, relative to `nowMs`; returns counts deleted. */
  prune(policy: RetentionPolicy, nowMs: number): { cells: number; histograms: number; decisions: number };
  /** The schema version after migrations. */
  schemaVersion(): number;
  close(): void;
}
