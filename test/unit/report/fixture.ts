/**
 * Stores with the history of real-looking deployments, for the report's
 * tests: cells from the judge's seeded simulator, decisions from the real
 * judge and validation, histograms from the aggregator's own histogram, and
 * the transitions the rollout machine would write.
 */
import { LatencyHistogram } from '../../../daemon/aggregate/latency-histogram.js';
import { type CellStats, emptyPaired } from '../../../daemon/aggregate/stats.js';
import { DEFAULT_JUDGE_PARAMS, initialJudgeState, judge } from '../../../daemon/judge/index.js';
import {
  DEFAULT_VALIDATION_PARAMS,
  observeValidation,
  startValidation,
  validationCounts,
  validationVerdict,
} from '../../../daemon/judge/validation.js';
import { defaultModel } from '../../../daemon/model/model.js';
import type { HistogramRow, Store } from '../../../daemon/store/store.js';
import { gauss, rng, simulateCell, spec } from '../judge/sim.js';

export const SERVICE = 'shop';
const ENDPOINTS = ['/cart', '/catalog', '/profile'];
const SEGMENTS = ['eu', 'us', 'ap'];
const PLAN = {
  shadowPercentage: 50,
  baseline: false,
  shadowReplicas: 2,
  productionReplicas: 2,
  shadowDurationMs: 30_000,
  steps: [{ weight: 100, holdMs: 8000 }],
  bakeMs: 8000,
  validationPeriodMs: 10_000,
  provisionTimeoutMs: 30_000,
  capacityTimeoutMs: 30_000,
  maxHoldExtensions: 3,
};

export interface SeededRegression {
  id: string;
  rollbackAt: number;
  threshold: number;
}

function cellsOf(r: () => number, second: number, bad: boolean): CellStats[] {
  const out: CellStats[] = [];
  for (const endpoint of ENDPOINTS) {
    for (const segment of SEGMENTS) {
      const culprit = bad && endpoint === '/cart' && segment === 'eu';
      const cell = simulateCell(
        r,
        spec({
          endpoint,
          segment,
          pairsPerSecond: endpoint === '/profile' ? 4 : 8,
          liveFactor: 2,
          ...(culprit ? { shadow: { errorRate: 0.3 } } : {}),
        }),
        second,
        SERVICE,
      );
      // The restored version's live traffic is what validation watches.
      cell.live = { 'shop-v1': cell.live['stable'] ?? { requests: 0, failed: 0, overTail: 0, latSumUs: 0 } };
      // After a rollback nothing is mirrored: no pairs.
      if (!bad) cell.candidate = emptyPaired();
      out.push(cell);
    }
  }
  return out;
}

function histograms(
  r: () => number,
  minute: number,
  arms: ('primary' | 'candidate' | 'live')[],
): HistogramRow[] {
  const rows: HistogramRow[] = [];
  for (const endpoint of ENDPOINTS) {
    for (const arm of arms) {
      const h = new LatencyHistogram();
      const median = endpoint === '/cart' ? 4000 : 2500;
      const slower = arm === 'candidate' && endpoint === '/cart' ? 1.15 : 1;
      for (let i = 0; i < 2000; i++) h.record(Math.round(median * slower * Math.exp(0.35 * gauss(r))));
      rows.push({ service: SERVICE, endpoint, arm, minute, count: h.total, encoded: h.encode() });
    }
  }
  return rows;
}

/**
 * A deployment of v2 that fails 30 % of /cart in eu: shadowed, judged every
 * second (a decision stored each second), rolled back, validated, rolled_back.
 * With `shadowSeconds`, it stops after that many judged seconds, still
 * shadowing (a deployment in progress; `rollbackAt` is 0).
 */
