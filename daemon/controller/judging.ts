/**
 * The judging loop: every final second of cells goes to the judge of each
 * service's deployment in progress, and each verdict goes to the rollout
 * machine. Which comparison runs depends on the phase:
 *
 * | phase        | subject    | evidence                                                   |
 * |--------------|------------|------------------------------------------------------------|
 * | shadowing    | candidate  | paired: primary (stable) vs mirrored copy on the candidate |
 * | promoting    | candidate  | live, unpaired: requests the candidate served vs the rest  |
 * | baking       | candidate  | paired with arms swapped: the mirror is the old version    |
 * | validating   | restored   | the restored version's live traffic vs its own history     |
 *
 * Each phase (and promotion step) starts a fresh e-process, so the anytime
 * guarantee holds per phase. Every final second is stored (store/part.ts); a
 * restarted daemon rebuilds the phase's evidence from the cells stored since
 * the phase began (one deployment per service at a time), so it resumes the
 * same test rather than starting over.
 */

import type { CellStats, PairedCounts } from '../aggregate/stats.js';
import type { ServiceConfig } from '../config/schema.js';
import {
  DEFAULT_JUDGE_PARAMS,
  initialJudgeState,
  type JudgeParams,
  type JudgeState,
  judge,
  type Verdict,
} from '../judge/index.js';
import {
  DEFAULT_VALIDATION_PARAMS,
  observeValidation,
  startValidation,
  type ValidationCounts,
  type ValidationState,
  validationCounts,
  validationVerdict,
} from '../judge/validation.js';
import { logger } from '../log.js';
import { defaultModel, type Model, parseModel } from '../model/model.js';
import { verdictEvent } from '../rollout/judge-verdict.js';
import type { RolloutScheduler } from '../rollout/scheduler.js';
import type { DeploymentState, RolloutEventBody } from '../rollout/types.js';
import type { Store } from '../store/store.js';
import { versionCluster } from '../xds/index.js';
import { evidenceFromVerdict, type ServiceEvidence } from './evidence.js';
import { syntheticWeights } from './journeys.js';

const log = logger('judging');

/** Phases in which the judge runs. */
const JUDGED = new Set(['shadowing', 'promoting', 'baking', 'validating']);
/** A stored decision at least this often while the verdict does not change. */
const DECISION_EVERY_MS = 10_000;
/** History looked at for validation. */
const HISTORY_SECONDS = 30 * 60;

/** The primary and shadow arms exchanged: while baking the mirror runs the old version. */
export function swapArms(p: PairedCounts): PairedCounts {
  return {
    ...p,
    primaryFailed: p.shadowFailed,
    shadowFailed: p.primaryFailed,
    errShadowOnly: p.errPrimaryOnly,
    errPrimaryOnly: p.errShadowOnly,
    // A missing mirror (old version) is not evidence against the new one.
    shadowMissing: 0,
    latShadowSlower: p.latPrimarySlower,
    latPrimarySlower: p.latShadowSlower,
    tailShadowOnly: p.tailPrimaryOnly,
    tailPrimaryOnly: p.tailShadowOnly,
    latDeltaSumUs: -p.latDeltaSumUs,
    // The mirror (old version) is the reference while baking.
    latPrimarySumUs: p.latPrimarySumUs + p.latDeltaSumUs,
  };
}

function swapCell(c: CellStats): CellStats {
  return { ...c, candidate: swapArms(c.candidate), baseline: swapArms(c.baseline) };
}

/** One e-process per deployment phase and promotion step. */
function runKey(d: DeploymentState): string {
  return `${d.id}:${d.phase}:${d.stepIndex}`;
}

interface Run {
  key: string;
  deploymentId: string;
  phase: string;
  judge?: JudgeState;
  validation?: ValidationState;
  lastVerdict?: string;
  lastDecisionAt: number;
  lastDecisionId?: number;
  /** The last second judged: a second reaches the judge once, however it came (store or live). */
  judgedThrough: number;
}

