/**
 * Scores one judged scenario and sums scores per kind into the scorecard.
 */
import type { Kind, Scenario } from './generator.js';
import type { RollbackSeen } from './replay-run.js';

export interface RunScore {
  /** A scenario kind, a trap kind or a goal's name. */
  kind: string;
  rps: number;
  /** Rolled back at or after the regression's onset. */
  detected: boolean;
  /** Rolled back a good version (A/A), or before the regression began. */
  falseAlarm: boolean;
  /** Seconds from the onset to the emission of the rollback verdict. */
  secondsToDetect: number | null;
  /** The culprit names the right place (endpoint/segment) and signal family. */
  culpritRight: boolean;
}

const FAMILY: Record<Kind, RegExp> = {
  aa: /^$/,
  error_step: /^(errors|status_mismatch)$/,
  intermittent_errors: /^(errors|status_mismatch)$/,
  latency_median: /^latency_/,
  latency_tail: /^latency_/,
  body_change: /^body_mismatch$/,
  segment_only: /^(errors|status_mismatch|latency_shift|latency_tail)$/,
  slow_leak: /^latency_/,
};

/**
 * `rb`: the first rollback verdict of the run (when it was emitted, which
 * second it judged, its culprits), or null. A rollback on a second that
 * ended before the onset is a false alarm; time to detect runs from the
 * onset to the emission of the verdict.
 */
export function scoreRun(s: Scenario, kind: string, rb: RollbackSeen | null): RunScore {
  const base = { kind, rps: s.rps };
  if (rb === null) {
    return { ...base, detected: false, falseAlarm: false, secondsToDetect: null, culpritRight: false };
  }
  const reg = s.regression;
  if (!reg || rb.second + 1 <= reg.onsetS) {
    return { ...base, detected: false, falseAlarm: true, secondsToDetect: null, culpritRight: false };
  }
  const c = rb.culprits[0];
  let right = c !== undefined && FAMILY[s.kind].test(c.signal);
  if (c && reg.endpoint !== undefined) right &&= c.endpoint === reg.endpoint;
  if (c && reg.segment !== undefined) right &&= c.segment === reg.segment;
  return {
    ...base,
    detected: true,
    falseAlarm: false,
    secondsToDetect: Math.round((rb.atS - reg.onsetS) * 100) / 100,
    culpritRight: right,
  };
}

export interface KindSummary {
  runs: number;
  detected: number;
  detection_rate: number;
  false_alarms: number;
  false_alarm_rate: number;
  median_ttd_s: number | null;
  culprit_rate: number | null;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : Math.round(x * 100) / 100;
}

export function summarise(scores: RunScore[]): KindSummary {
  const detected = scores.filter((x) => x.detected);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    runs: scores.length,
    detected: detected.length,
    detection_rate: round(scores.length ? detected.length / scores.length : 0),
    false_alarms: scores.filter((x) => x.falseAlarm).length,
    false_alarm_rate: round(scores.length ? scores.filter((x) => x.falseAlarm).length / scores.length : 0),
    median_ttd_s: roundOrNull(median(detected.map((x) => x.secondsToDetect!))),
    culprit_rate: detected.length
      ? round(detected.filter((x) => x.culpritRight).length / detected.length)
      : null,
  };
}

export function table(rows: [string, KindSummary][]): string {
  const head = ['kind', 'runs', 'detected', 'false alarms', 'median TTD s', 'culprit named'];
  const lines = rows.map(([name, k]) => [
    name,
    String(k.runs),
    `${(k.detection_rate * 100).toFixed(1)} %`,
    `${k.false_alarms} (${(k.false_alarm_rate * 100).toFixed(1)} %)`,
    k.median_ttd_s === null ? '-' : k.median_ttd_s.toFixed(1),
    k.culprit_rate === null ? '-' : `${(k.culprit_rate * 100).toFixed(0)} %`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}
