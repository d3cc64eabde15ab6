/**
 * Daemon restarts under load: a clean stop, a SIGKILL, and a SIGKILL that
 * outlasts a shadow deadline. Measures what users saw, how long Envoy took to
 * get xDS and telemetry back, and what the restarted daemon did with a
 * deadline that passed while it was down.
 */
import { TELEMETRY_CLUSTER } from '../../daemon/xds/resources/names.js';
import { SERVICE } from './config.js';
import { type Bench, deployToShadowing, endDeployment, userErrors, waitPhase } from './context.js';
import { listening, poll, say, sleep } from './stack.js';

/** The longest a reconnect is awaited; a reconnect that never came is reported as this. */
const RECONNECT_TIMEOUT_S = 60;

export interface Reconnect {
  /** Seconds from the xDS port listening again to Envoy's ADS stream connected. */
  xdsS: number;
  /** Seconds from the telemetry port listening again to a filter stream open on it. */
  telemetryS: number;
  /** Wall clock (ms) of the first telemetry batch the restarted daemon accepted (0: none seen). */
  firstBatchAtMs: number;
}

/**
 * Starts the daemon and measures, polling every 100 ms, when Envoy is back,
 * from Envoy's admin stats: `control_plane.connected_state` 1 (ADS), and a
 * filter's telemetry stream open again (`upstream_rq_active` ≥ 1 on the
 * telemetry cluster; read on Envoy, so no other client of the port counts).
 * Each clock starts when that port of the restarted daemon accepts
 * connections; `onTelemetryPort` is called then. Also notes when the daemon's
 * /metrics first shows an accepted batch.
 */
export async function restartMeasured(
  b: Bench,
  label: string,
  onTelemetryPort?: () => void,
): Promise<Reconnect> {
  const { xds, telemetry } = b.daemon.ports;
  // Envoy must have seen the old streams go, or a stale "connected" would read as an instant reconnect.
  await poll(
    async () =>
      (await b.envoy.stat('control_plane.connected_state')) === 0 && (await telemetryStreams(b)) === 0
        ? true
        : undefined,
    10_000,
    50,
  );
  b.daemon.start();
  const deadline = Date.now() + RECONNECT_TIMEOUT_S * 1000 + 60_000;
  let xdsUp = 0;
  let telUp = 0;
  let xdsBack = 0;
  let telBack = 0;
  let firstBatch = 0;
  while (Date.now() < deadline && !(xdsBack && telBack && firstBatch)) {
    const now = Date.now();
    if (!xdsUp && (await listening(xds))) xdsUp = now;
    if (!telUp && (await listening(telemetry))) {
      telUp = now;
      onTelemetryPort?.();
    }
    if (xdsUp && !xdsBack && (await b.envoy.stat('control_plane.connected_state').catch(() => 0)) === 1)
      xdsBack = Date.now();
    if (telUp && !telBack && (await telemetryStreams(b).catch(() => 0)) >= 1) telBack = Date.now();
    if (telUp && !firstBatch) {
      const batches = await b.daemon.metric('umbra_telemetry_batches_total').catch(() => undefined);
      if (!firstBatch && (batches ?? 0) > 0) firstBatch = Date.now();
    }
    if (xdsUp && telUp && (now - Math.min(xdsUp, telUp)) / 1000 > RECONNECT_TIMEOUT_S) break;
    await sleep(100);
  }
  const secs = (back: number, up: number) => (back && up ? (back - up) / 1000 : RECONNECT_TIMEOUT_S);
  const r = { xdsS: secs(xdsBack, xdsUp), telemetryS: secs(telBack, telUp), firstBatchAtMs: firstBatch };
  b.reconnects.push(Math.max(r.xdsS, r.telemetryS));
  say(
    `${label}: Envoy back on xDS after ${r.xdsS.toFixed(1)} s, telemetry after ${r.telemetryS.toFixed(1)} s`,
  );
  return r;
}

