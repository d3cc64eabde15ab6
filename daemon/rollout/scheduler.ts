/**
 * The rollout scheduler: the only place where the machine meets time and
 * I/O. For each event it runs `step()`, persists the result (state and audit
 * entry, atomically) and only then queues the effects; it keeps one timer per
 * deployment armed from the persisted deadline.
 *
 * Ordering: events are applied synchronously, one at a time. Effects run in
 * the background, per service, batch after batch, each batch in order; a
 * failed effect ends its batch (the rest is skipped) and is fed back as
 * `effect_failed`. A batch superseded by a newer one of the same deployment
 * skips its remaining non-alert effects: every batch is the whole desired
 * world (desired.ts), so the newer one suffices.
 *
 * One queue per service, not per deployment: a deployment that ended
 * (aborted, rolled back, completed) tears down pools of the same names a new
 * deployment of the service may want at once (a version redeployed after an
 * abort). Its teardown (route away, drain, stop) runs to its end before the
 * new deployment's first effect, so the new one provisions the pool afresh
 * and never routes users to instances that are being stopped.
 *
 * A batch of control effects alone (an adaptive share) is not a whole world:
 * it runs after the batch before it and supersedes nothing.
 *
 * Restart: {@link RolloutScheduler.start} re-runs the desired effects of each
 * service's latest deployment (idempotent) and re-arms timers from the
 * persisted deadlines. It first tells the machine that the daemon restarted
 * (`restarted`): a judged deadline that passed while it was down waits
 * `catchUpMs` for the evidence the proxies buffered, and is judged on
 * verdicts given since; other deadlines already past fire at once.
 */
import { logger } from '../log.js';
import { desiredEffects, phaseAlert } from './desired.js';
import type { BeginInput } from './machine.js';
import { begin, step } from './machine.js';
import { isTerminal } from './phases.js';
import type { Clock, DeploymentRepo, EffectRunner } from './ports.js';
import { systemClock } from './ports.js';
import type {
  CommandName,
  DeploymentState,
  Effect,
  RolloutEvent,
  RolloutEventBody,
  StepResult,
  VerdictSubject,
} from './types.js';

const log = logger('rollout');

// NOTE: Node's setTimeout fires at once for delays above 2^31-1 ms; longer waits re-arm.
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A deadline whose transition could not be stored is tried again after this long. */
const DEADLINE_RETRY_MS = 1000;

/** Bad input (unknown deployment, one already in progress): nothing changed. */
export class RolloutRefusal extends Error {}

export interface SchedulerOptions {
  repo: DeploymentRepo;
  runner: EffectRunner;
  clock?: Clock;
  /** Deployment ids; default `<service>-<version>-<ms>`. */
  newId?: (service: string, version: string, at: number) => string;
  /**
   * Facts that stand for a service before any deployment of it begins (a
   * proxy's refusal of its configuration): applied to a new deployment right
   * after it begins.
   */
  standing?: (service: string) => RolloutEventBody[];
  /**
   * After a restart, how long the evidence buffered in the proxies takes to
   * arrive and be judged (reconnect, flush, seconds closing); default 10 s.
   */
  catchUpMs?: number;
}

const DEFAULT_CATCH_UP_MS = 10_000;

/** A deploy request: the plan is computed by the caller from config (plan.ts). */
export type DeployInput = Omit<BeginInput, 'id' | 'at'>;

export class RolloutScheduler {
  readonly #repo: DeploymentRepo;
  readonly #runner: EffectRunner;
  readonly #clock: Clock;
  readonly #newId: (service: string, version: string, at: number) => string;
  readonly #standing: (service: string) => RolloutEventBody[];
  readonly #catchUpMs: number;
  readonly #timers = new Map<string, unknown>();
  /** The effect batches of each service, chained: by service name. */
  readonly #queues = new Map<string, Promise<void>>();
  /** The latest batch of each deployment: by deployment id. */
  readonly #generation = new Map<string, number>();
  #stopped = false;

  constructor(opts: SchedulerOptions) {
    this.#repo = opts.repo;
    this.#runner = opts.runner;
    this.#clock = opts.clock ?? systemClock;
    this.#newId = opts.newId ?? ((s, v, at) => `${s}-${v}-${at}`);
    this.#standing = opts.standing ?? (() => []);
    this.#catchUpMs = opts.catchUpMs ?? DEFAULT_CATCH_UP_MS;
  }

