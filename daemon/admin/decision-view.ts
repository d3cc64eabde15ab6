/**
 * A stored judge decision as `umbra explain` shows it: the row field for
 * field, its explanation as JSON, and a one-line summary (verdict, score
 * against threshold, the leading signal, and the judge's reason if any).
 */
import type { DecisionRow, Store } from '../store/store.js';
import type { DecisionView } from './port.js';

/** The parts of a stored explanation the summary reads; anything else is ignored. */
interface StoredExplanation {
  explanation?: { signals?: { name: string; endpoint: string; segment: string }[] };
  reason?: string | null;
}

export function decisionView(row: DecisionRow): DecisionView {
  const ex = row.explanation as StoredExplanation | null;
  const lead = ex?.explanation?.signals?.[0];
  const parts = [`${row.verdict}: score ${row.score.toFixed(2)} vs threshold ${row.threshold}`];
  if (lead) parts.push(`leading signal ${lead.name} on ${lead.endpoint}/${lead.segment}`);
  if (ex?.reason) parts.push(ex.reason);
  return {
    id: row.id,
    deploymentId: row.deploymentId ?? '',
    service: row.service,
    atMs: row.at,
    verdict: row.verdict,
    score: row.score,
    threshold: row.threshold,
    modelVersion: row.modelVersion ?? 0,
    explanationJson: JSON.stringify(row.explanation),
    summary: parts.join('; '),
  };
}

/** The admin backend's `decision` source over the store. */
export function storedDecisions(store: Pick<Store, 'getDecision'>): (id: number) => DecisionView | undefined {
  return (id) => {
    const row = store.getDecision(id);
    return row && decisionView(row);
  };
}