/** Telemetry streams Envoy's filters have open towards the daemon. */
async function telemetryStreams(b: Bench): Promise<number> {
  return (await b.envoy.stat(`cluster.${TELEMETRY_CLUSTER}.upstream_rq_active`)) ?? 0;
}

/**
 * With v3 shadowing (so the service's routes run the filter and its telemetry
 * streams are open: with route gating an idle service has none to reconnect),
 * stops the daemon with `signal`, keeps it down `downMs`, starts it again and
 * counts the user errors from the signal until 5 s after Envoy is back; the
 * deployment is aborted afterwards.
 */
export async function restartUnderLoad(
  b: Bench,
  signal: 'SIGTERM' | 'SIGKILL',
  downMs: number,
): Promise<number> {
  const label = signal === 'SIGTERM' ? 'clean stop' : 'kill';
  await deployToShadowing(b, 'v3');
  const before = userErrors(b.load);
  const sentBefore = b.load.sent;
  say(`${label}: ${signal} to umbrad, down for ${downMs / 1000} s`);
  const stoppedAt = Date.now();
  await b.daemon.stop(signal);
  await sleep(Math.max(0, downMs - (Date.now() - stoppedAt)));
  await restartMeasured(b, label);
  await b.daemon.ready();
  await sleep(5000);
  const errors = userErrors(b.load) - before;
  say(`${label}: ${errors} user errors in ${b.load.sent - sentBefore} answered requests`);
  await endDeployment(b, 'abort');
  return errors;
}

/**
 * A 60 s shadow whose deadline passes while the daemon is down: deploy a
 * healthy version, SIGKILL the daemon 14 s into the shadow, keep it down until
 * 5 s past the deadline, restart. Counts 1 when the restarted daemon promoted
 * before any telemetry batch had reached it, i.e. on the evidence from before
 * the crash.
 */
export async function staleDeadline(b: Bench): Promise<number> {
  await deployToShadowing(b, 'v3');
  const shadowAt = await shadowStart(b);
  const deadlineAt = shadowAt + 60_000;
  await sleep(Math.max(0, shadowAt + 14_000 - Date.now()));
  say('stale deadline: SIGKILL 14 s into a 60 s shadow, down until 5 s past its deadline');
  await b.daemon.stop('SIGKILL');
  await sleep(Math.max(0, deadlineAt + 5000 - Date.now()));
  const r = await restartMeasured(b, 'stale deadline');
  await b.daemon.ready();
  const left = await waitPhase(b, ['promoting', 'baking', 'completed', 'rolling_back', 'aborted'], 30_000);
  const history = await b.daemon.client.history(SERVICE, 1);
  const promotedAt = history[0]?.transitions.find(
    (t) => t.from === 'shadowing' && t.to === 'promoting',
  )?.atMs;
  const stale = promotedAt !== undefined && (r.firstBatchAtMs === 0 || promotedAt < r.firstBatchAtMs);
  const deployment = (await b.daemon.service(SERVICE))?.deployment;
  b.notes['stale_deadline'] = {
    phase_after_restart: left,
    rollback_reason: deployment?.rollbackReason ?? '',
    promoted_s_after_deadline: promotedAt ? (promotedAt - deadlineAt) / 1000 : null,
    first_batch_s_after_deadline: r.firstBatchAtMs ? (r.firstBatchAtMs - deadlineAt) / 1000 : null,
  };
  say(
    `stale deadline: ${left || 'no change'}; ${stale ? 'promoted before any new telemetry arrived' : 'no promotion on stale evidence'}`,
  );
  await endDeployment(b, 'abort');
  return stale ? 1 : 0;
}

async function shadowStart(b: Bench): Promise<number> {
  const history = await b.daemon.client.history(SERVICE, 1);
  return history[0]?.transitions.find((t) => t.to === 'shadowing')?.atMs ?? Date.now();
}
