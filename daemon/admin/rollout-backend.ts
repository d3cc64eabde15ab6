/**
 * The daemon's {@link AdminBackend}: commands go to the rollout scheduler;
 * status joins each configured service's latest deployment with the judge's
 * latest evidence and the provisioner's pools (both optional sources, wired
 * by the daemon's composition).
 */
import type { ServiceConfig } from '../config/schema.js';
import type { ServiceEvidence } from '../controller/evidence.js';
import type { PoolStatus } from '../provision/provisioner.js';
import { mirroring, shareInForce } from '../rollout/desired.js';
import { planFor, productionReplicasOf } from '../rollout/plan.js';
import type { DeploymentRepo } from '../rollout/ports.js';
import { RolloutRefusal, type RolloutScheduler } from '../rollout/scheduler.js';
import type { CommandName, ConfigRejection, DeploymentState } from '../rollout/types.js';
import type {
  AdminBackend,
  DecisionView,
  DeploymentView,
  HistoryEntryView,
  JourneyView,
  PoolView,
  ProxyView,
  ServiceStatusView,
} from './port.js';
import { AdminError } from './port.js';

export interface RolloutBackendOptions {
  services: ServiceConfig[];
  /** Absent on a follower of a shared store (docs/ha.md): commands are refused with {@link refuseCommands}. */
  scheduler?: RolloutScheduler;
  /** Why commands are refused without a scheduler (names the leader). */
  refuseCommands?: () => string;
  repo: DeploymentRepo;
  /** Latest judge evidence per service. */
  evidence?: (service: string) => ServiceEvidence | undefined;
  /** A stored judge decision by id. */
  decision?: (id: number) => DecisionView | undefined;
  /** Provisioner pools per service. */
  pools?: (service: string) => PoolStatus[];
  /** Proxy refusals (xDS NACKs) that stand per service. */
  refusals?: (service: string) => ConfigRejection[];
  /** Per proxy, what it ACKed for the service against what the daemon wants. */
  proxies?: (service: string) => ProxyView[];
  /** The service's journeys with their last results. */
  journeys?: (service: string) => JourneyView[];
  /** The A/B experiment running on a service (its id), if any: a deployment waits until it ends. */
  experimentRunning?: (service: string) => string | null;
  /** Why a deployment of the version must wait (a chaos experiment runs, or the version failed one). */
  deployRefusal?: (service: string, version: string) => string | undefined;
}

export class RolloutAdminBackend implements AdminBackend {
  readonly #o: RolloutBackendOptions;
  readonly #services: Map<string, ServiceConfig>;

  constructor(opts: RolloutBackendOptions) {
    this.#o = opts;
    this.#services = new Map(opts.services.map((s) => [s.name, s]));
  }

