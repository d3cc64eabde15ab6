/**
 * Telemetry from someone who is not a configured proxy (see forger.ts), judged
 * from the outside: the deployment's outcome through the admin API, and the
 * daemon's /metrics.
 */
import { NODE_ID, SERVICE } from './config.js';
import { type Bench, deployToShadowing, endDeployment, mirroredAfterEnd, waitPhase } from './context.js';
import { type AttemptReport, Forger, type ForgeryKind, forgeAtRate } from './forger.js';
import { restartMeasured } from './restarts.js';
import { say } from './stack.js';

/** Forged pairs a second, over all of the forger's streams. */
const FORGED_PAIRS_PER_S = 30;
/** Phases that mean the judge (or anyone) started a rollback. */
const ROLLING_BACK = ['rolling_back', 'validating', 'rolled_back', 'rollback_failed'];

function forger(b: Bench): Forger {
  return new Forger({ port: b.daemon.ports.telemetry, pki: b.pki, nodeId: NODE_ID, service: SERVICE });
}

function describe(reports: AttemptReport[]): string {
  return reports
    .map((r) => `${r.name}: ${r.acked} batches accepted${r.error ? ` (${r.error})` : ''}`)
    .join('; ');
}

interface Forged {
  /** The phase reached ('' if none within the time). */
  reached: string;
  /** Forged batches the daemon accepted over all streams. */
  accepted: number;
}

/** Runs the forger at {@link FORGED_PAIRS_PER_S} while waiting for `phases`. */
async function forgeWhileWaiting(
  b: Bench,
  kind: ForgeryKind,
  phases: string[],
  timeoutMs: number,
  label: string,
): Promise<Forged> {
  const f = forger(b).open();
  const stop = forgeAtRate(f, FORGED_PAIRS_PER_S, kind);
  let reached = '';
  try {
    const seen = await waitPhase(b, phases, timeoutMs);
    reached = phases.includes(seen) ? seen : '';
  } finally {
    stop();
    f.close();
  }
  const reports = f.report();
  b.notes[`${label}_streams`] = reports;
  say(`${label}: forger streams: ${describe(reports)}`);
  return { reached, accepted: reports.reduce((n, r) => n + r.acked, 0) };
}

/** Why the current deployment was rolled back, as the daemon says. */
async function rollbackReason(b: Bench): Promise<string> {
  return (await b.daemon.service(SERVICE))?.deployment?.rollbackReason ?? '';
}

/**
 * A healthy candidate (v3) while forged pairs claim it fails: 1 when it is
 * rolled back within 25 s of shadowing and the daemon accepted forged
 * batches. A rollback with every forged batch refused is the judge's own
 * (a false alarm, or the machine's load): reported in
 * `forged_rollback_unforged`, not counted.
 */
export async function forgedRollback(b: Bench): Promise<number> {
  await deployToShadowing(b, 'v3');
  say(`forged failures: ${FORGED_PAIRS_PER_S} forged pairs/s claim the healthy v3 fails`);
  const r = await forgeWhileWaiting(b, 'candidate-fails', ROLLING_BACK, 25_000, 'forged_rollback');
  const reason = r.reached ? await rollbackReason(b) : '';
  b.notes['forged_rollback_reason'] = reason;
  const end = await endDeployment(b, 'abort');
  const forged = r.reached !== '' && r.accepted > 0;
  if (r.reached && !forged) b.notes['forged_rollback_unforged'] = true;
  say(
    `forged failures: healthy v3 ${r.reached ? `was rolled back (${reason})` : 'was not rolled back'}; ${r.accepted} forged batches accepted; it ended ${end}`,
  );
  return forged ? 1 : 0;
}

/**
 * The yardstick for the hidden-regression figure: the same regression (v2)
 * with no forgery. Returns the seconds from shadowing to rollback (null: not
 * within 45 s, and then the hidden-regression figure proves nothing).
 */
export async function regressionControl(b: Bench): Promise<number | null> {
  await deployToShadowing(b, 'v2');
  const shadowingAt = Date.now();
  const reached = await waitPhase(b, ROLLING_BACK, 45_000);
  const caught = ROLLING_BACK.includes(reached);
  const detectS = caught ? Math.round((Date.now() - shadowingAt) / 100) / 10 : null;
  say(
    `control: the regression with no forgery was ${caught ? `caught in ${detectS} s` : 'not caught in 45 s'}`,
  );
  await endDeployment(b, 'rollback');
  return detectS;
}

