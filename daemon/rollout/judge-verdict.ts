/**
 * A judge verdict (daemon/judge) as a rollout event body: culprits become
 * `endpoint segment signal` strings and the explanation one summary line.
 */
import type { Verdict } from '../judge/types.js';
import type { RolloutEventBody, VerdictSubject } from './types.js';

/** `GET /pay eu-west errors`; `*` stands for "all" in the judge's scopes. */
export function culpritText(c: Verdict['culprits'][number]): string {
  return `${c.endpoint} ${c.segment} ${c.signal}`;
}

export function verdictEvent(v: Verdict, subject: VerdictSubject, decisionId?: number): RolloutEventBody {
  const lead = v.explanation.signals[0];
  const summary = [
    `${v.verdict}: score ${v.score.toFixed(2)} (threshold ${v.threshold}) over ${v.explanation.pairs} pairs`,
    v.reason ? `(${v.reason})` : '',
    lead
      ? `; leading signal ${lead.name} at ${lead.endpoint} ${lead.segment}, effect ${lead.effectSize.toFixed(3)}`
      : '',
  ].join('');
  return {
    type: 'verdict',
    subject,
    verdict: v.verdict,
    score: v.score,
    threshold: v.threshold,
    culprits: v.culprits.map(culpritText),
    explanation: summary,
    ...(decisionId === undefined ? {} : { decisionId }),
  };
}
