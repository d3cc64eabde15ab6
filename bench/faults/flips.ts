/**
 * Weight flips under load, made the way a user makes them: `umbra promote`
 * (the admin API's Promote) on a deployment whose steps are 1 %, 2 %, …,
 * 100 %, so every promote moves the candidate's weight by one step through
 * the daemon's own routing and xDS. Two deployments (v3 over v1, then v1
 * back over v3) give 200 weight changes; each ends `completed`, after which
 * mirrored copies reaching the serving pool are counted.
 */
import { SERVICE } from './config.js';
import { type Bench, deployToShadowing, mirroredAfterEnd, phase, userErrors, waitPhase } from './context.js';
import { FlipLog } from './flip-log.js';
import { poll, say, sleep, TERMINAL } from './stack.js';

/** At most one weight change per this many ms (~18 requests of the load each). */
const FLIP_EVERY_MS = 150;

export interface FlipResult {
  flips: number;
  userErrors: number;
  mirroredAfterEnd: number;
}

/** Promotes once and waits (≤ 10 s) until the status shows a different weight or phase. */
async function promoteOnce(b: Bench, log: FlipLog): Promise<{ weight: number; phase: string } | undefined> {
  const before = (await b.daemon.service(SERVICE))?.deployment;
  if (!before) return undefined;
  log.note(`promote (${before.phase} at ${before.candidateWeight} %)`);
  await b.daemon.client.command(SERVICE, 'promote', 'bench:faults weight flip');
  return poll(
    async () => {
      const d = (await b.daemon.service(SERVICE))?.deployment;
      if (!d) return undefined;
      return d.candidateWeight !== before.candidateWeight || d.phase !== before.phase
        ? { weight: d.candidateWeight, phase: d.phase }
        : undefined;
    },
    10_000,
    25,
  );
}

/** Walks one deployment of `version` from shadowing through every step to completed; returns the weight changes. */
async function walk(b: Bench, version: string, log: FlipLog): Promise<number> {
  log.note(`deploy ${version}`);
  await deployToShadowing(b, version);
  let flips = 0;
  let weight = 0;
  // 100 steps + baking + completed, with room for a few promotes that change nothing.
  for (let i = 0; i < 110; i++) {
    const at = Date.now();
    const ph = await phase(b);
    if (TERMINAL.includes(ph) || ph === 'rolling_back' || ph === 'validating') break;
    const r = await promoteOnce(b, log).catch((err: Error) => {
      say(`promote failed: ${err.message}`);
      return undefined;
    });
    if (r && r.weight !== weight) {
      flips++;
      weight = r.weight;
      if (flips % 25 === 0) say(`weight flips: ${flips} (candidate at ${weight} %)`);
    }
    // Paced so that every weight is live for several of the load's requests.
    await sleep(Math.max(0, FLIP_EVERY_MS - (Date.now() - at)));
  }
  const end = await waitPhase(b, TERMINAL, 30_000);
  say(`${version}: ${flips} weight changes, deployment ${end}`);
  return flips;
}

/** Route and cluster updates Envoy accepted so far (each flip should be one or more of them). */
async function envoyUpdates(b: Bench): Promise<number> {
  const stats = await b.envoy.stats();
  let n = 0;
  for (const [name, v] of Object.entries(stats)) {
    if (/(^|\.)(rds\.[^.]+|cds)\.update_success$/.test(name)) n += v;
  }
  return n;
}

export async function weightFlips(b: Bench): Promise<FlipResult> {
  const startedAt = Date.now();
  const updatesBefore = await envoyUpdates(b);
  const log = new FlipLog(b);
  await log.start();
  let errorsBefore = userErrors(b.load);
  let flips = await walk(b, 'v3', log);
  // Errors a late flip causes land within the next moments: count them too.
  await sleep(2000);
  let errors = userErrors(b.load) - errorsBefore;
  let mirrored = await mirroredAfterEnd(b, 'completed (v3)');
  errorsBefore = userErrors(b.load);
  flips += await walk(b, 'v1', log);
  await sleep(2000);
  errors += userErrors(b.load) - errorsBefore;
  await log.stop();
  await log.explain(b.load, startedAt);
  mirrored += await mirroredAfterEnd(b, 'completed (v1)');
  b.notes['weight_flips_s'] = Math.round((Date.now() - startedAt) / 1000);
  b.notes['weight_flips_envoy_updates'] = (await envoyUpdates(b)) - updatesBefore;
  say(`weight flips: ${flips}, user errors meanwhile ${errors}`);
  return { flips, userErrors: errors, mirroredAfterEnd: mirrored };
}
