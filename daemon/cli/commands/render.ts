/**
 * Text rendering of admin API replies for people. JSON output prints the
 * replies as they are.
 */

import type { DeploymentView, HistoryEntryView, ServiceStatusView } from '../../admin/port.js';
import { formatDuration } from '../../config/duration.js';
import { isTerminal, type Phase } from '../../rollout/phases.js';
import { isoTime, table } from './output.js';
import { renderJourneys } from './render-journeys.js';

/** `shadowing`, `promoting 2/4 (25%)`, `shadowing (paused: …)`. */
export function phaseText(d: DeploymentView): string {
  let s = d.phase;
  if (d.phase === 'promoting') s += ` ${d.step}/${d.steps}`;
  if (d.paused) s += ` (paused: ${d.pausedReason})`;
  return s;
}

function eta(s: ServiceStatusView): string {
  if (!s.hasPrediction) return '-';
  return `~${formatDuration(s.predictedSecondsToThreshold * 1000)}`;
}

function next(d: DeploymentView, nowMs: number): string {
  if (!d.deadlineTimer) return '-';
  return `${d.deadlineTimer} in ${formatDuration(Math.max(0, d.deadlineMs - nowMs))}`;
}

/**
 * The PHASE column: the deployment's phase; `idle` without one. A service
 * whose configuration a proxy refuses is never shown idle or done: its
 * proxies are not running what the daemon asks for.
 */
function phaseColumn(s: ServiceStatusView): string {
  const d = s.deployment;
  const settled = !d || isTerminal(d.phase as Phase);
  if (s.refusals.length > 0 && settled) return `refused by proxy${d ? ` (after ${d.phase})` : ''}`;
  return d ? phaseText(d) : 'idle';
}

/** The status table, then evidence, pools and proxies per service that has any. */
export function renderStatus(services: ServiceStatusView[], nowMs: number): string {
  const rows = [
    ['SERVICE', 'STABLE', 'VERSION', 'PHASE', 'WEIGHT', 'SCORE', 'VERDICT', 'TO THRESHOLD', 'NEXT'],
  ];
  for (const s of services) {
    const d = s.deployment;
    rows.push([
      s.name,
      s.stableVersion,
      d ? d.version : '-',
      phaseColumn(s),
      d ? `${d.candidateWeight}%` : '-',
      s.verdict ? `${s.score.toFixed(2)}/${s.threshold}` : '-',
      s.verdict ? s.verdict + (s.verdictReason ? ` (${s.verdictReason})` : '') : '-',
      eta(s),
      d ? next(d, nowMs) : '-',
    ]);
  }
  const out = [table(rows)];
  for (const s of services) {
    const d = s.deployment;
    if (d?.rollbackReason) {
      const why = d.rollbackDecisionId
        ? ` (decision ${d.rollbackDecisionId}: umbra explain ${d.rollbackDecisionId})`
        : '';
      out.push(`\n${s.name}: rollback: ${d.rollbackReason}${why}`);
    }
    for (const r of s.refusals) {
      out.push(
        `${s.name}: proxy ${r.node} refuses ${r.type} ${r.version} (${r.resources.join(', ')}) since ${isoTime(r.atMs)}: ${r.message}`,
      );
    }
    if (d?.lastError) out.push(`${s.name}: last error: ${d.lastError}`);
    if (s.culprits.length) out.push(`${s.name}: culprits: ${s.culprits.join('; ')}`);
    if (s.missingShadows > 0) {
      const share = ((100 * s.missingShadows) / (s.pairs + s.missingShadows)).toFixed(1);
      out.push(
        `${s.name}: telemetry loss: ${s.missingShadows} shadow records missing (${share} %), not judged`,
      );
    }
    for (const m of s.model) out.push(`${s.name}: model: ${m}`);
    if (s.evidence.length) {
      out.push(`\n${s.name} evidence (${s.pairs} pairs):`);
      const ev = [['  ENDPOINT', 'SEGMENT', 'SIGNAL', 'SCORE', 'EFFECT', 'WEIGHT']];
      for (const e of s.evidence) {
        ev.push([
          `  ${e.endpoint}`,
          e.segment,
          e.signal,
          e.score.toFixed(2),
          e.effectSize.toFixed(3),
          e.weight.toFixed(2),
        ]);
      }
      out.push(table(ev));
    }
    if (s.pools.length) {
      out.push(`\n${s.name} pools:`);
      const pv = [['  VERSION', 'POOL', 'READY', 'CPU%', 'RSS MB', 'ERRORS/MIN']];
      for (const p of s.pools) {
        pv.push([
          `  ${p.version}`,
          p.pool,
          `${p.ready}/${p.desired}`,
          p.cpuPercent.toFixed(1),
          (p.rssBytes / 1048576).toFixed(1),
          String(p.errorLinesPerMinute),
        ]);
      }
      out.push(table(pv));
    }
    if (s.proxies.length) {
      out.push(`\n${s.name} proxies (what each ACKed, against what the daemon wants):`);
      const rows = [['  PROXY', 'STATE', 'ACKED', 'DESIRED']];
      for (const p of s.proxies) {
        const state = !p.connected ? 'disconnected' : p.inSync ? 'in sync' : 'pending';
        rows.push([
          `  ${p.nodeId}`,
          state,
          p.hasAcked ? weightsText(p.ackedWeights) : 'nothing',
          weightsText(p.desiredWeights),
        ]);
      }
      out.push(table(rows));
    }
    out.push(...renderJourneys(s));
  }
  return out.join('\n');
}

/** `v1 75%, v2 25%` in version order; `-` for none. */
function weightsText(w: Record<string, number>): string {
  const parts = Object.entries(w)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([v, pct]) => `${v} ${pct}%`);
  return parts.length ? parts.join(', ') : '-';
}

/** Deployments, newest first, each with its transitions. */
export function renderHistory(entries: HistoryEntryView[]): string {
  if (entries.length === 0) return 'no deployments';
  const out: string[] = [];
  for (const { deployment: d, transitions } of entries) {
    out.push(`${d.id}  ${d.service} ${d.version} (replacing ${d.previousVersion})  ${phaseText(d)}`);
    const rows = transitions.map((t) => [
      `  ${isoTime(t.atMs)}`,
      t.from === t.to ? t.to : `${t.from} → ${t.to}`,
      t.event,
      t.reason,
    ]);
    if (rows.length) out.push(table(rows));
  }
  return out.join('\n');
}
