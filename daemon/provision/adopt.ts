/**
 * Adopting the instances a daemon left running when it died (SIGKILL, a
 * crash), so that a restarted daemon resumes them instead of restarting
 * versions that may be serving production.
 *
 * Every instance carries in its environment `UMBRA_OWNER` (the provisioner's
 * log directory, unique per daemon), `UMBRA_SERVICE`, `UMBRA_VERSION`,
 * `UMBRA_POOL`, `UMBRA_INSTANCE`, `PORT`, and `UMBRA_SPEC` (a hash of the
 * version's command, env and cwd). A restarted daemon finds them in /proc
 * ({@link findLeftovers}), decides which it can adopt ({@link planAdoption},
 * pure), and stops the rest. Linux only: elsewhere nothing is found, so
 * nothing is adopted (nor stopped).
 *
 * A process is known by its pid and its start time, so that a pid reused by
 * a later process is never mistaken for an instance, nor signalled.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { ProcessVersion } from '../config/schema.js';
import { statFields } from './proc-stats.js';
import type { PoolName, PoolRef } from './provisioner.js';

/** A process told apart from later ones that reuse its pid. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks from boot to the process's start. */
  startTime: number;
}

/** A live process with the owner's and service's marks, as found in /proc. */
export interface Leftover extends ProcessIdentity {
  /** Its process group; an instance leads its own (it is spawned detached). */
  pgid: number;
  /** The `UMBRA_*` and `PORT` variables of its environment. */
  env: Record<string, string>;
}

export interface Adoption {
  id: ProcessIdentity;
  ref: PoolRef;
  index: number;
  port: number;
}

export interface Refusal {
  id: ProcessIdentity;
  /** Signal its whole process group (an instance's leader) or only the process. */
  group: boolean;
  reason: string;
  env: Record<string, string>;
}

/** A hash of what starts a version's instances: adopting is safe only when it is unchanged. */
export function specHash(v: ProcessVersion): string {
  const env = Object.entries(v.env ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([v.command, env, v.cwd ?? null]))
    .digest('hex')
    .slice(0, 16);
}

/** State, process group and start time of a process from /proc/PID/stat; undefined if gone. */
export function readStat(pid: number): { state: string; pgid: number; startTime: number } | undefined {
  // Field 3 (state), 5 (pgrp), 22 (starttime).
  const rest = statFields(pid);
  if (rest === undefined) return undefined;
  const pgid = Number(rest[2]);
  const startTime = Number(rest[19]);
  if (!rest[0] || !Number.isInteger(pgid) || !Number.isInteger(startTime)) return undefined;
  return { state: rest[0], pgid, startTime };
}

