/**
 * The chaos calls of the admin API (ChaosStart, ChaosStatus, ChaosStop):
 * requests checked at the edge (every bad fault named with its path, nothing
 * started), experiments turned into the proto's shape.
 */
import type { ChaosExperiment, ChaosRequest } from '../chaos/experiment.js';
import { type ChaosFault, describeFault, parseFault } from '../chaos/fault.js';
import { ChaosRefusal } from '../controller/chaos-runner.js';
import { AdminError } from './port.js';

/** What the admin API needs of the chaos runner. */
export interface ChaosPort {
  start(req: ChaosRequest): ChaosExperiment;
  status(service?: string): ChaosExperiment[];
  stop(service: string): ChaosExperiment;
}

/** Default time the faults stay on. */
export const DEFAULT_CHAOS_DURATION_MS = 60_000;

/** An experiment as the admin API shows it (proto ChaosExperiment, camelCase; 0 and '' for unset). */
export interface ChaosExperimentView {
  service: string;
  version: string;
  baseline: string;
  faults: string[];
  durationMs: number;
  percentage: number;
  onRegression: string;
  phase: string;
  startedAtMs: number;
  faultsOnAtMs: number;
  endedAtMs: number;
  reason: string;
  verdict?: {
    regression: boolean;
    reference: string;
    candidate: { version: string; pairs: number; failureRate: number; latencyGrowth: number };
    referenceArm: { version: string; pairs: number; failureRate: number; latencyGrowth: number };
    errorScore: number;
    culprit: string;
    explanation: string;
  } | null;
}

/** An experiment in the proto's shape (ChaosExperiment). */
export function chaosView(e: ChaosExperiment): ChaosExperimentView {
  const v = e.verdict;
  return {
    service: e.service,
    version: e.version,
    baseline: e.baseline ?? '',
    faults: e.faults.map(describeFault),
    durationMs: e.durationMs,
    percentage: e.percentage ?? 0,
    onRegression: e.onRegression,
    phase: e.phase,
    startedAtMs: e.startedAt,
    faultsOnAtMs: e.faultsOnAt ?? 0,
    endedAtMs: e.endedAt ?? 0,
    reason: e.reason ?? '',
    ...(v ? { verdict: { ...v, culprit: v.culprit ?? '' } } : {}),
  };
}

/** A ChaosStartRequest → the model's request, or every problem with its path. */
export function chaosRequest(req: Record<string, unknown>): ChaosRequest {
  const errors: string[] = [];
  const service = typeof req['service'] === 'string' ? req['service'].trim() : '';
  const version = typeof req['version'] === 'string' ? req['version'].trim() : '';
  if (!service) errors.push('service: required');
  if (!version) errors.push('version: required');
  const faults: ChaosFault[] = [];
  const written = Array.isArray(req['faults']) ? (req['faults'] as unknown[]) : [];
  for (const [i, text] of written.entries()) {
    const r = parseFault(String(text), `faults[${i}]`);
    if ('error' in r) errors.push(r.error);
    else faults.push(r.fault);
  }
  const duration = Number(req['durationMs'] ?? 0);
  const percentage = Number(req['percentage'] ?? 0);
  if (errors.length > 0) throw new AdminError('invalid_argument', errors.join('; '));
  return {
    service,
    version,
    faults,
    durationMs: duration > 0 ? duration : DEFAULT_CHAOS_DURATION_MS,
    ...(percentage !== 0 ? { percentage } : {}),
    onRegression: req['failOnRegression'] === true ? 'fail' : 'report',
  };
}

/** The handlers, by RPC name; a refusal changes nothing and says why. */
export function chaosHandlers(chaos: ChaosPort): Record<string, (req: Record<string, unknown>) => unknown> {
  const refusing = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ChaosRefusal) throw new AdminError('failed_precondition', err.message);
      throw err;
    }
  };
  return {
    ChaosStart: (req) => {
      const r = chaosRequest(req);
      const e = refusing(() => chaos.start(r));
      const faults = e.faults.map(describeFault).join(', ');
      return {
        experiment: chaosView(e),
        message: `chaos on ${e.service} ${e.version}: ${faults} for ${Math.round(e.durationMs / 1000)} s (production untouched)`,
      };
    },
    ChaosStatus: (req) => ({
      experiments: chaos.status((req['service'] as string) || undefined).map(chaosView),
    }),
    ChaosStop: (req) => {
      const service = typeof req['service'] === 'string' ? req['service'].trim() : '';
      if (!service) throw new AdminError('invalid_argument', 'service: required');
      const e = refusing(() => chaos.stop(service));
      return { experiment: chaosView(e), message: `stopping the chaos experiment on ${service}` };
    },
  };
}
