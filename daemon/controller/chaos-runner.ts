/**
 * Runs chaos experiments (chaos/experiment.ts): starts the version under test
 * as the candidate (and the serving version as the baseline, when the service
 * has a baseline arm), mirrors production's requests to them, then injects
 * the faults into their world alone: delays and aborts on their egress routes
 * (routing.ts → xds/resources/egress.ts), lost replicas through the
 * provisioner. Production's routes and pools are never touched: its weights
 * stay as they were, and the roles that carry faults are computed from them
 * (egress.ts).
 *
 * One experiment per service at a time, none while a deployment is in
 * progress (they would fight for the mirror). Each run is written to the
 * store (chaos-record.ts) on every change and every tallied second. A daemon
 * stop suspends the running ones (faults lifted, pools left running, the run
 * kept as it was); the next daemon resumes a run still within its window
 * (faults re-rendered, pools ensured and adopted) and closes one whose window
 * passed with the verdict it had (`interrupted`, or `failed` for a regression
 * under `onRegression: fail`), its pools then stopped by the orphan sweep
 * (orphans.ts).
 */
import type { CellStats } from '../aggregate/stats.js';
import {
  type ChaosExperiment,
  type ChaosRequest,
  candidateReplicas,
  ENDED,
  startRefusals,
  windowEndsAt,
} from '../chaos/experiment.js';
import { describeFault, replicasLost } from '../chaos/fault.js';
import { addCells, chaosVerdict, emptyTally } from '../chaos/verdict.js';
import type { ServiceConfig } from '../config/schema.js';
import { logger } from '../log.js';
import { defaultModel } from '../model/model.js';
import type { PoolRef, Provisioner } from '../provision/provisioner.js';
import type { ChaosRunStore } from '../store/store.js';
import { ChaosGateFeed } from './chaos-gate.js';
import { type ChaosRecord, fromRow, pastRuns, secondOf, toRow } from './chaos-record.js';
import { desiredFaults } from './chaos-reset.js';
import type { ControlSink } from './effects.js';
import type { RoutingTable } from './routing.js';

const log = logger('chaos');

/** A request that cannot start; nothing was changed. */
export class ChaosRefusal extends Error {}

export interface ChaosRunnerOptions {
  services: ServiceConfig[];
  routing: Pick<RoutingTable, 'apply' | 'setFaults' | 'publish' | 'route'>;
  provisioners: Map<string, Provisioner>;
  control: ControlSink;
  /** The service's deployment in progress, or null. */
  deploymentInProgress: (service: string) => { id: string; version: string; phase: string } | null;
  /** The A/B experiment running on the service (its id), or null: it owns the routes and the filters' split. */
  abRunning?: (service: string) => string | null;
  /** The rollouts, whose chaos steps (rollout.chaos in umbra.yaml) are fed their evidence here. */
  rollouts?: ConstructorParameters<typeof ChaosGateFeed>[0]['scheduler'];
  /** Copies before the faults go on (both arms warm, a clean start for the tally). Default 3 s. */
  warmupMs?: number;
  /**
   * Time after the faults are lifted before the verdict: the last seconds under
   * faults must be final (the pipeline's close delay) and copies in flight drain. Default 3 s.
   */
  drainMs?: number;
  provisionTimeoutMs?: number;
  now?: () => number;
  /** Where runs are kept across restarts; without one they live in memory only. */
  store?: ChaosRunStore;
}

/** Past runs per service `status` shows beyond the latest. */
const PAST_RUNS = 10;

interface Run extends ChaosRecord {
  /** Set by a daemon stop: the run is cleaned up but kept as it was, for the next daemon. */
  suspended?: boolean;
  /** Seconds tallied: from the first whole second with the faults on, to the last. */
  fromSecond: number;
  toSecond: number;
  /** Asks the run to end now (`ended` resolves). */
  end: () => void;
  ended: Promise<void>;
  /** Resolves once the run has cleaned up and given its verdict. */
  done: Promise<void>;
}

export class ChaosRunner {
  readonly #o: ChaosRunnerOptions;
  readonly #services: Map<string, ServiceConfig>;
  readonly #runs = new Map<string, Run>();
  readonly #steps: ChaosGateFeed | undefined;