export interface JudgingOptions {
  services: ServiceConfig[];
  scheduler: RolloutScheduler;
  store: Store;
  now?: () => number;
  /**
   * With a shared store (docs/ha.md): the last second every daemon has
   * closed. A run's replay reads no further, because the store's later
   * seconds may hold only the faster daemons' cells; those seconds come
   * whole through `onSecond` instead. Absent: the store holds only final
   * seconds, and the replay reads up to now.
   */
  finalThrough?: () => number;
}

export class JudgingLoop {
  readonly #o: JudgingOptions;
  readonly #services: Map<string, ServiceConfig>;
  readonly #runs = new Map<string, Run>();
  readonly #evidence = new Map<string, ServiceEvidence>();
  #model: Model = defaultModel();
  #modelCheckedAt = 0;

  constructor(o: JudgingOptions) {
    this.#o = o;
    this.#services = new Map(o.services.map((s) => [s.name, s]));
  }

  /** The judge's latest word on a service (for `umbra status`). */
  evidence(service: string): ServiceEvidence | undefined {
    return this.#evidence.get(service);
  }

  /**
   * The judge's latest word on a deployment's current phase (or promotion
   * step), or undefined when it has judged nothing of it yet: evidence of an
   * earlier phase is not this one's.
   */
  phaseEvidence(service: string, d: DeploymentState): ServiceEvidence | undefined {
    if (this.#runs.get(service)?.key !== runKey(d)) return undefined;
    return this.#evidence.get(service);
  }

  /** Handles one final second of cells (all services); wire to `Aggregator.onSecond`. */
  onSecond(cells: CellStats[]): void {
    const byService = new Map<string, CellStats[]>();
    for (const c of cells) {
      const list = byService.get(c.key.service);
      if (list) list.push(c);
      else byService.set(c.key.service, [c]);
    }
    this.#refreshModel();
    for (const [service, list] of byService) {
      const cfg = this.#services.get(service);
      const d = this.#o.scheduler.latest(service);
      const active = d && JUDGED.has(d.phase) ? d : undefined;
      if (!cfg || !active || active.paused) continue;
      // A second closes several seconds after it ends (pairing TTL): cells
      // of seconds before this phase began describe another phase's traffic.
      const first = Math.floor(active.phaseStartedAt / 1000) + 1;
      const mine = list.filter((c) => c.key.second >= first);
      if (mine.length > 0) this.#judge(cfg, active, mine);
    }
  }

  #refreshModel(): void {
    const now = this.#now();
    if (now - this.#modelCheckedAt < 60_000 && this.#modelCheckedAt > 0) return;
    this.#modelCheckedAt = now;
    const row = this.#o.store.latestModel();
    if (!row || row.version === this.#model.version) return;
    const parsed = parseModel({ version: row.version, params: row.params, trainedOn: row.trainedOn });
    if ('model' in parsed) {
      this.#model = parsed.model;
      log.info('judge model loaded', { version: row.version });
    } else
      log.warn('stored model invalid; keeping the previous one', {
        version: row.version,
        errors: parsed.errors,
      });
  }

  #now(): number {
    return this.#o.now ? this.#o.now() : Date.now();
  }

  #params(cfg: ServiceConfig, d: DeploymentState): JudgeParams {
    return {
      ...DEFAULT_JUDGE_PARAMS,
      anomalyThreshold: cfg.judge.anomalyThreshold,
      minPairs: cfg.judge.minSamples,
      warmupSeconds: Math.round(cfg.judge.warmup / 1000),
      latencyWarmupSeconds: Math.max(
        Math.round(cfg.judge.warmup / 1000),
        DEFAULT_JUDGE_PARAMS.latencyWarmupSeconds,
      ),
      ...(d.phase === 'promoting' ? { liveCandidateCluster: versionCluster(cfg.name, d.version) } : {}),
      ...(cfg.journeys.length > 0 ? { synthetic: syntheticWeights(cfg) } : {}),
    };
  }