/** Still running: not gone, not a zombie (an orphan's lingers until init reaps it), pid not reused. */
export function isRunning(id: ProcessIdentity): boolean {
  const st = readStat(id.pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X' && st.startTime === id.startTime;
}

/** Live processes (other than this one) whose environment marks them as `service`'s instances of `owner`. */
export function findLeftovers(owner: string, service: string): Leftover[] {
  const want = [`UMBRA_OWNER=${owner}`, `UMBRA_SERVICE=${service}`];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: Leftover[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let vars: string[];
    try {
      vars = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
    } catch {
      continue; // gone, or not ours to read
    }
    if (!want.every((w) => vars.includes(w))) continue;
    const st = readStat(Number(name));
    if (!st || st.state === 'Z' || st.state === 'X') continue;
    const env: Record<string, string> = {};
    for (const v of vars) {
      const eq = v.indexOf('=');
      const key = v.slice(0, eq);
      if (eq > 0 && (key.startsWith('UMBRA_') || key === 'PORT')) env[key] = v.slice(eq + 1);
    }
    out.push({ pid: Number(name), pgid: st.pgid, startTime: st.startTime, env });
  }
  return out;
}

const POOLS: readonly PoolName[] = ['main', 'baseline'];

/**
 * Which leftovers to adopt and which to stop, and why. Only group leaders are
 * instances; other processes in their groups go with them. Among instances
 * that claim the same pool index or port, the oldest is kept.
 */
export function planAdoption(
  found: readonly Leftover[],
  versions: Readonly<Record<string, ProcessVersion>>,
): { adopt: Adoption[]; stop: Refusal[] } {
  const adopt: Adoption[] = [];
  const stop: Refusal[] = [];
  const leaders = found
    .filter((p) => p.pid === p.pgid)
    .sort((a, b) => a.startTime - b.startTime || a.pid - b.pid);
  const leaderPids = new Set(leaders.map((p) => p.pid));
  const slots = new Set<string>();
  const ports = new Set<number>();
  for (const p of leaders) {
    const id = { pid: p.pid, startTime: p.startTime };
    const claim = claimOf(p, versions);
    if (typeof claim !== 'string' && !slots.has(slotOf(claim)) && !ports.has(claim.port)) {
      slots.add(slotOf(claim));
      ports.add(claim.port);
      adopt.push({ id, ...claim });
      continue;
    }
    const reason =
      typeof claim === 'string'
        ? claim
        : slots.has(slotOf(claim))
          ? `another process is instance ${claim.index} of this pool`
          : `another instance has port ${claim.port}`;
    stop.push({ id, group: true, reason, env: p.env });
  }
  for (const p of found) {
    if (p.pid === p.pgid || leaderPids.has(p.pgid)) continue;
    stop.push({
      id: { pid: p.pid, startTime: p.startTime },
      group: false,
      reason: 'it outlived the instance that started it',
      env: p.env,
    });
  }
  return { adopt, stop };
}

/** What an instance says it is, or why it cannot be adopted. */
function claimOf(
  p: Leftover,
  versions: Readonly<Record<string, ProcessVersion>>,
): Omit<Adoption, 'id'> | string {
  const version = p.env['UMBRA_VERSION'] ?? '';
  if (!Object.hasOwn(versions, version)) return `version '${version}' is no longer configured`;
  const pool = p.env['UMBRA_POOL'] ?? '';
  if (!POOLS.includes(pool as PoolName)) return `malformed pool '${pool}'`;
  const index = wholeNumber(p.env['UMBRA_INSTANCE'], 0, 9999);
  if (index === undefined) return `malformed instance index '${p.env['UMBRA_INSTANCE'] ?? ''}'`;
  const port = wholeNumber(p.env['PORT'], 1, 65535);
  if (port === undefined) return `malformed port '${p.env['PORT'] ?? ''}'`;
  if (p.env['UMBRA_SPEC'] !== specHash(versions[version]!))
    return `the version's command, env or cwd changed since it started`;
  return { ref: { version, pool: pool as PoolName }, index, port };
}

function slotOf(c: Omit<Adoption, 'id'>): string {
  return `${c.ref.version}/${c.ref.pool}/${c.index}`;
}

function wholeNumber(s: string | undefined, min: number, max: number): number | undefined {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= min && n <= max ? n : undefined;
}

const POLL_MS = 50;
/** How long to wait for a process to go after SIGKILL before giving up on it. */
const KILL_WAIT_MS = 5000;

/**
 * Stops a process that is not our child, as an owned instance is stopped:
 * SIGTERM, SIGKILL after `graceMs`, then waits (bounded) for it to go. Its
 * exit cannot be awaited, so /proc is polled. Resolves false if it is still
 * running when the wait ends.
 */
export async function stopProcess(id: ProcessIdentity, group: boolean, graceMs: number): Promise<boolean> {
  const send = (signal: NodeJS.Signals) => {
    if (!isRunning(id)) return;
    try {
      process.kill(group ? -id.pid : id.pid, signal);
    } catch {
      // gone meanwhile
    }
  };
  send('SIGTERM');
  const killAt = Date.now() + graceMs;
  const giveUpAt = killAt + KILL_WAIT_MS;
  let killed = false;
  while (isRunning(id)) {
    const now = Date.now();
    if (now >= giveUpAt) return false;
    if (!killed && now >= killAt) {
      send('SIGKILL');
      killed = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return true;
}
