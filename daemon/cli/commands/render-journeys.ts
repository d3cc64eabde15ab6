/** `umbra status`: a service's journeys, their counts and their last run step by step. */
import type { JourneyArmView, ServiceStatusView } from '../../admin/port.js';
import { isoTime, table } from './output.js';

export function renderJourneys(s: ServiceStatusView): string[] {
  if (s.journeys.length === 0) return [];
  const out = [`\n${s.name} journeys:`];
  const rows = [['  JOURNEY', 'EVERY', 'RUNS', 'ONE SIDE FAILED', 'BOTH FAILED', 'OVERRUNS', 'LAST RUN']];
  for (const j of s.journeys) {
    rows.push([
      `  ${j.name}`,
      `${j.everyMs / 1000}s`,
      String(j.runs),
      String(j.oneSideFailed),
      String(j.bothFailed),
      String(j.overruns),
      j.lastRun ? `#${j.lastRun} ${isoTime(j.lastAtMs)}` : '-',
    ]);
  }
  out.push(table(rows));
  for (const j of s.journeys) {
    if (j.lastSteps.length === 0) continue;
    const steps = [['  STEP', 'PRIMARY', 'CANDIDATE']];
    for (const st of j.lastSteps) steps.push([`  ${j.name}/${st.name}`, arm(st.primary), arm(st.candidate)]);
    out.push(table(steps));
    if (j.lastStopped) out.push(`  ${j.name}: last run stopped early: ${j.lastStopped}`);
  }
  return out;
}

/** `v1 200 12.5ms` or `v2 599 8.1ms: $.total is 0, expected 42`. */
function arm(a: JourneyArmView): string {
  const head = `${a.version} ${a.status || 'no response'} ${a.latencyMs}ms`;
  return a.failures.length ? `${head}: ${a.failures.join('; ')}` : head;
}