  /** The run for this deployment's current phase; rebuilt from stored cells after a restart. */
  #run(cfg: ServiceConfig, d: DeploymentState): Run {
    const key = runKey(d);
    const existing = this.#runs.get(cfg.name);
    if (existing?.key === key) return existing;
    const run: Run = { key, deploymentId: d.id, phase: d.phase, lastDecisionAt: 0, judgedThrough: -1 };
    const from = Math.floor(d.phaseStartedAt / 1000) + 1;
    if (d.phase === 'validating') {
      run.validation = startValidation(this.#history(cfg, d), {
        ...DEFAULT_VALIDATION_PARAMS,
        anomalyThreshold: cfg.judge.anomalyThreshold,
      });
    } else {
      run.judge = initialJudgeState();
    }
    this.#runs.set(cfg.name, run);
    // Resume: replay what this phase already stored (empty for a phase that just began).
    const stored = this.#o.store
      .listCells({
        service: cfg.name,
        fromSecond: from,
        toSecond: this.#replayTo(),
        deploymentId: d.id,
      })
      .map((s) => s.cell);
    if (stored.length > 0) {
      log.info('resuming judgement from stored cells', {
        service: cfg.name,
        phase: d.phase,
        seconds: stored.length,
      });
      this.#advance(cfg, d, run, stored);
    }
    return run;
  }

  /** The end (exclusive) of what a run's replay reads: up to now, or up to the last second final for all. */
  #replayTo(): number {
    const now = Math.floor(this.#now() / 1000) + 1;
    const final = this.#o.finalThrough?.();
    return final === undefined ? now : Math.min(now, final + 1);
  }

  /**
   * The restored version's live counts over the history before validation
   * began: the half hour before the deployment and the deployment's own
   * phases, in which it still served (and the filter sampled it) until the
   * rollback. With route gating a service idle before the deployment has no
   * live records then: the deployment's phases are the history it has.
   */
  #history(cfg: ServiceConfig, d: DeploymentState): ValidationCounts {
    const to = Math.floor(d.phaseStartedAt / 1000);
    const cluster = versionCluster(cfg.name, d.previousVersion);
    const out: ValidationCounts = { requests: 0, failed: 0, overTail: 0, tailChecked: 0 };
    for (const { cell } of this.#o.store.listCells({
      service: cfg.name,
      fromSecond: Math.floor(d.createdAt / 1000) - HISTORY_SECONDS,
      toSecond: to,
    })) {
      const live = cell.live[cluster];
      if (!live) continue;
      const c = validationCounts(live);
      out.requests += c.requests;
      out.failed += c.failed;
      out.overTail += c.overTail;
      out.tailChecked += c.tailChecked;
    }
    return out;
  }

  #advance(
    cfg: ServiceConfig,
    d: DeploymentState,
    run: Run,
    all: CellStats[],
  ): Verdict | ReturnType<typeof validationVerdict> {
    // NOTE: the store saves a second before this loop gets it (persist-stats starts first), so a run
    // that begins on that second (a restart, a new phase) replays it from the store and then gets it
    // live: judged twice, its evidence would count twice. Seconds come in order; a repeat is dropped.
    const cells = all.filter((c) => c.key.second > run.judgedThrough);
    for (const c of cells) run.judgedThrough = Math.max(run.judgedThrough, c.key.second);
    if (run.validation) {
      const cluster = versionCluster(cfg.name, d.previousVersion);
      for (const c of cells) {
        const live = c.live[cluster];
        if (live) run.validation = observeValidation(run.validation, validationCounts(live));
      }
      return validationVerdict(run.validation, {
        ...DEFAULT_VALIDATION_PARAMS,
        anomalyThreshold: cfg.judge.anomalyThreshold,
      });
    }
    const input = d.phase === 'baking' ? cells.map(swapCell) : cells;
    const r = judge(run.judge!, input, this.#model, this.#params(cfg, d));
    run.judge = r.state;
    return r.verdict;
  }

  #judge(cfg: ServiceConfig, d: DeploymentState, cells: CellStats[]): void {
    const run = this.#run(cfg, d);
    const v = this.#advance(cfg, d, run, cells);
    const now = this.#now();
    if ('culprits' in v) this.#report(cfg, d, run, v, now);
    else this.#reportValidation(cfg, d, run, v, now);
  }

  #report(cfg: ServiceConfig, d: DeploymentState, run: Run, v: Verdict, now: number): void {
    this.#evidence.set(cfg.name, evidenceFromVerdict(v));
    const decisionId = this.#decide(
      d,
      run,
      v.verdict,
      v.score,
      v.threshold,
      v.modelVersion,
      // The score of each of the last seconds: stored decisions are sparser, so reports draw the climb from these.
      { ...v, phase: d.phase, recentScores: run.judge?.scores ?? [] },
      now,
    );
    this.#tell(cfg.name, verdictEvent(v, 'candidate', decisionId));
  }

  /** Hands a verdict event to the service's deployment in progress. */
  #tell(service: string, event: RolloutEventBody): void {
    if (event.type !== 'verdict') return;
    const { type: _type, subject, ...verdict } = event;
    this.#o.scheduler.verdict(service, subject, verdict);
  }

  #reportValidation(
    cfg: ServiceConfig,
    d: DeploymentState,
    run: Run,
    v: ReturnType<typeof validationVerdict>,
    now: number,
  ): void {
    const culprits = v.verdict === 'rollback' ? [`*/*/${v.signal}`] : [];
    const seen = run.validation!.seen;
    this.#evidence.set(cfg.name, {
      verdict: v.verdict,
      reason: v.verdict === 'insufficient' ? 'validation: not enough live traffic yet' : null,
      score: v.score,
      threshold: v.threshold,
      culprits,
      pairs: seen.requests,
      evidence: [
        {
          endpoint: '*',
          segment: '*',
          signal: v.signal,
          score: v.score,
          effectSize: seen.requests ? seen.failed / seen.requests : 0,
          weight: 0.5,
        },
      ],
      predictedSecondsToThreshold: null,
    });
    const decisionId = this.#decide(
      d,
      run,
      v.verdict,
      v.score,
      v.threshold,
      null,
      { phase: 'validating', ...v, seen, history: run.validation!.history },
      now,
    );
    this.#o.scheduler.verdict(cfg.name, 'restored', {
      verdict: v.verdict,
      score: v.score,
      threshold: v.threshold,
      culprits,
      explanation: v.explanation,
      ...(decisionId === undefined ? {} : { decisionId }),
    });
  }

  /** Stores a decision when the verdict changes, on a rollback, and every few seconds otherwise. */
  #decide(
    d: DeploymentState,
    run: Run,
    verdict: string,
    score: number,
    threshold: number,
    modelVersion: number | null,
    explanation: unknown,
    now: number,
  ): number | undefined {
    if (
      verdict === run.lastVerdict &&
      verdict !== 'rollback' &&
      now - run.lastDecisionAt < DECISION_EVERY_MS
    ) {
      return run.lastDecisionId;
    }
    const row = this.#o.store.recordDecision({
      deploymentId: d.id,
      service: d.service,
      at: now,
      verdict,
      score: Number.isFinite(score) ? score : 0,
      threshold,
      modelVersion,
      explanation,
    });
    run.lastVerdict = verdict;
    run.lastDecisionAt = now;
    run.lastDecisionId = row.id;
    if (verdict === 'rollback')
      log.warn('judge decided rollback', { service: d.service, deployment: d.id, decision: row.id, score });
    return row.id;
  }
}
