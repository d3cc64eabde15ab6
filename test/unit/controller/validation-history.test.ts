/**
 * Validation compares the restored version with its own history. With route
 * gating a service idle before its deployment gave no live records then: the
 * deployment's own phases, in which the restored version still served and
 * the filter sampled it, are that history (real SQLite, in memory).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { JudgingLoop } from '../../../daemon/controller/judging.js';
import type { RolloutScheduler } from '../../../daemon/rollout/scheduler.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { shadowing, T0 } from '../rollout/fixtures.js';
import { checkoutConfig } from './fixtures.js';

const services = checkoutConfig('    judge: { warmup: 1s, minSamples: 10, anomalyThreshold: 2 }').services;
const START = Math.floor(T0 / 1000);
/** Validation began a minute after the deployment was created. */
const VALIDATING = START + 60;
const deployment = {
  ...shadowing(),
  service: 'checkout',
  phase: 'validating' as const,
  phaseStartedAt: VALIDATING * 1000,
};

/** A second of v1's live traffic: `failed` of 100 requests failed. */
function live(second: number, failed: number): CellStats {
  return {
    key: { service: 'checkout', endpoint: 'GET /pay', segment: '', second },
    candidate: emptyPaired(),
    baseline: emptyPaired(),
    live: { 'checkout-v1': { requests: 100, failed, overTail: 0, latSumUs: 100_000 } },
    examples: {},
  };
}

test("the restored version is validated against its live records from the deployment's own phases", () => {
  // Arrange: v1 failed 1 % while the deployment ran (no live records before it: the filter was off).
  const store = openStore(':memory:');
  for (let s = START + 1; s < VALIDATING; s++) store.saveCells([live(s, 1)], deployment.id);
  const verdicts: { verdict: string; explanation: string }[] = [];
  const scheduler = {
    latest: () => deployment,
    verdict: (_s: string, _subject: string, v: { verdict: string; explanation: string }) => verdicts.push(v),
  } as unknown as RolloutScheduler;
  const loop = new JudgingLoop({ services, scheduler, store, now: () => (VALIDATING + 40) * 1000 });

  // Act: after the rollback v1 fails 4 %, four times its history (and below the 5 % assumed without one).
  for (let s = VALIDATING + 1; s <= VALIDATING + 30; s++) loop.onSecond([live(s, 4)]);

  // Assert
  assert.match(verdicts.at(-1)!.explanation, /from 5900 historical requests/);
  assert.equal(verdicts.at(-1)!.verdict, 'rollback', 'validation fails against its own 1 % history');
});
