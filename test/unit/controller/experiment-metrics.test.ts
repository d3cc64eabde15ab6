/**
 * /metrics of A/B experiments: per service the users per arm with the arm's
 * version, the users left out by reason, and the decision, for a running
 * experiment and for one that stopped (as a restarted daemon shows it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { experimentCollector } from '../../../daemon/controller/experiment-metrics.js';
import type { ExperimentStatus } from '../../../daemon/controller/experiments-status.js';
import { EXPERIMENT_DEFAULTS } from '../../../daemon/experiment/spec.js';

const STOPPED: ExperimentStatus = {
  id: 'shop-v2-ab-1',
  spec: {
    service: 'shop',
    version: 'v2',
    split: 50,
    outcome: { kind: 'conversion', path: '/buy' },
    ...EXPERIMENT_DEFAULTS,
  },
  stable: 'v1',
  phase: 'stopped',
  startedAtMs: 1,
  stoppedAtMs: 9,
  stopReason: 'stopped by an operator',
  harmful: false,
  decidedAtMs: 5,
  transitions: [],
  series: [],
  latest: {
    answer: {
      decision: 'b_better',
      winner: 'B',
      effect: 0.1,
      ci: [0.02, 0.2],
      means: { A: 0.1, B: 0.2 },
      users: { A: 400, B: 410 },
      openUsers: { A: 0, B: 0 },
      dropped: { switched: 2, overCap: 0, restart: 7 },
    },
    guard: { score: 0.1, signal: 'errors', stop: false },
  },
};

test('an experiment exports its arms with their versions, users left out by reason, and its decision', () => {
  const families = experimentCollector(() => [STOPPED])();
  const samples = (name: string) => families.find((f) => f.name === name)?.samples ?? [];
  assert.deepEqual(samples('umbra_experiment_users'), [
    { labels: { service: 'shop', arm: 'A', version: 'v1' }, value: 400 },
    { labels: { service: 'shop', arm: 'B', version: 'v2' }, value: 410 },
  ]);
  assert.deepEqual(samples('umbra_experiment_dropped_users'), [
    { labels: { service: 'shop', reason: 'switched' }, value: 2 },
    { labels: { service: 'shop', reason: 'overCap' }, value: 0 },
    { labels: { service: 'shop', reason: 'restart' }, value: 7 },
  ]);
  assert.deepEqual(samples('umbra_experiment_decision'), [
    { labels: { service: 'shop', decision: 'b_better' }, value: 1 },
  ]);
  assert.deepEqual(samples('umbra_experiment_running'), [
    { labels: { service: 'shop', experiment: 'shop-v2-ab-1', version: 'v2' }, value: 0 },
  ]);
});
