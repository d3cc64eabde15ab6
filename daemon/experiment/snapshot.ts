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
import type { ArmTally } from './sequence.js';
import type { ArmName, RequestCounts } from './tally.js';

/** Users left out, by reason. */
export interface DroppedUsers {
  /** Seen in both arms (the split moved under them). */
  switched: number;
  /** New users beyond the memory cap. */
  overCap: number;
  /** In their window when the daemon stopped: their records of the gap are lost. */
  restart: number;
}

export interface RunnerSnapshot {
  arms: Record<ArmName, ArmTally>;
  requests: Record<ArmName, RequestCounts>;
  dropped: DroppedUsers;
  guard: GuardState;
  /** User ids (base64 of little-endian uint32s) whose observation is final, per arm. */
  finished: Record<ArmName, string>;
  /** User ids still in their window, per arm. */
  open: Record<ArmName, string>;
  /** User ids left out for being seen in both arms. */
  leftOut: string;
}

const ARMS: readonly ArmName[] = ['A', 'B'];

/** True on a little-endian host (a Uint32Array's bytes are then the stored form as they are). */
const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * User ids as the snapshot stores them: little-endian uint32s in base64. A
 * million users take 4 MB, written in one copy on a little-endian host.
 */
export function packUsers(ids: Uint32Array | readonly number[]): string {
  const u32 = ids instanceof Uint32Array ? ids : Uint32Array.from(ids);
  if (LITTLE) return Buffer.from(u32.buffer, u32.byteOffset, u32.byteLength).toString('base64');
  const b = Buffer.alloc(u32.length * 4);
  for (const [i, id] of u32.entries()) b.writeUInt32LE(id, i * 4);
  return b.toString('base64');
}

export function unpackUsers(text: string): Uint32Array {
  const b = Buffer.from(text, 'base64');
  const n = Math.floor(b.length / 4);
  // A copy: the decoded bytes may not start on a 4-byte boundary.
  if (LITTLE) return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + n * 4));
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = b.readUInt32LE(i * 4);
  return out;
}

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
    for (const k of ['finished', 'open'] as const)
      if (typeof v[k]?.[arm] !== 'string') return `state.${k}.${arm}: not a string of user ids`;
  }
  if (typeof v.leftOut !== 'string') return 'state.leftOut: not a string of user ids';
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

function count(x: unknown): boolean {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}
