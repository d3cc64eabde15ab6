/**
 * The judge's contract: parameters, the persisted state of its e-processes,
 * and the verdict with its explanation. All plain JSON values.
 */
import type { PairedCounts, SignalName } from '../aggregate/stats.js';

/** The sequential tests the judge runs per scope. `errors` has two: paired and against the floor. */
export type ProcessName =
  | 'errors_paired'
  | 'errors_rate'
  | 'errors_recent'
  | 'latency_shift'
  | 'latency_tail'
  | 'status_mismatch'
  | 'body_mismatch';

export const PROCESS_NAMES: readonly ProcessName[] = [
  'errors_paired',
  'errors_rate',
  'errors_recent',
  'latency_shift',
  'latency_tail',
  'status_mismatch',
  'body_mismatch',
];

/** Which signal (in the aggregate contract's vocabulary) a process belongs to. */
export const PROCESS_SIGNAL: Record<ProcessName, SignalName> = {
  errors_paired: 'errors',
  errors_rate: 'errors',
  errors_recent: 'errors',
  latency_shift: 'latency_shift',
  latency_tail: 'latency_tail',
  status_mismatch: 'status_mismatch',
  body_mismatch: 'body_mismatch',
};

/** A scope is what a verdict can name: the whole service, one endpoint, one segment, or one endpoint in one segment. */
export type ScopeKind = 'service' | 'endpoint' | 'segment' | 'cell';

export interface JudgeParams {
  /** t: P(rolling back a good version) ≤ 10^-t, however often the judge is called. */
  anomalyThreshold: number;
  /** Seconds from the first cell during which nothing is counted (connections, caches). */
  warmupSeconds: number;
  /** Longer warm-up for the latency tests (cold shadow caches slow the first seconds). */
  latencyWarmupSeconds: number;
  /** Pairs (after warm-up) below which the verdict is `insufficient`. */
  minPairs: number;
  /** Production is unhealthy (no verdict, no rate-test updates) when its failure rate over the window reaches this. */
  unhealthyPrimaryErrorRate: number;
  /** Seconds of service totals the health guard looks at. */
  healthWindowSeconds: number;
  /** Shares of the false-alarm budget per scope kind; sum to 1. */
  scopeShares: Record<ScopeKind, number>;
  /** Shares of a scope's budget per test (severity weights); sum to 1. */
  processShares: Record<ProcessName, number>;
  /** Expected number of endpoints, segments and cells: each of the first N gets an equal slot. */
  slots: { endpoint: number; segment: number; cell: number };
  /** Part of each scope kind's share kept for scopes beyond the expected number (given out as 1/((j+1)(j+2))). */
  overflowShare: number;
  /** Upper bound on tracked scopes; cells beyond it count only in their endpoint, segment and service. */
  maxScopes: number;
  /**
   * Live (unpaired) signals during promotion: the candidate's cluster name
   * in `CellStats.live`. Unset: live signals are not judged.
   */
  liveCandidateCluster?: string;
  /** Share of the whole budget given to live signals when they are judged (taken from the paired scopes). */
  liveShare: number;
  /**
   * Journey endpoints (`synthetic:<journey>/<step>`) and each one's share of
   * the whole budget, fixed by configuration before the run (taken from the
   * paired scopes); their cells count only in their own endpoint scope
   * (synthetic.ts). Absent: no journeys.
   */
  synthetic?: Record<string, number>;
  /** Example request ids kept per scope and signal. */
  examples: number;
}

export const DEFAULT_JUDGE_PARAMS: JudgeParams = {
  anomalyThreshold: 2,
  warmupSeconds: 0,
  latencyWarmupSeconds: 5,
  minPairs: 50,
  unhealthyPrimaryErrorRate: 0.05,
  healthWindowSeconds: 5,
  scopeShares: { service: 0.4, endpoint: 0.4, segment: 0.1, cell: 0.1 },
  processShares: {
    errors_paired: 0.1,
    errors_rate: 0.25,
    errors_recent: 0.15,
    latency_shift: 0.25,
    latency_tail: 0.1,
    status_mismatch: 0.05,
    body_mismatch: 0.1,
  },
  slots: { endpoint: 8, segment: 4, cell: 24 },
  overflowShare: 0.1,
  maxScopes: 2000,
  liveShare: 0.2,
  examples: 5,
};