  deploy(service: string, version: string): { deployment: DeploymentView; message: string } {
    const cfg = this.#service(service);
    const versions = Object.keys(cfg.provisioner.versions);
    if (!versions.includes(version)) {
      throw new AdminError(
        'not_found',
        `${service} has no version '${version}' (configured: ${versions.join(', ')})`,
      );
    }
    const experiment = this.#o.experimentRunning?.(service);
    if (experiment)
      throw new AdminError(
        'failed_precondition',
        `${service} runs experiment ${experiment}; stop it first (umbra experiment stop ${service})`,
      );
    const refusal = this.#o.deployRefusal?.(service, version);
    if (refusal) throw new AdminError('failed_precondition', refusal);
    const previousVersion = this.#stable(cfg);
    try {
      const state = this.#scheduler().deploy({
        service,
        version,
        previousVersion,
        plan: planFor(cfg, productionReplicasOf(cfg)),
      });
      return {
        deployment: view(state),
        message: `deploying ${service} ${version} (replacing ${previousVersion})`,
      };
    } catch (err) {
      if (err instanceof RolloutRefusal) throw new AdminError('failed_precondition', err.message);
      throw err;
    }
  }

  status(service?: string): ServiceStatusView[] {
    const names = service === undefined ? [...this.#services.keys()] : [this.#service(service).name];
    return names.map((name) => this.#statusOf(this.#services.get(name)!));
  }

  command(
    service: string,
    command: CommandName,
    reason?: string,
  ): { deployment: DeploymentView; message: string } {
    this.#service(service);
    let r: ReturnType<RolloutScheduler['command']>;
    try {
      r = this.#scheduler().command(service, command, reason);
    } catch (err) {
      if (err instanceof RolloutRefusal) throw new AdminError('failed_precondition', err.message);
      throw err;
    }
    if (r.refused) throw new AdminError('failed_precondition', r.refused);
    return { deployment: view(r.state), message: r.reason ?? `${command}: done` };
  }

  history(service: string | undefined, limit: number): HistoryEntryView[] {
    if (service !== undefined) this.#service(service);
    const rows = this.#o.repo.list({
      ...(service === undefined ? {} : { service }),
      limit: Math.min(Math.max(1, limit), 500),
    });
    return rows.map((d) => ({
      deployment: view(d),
      transitions: this.#o.repo
        .transitions(d.id)
        .map((t) => ({ from: t.from, to: t.to, event: t.event, reason: t.reason, atMs: t.at })),
    }));
  }

  explain(decisionId: number): DecisionView {
    const d = this.#o.decision?.(decisionId);
    if (!d) throw new AdminError('not_found', `no decision ${decisionId}`);
    return d;
  }

  #scheduler(): RolloutScheduler {
    if (this.#o.scheduler) return this.#o.scheduler;
    throw new AdminError('failed_precondition', this.#o.refuseCommands?.() ?? 'this daemon runs no rollouts');
  }

  #service(name: string): ServiceConfig {
    const s = this.#services.get(name);
    if (!s) {
      throw new AdminError(
        'not_found',
        `unknown service '${name}' (configured: ${[...this.#services.keys()].join(', ') || 'none'})`,
      );
    }
    return s;
  }

  /** The version serving production outside a deployment. */
  #stable(cfg: ServiceConfig): string {
    const latest = this.#o.repo.list({ service: cfg.name, limit: 1 })[0];
    if (!latest) return cfg.stable;
    return latest.phase === 'completed' ? latest.version : latest.previousVersion;
  }

  #statusOf(cfg: ServiceConfig): ServiceStatusView {
    const latest = this.#o.repo.list({ service: cfg.name, limit: 1 })[0];
    const ev = this.#o.evidence?.(cfg.name);
    return {
      name: cfg.name,
      stableVersion: this.#stable(cfg),
      deployment: latest ? view(latest) : null,
      verdict: ev?.verdict ?? '',
      verdictReason: ev?.reason ?? '',
      score: ev?.score ?? 0,
      threshold: ev?.threshold ?? cfg.judge.anomalyThreshold,
      culprits: ev?.culprits ?? [],
      pairs: ev?.pairs ?? 0,
      evidence: ev?.evidence ?? [],
      hasPrediction: ev?.predictedSecondsToThreshold != null,
      predictedSecondsToThreshold: ev?.predictedSecondsToThreshold ?? 0,
      pools: (this.#o.pools?.(cfg.name) ?? []).map(poolView),
      refusals: (this.#o.refusals?.(cfg.name) ?? []).map(({ at, resources, ...r }) => ({
        ...r,
        resources: [...resources],
        atMs: at,
      })),
      proxies: this.#o.proxies?.(cfg.name) ?? [],
      missingShadows: ev?.missingShadows ?? 0,
      model: ev?.model ?? [],
      journeys: this.#o.journeys?.(cfg.name) ?? [],
    };
  }
}

/** A deployment state as the admin API shows it. */
export function view(s: DeploymentState): DeploymentView {
  return {
    id: s.id,
    service: s.service,
    version: s.version,
    previousVersion: s.previousVersion,
    phase: s.phase,
    paused: s.paused !== null,
    pausedReason: s.paused?.reason ?? '',
    candidateWeight: s.candidateWeight,
    step: s.phase === 'promoting' ? s.stepIndex + 1 : 0,
    steps: s.plan.steps.length,
    createdAtMs: s.createdAt,
    updatedAtMs: s.updatedAt,
    deadlineTimer: s.deadline?.timer ?? '',
    deadlineMs: s.deadline?.atMs ?? 0,
    rollbackReason: s.rollback?.reason ?? '',
    lastError: s.lastError ?? '',
    rollbackDecisionId: s.rollback?.decisionId ?? 0,
    ...shareView(s),
  };
}

/** The share mirrored now and, when adaptive, why. */
function shareView(
  s: DeploymentState,
): Pick<DeploymentView, 'sharePercentage' | 'shareReason' | 'shareMin' | 'shareMax'> {
  const on = mirroring(s);
  const range = s.plan.adaptive;
  return {
    sharePercentage: on ? shareInForce(s) : 0,
    shareReason:
      range && on ? (s.share?.reason ?? `phase start: ${range.max}% until the judge has evidence`) : '',
    shareMin: range?.min ?? 0,
    shareMax: range?.max ?? 0,
  };
}

function poolView(p: PoolStatus): PoolView {
  const sum = (f: (i: PoolStatus['instances'][number]) => number | undefined) =>
    p.instances.reduce((a, i) => a + (f(i) ?? 0), 0);
  return {
    version: p.version,
    pool: p.pool,
    desired: p.desired,
    ready: p.ready,
    cpuPercent: sum((i) => i.cpuPercent),
    rssBytes: sum((i) => i.rssBytes),
    errorLinesPerMinute: sum((i) => i.errorLinesPerMinute),
  };
}
