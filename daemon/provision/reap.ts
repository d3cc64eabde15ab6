/**
 * Reaping instances left behind by a daemon that died without stopping them
 * (SIGKILL, a crash): every instance carries `UMBRA_OWNER` (the provisioner's
 * log directory, unique per daemon) and `UMBRA_SERVICE` in its environment,
 * so a restarted daemon finds its predecessor's processes in /proc and stops
 * them before it starts its own. Linux only; elsewhere it finds nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of live processes whose environment has exactly these variables. */
export function findOwned(owner: string, service: string): number[] {
  const want = [`UMBRA_OWNER=${owner}`, `UMBRA_SERVICE=${service}`];
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
    const vars = env.split('\0');
    if (want.every((w) => vars.includes(w))) out.push(Number(name));
  }
  return out;
}

/** Kills the process groups of a dead daemon's instances; returns the pids it signalled. */
export function reapOrphans(owner: string, service: string): number[] {
  const pids = findOwned(owner, service);
  for (const pid of pids) {
    try {
      // Instances lead their own process group (spawned detached).
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  return pids;
}
