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
import { packUsers, UserIds, unpackUsers } from './user-ids.js';

/** Users left out, by reason. */
export interface DroppedUsers {
  /** Seen in both arms (the split moved under them). */
  switched: number;
  /** New users beyond the memory cap. */
  overCap: number;
  /** In their window when the daemon stopped: their records of the gap are lost. */
  restart: number;
}

/** The tally's state as the store keeps it (snapshot.ts adds the guard's). */
export interface TallySnapshot {
  arms: Record<ArmName, ArmTally>;
  requests: Record<ArmName, RequestCounts>;
  dropped: DroppedUsers;
  /** User ids (base64 of little-endian uint32s) whose observation is final, per arm. */
  finished: Record<ArmName, string>;
  /** User ids still in their window, per arm. */
  open: Record<ArmName, string>;
  /** User ids left out for being seen in both arms. */
  leftOut: string;
}

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
  /** Users dropped: seen in both arms, over the cap, or cut by a daemon restart. */
  readonly dropped: DroppedUsers = { switched: 0, overCap: 0, restart: 0 };
  private readonly open = new Map<number, OpenUser>();
  /** Users whose observation is final (so a late record of theirs is not a new user). */
  private readonly finished = new Set<number>();
  /** The same users by arm, in the order they finished (append-only: a save copies them whole). */
  private readonly finishedIds: Record<ArmName, UserIds> = { A: new UserIds(), B: new UserIds() };
  /** Users left out after being seen in both arms (so that they do not come back as new users). */
  private readonly leftOut = new Set<number>();

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
    if (this.leftOut.has(r.user)) return;
    // A final observation stays as it was: a later request, on either version, changes nothing.
    if (this.finished.has(r.user)) return;
    let u = this.open.get(r.user);
    if (!u) {
      if (this.open.size + this.finished.size + this.leftOut.size >= this.limits.maxUsers) {
        this.dropped.overCap++;
        return;
      }
      u = { arm: r.arm, firstMs: r.atMs, value: 0 };
      this.open.set(r.user, u);
    } else if (u.arm !== r.arm) {
      this.open.delete(r.user);
      this.leftOut.add(r.user);
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
      this.finish(user, u.arm);
      const arm = this.arms[u.arm];
      arm.n++;
      arm.sum += u.value / scale;
    }
  }

  private finish(user: number, arm: ArmName): void {
    this.finished.add(user);
    this.finishedIds[arm].push(user);
  }

  /** Its state as a snapshot stores it (a copy): the finished users as they are, one pass over the open ones. */
  save(): TallySnapshot {
    const open = split(this.open.size, this.open.entries(), (u) => u.arm);
    return {
      arms: structuredClone(this.arms),
      requests: structuredClone(this.requests),
      dropped: { ...this.dropped },
      finished: { A: packUsers(this.finishedIds.A.view()), B: packUsers(this.finishedIds.B.view()) },
      open: { A: packUsers(open.A), B: packUsers(open.B) },
      leftOut: packUsers(Uint32Array.from(this.leftOut)),
    };
  }

  /**
   * Takes back a saved state (into a fresh tally). Users who were in their
   * window are left out and counted (`dropped.restart`): the records of the
   * time between the save and now are lost, so their outcome would be short.
   * They stay known with their arm, so that they are not counted anew.
   */
  restore(s: TallySnapshot): void {
    Object.assign(this.arms, structuredClone(s.arms));
    Object.assign(this.requests, structuredClone(s.requests));
    Object.assign(this.dropped, s.dropped);
    this.open.clear();
    this.finished.clear();
    this.finishedIds.A = new UserIds();
    this.finishedIds.B = new UserIds();
    this.leftOut.clear();
    for (const user of unpackUsers(s.leftOut)) this.leftOut.add(user);
    for (const arm of ['A', 'B'] as const) {
      for (const user of unpackUsers(s.finished[arm])) this.finish(user, arm);
      for (const user of unpackUsers(s.open[arm])) {
        this.finish(user, arm);
        this.dropped.restart++;
      }
    }
  }
}

/** User ids by arm, from `size` entries of a map. */
function split<V>(
  size: number,
  entries: Iterable<[number, V]>,
  armOf: (v: V) => ArmName,
): Record<ArmName, Uint32Array> {
  const a = new Uint32Array(size);
  const b = new Uint32Array(size);
  let na = 0;
  let nb = 0;
  for (const [user, v] of entries) {
    if (armOf(v) === 'A') a[na++] = user;
    else b[nb++] = user;
  }
  return { A: a.subarray(0, na), B: b.subarray(0, nb) };
}
