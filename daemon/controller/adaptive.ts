/**
 * Adaptive shadowing in the controller: once a second, for each service
 * whose deployment mirrors with an adaptive plan, the policy
 * (adaptive/policy.ts) reads what the daemon knows and, when the share
 * changes, hands the rollout a `share` event (the machine records it with its
 * reason and sends the filters the new share over the control stream).
 *
 * Inputs, each from seconds already closed:
 * - the judge's word on this phase (score, verdict, predicted time);
 * - production's health: the failure rate of production's own requests (the
 *   primaries of mirrored pairs and the live sample) over the last seconds,
 *   which does not vanish when the share is 0;
 * - the shadow pool's load: the mean latency of the copies against their
 *   originals in the last closed second, and the CPU of the mirror target's
 *   instances where the provisioner measures it (the process provisioner).
 * A figure that is missing is unknown, never a reason to act.
 */
import {
  type AdaptiveRange,
  DEFAULT_SHARE_TUNING,
  nextShare,
  type PoolLoad,
  type ShareInputs,
  type ShareState,
  type ShareTuning,
} from '../adaptive/policy.js';
import type { CellStats } from '../aggregate/stats.js';
import { DEFAULT_JUDGE_PARAMS } from '../judge/types.js';
import { logger } from '../log.js';
import type { PoolStatus } from '../provision/provisioner.js';
import { shareInForce } from '../rollout/desired.js';
import type { RolloutScheduler } from '../rollout/scheduler.js';
import type { DeploymentState } from '../rollout/types.js';
import type { ServiceEvidence } from './evidence.js';

const log = logger('adaptive');

/** Phases whose copies the share steers (rollout/machine.ts accepts a share only in these). */
const MIRRORING = new Set(['shadowing', 'baking']);
/** Seconds of production's own requests the health input looks at, and the fewest it judges on. */
const HEALTH_WINDOW_S = 5;
const HEALTH_MIN_REQUESTS = 20;
/** Fewest successful pairs in a second for the latency ratio to count. */
const LATENCY_MIN_PAIRS = 20;

export interface AdaptiveShareOptions {
  scheduler: Pick<RolloutScheduler, 'latest' | 'toActive'>;
  /** The judge's word on the deployment's current phase (JudgingLoop.phaseEvidence). */
  evidence: (service: string, d: DeploymentState) => ServiceEvidence | undefined;
  /** The service's pools (with CPU where the provisioner measures it). */
  pools: (service: string) => PoolStatus[];
  now?: () => number;
  tuning?: ShareTuning;
  /** Production is unhealthy at or above this failure rate (the judge's own limit by default). */
  unhealthyErrorRate?: number;
}

interface ServiceRun {
  /** Deployment, phase and step the policy state belongs to. */
  key: string;
  state: ShareState;
}

interface SecondTotals {
  second: number;
  /** When its cells were handed over (ms): old seconds drop out of the inputs. */
  seenAtMs: number;
  requests: number;
  failed: number;
  latPairs: number;
  latPrimarySumUs: number;
  latDeltaSumUs: number;
}

export class AdaptiveShareLoop {
  readonly #o: AdaptiveShareOptions;
  readonly #runs = new Map<string, ServiceRun>();
  /** Per service, the totals of the last closed seconds (newest last). */
  readonly #seconds = new Map<string, SecondTotals[]>();
  #lastTickMs = Number.NEGATIVE_INFINITY;

  constructor(o: AdaptiveShareOptions) {
    this.#o = o;
  }

  /** Takes one final second of cells (all services); wire to `Aggregator.onSecond`. */
  observe(cells: CellStats[]): void {
    const bySecond = new Map<string, SecondTotals>();
    const now = this.#now();
    for (const c of cells) {
      const id = `${c.key.service}\u0000${c.key.second}`;
      let t = bySecond.get(id);
      if (!t) {
        t = {
          second: c.key.second,
          seenAtMs: now,
          requests: 0,
          failed: 0,
          latPairs: 0,
          latPrimarySumUs: 0,
          latDeltaSumUs: 0,
        };
        bySecond.set(id, t);
        const list = this.#seconds.get(c.key.service) ?? [];
        list.push(t);
        if (list.length > HEALTH_WINDOW_S) list.shift();
        this.#seconds.set(c.key.service, list);
      }
      // Production's own requests: the primaries of pairs (and of shadows that never came back), and the live sample.
      t.requests += c.candidate.pairs + c.candidate.shadowMissing;
      t.failed += c.candidate.primaryFailed;
      for (const live of Object.values(c.live)) {
        t.requests += live.requests;
        t.failed += live.failed;
      }
      t.latPairs += c.candidate.latPairs;
      t.latPrimarySumUs += c.candidate.latPrimarySumUs;
      t.latDeltaSumUs += c.candidate.latDeltaSumUs;
    }
  }

