/**
 * An experiment's running counts, fed with live records of the split: per
 * user (the filter's 32-bit user id) the arm and the outcome observed in the
 * user's window, and per arm the finished users' sufficient statistics for
 * the confidence sequence (sequence.ts), plus request counts for the guard.
 *
 * A user's observation is final once their window has passed; only then
 * does it count (each user counts once, as a unit of the randomisation).
 * Missing data is never evidence: a user seen in both arms (the split was
 * changed under them) or beyond the memory cap is dropped and counted.
 *
 * Mutable; owned by one experiment runner; time comes in with the records
 * and the `close` calls (ms), never read here.
 */
import type { ArmTally } from './sequence.js';
import type { ExperimentSpec } from './spec.js';

export type ArmName = 'A' | 'B';

/** One live record of the split, as the experiment needs it. */
export interface SplitRecord {
  arm: ArmName;
  /** The filter's user id (never 0 here). */
  user: number;
  atMs: number;
  /** Endpoint name (the normalised path). */
  endpoint: string;
  /** The outcome header's value, when the response carried one. */
  outcome?: number;
  /** No answer, or a 5xx. */
  failed: boolean;
  latencyUs: number;
}

interface OpenUser {
  arm: ArmName;
  firstMs: number;
  value: number;
}

/** Request-level counts of one arm (the guard's input). */
export interface RequestCounts {
  requests: number;
  failed: number;
  /** Requests slower than the guard's latency bar (see guard.ts). */
  slow: number;
}

export interface TallyLimits {
  /** Users kept (watched or finished) at most; new users beyond are dropped (counted). */
  maxUsers: number;
}

export class ExperimentTally {
  /** Finished users per arm, on the [0, 1] scale. */
  readonly arms: Record<ArmName, ArmTally> = { A: { n: 0, sum: 0 }, B: { n: 0, sum: 0 } };
  readonly requests: Record<ArmName, RequestCounts> = {
    A: { requests: 0, failed: 0, slow: 0 },
    B: { requests: 0, failed: 0, slow: 0 },
  };
  /** Users dropped: seen in both arms, or over the cap. */
  readonly dropped = { switched: 0, overCap: 0 };
  private readonly open = new Map<number, OpenUser>();
  /** Users whose observation is final (so a late record of theirs is not a new user). */
  private readonly finished = new Map<number, ArmName>();

  constructor(
    private readonly spec: ExperimentSpec,
    private readonly limits: TallyLimits = { maxUsers: 1_000_000 },
  ) {}

  /** Users being watched now, per arm. */
  openUsers(): Record<ArmName, number> {
    const out = { A: 0, B: 0 };
    for (const u of this.open.values()) out[u.arm]++;
    return out;
  }

  /** One record; `slowBarUs` is the guard's latency bar for this moment (Infinity: none yet). */
  add(r: SplitRecord, slowBarUs = Number.POSITIVE_INFINITY): void {
    const req = this.requests[r.arm];
    req.requests++;
    if (r.failed) req.failed++;
    if (r.latencyUs > slowBarUs) req.slow++;
    const done = this.finished.get(r.user);
    if (done !== undefined) {
      if (done !== r.arm) this.dropped.switched++;
      return;
    }
    let u = this.open.get(r.user);
    if (!u) {
      if (this.open.size + this.finished.size >= this.limits.maxUsers) {
        this.dropped.overCap++;
        return;
      }
      u = { arm: r.arm, firstMs: r.atMs, value: 0 };
      this.open.set(r.user, u);
    } else if (u.arm !== r.arm) {
      this.open.delete(r.user);
      this.dropped.switched++;
      return;
    }
    if (r.atMs - u.firstMs > this.spec.windowMs) return;
    const o = this.spec.outcome;
    if (o.kind === 'header' && r.outcome !== undefined) u.value = Math.min(o.max, u.value + r.outcome);
    if (o.kind === 'conversion' && r.endpoint.startsWith(o.path)) u.value = 1;
  }

  /** Makes final every user whose window ended before `nowMs`. */
  close(nowMs: number): void {
    const scale = this.spec.outcome.kind === 'header' ? this.spec.outcome.max : 1;
    for (const [user, u] of this.open) {
      if (nowMs - u.firstMs <= this.spec.windowMs) continue;
      this.open.delete(user);
      this.finished.set(user, u.arm);
      const arm = this.arms[u.arm];
      arm.n++;
      arm.sum += u.value / scale;
    }
  }
}
