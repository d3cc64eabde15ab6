/**
 * The A/B experiments of the daemon's services: starts one (checks, version
 * B's pool, the split routes, then the split share on the filters), feeds it
 * the split's live records, ticks it every second, and ends it, by request
 * or when its guard finds B harmful. Ending moves B's users back to A the
 * way a rollback moves a deployment's users back: the filters stop marking
 * users first (control stream, immediate), then the routes lose the split,
 * then, after the proxies' drain, B's pool is stopped.
 *
 * With a store, every experiment is saved (experiments-journal.ts): a
 * daemon that restarts resumes a running one from its last save (B's pool,
 * the split route and the filters' split share set again, the statistics
 * and the guard as saved), once it passes start()'s checks again against
 * the service as it is now, and still shows the ended ones.
 */
import type { LiveRecord } from '../aggregate/aggregator.js';
import type { SeriesRegistry } from '../aggregate/series.js';
import type { ServiceConfig } from '../config/schema.js';
import { ExperimentRunner } from '../experiment/runner.js';
import { busyReason, type ExperimentSpec, experimentSpecErrors } from '../experiment/spec.js';
import type { ArmName } from '../experiment/tally.js';
import { logger } from '../log.js';
import type { MixtureAtom } from '../model/model.js';
import type { Provisioner } from '../provision/provisioner.js';
import { shadowReplicas } from '../provision/sizing.js';
import { productionReplicasOf } from '../rollout/plan.js';
import type { ExperimentRow, ExperimentStore } from '../store/store.js';
import { FLAG_CONNECT_FAILURE, FLAG_OUTCOME, FLAG_RESET, FLAG_TIMEOUT } from '../wire/record-contract.js';
import { versionCluster } from '../xds/index.js';
import { ExperimentJournal, rowOf } from './experiments-journal.js';
import { type ExperimentPhase, type ExperimentStatus, startingStatus } from './experiments-status.js';
import type { RoutingTable } from './routing.js';

export type { ExperimentPhase, ExperimentStatus };

const log = logger('experiments');

const FAILED = FLAG_TIMEOUT | FLAG_RESET | FLAG_CONNECT_FAILURE;
/** Time between the filters' last B request and stopping B's pool (as the effect runner drains). */
const DRAIN_MS = 3000;

/** Thrown for a request that is refused; the message names the path or the reason. */
export class ExperimentRefused extends Error {}

export interface ExperimentDeskOptions {
  services: readonly ServiceConfig[];
  provisioners: Map<string, Provisioner>;
  routing: Pick<RoutingTable, 'setSplit'>;
  /** The filters' split share (telemetry control stream); absent without telemetry. */
  setSplit?: (service: string, percentage: number) => number;
  registry: SeriesRegistry;
  /** The version serving a service now, and its deployment in progress if any. */
  serving: (service: string) => string;
  activeDeployment: (service: string) => { id: string; phase: string } | null;
  /** A chaos experiment running on the service (what it is), or undefined: it owns the mirror. */
  chaosRunning?: (service: string) => string | undefined;
  /** Resolves once the effects of ended deployments have run (a rollback's last pool stop, say). */
  settled?: () => Promise<void>;
  mixture: readonly MixtureAtom[];
  /** Overlay mode (`daemon.xds.upstream`): the routes are an upstream's, so experiments are refused. */
  overlay?: boolean;
  drainMs?: number;
  /** Where experiments are saved so that a restarted daemon resumes them; absent: memory only. */
  store?: Pick<ExperimentStore, 'saveExperiment' | 'listExperiments'>;
  /** Time between saves of a running experiment (default experiments-journal.ts SAVE_EVERY_MS). */
  saveEveryMs?: number;
}

interface Entry {
  status: ExperimentStatus;
  runner: ExperimentRunner | null;
  clusters: { a: string; b: string };
}

export class ExperimentDesk {
  readonly #o: ExperimentDeskOptions;
  /** The latest experiment per service (running or not). */
  readonly #byService = new Map<string, Entry>();
  readonly #pending = new Set<Promise<void>>();
  readonly #journal: ExperimentJournal;

