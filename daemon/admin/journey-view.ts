/** A journey's status as the admin API shows it (proto JourneyStatus). */
import type { ArmResult, JourneyStatus } from '../synthetic/runner.js';
import type { JourneyView } from './port.js';

export function journeyView(j: JourneyStatus): JourneyView {
  return {
    name: j.name,
    everyMs: j.everyMs,
    runs: j.runs,
    oneSideFailed: j.oneSideFailed,
    bothFailed: j.bothFailed,
    overruns: j.overruns,
    lastRun: j.last?.run ?? 0,
    lastAtMs: j.last?.at ?? 0,
    lastSteps: (j.last?.steps ?? []).map((s) => ({
      name: s.name,
      primary: armView(s.primary),
      candidate: armView(s.candidate),
    })),
    lastStopped: j.last?.stopped ?? '',
  };
}

function armView(a: ArmResult): ArmResult {
  return { ...a, failures: [...a.failures] };
}