  /** Resumes after a (re)start: re-issues effects and re-arms timers. Call once, before events. */
  start(): void {
    const latest = new Map<string, DeploymentState>();
    for (const d of this.#repo.list()) if (!latest.has(d.service)) latest.set(d.service, d);
    for (const persisted of latest.values()) {
      const event: RolloutEvent = { type: 'restarted', catchUpMs: this.#catchUpMs, at: this.#clock.now() };
      const r = step(persisted, event);
      const d = r.state;
      // Persisted before any effect runs, like every transition.
      if (d !== persisted)
        this.#repo.save(d, persisted.phase, r.reason ? { event: eventName(event), reason: r.reason } : null);
      log.info('resuming deployment', {
        id: d.id,
        service: d.service,
        phase: d.phase,
        deadline: d.deadline,
        ...(r.reason ? { reason: r.reason } : {}),
      });
      const alert = phaseAlert(d);
      this.#enqueue(d, alert ? [...desiredEffects(d), alert] : desiredEffects(d));
      this.#arm(d);
    }
  }

  /** Starts a deployment; refused when the service has one in progress or the version is already serving. */
  deploy(input: DeployInput): DeploymentState {
    const active = this.#repo.list({ service: input.service, activeOnly: true, limit: 1 })[0];
    if (active) {
      throw new RolloutRefusal(
        `${input.service} already has deployment ${active.id} (${active.version}) in ${active.phase}; wait for it or abort it`,
      );
    }
    if (input.version === input.previousVersion) {
      throw new RolloutRefusal(`${input.service} ${input.version} is already the version in production`);
    }
    const at = this.#clock.now();
    const r = begin({ ...input, id: this.#newId(input.service, input.version, at), at });
    this.#repo.create(r.state, r.reason ?? 'deploy');
    log.info('deployment started', { id: r.state.id, service: input.service, version: input.version });
    this.#arm(r.state);
    this.#enqueue(r.state, r.effects);
    let state = r.state;
    for (const body of this.#standing(input.service)) state = this.dispatch(state.id, body).state;
    return state;
  }

  /** Applies an event to a deployment now. Unknown ids are refused. */
  dispatch(deploymentId: string, body: RolloutEventBody): StepResult {
    const state = this.#repo.get(deploymentId);
    if (!state) throw new RolloutRefusal(`unknown deployment '${deploymentId}'`);
    return this.#apply(state, { ...body, at: this.#clock.now() } as RolloutEvent);
  }

  /** An operator command on the service's latest deployment; a refusal is in `refused`. */
  command(service: string, command: CommandName, reason?: string): StepResult {
    const latest = this.latest(service);
    if (!latest) throw new RolloutRefusal(`${service} has no deployment`);
    return this.dispatch(latest.id, { type: 'command', command, ...(reason ? { reason } : {}) });
  }

  /** A judge verdict for the service's deployment in progress; ignored when there is none. */
  verdict(
    service: string,
    subject: VerdictSubject,
    v: Omit<Extract<RolloutEventBody, { type: 'verdict' }>, 'type' | 'subject'>,
  ): void {
    const active = this.#repo.list({ service, activeOnly: true, limit: 1 })[0];
    if (active) this.dispatch(active.id, { type: 'verdict', subject, ...v });
  }

  /**
   * An event for the service's deployment in progress (a proxy refusal, its
   * clearing). Returns false, and does nothing, when there is none.
   */
  toActive(service: string, body: RolloutEventBody): boolean {
    const active = this.#repo.list({ service, activeOnly: true, limit: 1 })[0];
    if (active) this.dispatch(active.id, body);
    return active !== undefined;
  }

  latest(service: string): DeploymentState | undefined {
    return this.#repo.list({ service, limit: 1 })[0];
  }

  get(id: string): DeploymentState | undefined {
    return this.#repo.get(id);
  }

  /** Resolves when every queued effect batch has finished (for tests and shutdown). */
  async idle(): Promise<void> {
    // Effects may feed events back that queue more batches: loop until quiet (bounded).
    for (let i = 0; i < 10_000 && this.#queues.size > 0; i++) await Promise.all([...this.#queues.values()]);
  }

  /** Clears timers and waits for running effects; no new events are accepted. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers.values()) this.#clock.clearTimer(t);
    this.#timers.clear();
    await this.idle();
  }

  #apply(state: DeploymentState, event: RolloutEvent): StepResult {
    if (this.#stopped) throw new RolloutRefusal('the rollout scheduler is stopped');
    const r = step(state, event);
    if (r.refused) {
      log.info('command refused', { id: state.id, phase: state.phase, refused: r.refused });
      return r;
    }
    if (r.state === state) return r;
    const name = eventName(event);
    // Persist before any effect runs: a crash after this line resumes from the new state.
    this.#repo.save(r.state, state.phase, r.reason ? { event: name, reason: r.reason } : null);
    if (r.reason)
      log.info('transition', {
        id: state.id,
        from: state.phase,
        to: r.state.phase,
        event: name,
        reason: r.reason,
      });
    this.#arm(r.state);
    if (r.effects.length > 0) this.#enqueue(r.state, r.effects);
    return r;
  }

  #arm(state: DeploymentState): void {
    const old = this.#timers.get(state.id);
    if (old !== undefined) this.#clock.clearTimer(old);
    this.#timers.delete(state.id);
    if (this.#stopped || !state.deadline || isTerminal(state.phase)) return;
    const { timer, atMs } = state.deadline;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, atMs - this.#clock.now()));
    const handle = this.#clock.setTimer(() => {
      this.#timers.delete(state.id);
      if (this.#stopped) return;
      try {
        const cur = this.#repo.get(state.id);
        if (!cur) return;
        if (this.#clock.now() < atMs) {
          this.#arm(cur);
          return;
        }
        // The armed timer fired: stamp it no earlier than its deadline.
        this.#apply(cur, { type: 'timer', timer, at: Math.max(atMs, this.#clock.now()) });
      } catch (err) {
        // The store could not be read or written (a shared store out of reach): nothing moved,
        // and the deadline is tried again rather than forgotten.
        log.error('deadline not applied; trying again', { id: state.id, timer, error: err as Error });
        this.#timers.set(
          state.id,
          this.#clock.setTimer(() => {
            this.#timers.delete(state.id);
            this.#arm(state);
          }, DEADLINE_RETRY_MS),
        );
      }
    }, delay);
    this.#timers.set(state.id, handle);
  }

  #enqueue(state: DeploymentState, effects: Effect[]): void {
    // A batch of control effects alone (an adaptive share) adjusts the live share; it is not
    // the whole desired world, so it supersedes nothing (the batch before it still runs whole).
    const whole = effects.some((e) => e.kind !== 'control' && e.kind !== 'alert');
    const gen = (this.#generation.get(state.id) ?? 0) + (whole ? 1 : 0);
    this.#generation.set(state.id, gen);
    const prev = this.#queues.get(state.service) ?? Promise.resolve();
    const next = prev.then(() => this.#runBatch(state, effects, gen));
    this.#queues.set(state.service, next);
    void next.then(() => {
      if (this.#queues.get(state.service) === next) this.#queues.delete(state.service);
    });
  }

  async #runBatch(state: DeploymentState, effects: Effect[], gen: number): Promise<void> {
    for (const effect of effects) {
      // After stop() nothing new is started: a restart re-issues the desired effects anyway.
      if (this.#stopped) return;
      if (effect.kind !== 'alert' && this.#generation.get(state.id) !== gen) continue;
      let events: RolloutEventBody[] | undefined;
      try {
        events = await this.#runner.run(effect, state);
      } catch (err) {
        const error = (err as Error).message;
        log.warn('effect failed', { id: state.id, effect: effect.kind, error });
        this.#safely(() => this.dispatch(state.id, { type: 'effect_failed', effect: effect.kind, error }));
        return;
      }
      for (const e of events ?? []) this.#safely(() => this.dispatch(state.id, e));
    }
  }

  /** Applies an internally generated event; failures are logged (nobody awaits them). */
  #safely(fn: () => unknown): void {
    if (this.#stopped) return;
    try {
      fn();
    } catch (err) {
      log.error('rollout event failed', { error: err as Error });
    }
  }
}

function eventName(e: RolloutEvent): string {
  if (e.type === 'timer') return `timer:${e.timer}`;
  if (e.type === 'command') return `command:${e.command}`;
  if (e.type === 'verdict') return `verdict:${e.verdict}`;
  if (e.type === 'effect_failed') return `effect_failed:${e.effect}`;
  return e.type;
}