  constructor(o: ChaosRunnerOptions) {
    this.#o = o;
    this.#services = new Map(o.services.map((s) => [s.name, s]));
    const mixture = defaultModel().params.signMixture;
    this.#steps = o.rollouts && new ChaosGateFeed({ services: o.services, scheduler: o.rollouts, mixture });
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** Starts an experiment; throws {@link ChaosRefusal} (every reason, with paths) when it cannot. */
  start(req: ChaosRequest): ChaosExperiment {
    const service = this.#services.get(req.service);
    const running = this.#runs.get(req.service)?.exp;
    const errors = startRefusals(req, service, this.#o.deploymentInProgress(req.service), running);
    const ab = this.#o.abRunning?.(req.service);
    if (ab)
      errors.push(`service: ${req.service} runs A/B experiment ${ab}; stop it first (umbra experiment stop)`);
    const serving = this.#o.routing.route(req.service)?.weights ?? (service ? { [service.stable]: 100 } : {});
    const live = Object.keys(serving).filter((v) => (serving[v] ?? 0) > 0);
    const version = req.version ?? service?.stable ?? '';
    if (errors.length === 0 && live.includes(version))
      errors.push(`version: ${version} serves production; an experiment runs on another version`);
    if (errors.length > 0) throw new ChaosRefusal(errors.join('; '));
    const cfg = service!;
    const exp: ChaosExperiment = {
      service: cfg.name,
      version,
      baseline: cfg.mirroring.baseline && live.length === 1 ? live[0]! : null,
      faults: req.faults,
      durationMs: req.durationMs,
      percentage: req.percentage ?? cfg.mirroring.shadowPercentage,
      onRegression: req.onRegression,
      phase: 'warming',
      startedAt: this.#now(),
    };
    const run = this.#track({
      id: `${cfg.name}-${exp.startedAt}`,
      exp,
      tally: emptyTally(),
      serving: { ...serving },
      seconds: [],
    });
    this.#save(run);
    log.info('chaos experiment started', {
      service: cfg.name,
      version,
      faults: exp.faults.map(describeFault),
    });
    run.done = this.#run(run);
    return { ...exp };
  }

