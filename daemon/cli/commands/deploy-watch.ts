/**
 * `umbra deploy … --watch`: follows one deployment until it ends. On a
 * terminal the view (phase, weight, a bar of the score toward the threshold,
 * time left in the phase) is redrawn in place; elsewhere a plain line is
 * printed whenever something but the clocks changes. The exit code says how
 * it ended.
 */
import type { AdminClient } from '../../admin/client.js';
import type { DeploymentView, ServiceStatusView } from '../../admin/port.js';
import { formatDuration } from '../../config/duration.js';
import { isTerminal, type Phase } from '../../rollout/phases.js';
import { phaseText } from './render.js';

/** Exit codes of a watched deployment. */
export const WATCH_EXIT = { promoted: 0, notPromoted: 3, interrupted: 130 } as const;

const BAR = 30;
/** A plain line at least this often even when nothing changed (so a log shows the watch is alive). */
const PLAIN_EVERY_MS = 30_000;

/** `[██████░░░░]`: the score's share of the threshold (full at or above it, empty at or below 0). */
export function scoreBar(score: number, threshold: number, width = BAR): string {
  const share = threshold > 0 && Number.isFinite(score) ? Math.min(1, Math.max(0, score / threshold)) : 0;
  const full = Math.round(share * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

/** The view of one deployment: lines that change only with the deployment, and the clock parts. */
export function progressLines(
  s: ServiceStatusView,
  d: DeploymentView,
  nowMs: number,
): { lines: string[]; key: string } {
  const head = `${d.service} ${d.version} (replacing ${d.previousVersion || 'nothing'})  ${phaseText(d)}  weight ${d.candidateWeight}%`;
  const judged = s.verdict !== '';
  const verdict = judged
    ? `${s.verdict}${s.verdictReason ? ` (${s.verdictReason})` : ''}${s.culprits.length ? `  culprits ${s.culprits.join(', ')}` : ''}`
    : 'no verdict yet';
  const score = judged
    ? `score ${scoreBar(s.score, s.threshold)} ${s.score.toFixed(2)} / ${s.threshold}`
    : `score ${scoreBar(0, 1)} - / ${s.threshold || '-'}`;
  const eta = s.hasPrediction
    ? `  ~${formatDuration(s.predictedSecondsToThreshold * 1000)} to threshold`
    : '';
  const left = isTerminal(d.phase as Phase)
    ? 'ended'
    : d.deadlineTimer && !d.paused
      ? `${formatDuration(Math.max(0, d.deadlineMs - nowMs))} left in ${d.phase} (${d.deadlineTimer})`
      : d.paused
        ? 'paused'
        : `${d.phase}: waiting on an event`;
  return {
    lines: [head, `${score}${eta}`, `${verdict}`, left],
    key: [head, judged ? s.score.toFixed(1) : '', verdict, d.deadlineTimer].join('\u0000'),
  };
}

export interface WatchOptions {
  /** Redraw in place (a terminal) or print plain lines. */
  tty: boolean;
  intervalMs: number;
  write: (text: string) => void;
  /** Set to stop watching (Ctrl-C). */
  stopped: () => boolean;
}

/** Follows deployment `id` of `service` until its phase is final; returns the exit code. */
export async function watchDeployment(
  client: AdminClient,
  service: string,
  id: string,
  o: WatchOptions,
): Promise<number> {
  let drawn = 0;
  let lastKey = '';
  let lastPlainAt = 0;
  for (;;) {
    const r = await client.status(service);
    const s = r.services[0];
    let d = s?.deployment?.id === id ? s.deployment : null;
    if (!d) d = (await client.history(service, 10)).find((h) => h.deployment.id === id)?.deployment ?? null;
    if (!s || !d) throw new Error(`deployment ${id} of ${service} is no longer known to the daemon`);
    const view = progressLines(s, d, r.nowMs);
    if (o.tty) {
      // NOTE: ESC[nA moves the cursor up n lines, ESC[J clears to the end of the screen (ECMA-48 CUU, ED).
      o.write(`${drawn > 0 ? `\x1b[${drawn}A\x1b[J` : ''}${view.lines.join('\n')}\n`);
      drawn = view.lines.length;
    } else if (view.key !== lastKey || r.nowMs - lastPlainAt >= PLAIN_EVERY_MS) {
      o.write(`${new Date(r.nowMs).toISOString()} ${view.lines.join(' | ')}\n`);
      lastPlainAt = r.nowMs;
    }
    lastKey = view.key;
    if (isTerminal(d.phase as Phase)) {
      const promoted = d.phase === 'completed';
      o.write(
        promoted
          ? `${service} ${d.version} promoted: it serves 100%\n`
          : `${service} ${d.version} ${d.phase}${d.rollbackReason ? `: ${d.rollbackReason}` : ''}; the report: umbra report ${id}\n`,
      );
      return promoted ? WATCH_EXIT.promoted : WATCH_EXIT.notPromoted;
    }
    if (o.stopped()) {
      o.write(`stopped watching; deployment ${id} goes on (umbra status ${service})\n`);
      return WATCH_EXIT.interrupted;
    }
    await new Promise((res) => setTimeout(res, o.intervalMs));
  }
}
