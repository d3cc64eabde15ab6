/**
 * The judge's latest word on a service, as the judging loop keeps it and
 * `umbra status` shows it: per endpoint and segment, each signal's score
 * (log10 of its e-value), effect and weight. Produced here; the admin API
 * serves it as it is.
 */
import type { Verdict } from '../judge/types.js';
import { culpritText } from '../rollout/judge-verdict.js';

/** One signal's evidence on one endpoint and segment. */
export interface SignalEvidence {
  endpoint: string;
  segment: string;
  signal: string;
  score: number;
  effectSize: number;
  weight: number;
}

/** The judge's latest word on a service. */
export interface ServiceEvidence {
  verdict: 'rollback' | 'healthy' | 'insufficient';
  /** Why insufficient (warm-up, minimum sample, production unhealthy), else null. */
  reason: string | null;
  score: number;
  threshold: number;
  culprits: string[];
  pairs: number;
  evidence: SignalEvidence[];
  predictedSecondsToThreshold: number | null;
  /** Primaries judged whose shadow record never arrived (missing data, not judged). */
  missingShadows?: number;
  /** Which parts of the model are in force where history is not simply trusted. */
  model?: string[];
}

export function evidenceFromVerdict(v: Verdict): ServiceEvidence {
  return {
    verdict: v.verdict,
    reason: v.reason,
    score: v.score,
    threshold: v.threshold,
    culprits: v.culprits.map(culpritText),
    pairs: v.explanation.pairs,
    evidence: v.explanation.signals.map((s) => ({
      endpoint: s.endpoint,
      segment: s.segment,
      signal: s.name,
      score: s.eValue > 0 ? Math.log10(s.eValue) : 0,
      effectSize: s.effectSize,
      weight: s.weight,
    })),
    predictedSecondsToThreshold: v.explanation.predictedSecondsToThreshold,
    missingShadows: v.explanation.missingShadows,
    model: v.explanation.model,
  };
}
