/**
 * What every bench:faults scenario shares: the daemon, Envoy, the load and
 * its user-visible errors, and the reconnect times measured so far.
 */
import type { LoadStats } from '../../demo/scenario.js';
import type { EnvoyProcess, TestPki } from '../../test/harness/index.js';
import { SERVICE } from './config.js';
import { type Daemon, poll, say, shadowCopiesSeen, sleep, TERMINAL } from './stack.js';

export interface Bench {
  daemon: Daemon;
  envoy: EnvoyProcess;
  load: LoadStats;
  pki: TestPki;
  dir: string;
  /** Seconds from each daemon return until Envoy had xDS and telemetry again. */
  reconnects: number[];
  /** Extra figures per scenario (durations, outcomes), printed in the JSON line. */
  notes: Record<string, unknown>;
}

/** What a user sees as an error: a non-2xx answer or a request that failed without one. */
export function userErrors(load: LoadStats): number {
  let n = load.errors;
  for (const [status, count] of Object.entries(load.statuses)) {
    const s = Number(status);
    if (s < 200 || s > 299) n += count;
  }
  return n;
}

/** The phase of the service's current deployment ('' when none). */
export async function phase(b: Bench): Promise<string> {
  return (await b.daemon.service(SERVICE))?.deployment?.phase ?? '';
}

/** Deploys `version` and waits (≤ 90 s) until it shadows; returns the deployment id. */
export async function deployToShadowing(b: Bench, version: string): Promise<string> {
  const { deployment } = await b.daemon.client.deploy(SERVICE, version);
  say(`deployed ${SERVICE} ${version} (deployment ${deployment.id})`);
  const p = await poll(async () => {
    const ph = await phase(b);
    return ph === 'shadowing' || TERMINAL.includes(ph) ? ph : undefined;
  }, 90_000);
  if (p !== 'shadowing') throw new Error(`${version} did not reach shadowing (phase ${p ?? 'unknown'})`);
  return deployment.id;
}

/** Waits (≤ `timeoutMs`) until the current deployment is in one of `phases`; returns the phase seen last. */
export async function waitPhase(b: Bench, phases: readonly string[], timeoutMs: number): Promise<string> {
  const seen = await poll(async () => {
    const ph = await phase(b);
    return phases.includes(ph) ? ph : undefined;
  }, timeoutMs);
  return seen ?? (await phase(b).catch(() => ''));
}

/**
 * Ends the current deployment if it still runs: rollback (when `rollback`)
 * or abort, then waits for a terminal phase. Returns that phase.
 */
export async function endDeployment(b: Bench, how: 'rollback' | 'abort'): Promise<string> {
  const ph = await phase(b);
  if (ph !== '' && !TERMINAL.includes(ph) && ph !== 'rolling_back' && ph !== 'validating') {
    await b.daemon.client.command(SERVICE, how, 'bench:faults cleanup').catch((err: Error) => {
      say(`${how} refused: ${err.message}`);
    });
  }
  return waitPhase(b, TERMINAL, 90_000);
}

/**
 * Mirrored copies that still reach a serving pool after a deployment ended:
 * the sample services' shadow counters over 8 s, starting 2 s after the end
 * (time for the daemon to act on the end), with the load running.
 */
export async function mirroredAfterEnd(b: Bench, what: string): Promise<number> {
  await sleep(2000);
  const before = shadowCopiesSeen(b.dir);
  await sleep(8000);
  // The instances rewrite their count every 200 ms.
  await sleep(400);
  const n = shadowCopiesSeen(b.dir) - before;
  say(`after ${what}: ${n} mirrored copies reached the serving pool in 8 s`);
  return n;
}
