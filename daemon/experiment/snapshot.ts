/**
 * An experiment runner's state as the store keeps it, so that a daemon that
 * restarts resumes an experiment where its last save left it: the arms'
 * sufficient statistics (the confidence sequence's counts and sums), the
 * guard's request counts and log wealth, the users dropped, and every user
 * already seen with their arm (4 bytes a user), so that nobody is counted
 * twice. Pure: plain data in and out, checked on the way in.
 *
 * Users still in their window at the save are stored apart: on resume they
 * are left out (counted in `dropped.restart`), since the records of the
 * seconds between the save and the resume are lost and their outcome would
 * be short of them (docs/experiments.md, "A daemon restart").
 */
import type { GuardState } from './guard.js';
import type { ArmName, TallySnapshot } from './tally.js';

export interface RunnerSnapshot extends TallySnapshot {
  guard: GuardState;
}

const ARMS: readonly ArmName[] = ['A', 'B'];

/** `value` as a snapshot, or the first problem found, named by its path. */
export function parseSnapshot(value: unknown, mixtureSize: number): RunnerSnapshot | string {
  const v = value as Partial<RunnerSnapshot> | null;
  if (typeof v !== 'object' || v === null) return 'state: not an object';
  for (const arm of ARMS) {
    const t = v.arms?.[arm];
    if (!t || !count(t.n) || !(t.sum >= 0 && t.sum <= t.n)) return `state.arms.${arm}: not {n, sum ≤ n}`;
    const r = v.requests?.[arm];
    if (!r || !count(r.requests) || !count(r.failed) || !count(r.slow))
      return `state.requests.${arm}: not {requests, failed, slow}`;
    const seen = v.guard?.seen?.[arm];
    if (!seen || !count(seen.requests) || !count(seen.failed) || !count(seen.slow))
      return `state.guard.seen.${arm}: not {requests, failed, slow}`;
    // The guard steps by requests − seen: a seen above the requests would step backwards.
    for (const k of ['requests', 'failed', 'slow'] as const)
      if (seen[k] > r[k]) return `state.guard.seen.${arm}.${k}: ${seen[k]} above the ${r[k]} counted`;
    for (const k of ['finished', 'open'] as const)
      if (!packed(v[k]?.[arm])) return `state.${k}.${arm}: not a string of user ids`;
  }
  if (!packed(v.leftOut)) return 'state.leftOut: not a string of user ids';
  const d = v.dropped;
  if (!d || !count(d.switched) || !count(d.overCap) || !count(d.restart ?? 0))
    return 'state.dropped: not {switched, overCap, restart}';
  for (const k of ['errors', 'latency'] as const) {
    const w = v.guard?.[k];
    if (!Array.isArray(w) || w.length !== mixtureSize || !w.every(Number.isFinite))
      return `state.guard.${k}: not ${mixtureSize} finite numbers`;
  }
  return v as RunnerSnapshot;
}

/** A whole number of things, ≥ 0. */
function count(x: unknown): boolean {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

/**
 * Whole 4-byte user ids in canonical base64 (user-ids.ts `packUsers`):
 * Buffer decodes any string without a word, skipping what is not base64.
 */
function packed(x: unknown): boolean {
  if (typeof x !== 'string') return false;
  const b = Buffer.from(x, 'base64');
  return b.length % 4 === 0 && b.toString('base64') === x;
}
