/**
 * One running experiment: records in, once a second the guard's verdict and
 * the answer out. Owns its tally and guard state; the caller supplies time
 * (ms) and acts on a stop (moves B's users back to A).
 */
import { DEFAULT_JUDGE_PARAMS } from '../judge/types.js';
import type { MixtureAtom } from '../model/model.js';
import { type ExperimentAnswer, experimentAnswer } from './answer.js';
import { type GuardState, type GuardVerdict, guardStep, newGuard, slowBarUs } from './guard.js';
import type { RunnerSnapshot } from './snapshot.js';
import type { ExperimentSpec } from './spec.js';
import { ExperimentTally, type SplitRecord, type TallyLimits } from './tally.js';

/** A's recent latencies kept for the slow bar. */
const RECENT = 2000;

/** How long after B's first request each guard signal waits. */
export interface GuardWarmup {
  errorsMs: number;
  latencyMs: number;
}

/**
 * Failures are tested at once: B's users are real users, and a B that fails
 * them while it starts harms them as much as later. Latency waits as the
 * judge's latency test does (a cold start is slow and harms no one for long).
 */
export const DEFAULT_GUARD_WARMUP: GuardWarmup = {
  errorsMs: 0,
  latencyMs: DEFAULT_JUDGE_PARAMS.latencyWarmupSeconds * 1000,
};

export interface ExperimentTick {
  answer: ExperimentAnswer;
  guard: GuardVerdict;
}

export class ExperimentRunner {
  readonly tally: ExperimentTally;
  private guard: GuardState;
  private readonly recentA: number[] = [];
  private recentAt = 0;
  private bar = Number.POSITIVE_INFINITY;
  private last: ExperimentTick | null = null;
  /** The tick that first saw a request of B (warm-up counts from it), and the previous tick. */
  private bSinceMs: number | null = null;
  private prevTickMs: number | null = null;

  constructor(
    readonly spec: ExperimentSpec,
    private readonly mixture: readonly MixtureAtom[],
    /** The guard's threshold: log10 of the evidence that stops B (the service's anomalyThreshold). */
    readonly threshold: number,
    limits?: TallyLimits,
    private readonly warmup: GuardWarmup = DEFAULT_GUARD_WARMUP,
  ) {
    this.tally = new ExperimentTally(spec, limits);
    this.guard = newGuard(mixture);
  }

  add(r: SplitRecord): void {
    this.tally.add(r, this.bar);
    if (r.arm !== 'A' || r.failed) return;
    if (this.recentA.length < RECENT) this.recentA.push(r.latencyUs);
    else this.recentA[this.recentAt] = r.latencyUs;
    this.recentAt = (this.recentAt + 1) % RECENT;
  }

  /** Closes finished users, tests the last second's requests, and answers. */
  tick(nowMs: number): ExperimentTick {
    this.tally.close(nowMs);
    if (this.bSinceMs === null && this.tally.requests.B.requests > this.guard.seen.B.requests)
      this.bSinceMs = nowMs;
    // This step tests the requests since the previous tick: warm when that tick was past the warm-up.
    const since = this.prevTickMs === null || this.bSinceMs === null ? null : this.prevTickMs - this.bSinceMs;
    const warm = {
      errors: this.warmup.errorsMs <= 0 || (since !== null && since >= this.warmup.errorsMs),
      latency: this.warmup.latencyMs <= 0 || (since !== null && since >= this.warmup.latencyMs),
    };
    this.prevTickMs = nowMs;
    const { state, verdict } = guardStep(this.guard, this.tally.requests, this.mixture, this.threshold, warm);
    this.guard = state;
    // The bar for the next second is fixed before its requests are seen.
    this.bar = slowBarUs(this.recentA);
    this.last = { answer: experimentAnswer(this.spec, this.tally), guard: verdict };
    return this.last;
  }

  /**
   * Its state for the store (snapshot.ts). A's recent latencies are not kept:
   * after a restore the guard's latency test waits for 100 new ones, as at a
   * start, and the warm-up runs again (a few seconds of B left out, no more).
   */
  snapshot(): RunnerSnapshot {
    return { ...this.tally.save(), guard: structuredClone(this.guard) };
  }

  /** Takes back a saved state; call on a fresh runner, before any record. */
  restore(s: RunnerSnapshot): void {
    this.tally.restore(s);
    this.guard = structuredClone(s.guard);
  }

  /** The last tick's result (null before the first). */
  latest(): ExperimentTick | null {
    return this.last;
  }
}