  /** A run in memory, ready to be driven by {@link ChaosRunner.#run}. */
  #track(record: ChaosRecord): Run {
    let end = () => {};
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const run: Run = {
      ...record,
      fromSecond: Number.POSITIVE_INFINITY,
      toSecond: Number.POSITIVE_INFINITY,
      end,
      ended,
      done: Promise.resolve(),
    };
    this.#runs.set(record.exp.service, run);
    return run;
  }

  /** Writes the run to the store; a store failure is logged, never stops the experiment. */
  #save(run: Run): void {
    try {
      this.#o.store?.saveChaosRun(toRow(run, this.#now()));
    } catch (err) {
      log.warn('chaos run not saved', { service: run.exp.service, error: (err as Error).message });
    }
  }

  /**
   * After a start (or on becoming leader): each service's latest stored run
   * is loaded. An ended one is held, not run, so that a `failed` run keeps
   * refusing deployments of its version (deployRefusal). One that had not
   * ended is resumed when its window is still open (and nothing else holds
   * the service), else closed with the verdict over what it saw: `failed`
   * for a regression with `onRegression: fail`, `interrupted` otherwise
   * when the daemon was down as its window ended.
   */
  resume(): void {
    const store = this.#o.store;
    if (!store) return;
    for (const service of this.#services.keys()) {
      const row = store.listChaosRuns({ service, limit: 1 })[0];
      if (!row) continue;
      const read = fromRow(row);
      if ('error' in read) {
        log.warn('chaos run not resumed', { service, error: read.error });
        continue;
      }
      const run = this.#track(read.record);
      const { exp } = run;
      if (ENDED.has(exp.phase)) continue;
      const endsAt = windowEndsAt(exp, this.#o.warmupMs ?? 3000);
      const busy = this.#o.deploymentInProgress(service) ?? this.#o.abRunning?.(service);
      if (this.#now() < endsAt && !busy) {
        log.info('chaos experiment resumed', { service, version: exp.version, phase: exp.phase });
        run.done = this.#run(run);
        continue;
      }
      exp.endedAt = this.#now();
      exp.verdict = this.#verdict(run);
      const outcome = this.#outcome(run);
      if (read.savedAt >= endsAt) exp.phase = outcome;
      else {
        // A regression under `fail` fails the run even on part of its window: it must block deploys.
        exp.phase = outcome === 'failed' ? 'failed' : 'interrupted';
        exp.reason = busy
          ? `${exp.phase}: the daemon restarted while another change held the service`
          : `${exp.phase}: the daemon was down when its window ended; the verdict covers the ${run.seconds.length} s seen`;
      }
      this.#save(run);
      log.info('chaos experiment closed after a restart', { service, phase: exp.phase });
    }
  }

  /**
   * The latest experiment of each service (or of one), ended ones included,
   * then the earlier runs the store keeps (newest first, up to 10 per service).
   */
  status(service?: string): ChaosExperiment[] {
    const runs = service === undefined ? [...this.#runs.values()] : [this.#runs.get(service)].filter(Boolean);
    const latest = runs.map((r) => this.#view(r!));
    const services = service === undefined ? [...this.#services.keys()] : [service];
    const shown = new Set(runs.map((r) => r!.id));
    return [...latest, ...(this.#o.store ? pastRuns(this.#o.store, services, shown, PAST_RUNS) : [])];
  }

  /** Ends the service's experiment now; the verdict covers the seconds seen. Returns it as it stands. */
  stop(service: string): ChaosExperiment {
    const run = this.#runs.get(service);
    if (!run || ENDED.has(run.exp.phase))
      throw new ChaosRefusal(`service: no chaos experiment runs on ${service}`);
    run.exp.reason = 'stopped by the user';
    run.end();
    return this.#view(run);
  }

  /** The experiment running on the service, said for a refusal, or undefined. */
  running(service: string): string | undefined {
    const exp = this.#runs.get(service)?.exp;
    if (!exp || ENDED.has(exp.phase)) return undefined;
    return `a chaos experiment runs on ${service} (${exp.version}, ${exp.phase})`;
  }

  /**
   * Why a deployment of `version` must wait: an experiment runs on the
   * service, or this version failed one with `onRegression: fail`.
   */
  deployRefusal(service: string, version: string): string | undefined {
    const exp = this.#runs.get(service)?.exp;
    if (!exp) return undefined;
    const running = this.running(service);
    if (running) return running;
    if (exp.phase === 'failed' && exp.version === version)
      return `${version} failed its chaos experiment: ${exp.verdict?.explanation ?? 'resilience regression'}`;
    return undefined;
  }

  /** One final second of cells (all services); wire to the aggregator. Also feeds the rollouts' chaos steps. */
  onSecond(cells: readonly CellStats[]): void {
    this.#steps?.onSecond(cells);
    for (const run of this.#runs.values()) {
      if (run.exp.phase !== 'injecting' && !ENDED.has(run.exp.phase)) continue;
      const inWindow = cells.filter(
        (c) =>
          c.key.service === run.exp.service && c.key.second >= run.fromSecond && c.key.second <= run.toSecond,
      );
      if (inWindow.length === 0) continue;
      addCells(run.tally, inWindow, run.exp.service);
      const second = emptyTally();
      addCells(second, inWindow, run.exp.service);
      run.seconds.push(secondOf(inWindow[0]!.key.second, second.candidate, second.baseline));
      this.#save(run);
    }
  }

  /**
   * Suspends every running experiment for the next daemon (faults lifted,
   * production's route as it was, pools left running, the run kept as it
   * stood) and waits for that.
   */
  async close(): Promise<void> {
    const runs = [...this.#runs.values()].filter((r) => !ENDED.has(r.exp.phase));
    for (const r of runs) {
      r.suspended = true;
      r.end();
    }
    await Promise.all(runs.map((r) => r.done));
  }

  #view(run: Run): ChaosExperiment {
    const exp = { ...run.exp };
    if (!exp.verdict && (exp.phase === 'injecting' || ENDED.has(exp.phase))) exp.verdict = this.#verdict(run);
    return exp;
  }

  /** How a run that saw its whole window ends: `failed` for a regression with `onRegression: fail`. */
  #outcome(run: Run): 'passed' | 'failed' {
    return run.exp.verdict?.regression && run.exp.onRegression === 'fail' ? 'failed' : 'passed';
  }

  #verdict(run: Run) {
    return chaosVerdict(run.tally, {
      candidate: run.exp.version,
      baseline: run.exp.baseline,
      faults: run.exp.faults.map(describeFault).join(', '),
      threshold: this.#services.get(run.exp.service)?.judge.anomalyThreshold ?? 2,
      mixture: defaultModel().params.signMixture,
    });
  }

  /** Waits `ms` or until the run is ended, whichever is first. */
  async #hold(run: Run, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'time'>((r) => {
      timer = setTimeout(() => r('time'), ms);
    });
    const why = await Promise.race([timeout, run.ended.then(() => 'ended' as const)]);
    clearTimeout(timer);
    return why === 'time';
  }

  async #run(run: Run): Promise<void> {
    const { exp } = run;
    const prov = this.#o.provisioners.get(exp.service)!;
    const replicas = candidateReplicas(exp.faults);
    const candidate: PoolRef = { version: exp.version, pool: 'main' };
    const baseline: PoolRef | null = exp.baseline ? { version: exp.baseline, pool: 'baseline' } : null;
    let stopped = false;
    try {
      const timeoutMs = this.#o.provisionTimeoutMs ?? 120_000;
      await Promise.all([
        prov.ensure(candidate, replicas, { timeoutMs }),
        ...(baseline ? [prov.ensure(baseline, replicas, { timeoutMs })] : []),
      ]);
      const mirror = { target: exp.version, baseline: exp.baseline, percentage: exp.percentage };
      await this.#o.routing.apply({
        kind: 'route',
        service: exp.service,
        weights: run.serving,
        mirror,
        filter: true,
      });
      this.#o.control.setControl(exp.service, { paused: false, percentage: exp.percentage });
      // A resumed run whose faults were on already goes straight back under them.
      if (exp.faultsOnAt === undefined && !(await this.#hold(run, this.#o.warmupMs ?? 3000)))
        throw new Stopped();
      await this.#o.routing.setFaults(exp.service, await desiredFaults(exp.faults));
      const lost = replicasLost(exp.faults);
      if (lost > 0) await prov.ensure(candidate, replicas - lost, { timeoutMs });
      exp.faultsOnAt ??= this.#now();
      // The first whole second with the faults on every proxy (setFaults resolved on their ACKs).
      run.fromSecond = Math.floor(this.#now() / 1000) + 1;
      exp.phase = 'injecting';
      this.#save(run);
      const left = exp.faultsOnAt + exp.durationMs - this.#now();
      if (!(await this.#hold(run, Math.max(0, left)))) throw new Stopped();
    } catch (err) {
      stopped = err instanceof Stopped;
      if (!stopped && !run.suspended) {
        exp.reason = (err as Error).message;
        log.warn('chaos experiment aborted', { service: exp.service, error: exp.reason });
      }
    }
    await this.#finish(run, stopped, [candidate, ...(baseline ? [baseline] : [])]);
  }

  /**
   * Lifts the faults, routes as before, stops the experiment's pools; then the verdict.
   * A suspended run keeps its pools: the next daemon (maybe already leader) adopts them for
   * the resumed run, and stopping them here would take its candidate away under faults.
   */
  async #finish(run: Run, stopped: boolean, pools: PoolRef[]): Promise<void> {
    const { exp } = run;
    const injected = exp.phase === 'injecting';
    run.toSecond = Math.floor(this.#now() / 1000) - 1;
    const prov = this.#o.provisioners.get(exp.service)!;
    try {
      await this.#o.routing.setFaults(exp.service, []);
      this.#o.control.setControl(exp.service, { paused: true, percentage: 0 });
      await this.#o.routing.apply({
        kind: 'route',
        service: exp.service,
        weights: run.serving,
        mirror: null,
        filter: false,
      });
      // The last seconds under faults are final after the pipeline's close delay; copies drain meanwhile.
      await new Promise((r) => setTimeout(r, this.#o.drainMs ?? 3000));
      if (!run.suspended) for (const p of pools) await prov.stop(p);
      await this.#o.routing.publish();
    } catch (err) {
      log.warn('chaos experiment cleanup failed', { service: exp.service, error: (err as Error).message });
    }
    if (run.suspended) {
      // Kept as it stood (phase, faultsOnAt, tally): the next daemon resumes or closes it.
      this.#save(run);
      log.info('chaos experiment suspended: the daemon stops', {
        service: exp.service,
        version: exp.version,
      });
      return;
    }
    exp.endedAt = this.#now();
    exp.verdict = this.#verdict(run);
    exp.phase = !injected ? (stopped ? 'stopped' : 'aborted') : stopped ? 'stopped' : this.#outcome(run);
    this.#save(run);
    log.info('chaos experiment ended', {
      service: exp.service,
      version: exp.version,
      phase: exp.phase,
      verdict: exp.verdict.explanation,
    });
  }
}

/** The run was ended by `stop` or `close`. */
class Stopped extends Error {}