/** One tracked scope's running evidence. */
export interface ScopeState {
  kind: ScopeKind;
  /** '*' for all. */
  endpoint: string;
  segment: string;
  /** Share of the whole budget, fixed when the scope first appeared. */
  weight: number;
  /** Candidate pairs counted after warm-up (latency fields after the latency warm-up). */
  cand: PairedCounts;
  /** Baseline pairs (primary vs baseline), after warm-up. */
  base: PairedCounts;
  /** log wealth per mixture atom of the rate tests. */
  wealth: { errors_rate: number[]; status_mismatch: number[]; body_mismatch: number[] };
  /** Last seconds' paired latency excess, from the first second (for the cold-start hold; see fading.ts). */
  lat?: { second: number; pairs: number; deltaUs: number; primaryUs: number }[];
  /** Last seconds' pairs, shadow-only and primary failures (noise screen, errors_recent), oldest first. */
  recent: {
    second: number;
    pairs: number;
    primaryOnly: number;
    primaryFailed: number;
    shadowOnly?: number;
    /** Discordant latency pairs: shadow slower, primary slower (latency_recent; 0 during the latency warm-up). */
    latShadowSlower?: number;
    latPrimarySlower?: number;
  }[];
  /**
   * Pairs and primary-only failures of the seconds without a shared-dependency
   * burst (the seconds the error-rate tests may bet in): what the live primary
   * arm says of the floor (absent in states saved before it existed).
   */
  quiet?: { pairs: number; primaryOnly: number };
  /** log wealth of the errors_recent test (absent in states saved before it existed). */
  errorsRecent?: number;
  /** log wealth of the latency_recent bet, half of latency_shift (absent in states saved before it existed). */
  latencyRecent?: number;
  /** log wealth of the primary arm's own discordant failures tested against the learned floor. */
  floorCheck: number[];
  /** log wealth of production's live (unmirrored) failures tested against the learned primary error rate. */
  floorCheckLive: number[];
  /** The primary arm showed the learned error floor to be wrong here; the live arm sets it from then on. */
  floorContradicted: boolean;
  /** Seconds in which the error-rate test stood aside because the primary arm was noisy. */
  rateSkips: number;
  /** The floors last used (for explanations). */
  lastFloor: { errors_rate: number; status_mismatch: number; body_mismatch: number };
  examples: Partial<Record<SignalName, string[]>>;
}

/** Live (unpaired) evidence at the service level. */
export interface LiveState {
  candRequests: number;
  candFailed: number;
  candOverTail: number;
  otherRequests: number;
  otherFailed: number;
  otherOverTail: number;
  wealthErrors: number[];
  wealthTail: number[];
}

/**
 * Everything the judge carries between calls. Pure data: persist it as JSON
 * and a restarted daemon resumes the same e-processes. Owned by the caller;
 * `judge()` never mutates the state it is given.
 */
export interface JudgeState {
  formatVersion: 1;
  /** The service judged (first one seen); cells of other services are ignored. */
  service: string | null;
  firstSecond: number | null;
  lastSecond: number | null;
  /** Slots handed out so far per kind. */
  slotsUsed: { endpoint: number; segment: number; cell: number };
  /** Keyed by `${endpoint}\u0000${segment}` ('*' for all). */
  scopes: Record<string, ScopeState>;
  live: LiveState;
  /** Service totals of the last seconds, for the production health guard. */
  health: { second: number; pairs: number; primaryFailed: number }[];
  /** Recent scores, for the time-to-threshold prediction. */
  scores: { second: number; score: number }[];
  /** Per endpoint: what the present shows of its bodies (absent in states saved before it existed). */
  bodies?: Record<string, BodyEvidence>;
}

/**
 * Whether an endpoint's bodies are deterministic, from the primary arm's own
 * bodies: once `hashed` reaches the sample, `dynamic` when nearly all were
 * new to the endpoint (timestamps, ids), else `stable`; decided once.
 */
export interface BodyEvidence {
  hashed: number;
  novel: number;
  state: 'unknown' | 'stable' | 'dynamic';
}

export interface Culprit {
  endpoint: string;
  segment: string;
  signal: SignalName;
}

export interface SignalExplanation {
  name: SignalName;
  /** Where it was measured. */
  endpoint: string;
  segment: string;
  counts: Record<string, number>;
  /** Signal-specific effect: rate difference for errors and mismatches, net share slower for latency. */
  effectSize: number;
  /** This signal's e-value in its scope. */
  eValue: number;
  /** Its share of the false-alarm budget. */
  weight: number;
}

export interface Verdict {
  verdict: 'rollback' | 'healthy' | 'insufficient';
  /** log10 of the combined e-value. */
  score: number;
  threshold: number;
  culprits: Culprit[];
  /** Why the verdict is `insufficient` (warm-up, minimum sample, production unhealthy), else null. */
  reason: string | null;
  modelVersion: number;
  explanation: {
    /** Pairs judged, after warm-up. */
    pairs: number;
    signals: SignalExplanation[];
    /** Example request ids for the leading signal. */
    examples: string[];
    /** Seconds until the score reaches the threshold at its recent growth rate; null when not growing. */
    predictedSecondsToThreshold: number | null;
    /** Primaries judged (after warm-up) whose shadow record never arrived: missing data, not judged. */
    missingShadows: number;
    /** Which parts of the model are in force where the present contradicts or has not yet confirmed history. */
    model: string[];
  };
}