/**
 * A real regression (v2, the demo's) while forged pairs claim the candidate
 * does better than production: 1 when it is not rolled back within 45 s of
 * shadowing while the daemon accepted forged batches (regressionControl
 * measures how soon it is caught unforged). It is then rolled back by hand,
 * and mirrored copies after `rolled_back` are counted.
 */
export async function forgedHiddenRegression(b: Bench): Promise<{ hidden: number; mirrored: number }> {
  await deployToShadowing(b, 'v2');
  say(`forged health: ${FORGED_PAIRS_PER_S} forged pairs/s claim the failing v2 beats production`);
  const r = await forgeWhileWaiting(b, 'candidate-better', ROLLING_BACK, 45_000, 'forged_hidden');
  if (!r.reached) {
    // A check on the figure: with the forger gone, does the judge catch the regression on its own?
    const stoppedAt = Date.now();
    const later = await waitPhase(b, ROLLING_BACK, 20_000);
    b.notes['forged_hidden_caught_after_forger_stopped_s'] = ROLLING_BACK.includes(later)
      ? Math.round((Date.now() - stoppedAt) / 100) / 10
      : null;
  }
  const end = await endDeployment(b, 'rollback');
  // Hidden by forgery only if the daemon took forged batches; otherwise the judge missed it alone.
  const hidden = r.reached === '' && r.accepted > 0;
  if (r.reached === '' && r.accepted === 0) b.notes['forged_hidden_missed_unforged'] = true;
  say(
    `forged health: the regression was ${r.reached ? 'caught' : 'not caught in 45 s'}; ${r.accepted} forged batches accepted; it ended ${end}`,
  );
  const mirrored = end === 'rolled_back' ? await mirroredAfterEnd(b, 'rolled_back (v2)') : 0;
  return { hidden: hidden ? 1 : 0, mirrored };
}

/**
 * Right after a daemon restart, before Envoy's filters are back, one batch of
 * 150 × 140 = 21,000 junk series on each forger stream; then a real
 * regression (v2) with no forgery: blinded when it is not rolled back within
 * 45 s of shadowing.
 */
export async function seriesFlood(b: Bench): Promise<boolean> {
  const f = forger(b);
  const flood = f.prepareFlood(150, 140);
  say('series flood: SIGKILL and restart umbrad; the forger floods as soon as the telemetry port listens');
  await b.daemon.stop('SIGKILL');
  let sent = false;
  await restartMeasured(b, 'series flood restart', () => {
    f.open().sendPrepared(flood);
    sent = true;
  });
  await b.daemon.ready();
  if (!sent) throw new Error('the telemetry port never listened');
  // The batch is acknowledged once handled; refused streams end on their own.
  await waitForReports(f);
  const reports = f.report();
  f.close();
  b.notes['series_flood_streams'] = reports;
  const series = (await b.daemon.metric('umbra_aggregate_series').catch(() => undefined)) ?? 0;
  b.notes['series_flood_series_after'] = series;
  say(`series flood: ${describe(reports)}; the daemon holds ${series} series`);
  await deployToShadowing(b, 'v2');
  const reached = await waitPhase(b, ROLLING_BACK, 45_000);
  const blinded = !ROLLING_BACK.includes(reached);
  const pairs = (await b.daemon.service(SERVICE))?.pairs ?? 0;
  b.notes['series_flood_pairs_judged'] = pairs;
  b.notes['series_flood_records_skipped'] =
    (await b.daemon
      .metric('umbra_telemetry_records_skipped_total', 'reason="series_limit"')
      .catch(() => 0)) ?? 0;
  say(
    `series flood: the regression after the flood was ${blinded ? 'not caught' : 'caught'} (${pairs} pairs judged)`,
  );
  await endDeployment(b, 'rollback');
  return blinded;
}

/** Waits (≤ 15 s) until every forger stream has its batch acknowledged or has ended. */
async function waitForReports(f: Forger): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (f.report().every((r) => r.acked > 0 || r.error !== '')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}
