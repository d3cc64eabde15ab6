/**
 * Chaos faults as the user writes them: on the command line
 * (`umbra chaos start SERVICE --fault …`) and in umbra.yaml (a rollout's
 * chaos step, chaos-step.ts). Parsed and checked at the edge: a fault on a
 * dependency the service does not declare is refused with its path, and
 * nothing starts.
 *
 * Written forms:
 * - `DEP:delay=200ms` or `DEP:delay=200ms@25%`: add latency to that share
 *   of the candidate's calls to DEP (default 100 %);
 * - `DEP:abort=503` or `DEP:abort=503@5%`: answer those calls with that
 *   status instead of calling DEP;
 * - `reset:30%@DEP` (or `DEP:reset@30%`): send that share of the calls to
 *   a listener that resets every connection, instead of DEP;
 * - `lose-replica=N`: stop N of the candidate's replicas.
 */
import { parseDuration } from './duration.js';

/** Latency added to the candidate's calls to a dependency. */
export interface DelayFault {
  kind: 'delay';
  dependency: string;
  ms: number;
  percent: number;
}

/** The candidate's calls to a dependency answered with an error status. */
export interface AbortFault {
  kind: 'abort';
  dependency: string;
  status: number;
  percent: number;
}

/** A share of the candidate's calls to a dependency whose connection is reset. */
export interface ResetFault {
  kind: 'reset';
  dependency: string;
  percent: number;
}

/** Candidate replicas stopped by the provisioner. */
export interface ReplicaLossFault {
  kind: 'lose-replica';
  replicas: number;
}

export type ChaosFault = DelayFault | AbortFault | ResetFault | ReplicaLossFault;

/** Longest delay accepted: the egress route's timeout is 60 s. */
const MAX_DELAY_MS = 30_000;
const DEP_FAULT = /^([A-Za-z0-9._-]+):(delay|abort)=([^@]+)(?:@(\d+(?:\.\d+)?)%)?$/;
const LOSS = /^lose-replica=(\d+)$/;
const SHARE = '(\\d+(?:\\.\\d+)?)';
const RESET = new RegExp(`^reset:${SHARE}%?@([A-Za-z0-9._-]+)$`);
const DEP_RESET = new RegExp(`^([A-Za-z0-9._-]+):reset(?:@${SHARE}%)?$`);

/** A reset fault from `reset:P%@DEP` or `DEP:reset[@P%]`, an error, or null when it is neither. */
function parseReset(spec: string): { fault: ChaosFault } | { error: string } | null {
  const a = RESET.exec(spec);
  const b = a ? null : DEP_RESET.exec(spec);
  if (!a && !b) return null;
  const [dependency, share] = a ? [a[2]!, a[1]!] : [b![1]!, b![2]];
  const percent = share === undefined ? 100 : Number(share);
  if (!(percent > 0 && percent <= 100)) return { error: 'the share must be above 0 and at most 100%' };
  return { fault: { kind: 'reset', dependency, percent } };
}

/** A fault from its written form, or what is wrong with it (without a path). */
export function parseFaultText(text: string): { fault: ChaosFault } | { error: string } {
  const spec = text.trim();
  const loss = LOSS.exec(spec);
  if (loss) {
    const replicas = Number(loss[1]);
    if (replicas < 1 || replicas > 100) return { error: `lose-replica must be 1..100 (got ${replicas})` };
    return { fault: { kind: 'lose-replica', replicas } };
  }
  const reset = parseReset(spec);
  if (reset) return reset;
  const m = DEP_FAULT.exec(spec);
  if (!m)
    return {
      error: `must be DEP:delay=200ms[@P%], DEP:abort=503[@P%], reset:P%@DEP or lose-replica=N (got ${JSON.stringify(text)})`,
    };
  const [, dependency, kind, value, share] = m as unknown as [string, string, string, string, string?];
  const percent = share === undefined ? 100 : Number(share);
  if (!(percent > 0 && percent <= 100)) return { error: 'the share must be above 0 and at most 100%' };
  if (kind === 'delay') {
    const ms = parseDuration(value);
    if (ms === undefined || ms < 1 || ms > MAX_DELAY_MS)
      return { error: `delay must be a duration from 1ms to 30s (got ${JSON.stringify(value)})` };
    return { fault: { kind: 'delay', dependency, ms, percent } };
  }
  const status = Number(value);
  if (!Number.isInteger(status) || status < 200 || status > 599)
    return { error: `abort must be an HTTP status 200..599 (got ${JSON.stringify(value)})` };
  return { fault: { kind: 'abort', dependency, status, percent } };
}

/** A fault from its written form, or the error prefixed with its path `at`. */
export function parseFault(text: string, at: string): { fault: ChaosFault } | { error: string } {
  const r = parseFaultText(text);
  return 'error' in r ? { error: `${at}: ${r.error}` } : r;
}

/**
 * What is wrong with one fault of an experiment for a service that declares
 * `dependencies` (without a path); `seen` holds the experiment's faults so
 * far and is updated. Empty when it can run.
 */
export function faultProblems(f: ChaosFault, dependencies: readonly string[], seen: Set<string>): string[] {
  if (f.kind === 'lose-replica') return [];
  const problems: string[] = [];
  if (!dependencies.includes(f.dependency)) {
    const declared = dependencies.length > 0 ? dependencies.join(', ') : 'none';
    problems.push(`unknown dependency '${f.dependency}' (declared: ${declared})`);
  }
  const key = `${f.dependency}/${f.kind}`;
  if (seen.has(key)) problems.push(`a second ${f.kind} on ${f.dependency}`);
  seen.add(key);
  return problems;
}

/**
 * Every problem of `faults` for a service that declares `dependencies`, each
 * with its path (`at[i]`). Empty when they can run.
 */
export function faultErrors(
  faults: readonly ChaosFault[],
  dependencies: readonly string[],
  at: string,
): string[] {
  const errors: string[] = [];
  if (faults.length === 0) errors.push(`${at}: at least one fault`);
  const seen = new Set<string>();
  for (const [i, f] of faults.entries())
    for (const problem of faultProblems(f, dependencies, seen)) errors.push(`${at}[${i}]: ${problem}`);
  return errors;
}

/** Candidate replicas the faults stop (0: none). */
export function replicasLost(faults: readonly ChaosFault[]): number {
  return faults.reduce((n, f) => n + (f.kind === 'lose-replica' ? f.replicas : 0), 0);
}

/** A fault as the user wrote it, normalised (`db:delay=200ms@50%`). */
export function describeFault(f: ChaosFault): string {
  if (f.kind === 'lose-replica') return `lose-replica=${f.replicas}`;
  if (f.kind === 'reset') return `reset:${f.percent}%@${f.dependency}`;
  const share = f.percent === 100 ? '' : `@${f.percent}%`;
  const value = f.kind === 'delay' ? `${f.ms}ms` : String(f.status);
  return `${f.dependency}:${f.kind}=${value}${share}`;
}
