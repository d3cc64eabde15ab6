/** `umbra explain`'s view of a stored decision, summary included, from the row the judging loop stores. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionView } from '../../../daemon/admin/decision-view.js';
import type { DecisionRow } from '../../../daemon/store/store.js';

const ROW: DecisionRow = {
  id: 7,
  deploymentId: 'checkout-v2-1',
  service: 'checkout',
  at: 1_700_000_000_000,
  verdict: 'rollback',
  score: 3.4567,
  threshold: 3,
  modelVersion: 2,
  explanation: {
    explanation: { signals: [{ name: 'errors', endpoint: 'GET /pay', segment: 'eu-west' }] },
    reason: null,
  },
};

test('a decision is summarised by verdict, score against threshold and its leading signal', () => {
  const v = decisionView(ROW);

  assert.equal(v.summary, 'rollback: score 3.46 vs threshold 3; leading signal errors on GET /pay/eu-west');
  assert.deepEqual(
    { ...v, summary: undefined },
    {
      id: 7,
      deploymentId: 'checkout-v2-1',
      service: 'checkout',
      atMs: 1_700_000_000_000,
      verdict: 'rollback',
      score: 3.4567,
      threshold: 3,
      modelVersion: 2,
      explanationJson: JSON.stringify(ROW.explanation),
      summary: undefined,
    },
  );
});

test('the judge’s reason is appended; a decision outside a deployment, without model or signals, still reads', () => {
  const v = decisionView({
    ...ROW,
    deploymentId: null,
    modelVersion: null,
    verdict: 'insufficient',
    score: 0,
    explanation: { explanation: { signals: [] }, reason: 'warm-up' },
  });

  assert.equal(v.summary, 'insufficient: score 0.00 vs threshold 3; warm-up');
  assert.equal(v.deploymentId, '');
  assert.equal(v.modelVersion, 0);
  assert.equal(decisionView({ ...ROW, explanation: null }).summary, 'rollback: score 3.46 vs threshold 3');
});
