/**
 * A judge verdict as the evidence `umbra status` shows: per endpoint and
 * segment, each signal's score (log10 of its e-value), effect and weight.
 */
import type { Verdict } from '../judge/types.js';
import { culpritText } from '../rollout/judge-verdict.js';
import type { ServiceEvidence } from './rollout-backend.js';

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