  /**
   * Runs the policy for every service whose latest deployment mirrors with an
   * adaptive plan; at most once a second (later calls within it do nothing).
   */
  tick(services: readonly string[]): void {
    const now = this.#now();
    if (now - this.#lastTickMs < 1000) return;
    this.#lastTickMs = now;
    for (const service of services) {
      const d = this.#o.scheduler.latest(service);
      const range = d?.plan.adaptive;
      if (!d || !range || !MIRRORING.has(d.phase) || d.paused) {
        this.#runs.delete(service);
        continue;
      }
      this.#step(service, d, range, now);
    }
  }

  #now(): number {
    return this.#o.now ? this.#o.now() : Date.now();
  }

  #step(service: string, d: DeploymentState, range: AdaptiveRange, now: number): void {
    const key = `${d.id}:${d.phase}:${d.stepIndex}`;
    let run = this.#runs.get(service);
    if (run?.key !== key) {
      // A phase starts at the share the deployment has in force (max, or what it kept through a restart).
      run = { key, state: { share: shareInForce(d), calmSince: null } };
      this.#runs.set(service, run);
    }
    const input = this.#inputs(service, d, now);
    const r = nextShare(range, run.state, input, this.#o.tuning ?? DEFAULT_SHARE_TUNING);
    run.state = r.state;
    if (r.state.share === shareInForce(d)) return;
    log.info('share changed', {
      service,
      deployment: d.id,
      from: shareInForce(d),
      to: r.state.share,
      reason: r.reason,
    });
    try {
      this.#o.scheduler.toActive(service, { type: 'share', percentage: r.state.share, reason: r.reason });
    } catch (err) {
      log.warn('share not applied', { service, error: (err as Error).message });
    }
  }

  #inputs(service: string, d: DeploymentState, now: number): ShareInputs {
    const e = this.#o.evidence(service, d);
    // Seconds handed over within the window (a service without traffic has none: unknown, not unhealthy).
    const totals = (this.#seconds.get(service) ?? []).filter(
      (t) => now - t.seenAtMs <= HEALTH_WINDOW_S * 1000,
    );
    const latest = totals.at(-1);
    return {
      second: Math.floor(now / 1000),
      judge: e
        ? {
            verdict: e.verdict,
            reason: e.reason,
            score: e.score,
            threshold: e.threshold,
            predictedSecondsToThreshold: e.predictedSecondsToThreshold,
          }
        : null,
      production: this.#production(totals),
      pool: {
        ...this.#cpu(service, d),
        ...(latest && now - latest.seenAtMs <= 2000 ? latencyRatio(latest) : {}),
      },
    };
  }

  #production(totals: SecondTotals[]): ShareInputs['production'] {
    let requests = 0;
    let failed = 0;
    for (const t of totals) {
      requests += t.requests;
      failed += t.failed;
    }
    const limit = this.#o.unhealthyErrorRate ?? DEFAULT_JUDGE_PARAMS.unhealthyPrimaryErrorRate;
    if (requests < HEALTH_MIN_REQUESTS || failed / requests < limit) return { healthy: true };
    const pct = Math.round((1000 * failed) / requests) / 10;
    return { healthy: false, reason: `production unhealthy (${pct}% of its requests failed)` };
  }

  /** Mean CPU of the mirror target's instances: the candidate while shadowing, the previous version while baking. */
  #cpu(service: string, d: DeploymentState): PoolLoad {
    const target = d.phase === 'baking' ? d.previousVersion : d.version;
    const pool = this.#o.pools(service).find((p) => p.version === target && p.pool === 'main');
    const cpus = (pool?.instances ?? []).flatMap((i) => (i.cpuPercent === undefined ? [] : [i.cpuPercent]));
    if (cpus.length === 0) return {};
    return { cpuPercent: cpus.reduce((a, b) => a + b, 0) / cpus.length };
  }
}

/** Mean latency of the copies ÷ that of their originals in one second; unknown with few pairs. */
function latencyRatio(t: SecondTotals | undefined): PoolLoad {
  if (!t || t.latPairs < LATENCY_MIN_PAIRS || t.latPrimarySumUs <= 0) return {};
  return { latencyRatio: (t.latPrimarySumUs + t.latDeltaSumUs) / t.latPrimarySumUs };
}
