/**
 * CPU and memory of a process from Linux /proc. Elsewhere (or for a process
 * that has gone) the readers return undefined.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, 100 on practically every Linux). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * The fields of /proc/PID/stat from field 3 (state) on: element i is field
 * i + 3. Undefined when the process has gone (or there is no /proc).
 */
export function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // NOTE: proc(5): field 2 (comm) is parenthesised and may contain spaces.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU time of a process in seconds, from /proc/PID/stat (fields 14 and 15). */
export function cpuSeconds(pid: number): number | undefined {
  const rest = statFields(pid);
  if (rest === undefined) return undefined;
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clockTicks();
}

/** Resident memory in bytes, from VmRSS in /proc/PID/status. */
export function rssBytes(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** CPU % of one core between successive calls, per process. */
export class CpuSampler {
  #last: { at: number; cpu: number } | undefined;

  /** % of one core since the previous call (undefined on the first call or when unreadable). */
  sample(pid: number, nowMs: number): number | undefined {
    const cpu = cpuSeconds(pid);
    if (cpu === undefined) return undefined;
    const prev = this.#last;
    this.#last = { at: nowMs, cpu };
    if (!prev || nowMs <= prev.at) return undefined;
    return (100 * (cpu - prev.cpu)) / ((nowMs - prev.at) / 1000);
  }
}
