/**
 * The data model of a deployment report: everything the page draws, as
 * plain JSON built from the store (report/build.ts). The page template
 * (report/page.ts) embeds it as it is; the live page (/ui) fetches it. It
 * holds numbers ready to plot: the page computes nothing but layout.
 *
 * Times are Unix milliseconds; series share one `at` axis per chart; a null
 * in a series is a gap (no data in that bucket), never a zero.
 */

/** The report's shape; bump `formatVersion` when a field changes meaning. */
export interface DeploymentReport {
  formatVersion: 1;
  generatedAt: number;
  deployment: ReportDeployment;
  /** Phase timeline, oldest first; the last entry's `to` is null while it lasts. */
  phases: PhaseSpan[];
  /** Adaptive shadowing: each change of the share mirrored, oldest first (empty for a fixed share). */
  shares: ShareChange[];
  score: ScoreSeries;
  rates: RateSeries;
  heatmap: EvidenceHeatmap;
  latency: LatencyGroup[];
  /** The deciding verdict (the rollback decision, else the latest one); null before any decision. */
  verdict: ReportVerdict | null;
  config: ReportConfig;
  /** The service's experiments, newest first (report/experiments.ts). */
  experiments: ReportExperiments;
  /** What the store could not show (e.g. no histograms for these minutes): said, never hidden. */
  notes: string[];
}

export interface ReportDeployment {
  id: string;
  service: string;
  version: string;
  previousVersion: string;
  phase: string;
  /** The phase will not change any more. */
  final: boolean;
  candidateWeight: number;
  createdAt: number;
  updatedAt: number;
}

export interface ShareChange {
  at: number;
  /** Share of eligible requests mirrored from then on, 0..100. */
  percentage: number;
  reason: string;
}

export interface PhaseSpan {
  phase: string;
  from: number;
  to: number | null;
  /** The event that entered it (`deploy`, `verdict`, `timer`, …) and its reason. */
  event: string;
  reason: string;
}

/**
 * The anomaly score over time: `candidate` while the candidate is judged
 * (shadowing, promoting, baking; per second of traffic when the decisions
 * carry the judge's recent scores), `restored` at each decision while the
 * restored version is validated; null where the other subject was judged.
 */
export interface ScoreSeries {
  at: number[];
  candidate: (number | null)[];
  restored: (number | null)[];
  threshold: number;
  verdicts: string[];
  phases: string[];
  /** When the candidate was rolled back (the rollback decision), else null. */
  rollbackAt: number | null;
  /** Index in `at` of the rollback decision's score (its last second), else null. */
  rollbackIndex: number | null;
  /** The latest prediction of seconds to threshold (null: not growing, or no decision). */
  predictedSecondsToThreshold: number | null;
}

/** Per time bucket over all endpoints and segments: failure and mismatch rates per arm (0..1). */
export interface RateSeries {
  bucketSeconds: number;
  at: number[];
  pairs: number[];
  primaryErrors: (number | null)[];
  candidateErrors: (number | null)[];
  statusMismatch: (number | null)[];
  /** Only when a baseline ran (pairs > 0). */
  baselineErrors: (number | null)[] | null;
}

/** The paired signals a heat map can show. */
export type HeatSignal = 'errors' | 'latency_shift' | 'latency_tail' | 'status_mismatch' | 'body_mismatch';

/**
 * The evidence per endpoint × segment over time, for the deciding culprit's
 * signal (errors when there is none): per bucket, e.g. (candidate-only minus
 * production-only failures) / pairs; null: no pairs.
 */
export interface EvidenceHeatmap {
  signal: HeatSignal;
  /** What a value is, for people. */
  label: string;
  bucketSeconds: number;
  at: number[];
  rows: HeatmapRow[];
}

export interface HeatmapRow {
  endpoint: string;
  segment: string;
  values: (number | null)[];
  /** The signal's value over the whole deployment. */
  total: number;
  /** Totals over the deployment. */
  pairs: number;
  excessErrors: number;
  statusMismatches: number;
  /** Net share of latency-discordant pairs where the candidate was slower. */
  slowerShare: number;
  /** A culprit of the deciding verdict. */
  culprit: boolean;
}

/** Latency percentile curves of each arm, from the stored HDR histograms. */
export interface LatencyGroup {
  title: string;
  /** '*' for all endpoints. */
  endpoint: string;
  arms: LatencyCurve[];
}

export interface LatencyCurve {
  arm: string;
  count: number;
  /** Percentiles (0..100), the same for every curve. */
  percentiles: number[];
  /** Latency in ms at each percentile. */
  ms: number[];
}

export interface ReportVerdict {
  decisionId: number;
  at: number;
  verdict: string;
  subject: 'candidate' | 'restored';
  score: number;
  threshold: number;
  /** `endpoint segment signal`. */
  culprits: string[];
  reason: string | null;
  pairs: number | null;
  signals: {
    name: string;
    endpoint: string;
    segment: string;
    score: number;
    effectSize: number;
    weight: number;
    counts: Record<string, number>;
  }[];
  examples: string[];
  /** Where the model in force departs from trusted history. */
  model: string[];
  modelVersion: number | null;
}

/** The configuration in force: the plan frozen at deploy time and the judge's threshold. */
export interface ReportConfig {
  anomalyThreshold: number | null;
  modelVersion: number | null;
  plan: Record<string, unknown> | null;
}

/** The service's A/B tests and chaos experiments. */
export interface ReportExperiments {
  ab: ReportAbTest[];
  chaos: ReportChaos[];
}

/** One A/B test: its arms, users, effect with its interval over time, and its decision with why. */
export interface ReportAbTest {
  id: string;
  /** Version A (serving) and B (tested). */
  stable: string;
  version: string;
  split: number;
  /** As `--outcome` reads it (`header:x-outcome`, `conversion:/buy`). */
  outcome: string;
  alpha: number;
  minEffect: number;
  phase: string;
  startedAt: number;
  stoppedAt: number | null;
  stopReason: string | null;
  harmful: boolean;
  decision: string;
  /** `B`, `A`, or null. */
  winner: string | null;
  decidedAt: number | null;
  /** The decision in one sentence, with the interval it rests on. */
  why: string;
  effect: number | null;
  ci: [number, number] | null;
  means: { A: number; B: number } | null;
  users: { A: number; B: number };
  /** Users left out, by reason. */
  dropped: Record<string, number>;
  guardScore: number | null;
  /** The answer over time (one point per save, every few seconds). */
  series: { at: number[]; effect: number[]; lo: number[]; hi: number[]; usersA: number[]; usersB: number[] };
  /** Phase changes, oldest first. */
  transitions: { to: string; at: number; reason: string }[];
}

/** One chaos experiment on the shadow leg: its faults, each arm's figures under them, and the verdict. */
export interface ReportChaos {
  version: string;
  /** The baseline arm's version, or null (the reference is then production). */
  baseline: string | null;
  /** As `--fault` reads them (`inventory:abort=503@30%`). */
  faults: string[];
  phase: string;
  startedAt: number;
  endedAt: number | null;
  reason: string | null;
  verdict: {
    regression: boolean;
    reference: string;
    arms: {
      role: 'candidate' | 'reference';
      version: string;
      pairs: number;
      failureRate: number;
      latencyGrowth: number;
    }[];
    errorScore: number;
    culprit: string | null;
    explanation: string;
  } | null;
}