  constructor(o: ExperimentDeskOptions) {
    this.#o = o;
    this.#journal = new ExperimentJournal(o.store, o.saveEveryMs);
  }

  /**
   * Takes back the services' latest experiments from the store (call once,
   * before any start): an ended one is shown as it ended; a running one
   * starts again from its last save. Its users are where they were: the
   * split is the consistent hash of the user key, so the same share puts the
   * same users in B. Users in their window at the save are left out (their
   * records of the gap are lost), counted as dropped. A running one that
   * start() would refuse now (its A no longer what serves, a deployment in
   * progress, chaos, a spec or service that no longer fits) is ended with
   * `not resumed: …` instead, saved so that status shows why.
   */
  resume(nowMs: number): void {
    for (const { status, state } of this.#journal.load(
      this.#o.services.map((s) => s.name),
      this.#o.mixture.length,
    )) {
      const cfg = this.#o.services.find((s) => s.name === status.spec.service)!;
      const entry: Entry = {
        status,
        runner: null,
        clusters: {
          a: versionCluster(cfg.name, status.stable),
          b: versionCluster(cfg.name, status.spec.version),
        },
      };
      if (status.phase === 'stopped') {
        this.#byService.set(cfg.name, entry);
        continue;
      }
      // Checked as a new one would be, against what the service is now: A must still be what serves.
      const serving = this.#o.serving(cfg.name);
      const refusal =
        status.stable === serving
          ? this.#refusal(status.spec, cfg, serving)
          : `stable: ${cfg.name} now serves ${serving}, not ${status.stable} (the experiment's A)`;
      this.#byService.set(cfg.name, entry);
      if (refusal) {
        this.#notResumed(entry, `not resumed: ${refusal}`, nowMs);
        continue;
      }
      entry.runner = new ExperimentRunner(status.spec, this.#o.mixture, cfg.judge.anomalyThreshold);
      if (state) entry.runner.restore(state);
      this.#move(entry, 'starting', 'the daemon restarted: resuming from the last save', nowMs);
      log.info('experiment resuming', { id: status.id, users: state ? status.latest?.answer.users : null });
      this.#track(this.#launch(entry, cfg, this.#o.provisioners.get(cfg.name)!));
    }
  }

  /** The running experiment of a service (its id), or null: deployments are refused while one runs. */
  running(service: string): string | null {
    const e = this.#byService.get(service);
    return e && e.status.phase !== 'stopped' ? e.status.id : null;
  }

