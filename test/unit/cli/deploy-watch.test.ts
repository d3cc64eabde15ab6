import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdminClient } from '../../../daemon/admin/client.js';
import type { DeploymentView, ServiceStatusView } from '../../../daemon/admin/port.js';
import { progressLines, scoreBar, watchDeployment } from '../../../daemon/cli/commands/deploy-watch.js';

const NOW = 1_800_000_000_000;

function deployment(over: Partial<DeploymentView> = {}): DeploymentView {
  return {
    id: 'shop-v2-1',
    service: 'shop',
    version: 'v2',
    previousVersion: 'v1',
    phase: 'shadowing',
    paused: false,
    pausedReason: '',
    candidateWeight: 0,
    step: 0,
    steps: 3,
    createdAtMs: NOW - 10_000,
    updatedAtMs: NOW,
    deadlineTimer: 'shadow_end',
    deadlineMs: NOW + 12_000,
    rollbackReason: '',
    lastError: '',
    rollbackDecisionId: 0,
    ...over,
  };
}

function status(d: DeploymentView, score: number): ServiceStatusView {
  return {
    name: 'shop',
    stableVersion: 'v1',
    deployment: d,
    verdict: score >= 2 ? 'rollback' : 'healthy',
    verdictReason: '',
    score,
    threshold: 2,
    culprits: score >= 2 ? ['/cart eu errors'] : [],
    pairs: 500,
    evidence: [],
    hasPrediction: score < 2,
    predictedSecondsToThreshold: 8,
    pools: [],
    refusals: [],
    proxies: [],
    missingShadows: 0,
    model: [],
    journeys: [],
  };
}

describe('deploy --watch', () => {
  it('draws the score as a share of the threshold', () => {
    assert.equal(scoreBar(0, 2, 10), '[░░░░░░░░░░]');
    assert.equal(scoreBar(1, 2, 10), '[█████░░░░░]');
    assert.equal(scoreBar(9, 2, 10), '[██████████]');
    assert.equal(scoreBar(-3, 2, 10), '[░░░░░░░░░░]');
    assert.equal(scoreBar(Number.NaN, 2, 10), '[░░░░░░░░░░]');
  });

  it('shows phase, weight, score, prediction and the time left in the phase', () => {
    const { lines } = progressLines(status(deployment(), 1), deployment(), NOW);
    assert.deepEqual(lines, [
      'shop v2 (replacing v1)  shadowing  weight 0%',
      'score [███████████████░░░░░░░░░░░░░░░] 1.00 / 2  ~8s to threshold',
      'healthy',
      '12s left in shadowing (shadow_end)',
    ]);
  });

  it('redraws in place on a terminal and exits 3 when rolled back', async () => {
    const seen = [
      status(deployment(), 1),
      status(deployment({ phase: 'rolling_back', rollbackReason: 'judge: score 2.5 ≥ 2' }), 2.5),
      status(deployment({ phase: 'rolled_back', rollbackReason: 'judge: score 2.5 ≥ 2' }), 2.5),
    ];
    let i = 0;
    const client = {
      status: async () => ({ services: [seen[Math.min(i++, seen.length - 1)]!], nowMs: NOW, uiUrl: '' }),
      history: async () => [],
    } as unknown as AdminClient;
    const out: string[] = [];
    const code = await watchDeployment(client, 'shop', 'shop-v2-1', {
      tty: true,
      intervalMs: 1,
      write: (t) => out.push(t),
      stopped: () => false,
    });
    assert.equal(code, 3);
    assert.ok(!out[0]!.startsWith('\x1b['), 'the first view is drawn where the cursor is');
    assert.ok(out[1]!.startsWith('\x1b[4A\x1b[J'), 'later views replace the previous four lines');
    assert.match(out[1]!, /rolling_back/);
    assert.match(
      out[out.length - 1]!,
      /shop v2 rolled_back: judge: score 2\.5 ≥ 2; the report: umbra report shop-v2-1/,
    );
  });
});
