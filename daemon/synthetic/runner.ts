/**
 * Runs a service's journeys on their schedules while a deployment wants
 * them (`targets()` says where; undefined: not now), and keeps each
 * journey's last results for `umbra status`.
 *
 * Bounded: each journey has at most one run in flight (a tick that finds it
 * still running is counted as an overrun and skipped), at most
 * `maxConcurrentRuns` runs are in flight per runner, and every request has
 * the journey's timeout, so a run lasts at most steps × timeout. `stop()`
 * clears the timers and waits for the runs in flight.
 */
import { logger } from '../log.js';
import type { Journey } from './journey.js';
import type { ArmOutcome } from './records.js';
import { type RunHooks, type RunResult, runJourney, type StepPair, type Target } from './run.js';

const log = logger('synthetic');

/** Where a deployment wants journeys to go now, and a key that changes with the deployment's phase. */
export interface JourneyTargets {
  primary: Target;
  candidate: Target;
  key: string;
}

/** Receives every step's two outcomes (daemon/controller/journeys.ts feeds them to the pairer). */
export interface JourneySink {
  stepStarting(startUs: number): void;
  pair(journey: Journey, run: number, pair: StepPair): void;
  stepEnded(startUs: number): void;
}

export interface RunnerOptions {
  journeys: Journey[];
  targets(): JourneyTargets | undefined;
  sink: JourneySink;
  /** Unix µs. */
  nowUs?: () => number;
  maxConcurrentRuns?: number;
}

/** One arm of a step in a journey's last results. */
export interface ArmResult {
  /** The version that answered (empty when the target did not say). */
  version: string;
  status: number;
  latencyMs: number;
  failures: string[];
}

/** What `umbra status` shows of a journey. */
export interface JourneyStatus {
  name: string;
  everyMs: number;
  /** Runs finished since the daemon started. */
  runs: number;
  /** Runs in which a step failed on one version only / on both alike. */
  oneSideFailed: number;
  bothFailed: number;
  /** Ticks skipped because the previous run, or too many runs, were still in flight. */
  overruns: number;
  last?: {
    run: number;
    /** Unix ms. */
    at: number;
    steps: { name: string; primary: ArmResult; candidate: ArmResult }[];
    stopped?: string;
  };
}

export const DEFAULT_MAX_CONCURRENT_RUNS = 4;

export class JourneyRunner {
  readonly #o: RunnerOptions;
  readonly #status: JourneyStatus[];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Map<string, Promise<void>>();
  #runCount = 0;
  #stopped = false;

  constructor(o: RunnerOptions) {
    this.#o = o;
    this.#status = o.journeys.map((j) => ({
      name: j.name,
      everyMs: j.everyMs,
      runs: 0,
      oneSideFailed: 0,
      bothFailed: 0,
      overruns: 0,
    }));
  }

  start(): void {
    this.#o.journeys.forEach((j, i) => {
      this.#schedule(j, i);
    });
  }

  /** Clears the schedules and waits for the runs in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all(this.#inFlight.values());
  }

  /** Each journey's counts and last results (copies). */
  status(): JourneyStatus[] {
    return structuredClone(this.#status);
  }

  /** Runs one journey now, if a deployment wants it and it is not already running; resolves when it ends. */
  runNow(index: number): Promise<void> {
    const j = this.#o.journeys[index]!;
    const st = this.#status[index]!;
    const targets = this.#o.targets();
    if (!targets || this.#stopped) return Promise.resolve();
    if (
      this.#inFlight.has(j.name) ||
      this.#inFlight.size >= (this.#o.maxConcurrentRuns ?? DEFAULT_MAX_CONCURRENT_RUNS)
    ) {
      st.overruns += 1;
      return Promise.resolve();
    }
    const run = ++this.#runCount;
    const p = runJourney(j, run, targets, this.#hooks(j, run, targets.key))
      .then((r) =>
        this.#finished(st, r, {
          primary: targets.primary.version ?? '',
          candidate: targets.candidate.version ?? '',
        }),
      )
      .catch((err: Error) => log.error('journey run failed', { journey: j.name, run, error: err.message }))
      .finally(() => this.#inFlight.delete(j.name));
    this.#inFlight.set(j.name, p);
    return p;
  }

  #schedule(j: Journey, index: number): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      void this.runNow(index);
      this.#schedule(j, index);
    }, j.everyMs);
    this.#timers.add(t);
  }

  #hooks(j: Journey, run: number, key: string): RunHooks {
    const sink = this.#o.sink;
    return {
      nowUs: () => this.#nowUs(),
      stepStarting: (startUs) => sink.stepStarting(startUs),
      stepDone: (pair) => {
        // A run that outlives its phase records nothing more: its comparison no longer holds.
        if (this.#stopped || this.#o.targets()?.key !== key) return false;
        sink.pair(j, run, pair);
        return true;
      },
      stepEnded: (startUs) => sink.stepEnded(startUs),
    };
  }

  #finished(st: JourneyStatus, r: RunResult, versions: { primary: string; candidate: string }): void {
    st.runs += 1;
    const failed = (a: ArmOutcome) => a.failures.length > 0;
    if (r.steps.some((s) => failed(s.primary) && failed(s.candidate))) st.bothFailed += 1;
    else if (r.steps.some((s) => failed(s.primary) || failed(s.candidate))) st.oneSideFailed += 1;
    st.last = {
      run: r.run,
      at: r.startedAt,
      steps: r.steps.map((s) => ({
        name: s.step,
        primary: armResult(s.primary, versions.primary),
        candidate: armResult(s.candidate, versions.candidate),
      })),
      ...(r.stopped ? { stopped: r.stopped } : {}),
    };
  }

  #nowUs(): number {
    return this.#o.nowUs ? this.#o.nowUs() : Date.now() * 1000;
  }
}

function armResult(a: ArmOutcome, version: string): ArmResult {
  return { version, status: a.status, latencyMs: Math.round(a.latencyUs / 100) / 10, failures: a.failures };
}