  status(service?: string): ExperimentStatus[] {
    return [...this.#byService.values()]
      .filter((e) => service === undefined || e.status.spec.service === service)
      .map((e) => structuredClone(e.status));
  }

  /** The experiments it holds, in the store's shape (for the live page: fresher than the last save). */
  rows(service: string, nowMs: number): ExperimentRow[] {
    return this.status(service).map((s) => rowOf(s, null, nowMs));
  }

  /**
   * Checks an experiment and starts it: answers at once (phase `starting`)
   * once the checks pass, and goes on in the background until the split is
   * live (`running`), or ends it (`stopped`, with why). Throws
   * ExperimentRefused for a request it will not start.
   */
  start(spec: ExperimentSpec, nowMs: number): ExperimentStatus {
    const cfg = this.#o.services.find((s) => s.name === spec.service);
    if (!cfg) throw new ExperimentRefused(`service: no service named ${spec.service}`);
    const provisioner = this.#o.provisioners.get(cfg.name)!;
    const stable = this.#o.serving(cfg.name);
    const refusal = this.#refusal(spec, cfg, stable);
    if (refusal) throw new ExperimentRefused(refusal);

    const id = `${cfg.name}-${spec.version}-ab-${nowMs}`;
    const entry: Entry = {
      status: startingStatus(id, spec, stable, nowMs),
      runner: null,
      clusters: { a: versionCluster(cfg.name, stable), b: versionCluster(cfg.name, spec.version) },
    };
    this.#byService.set(cfg.name, entry);
    this.#move(entry, 'starting', 'started', nowMs);
    log.info('experiment starting', { id, version: spec.version, split: spec.split });
    this.#track(this.#launch(entry, cfg, provisioner));
    return structuredClone(entry.status);
  }

  /**
   * Why `spec` may not run on `cfg`'s service now, whose stable version (A)
   * is `stable`: every problem of the spec and the service, each with its
   * path, else what owns the service (a deployment in progress, an
   * experiment, chaos); null when it may run.
   */
  #refusal(spec: ExperimentSpec, cfg: ServiceConfig, stable: string): string | null {
    const at = `services[${this.#o.services.indexOf(cfg)}]`;
    const errors = experimentSpecErrors(spec, {
      versions: this.#o.provisioners.get(cfg.name)!.versions(),
      stable,
      endpoints: this.#endpointsOf(cfg.name),
    });
    if (!cfg.mirroring.userSegment)
      errors.push(`${at}.mirroring.userSegment: an A/B split needs the user key (header or cookie)`);
    const o = spec.outcome;
    if (o.kind === 'header' && o.header !== cfg.experiments.outcomeHeader)
      errors.push(
        `outcome.header: ${cfg.name}'s filter reads ${cfg.experiments.outcomeHeader} (${at}.experiments.outcomeHeader)`,
      );
    if (this.#o.overlay)
      errors.push('daemon.xds.upstream: experiments need the routes Umbra renders, not an overlay');
    if (!this.#o.setSplit) errors.push('daemon.telemetry: the split needs the filters’ telemetry stream');
    if (errors.length > 0) return errors.join('; ');
    return (
      busyReason(cfg.name, this.#o.activeDeployment(cfg.name), this.running(cfg.name)) ??
      this.#o.chaosRunning?.(cfg.name) ??
      null
    );
  }

  /** Resolves once every start and cleanup under way has finished (for tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  async #launch(entry: Entry, cfg: ServiceConfig, provisioner: Provisioner): Promise<void> {
    const { spec, id } = entry.status;
    try {
      // The last deployment's cleanup (its drain, its pools stopped) must not undo B's pool.
      await this.#o.settled?.();
      const replicas = shadowReplicas({
        productionReplicas: productionReplicasOf(cfg),
        shadowPercentage: spec.split,
        headroom: cfg.rollout.headroom,
      });
      await provisioner.ensure({ version: spec.version, pool: 'main' }, replicas);
      // Routes first: a user the filter marks must find B's route.
      await this.#o.routing.setSplit(cfg.name, spec.version);
      entry.runner ??= new ExperimentRunner(spec, this.#o.mixture, cfg.judge.anomalyThreshold);
      if (entry.status.phase !== 'starting') return; // stopped meanwhile
      this.#o.setSplit!(cfg.name, spec.split);
      this.#move(entry, 'running', 'the split is live', Date.now());
      log.info('experiment running', { id });
    } catch (err) {
      log.error('experiment could not start', { id, error: err as Error });
      this.#end(entry, `could not start: ${(err as Error).message}`, Date.now(), false);
    }
  }

  /**
   * Ends a service's experiment: B's users are back on A when it answers (the
   * filters stop marking them); the routes and B's pool follow in the background.
   */
  stop(service: string, reason: string, nowMs: number): ExperimentStatus {
    const e = this.#byService.get(service);
    if (!e || e.status.phase === 'stopped') throw new ExperimentRefused(`${service} runs no experiment`);
    this.#end(e, reason, nowMs, false);
    return structuredClone(e.status);
  }

  /** One live record of a split (from ingest; the object is reused). */
  onRecord(r: Readonly<LiveRecord>): void {
    const service = this.#o.registry.serviceOf[r.series];
    const e = service === undefined ? undefined : this.#byService.get(service);
    if (!e?.runner || e.status.phase !== 'running') return;
    const cluster = this.#o.registry.clusterName[r.cluster];
    const arm: ArmName | null = cluster === e.clusters.b ? 'B' : cluster === e.clusters.a ? 'A' : null;
    if (arm === null) return;
    e.runner.add({
      arm,
      user: r.user,
      atMs: r.startUs / 1000,
      endpoint: this.#o.registry.endpointNameOf[r.series] ?? '',
      ...((r.flags & FLAG_OUTCOME) !== 0 ? { outcome: r.outcomeMilli / 1000 } : {}),
      failed: (r.flags & FAILED) !== 0 || r.status === 0 || r.status >= 500,
      latencyUs: r.latencyUs,
    });
  }

  /** Once a second: every running experiment answers; a guard that fires ends its experiment. */
  tick(nowMs: number): void {
    for (const e of this.#byService.values()) {
      if (!e.runner || e.status.phase !== 'running') continue;
      const t = e.runner.tick(nowMs);
      const was = e.status.latest?.answer.decision ?? 'undecided';
      e.status.latest = t;
      const decided = t.answer.decision !== was;
      if (decided && t.answer.decision !== 'undecided') e.status.decidedAtMs ??= nowMs;
      if (!t.guard.stop) {
        if (decided || this.#journal.due(e.status.id, nowMs)) this.#journal.save(e.status, e.runner, nowMs);
        continue;
      }
      const reason = `guard: B's ${t.guard.signal} worse than A's (score ${t.guard.score.toFixed(2)} ≥ ${e.runner.threshold})`;
      log.warn('experiment stopped by its guard', { id: e.status.id, reason });
      this.#end(e, reason, nowMs, true);
    }
  }

  /**
   * Ends a stored experiment that may not run again, saved with why. Nothing
   * to undo: this daemon never set its split, and B's pool, if a previous
   * daemon left it, is the orphan sweep's (which knows what serves now).
   */
  #notResumed(e: Entry, reason: string, nowMs: number): void {
    e.status.stopReason = reason;
    e.status.stoppedAtMs = nowMs;
    e.status.harmful = false;
    this.#move(e, 'stopped', reason, nowMs);
    log.warn('experiment not resumed', { id: e.status.id, reason });
  }

  #end(e: Entry, reason: string, nowMs: number, harmful: boolean): void {
    e.status.stopReason = reason;
    e.status.stoppedAtMs = nowMs;
    e.status.harmful = harmful;
    if (e.runner) e.status.latest = e.runner.tick(nowMs);
    if (e.status.latest && e.status.latest.answer.decision !== 'undecided') e.status.decidedAtMs ??= nowMs;
    this.#move(e, 'stopped', reason, nowMs);
    // The filters stop marking users at once; then the routes lose the split; then B stops.
    this.#o.setSplit?.(e.status.spec.service, 0);
    this.#track(this.#cleanup(e, reason));
  }

  /** A phase change, saved before its effects run. */
  #move(e: Entry, to: ExperimentPhase, reason: string, nowMs: number): void {
    e.status.phase = to;
    e.status.transitions.push({ to, at: nowMs, reason });
    this.#journal.save(e.status, e.runner, nowMs);
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  async #cleanup(e: Entry, reason: string): Promise<void> {
    const service = e.status.spec.service;
    try {
      await this.#o.routing.setSplit(service, null);
      await new Promise((r) => setTimeout(r, this.#o.drainMs ?? DRAIN_MS));
      await this.#o.provisioners.get(service)?.stop({ version: e.status.spec.version, pool: 'main' });
    } catch (err) {
      log.error('experiment cleanup failed', { id: e.status.id, error: err as Error });
    }
    log.info('experiment stopped', { id: e.status.id, reason });
  }

  #endpointsOf(service: string): string[] {
    const r = this.#o.registry;
    const out = new Set<string>();
    r.serviceOf.forEach((s, i) => {
      if (s === service && r.endpointNameOf[i]) out.add(r.endpointNameOf[i]!);
    });
    return [...out];
  }
}
