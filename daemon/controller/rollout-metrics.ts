/**
 * The rollouts' state as metrics, read at scrape time from the controller
 * (registered by its part, parts/controller.ts) and the store: phase, weights, the
 * mirror share in force, the judge's score and threshold, decisions by
 * verdict, pool replicas. Nothing is emitted for what is not known: no score
 * before the judge has spoken (missing data is never a zero).
 *
 * Names follow Prometheus conventions: `umbra_` prefix, base units, ratios
 * 0..1, `_total` counters, phases as a state set (one series per phase, 1 for
 * the current one).
 */
import type { ServiceConfig } from '../config/schema.js';
import type { Collector, MetricFamily, Sample } from '../metrics/registry.js';
import type { PoolStatus } from '../provision/provisioner.js';
import { mirroring, shareInForce } from '../rollout/desired.js';
import { PHASES } from '../rollout/phases.js';
import type { DeploymentState } from '../rollout/types.js';
import type { DecisionStore } from '../store/store.js';
import type { ServiceEvidence } from './evidence.js';

/** What the collector reads of the controller, each call the state now. */
export interface RolloutSource {
  scheduler: { latest(service: string): DeploymentState | undefined };
  evidence(service: string): ServiceEvidence | undefined;
  pools(service: string): PoolStatus[];
}

function family(name: string, help: string, type: MetricFamily['type'], samples: Sample[]): MetricFamily {
  return { name, help, type, samples };
}

/**
 * Decisions are counted from the store as they are stored after the first
 * scrape (a counter starts at 0 with the daemon).
 */
export function rolloutCollector(
  services: readonly ServiceConfig[],
  c: RolloutSource,
  decisions: DecisionStore,
  nowMs: () => number = Date.now,
): Collector {
  const verdicts = new Map<string, number>();
  let lastDecision: number | undefined;
  const countDecisions = (): void => {
    // The first scrape only notes where the daemon starts counting.
    const r = decisions.decisionCounts(lastDecision ?? Number.MAX_SAFE_INTEGER);
    if (lastDecision !== undefined) {
      for (const c of r.counts) {
        const key = `${c.service}\u0000${c.verdict}`;
        verdicts.set(key, (verdicts.get(key) ?? 0) + c.count);
      }
    }
    lastDecision = Math.max(lastDecision ?? 0, r.lastId);
  };

  return (): MetricFamily[] => {
    countDecisions();
    const phase: Sample[] = [];
    const info: Sample[] = [];
    const paused: Sample[] = [];
    const weight: Sample[] = [];
    const mirror: Sample[] = [];
    const deadline: Sample[] = [];
    const score: Sample[] = [];
    const threshold: Sample[] = [];
    const predicted: Sample[] = [];
    const pairs: Sample[] = [];
    const desired: Sample[] = [];
    const ready: Sample[] = [];
    for (const s of services) {
      const service = s.name;
      const d = c.scheduler.latest(service);
      threshold.push({ labels: { service }, value: s.judge.anomalyThreshold });
      for (const p of PHASES) phase.push({ labels: { service, phase: p }, value: d?.phase === p ? 1 : 0 });
      if (d) {
        info.push({
          labels: { service, deployment: d.id, version: d.version, previous_version: d.previousVersion },
          value: 1,
        });
        paused.push({ labels: { service }, value: d.paused ? 1 : 0 });
        weight.push({ labels: { service }, value: d.candidateWeight / 100 });
        mirror.push({ labels: { service }, value: mirroring(d) ? shareInForce(d) / 100 : 0 });
        if (d.deadline && !d.paused) {
          deadline.push({
            labels: { service, timer: d.deadline.timer },
            value: Math.max(0, (d.deadline.atMs - nowMs()) / 1000),
          });
        }
      }
      const e = c.evidence(service);
      if (e) {
        score.push({ labels: { service }, value: e.score });
        pairs.push({ labels: { service }, value: e.pairs });
        if (e.predictedSecondsToThreshold !== null) {
          predicted.push({ labels: { service }, value: e.predictedSecondsToThreshold });
        }
      }
      for (const p of c.pools(service)) {
        const labels = { service, version: p.version, pool: p.pool };
        desired.push({ labels, value: p.desired });
        ready.push({ labels, value: p.ready });
      }
    }
    const decided: Sample[] = [...verdicts].map(([key, value]) => {
      const [service, verdict] = key.split('\u0000') as [string, string];
      return { labels: { service, verdict }, value };
    });
    return [
      family(
        'umbra_rollout_phase',
        "The latest deployment's phase (1 for the current one) per service.",
        'gauge',
        phase,
      ),
      family(
        'umbra_rollout_info',
        'The latest deployment per service: its id, version and the version it replaces (value 1).',
        'gauge',
        info,
      ),
      family(
        'umbra_rollout_paused',
        'Whether the latest deployment is paused (1) or not (0).',
        'gauge',
        paused,
      ),
      family(
        'umbra_rollout_candidate_weight_ratio',
        "The candidate's share of live traffic (0..1).",
        'gauge',
        weight,
      ),
      family(
        'umbra_rollout_mirror_ratio',
        'Share of eligible requests mirrored in force (0..1; 0 when paused or not mirroring).',
        'gauge',
        mirror,
      ),
      family(
        'umbra_rollout_phase_remaining_seconds',
        'Time left on the armed timer of the phase or step, by timer.',
        'gauge',
        deadline,
      ),
      family(
        'umbra_judge_score',
        "The judge's latest anomaly score (log10 of the combined e-value) per service.",
        'gauge',
        score,
      ),
      family(
        'umbra_judge_threshold',
        'The anomaly threshold: roll back when the score reaches it.',
        'gauge',
        threshold,
      ),
      family(
        'umbra_judge_predicted_seconds_to_threshold',
        'Seconds until the score reaches the threshold at its recent pace (absent when not growing).',
        'gauge',
        predicted,
      ),
      family('umbra_judge_pairs', 'Pairs (or live requests) the latest verdict is based on.', 'gauge', pairs),
      family(
        'umbra_judge_decisions_total',
        'Judge decisions stored since the daemon started, by verdict (rollback, healthy, insufficient).',
        'counter',
        decided,
      ),
      family(
        'umbra_pool_replicas_desired',
        'Instances wanted per version and pool (main, baseline).',
        'gauge',
        desired,
      ),
      family('umbra_pool_replicas_ready', 'Healthy instances per version and pool.', 'gauge', ready),
    ];
  };
}
