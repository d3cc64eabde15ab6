/**
 * A/B tests and chaos experiments for the report's tests: an A/B test run
 * by the real experiment runner over simulated users (B converting 30 %
 * where A converts 10 %) and saved as the daemon saves it, and a chaos
 * experiment as the chaos runner holds one after its verdict.
 */
import type { ChaosExperiment } from '../../../daemon/chaos/experiment.js';
import { emptyTally } from '../../../daemon/chaos/verdict.js';
import { toRow } from '../../../daemon/controller/chaos-record.js';
import { rowOf } from '../../../daemon/controller/experiments-journal.js';
import { type ExperimentStatus, startingStatus } from '../../../daemon/controller/experiments-status.js';
import { ExperimentRunner } from '../../../daemon/experiment/runner.js';
import { EXPERIMENT_DEFAULTS, type ExperimentSpec } from '../../../daemon/experiment/spec.js';
import { defaultModel } from '../../../daemon/model/model.js';
import type { Store } from '../../../daemon/store/store.js';
import { rng } from '../judge/sim.js';
import { SERVICE } from './fixture.js';

/** Saves a stopped A/B test of v2 against v1 that decided for B; returns its id. */
export function seedAbTest(store: Store, t0Ms: number): string {
  const spec: ExperimentSpec = {
    service: SERVICE,
    version: 'v2',
    split: 50,
    outcome: { kind: 'conversion', path: '/buy' },
    ...EXPERIMENT_DEFAULTS,
    windowMs: 5000,
  };
  const runner = new ExperimentRunner(spec, defaultModel().params.rateMixture, 3);
  const id = `${SERVICE}-v2-ab-${t0Ms}`;
  const status: ExperimentStatus = {
    ...startingStatus(id, spec, 'v1', t0Ms),
    phase: 'running',
    transitions: [{ to: 'running', at: t0Ms + 1000, reason: 'the split is live' }],
  };
  const r = rng(7);
  let user = 1;
  for (let s = 1; s <= 300; s++) {
    const at = t0Ms + s * 1000;
    for (let i = 0; i < 40; i++, user++) {
      const arm = r() < 0.5 ? 'B' : 'A';
      const buys = r() < (arm === 'B' ? 0.3 : 0.1);
      runner.add({ arm, user, atMs: at, endpoint: buys ? '/buy' : '/', failed: false, latencyUs: 2000 });
    }
    status.latest = runner.tick(at);
    if (status.latest.answer.decision !== 'undecided') status.decidedAtMs ??= at;
    if (s % 5 === 0) {
      const a = status.latest.answer;
      status.series.push({
        at,
        effect: a.effect,
        lo: a.ci[0],
        hi: a.ci[1],
        users: { ...a.users },
        decision: a.decision,
      });
    }
  }
  const end = t0Ms + 301_000;
  status.phase = 'stopped';
  status.stoppedAtMs = end;
  status.stopReason = 'stopped by an operator: B won';
  status.transitions.push({ to: 'stopped', at: end, reason: status.stopReason });
  store.saveExperiment(rowOf(status, null, end));
  return id;
}

/** A chaos experiment that found v2's resilience regression at /cart/errors. */
export function chaosRegression(t0Ms: number): ChaosExperiment {
  return {
    service: SERVICE,
    version: 'v2',
    baseline: 'v1',
    faults: [{ kind: 'abort', dependency: 'inventory', status: 503, percent: 30 }],
    durationMs: 30_000,
    percentage: 100,
    onRegression: 'report',
    phase: 'passed',
    startedAt: t0Ms,
    faultsOnAt: t0Ms + 3000,
    endedAt: t0Ms + 36_000,
    verdict: {
      regression: true,
      reference: 'baseline',
      candidate: { version: 'v2', pairs: 900, failureRate: 0.119, latencyGrowth: 1.5 },
      referenceArm: { version: 'v1', pairs: 900, failureRate: 0.014, latencyGrowth: 1.3 },
      errorScore: 83.7,
      culprit: '/cart/errors',
      explanation: 'v2 fails 11.9 % of requests where v1 fails 1.4 %',
    },
  };
}

/** Saves a chaos run as the chaos runner keeps it (`chaos_runs`). */
export function seedChaosRun(store: Store, exp: ChaosExperiment): void {
  const record = {
    id: `${exp.service}-${exp.startedAt}`,
    exp,
    serving: { v1: 100 },
    tally: emptyTally(),
    seconds: [],
  };
  store.saveChaosRun(toRow(record, exp.endedAt ?? exp.startedAt));
}
