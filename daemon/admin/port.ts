/**
 * The admin service's port: what the gRPC server (server.ts) asks of the
 * daemon. The views mirror proto/umbra/admin/v1/admin.proto field for field
 * (camelCase, times in ms), so the server only adds auth and status codes.
 *
 * Implementations: rollout-backend.ts (the daemon's, over the rollout
 * scheduler). A backend refuses bad input by throwing {@link AdminError},
 * before changing anything.
 */
import type { SignalEvidence } from '../controller/evidence.js';
import type { CommandName } from '../rollout/types.js';
import type { ArmResult, JourneyStatus } from '../synthetic/runner.js';

export interface DeploymentView {
  id: string;
  service: string;
  version: string;
  previousVersion: string;
  phase: string;
  paused: boolean;
  pausedReason: string;
  candidateWeight: number;
  /** 1-based; 0 before promoting. */
  step: number;
  steps: number;
  createdAtMs: number;
  updatedAtMs: number;
  deadlineTimer: string;
  deadlineMs: number;
  rollbackReason: string;
  lastError: string;
  rollbackDecisionId: number;
}

/** Produced by the judging loop (controller/evidence.ts); served as it is. */
export type EvidenceView = SignalEvidence;

export interface PoolView {
  version: string;
  pool: string;
  desired: number;
  ready: number;
  cpuPercent: number;
  rssBytes: number;
  errorLinesPerMinute: number;
}

/** What one proxy ACKed for a service against what the daemon wants (admin.proto ProxyStatus). */
export interface ProxyView {
  nodeId: string;
  connected: boolean;
  inSync: boolean;
  desiredWeights: Record<string, number>;
  ackedWeights: Record<string, number>;
  hasAcked: boolean;
}

export interface ServiceStatusView {
  name: string;
  stableVersion: string;
  deployment: DeploymentView | null;
  verdict: string;
  verdictReason: string;
  score: number;
  threshold: number;
  culprits: string[];
  pairs: number;
  evidence: EvidenceView[];
  hasPrediction: boolean;
  predictedSecondsToThreshold: number;
  pools: PoolView[];
  /** Proxy refusals (xDS NACKs) of the service's configuration that stand now. */
  refusals: RefusalView[];
  proxies: ProxyView[];
  /** Primaries judged whose shadow record never arrived (missing data). */
  missingShadows: number;
  /** Which parts of the model are in force where history is not simply trusted. */
  model: string[];
  /** The service's journeys with their last results (see proto JourneyStatus). */
  journeys: JourneyView[];
}

/** One version's answer to a journey step (see proto JourneyArm): the runner's own result. */
export type JourneyArmView = ArmResult;

/** A journey's counts and its last run, flattened (see proto JourneyStatus): 0 and empty before the first. */
export interface JourneyView extends Omit<JourneyStatus, 'last'> {
  lastRun: number;
  lastAtMs: number;
  lastSteps: NonNullable<JourneyStatus['last']>['steps'];
  lastStopped: string;
}

/** A proxy's refusal that stands (see proto ProxyRefusal). */
export interface RefusalView {
  node: string;
  /** CDS | EDS | LDS | RDS */
  type: string;
  version: string;
  resources: string[];
  /** The proxy's own error detail. */
  message: string;
  atMs: number;
}

export interface TransitionView {
  from: string;
  to: string;
  event: string;
  reason: string;
  atMs: number;
}

export interface HistoryEntryView {
  deployment: DeploymentView;
  transitions: TransitionView[];
}

export interface DecisionView {
  id: number;
  deploymentId: string;
  service: string;
  atMs: number;
  verdict: string;
  score: number;
  threshold: number;
  modelVersion: number;
  explanationJson: string;
  summary: string;
}

export interface AdminBackend {
  deploy(service: string, version: string): { deployment: DeploymentView; message: string };
  status(service?: string): ServiceStatusView[];
  command(
    service: string,
    command: CommandName,
    reason?: string,
  ): { deployment: DeploymentView; message: string };
  history(service: string | undefined, limit: number): HistoryEntryView[];
  explain(decisionId: number): DecisionView;
}

/** Why a request was refused; maps to a gRPC status code. */
export type AdminErrorCode = 'invalid_argument' | 'not_found' | 'failed_precondition';

/** A refusal with a message for people; nothing was changed. */
export class AdminError extends Error {
  readonly code: AdminErrorCode;

  constructor(code: AdminErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