export function seedRegression(
  store: Store,
  t0Ms: number,
  id = 'shop-v2-1',
  shadowSeconds?: number,
): SeededRegression {
  const r = rng(7);
  const threshold = 2;
  store.createDeployment({
    id,
    service: SERVICE,
    version: 'v2',
    previousVersion: 'v1',
    phase: 'provisioning',
    phaseData: { plan: PLAN, candidateWeight: 0 },
    createdAt: t0Ms,
    updatedAt: t0Ms,
  });
  const move = (from: string, to: string, event: string, at: number, reason: string) =>
    store.transition({
      deploymentId: id,
      from,
      to,
      event,
      at,
      detail: { reason },
      phaseData: { plan: PLAN, candidateWeight: 0 },
    });
  move('provisioning', 'provisioning', 'deploy', t0Ms, 'deploy v2 replacing v1');
  const shadowAt = t0Ms + 2000;
  move('provisioning', 'shadowing', 'provisioned', shadowAt, 'candidate ready');
  const params = { ...DEFAULT_JUDGE_PARAMS, anomalyThreshold: threshold, minPairs: 100, warmupSeconds: 2 };
  let state = initialJudgeState();
  let second = Math.floor(shadowAt / 1000) + 1;
  let rollbackAt = 0;
  for (let i = 0; i < (shadowSeconds ?? 60) && rollbackAt === 0; i++, second++) {
    const cells = cellsOf(r, second, true);
    store.saveCells(cells);
    const { state: next, verdict } = judge(state, cells, defaultModel(), params);
    state = next;
    const at = (second + 3) * 1000;
    store.recordDecision({
      deploymentId: id,
      service: SERVICE,
      at,
      verdict: verdict.verdict,
      score: verdict.score,
      threshold,
      modelVersion: 0,
      explanation: { ...verdict, phase: 'shadowing', recentScores: state.scores },
    });
    if (verdict.verdict === 'rollback') rollbackAt = at;
  }
  if (shadowSeconds !== undefined) {
    store.saveHistograms(histograms(r, Math.floor(t0Ms / 60_000) * 60, ['primary', 'candidate']));
    return { id, rollbackAt: 0, threshold };
  }
  if (rollbackAt === 0) throw new Error('fixture: the regression was never detected');
  move(
    'shadowing',
    'rolling_back',
    'verdict:rollback',
    rollbackAt,
    'rolling back: judge: anomaly score ≥ 2 (/cart eu errors)',
  );
  move(
    'rolling_back',
    'validating',
    'provisioned',
    rollbackAt + 20,
    'v1 serves 100% again; validating for 10s',
  );
  let validation = startValidation(
    { requests: 0, failed: 0, overTail: 0, tailChecked: 0 },
    DEFAULT_VALIDATION_PARAMS,
  );
  const vFrom = Math.floor(rollbackAt / 1000) + 1;
  for (let s = vFrom; s < vFrom + 10; s++) {
    const cells = cellsOf(r, s, false);
    store.saveCells(cells);
    for (const c of cells) validation = observeValidation(validation, validationCounts(c.live['shop-v1']!));
    if ((s - vFrom) % 3 === 0) {
      const v = validationVerdict(validation, DEFAULT_VALIDATION_PARAMS);
      store.recordDecision({
        deploymentId: id,
        service: SERVICE,
        at: (s + 3) * 1000,
        verdict: v.verdict,
        score: v.score,
        threshold,
        modelVersion: null,
        explanation: { phase: 'validating', ...v, seen: validation.seen },
      });
    }
  }
  const endAt = (vFrom + 10) * 1000 + 100;
  move('validating', 'rolled_back', 'timer:validation_end', endAt, 'v1 validated for 10s');
  const firstMinute = Math.floor(t0Ms / 60_000) * 60;
  for (let m = firstMinute; m * 1000 <= endAt; m += 60)
    store.saveHistograms(histograms(r, m, ['primary', 'candidate', 'live']));
  return { id, rollbackAt, threshold };
}

/** A deployment that never saw traffic (its candidate never became ready). */
export function seedWithoutTraffic(store: Store, t0Ms: number, id = 'shop-v4-1'): string {
  store.createDeployment({
    id,
    service: SERVICE,
    version: 'v4',
    previousVersion: 'v1',
    phase: 'provisioning',
    phaseData: { plan: PLAN, candidateWeight: 0 },
    createdAt: t0Ms,
    updatedAt: t0Ms,
  });
  store.transition({
    deploymentId: id,
    from: 'provisioning',
    to: 'provisioning',
    event: 'deploy',
    at: t0Ms,
    detail: { reason: 'deploy v4' },
  });
  return id;
}
