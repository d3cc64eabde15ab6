/**
 * The experiments section of a report: the service's A/B tests and chaos
 * experiments, newest first. A/B tests come from the store, where every one
 * is kept (their answer over time included); the daemon's live page adds
 * what its desk holds now (fresher than the last save, or not saved at all
 * without a store). Chaos experiments likewise: the runs the store keeps
 * (`chaos_runs`), and in the live page what the chaos runner holds now.
 * Pure; reads the store, never writes.
 */
import type { ChaosExperiment } from '../chaos/experiment.js';
import { describeFault } from '../chaos/fault.js';
import { type ExperimentSpec, outcomeText } from '../experiment/spec.js';
import type { ExperimentRow, Store } from '../store/store.js';
import type { ReportAbTest, ReportChaos, ReportExperiments } from './model.js';

/** What the daemon holds now, beyond the store (the live page); absent in a report file. */
export interface HeldExperiments {
  /** The A/B tests its desk holds, in the store's shape. */
  ab?: (service: string) => ExperimentRow[];
  /** The chaos experiments its chaos runner holds. */
  chaos?: (service: string) => ChaosExperiment[];
}

/** Experiments of each kind shown at most. */
const MAX = 10;

export function experimentsSection(
  store: Pick<Store, 'listExperiments' | 'listChaosRuns'>,
  service: string,
  held: HeldExperiments,
): ReportExperiments {
  const byId = new Map<string, ExperimentRow>();
  for (const r of store.listExperiments({ service, limit: MAX })) byId.set(r.id, r);
  for (const r of held.ab?.(service) ?? []) byId.set(r.id, r);
  const ab = [...byId.values()]
    .sort((x, y) => y.startedAt - x.startedAt)
    .slice(0, MAX)
    .map(abTest);
  // A run's id is its service and start: the runner's copy replaces the stored one.
  const runs = new Map<number, ChaosExperiment>();
  for (const r of store.listChaosRuns({ service, limit: MAX })) {
    const exp = (r.data as { exp?: ChaosExperiment } | null)?.exp;
    if (isChaosExperiment(exp)) runs.set(exp.startedAt, exp);
  }
  for (const e of held.chaos?.(service) ?? []) runs.set(e.startedAt, e);
  const chaos = [...runs.values()]
    .sort((x, y) => y.startedAt - x.startedAt)
    .slice(0, MAX)
    .map(chaosRun);
  return { ab, chaos };
}

interface StoredAnswer {
  decision?: string;
  winner?: string | null;
  effect?: number;
  ci?: [number, number];
  means?: { A: number; B: number };
  users?: { A: number; B: number };
  dropped?: Record<string, number>;
}

interface StoredPoint {
  at: number;
  effect: number;
  lo: number;
  hi: number;
  users: { A: number; B: number };
}

function abTest(r: ExperimentRow): ReportAbTest {
  const spec = r.spec as ExperimentSpec;
  const latest = r.latest as { answer?: StoredAnswer; guard?: { score?: number } } | null;
  const a = latest?.answer;
  const points = (Array.isArray(r.series) ? r.series : []) as StoredPoint[];
  const test: ReportAbTest = {
    id: r.id,
    stable: r.stable,
    version: r.version,
    split: spec.split,
    outcome: spec.outcome ? outcomeText(spec.outcome) : '',
    alpha: spec.alpha,
    minEffect: spec.minEffect ?? 0,
    phase: r.phase,
    startedAt: r.startedAt,
    stoppedAt: r.stoppedAt,
    stopReason: r.stopReason,
    harmful: r.harmful,
    decision: a?.decision ?? r.decision,
    winner: a?.winner ?? null,
    decidedAt: r.decidedAt,
    why: '',
    effect: a?.effect ?? null,
    ci: a?.ci ?? null,
    means: a?.means ?? null,
    users: a?.users ?? { A: 0, B: 0 },
    dropped: a?.dropped ?? {},
    guardScore: latest?.guard?.score ?? null,
    series: {
      at: points.map((p) => p.at),
      effect: points.map((p) => p.effect),
      lo: points.map((p) => p.lo),
      hi: points.map((p) => p.hi),
      usersA: points.map((p) => p.users.A),
      usersB: points.map((p) => p.users.B),
    },
    transitions: (Array.isArray(r.transitions) ? r.transitions : []) as ReportAbTest['transitions'],
  };
  test.why = why(test);
  return test;
}

const num = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3));

/** The decision in one sentence, with the interval it rests on. */
export function why(
  t: Pick<
    ReportAbTest,
    'decision' | 'ci' | 'alpha' | 'minEffect' | 'stable' | 'version' | 'harmful' | 'stopReason'
  >,
): string {
  const level = `${+(100 * (1 - t.alpha)).toFixed(2)} %`;
  const ci = t.ci
    ? `the ${level} anytime-valid interval for B − A, [${num(t.ci[0])}, ${num(t.ci[1])}],`
    : null;
  const guard = t.harmful ? ` Stopped by its guard: ${t.stopReason ?? ''}.` : '';
  switch (t.decision) {
    case 'b_better':
      return `B (${t.version}) is better: ${ci} lies above 0.${guard}`;
    case 'a_better':
      return `A (${t.stable}) is better: ${ci} lies below 0.${guard}`;
    case 'no_effect':
      return `No difference as large as ±${num(t.minEffect)}: ${ci} lies inside (−${num(t.minEffect)}, +${num(t.minEffect)}).${guard}`;
    default:
      return `${ci ? `Undecided: ${ci} contains 0` : 'Undecided: no users counted yet'}${t.minEffect > 0 ? ` and reaches beyond ±${num(t.minEffect)}` : ''}.${guard}`;
  }
}

function isChaosExperiment(e: unknown): e is ChaosExperiment {
  const x = e as Partial<ChaosExperiment> | null | undefined;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.version === 'string' &&
    typeof x.phase === 'string' &&
    typeof x.startedAt === 'number' &&
    Array.isArray(x.faults)
  );
}

function chaosRun(e: ChaosExperiment): ReportChaos {
  const v = e.verdict;
  return {
    version: e.version,
    baseline: e.baseline,
    faults: e.faults.map(describeFault),
    phase: e.phase,
    startedAt: e.startedAt,
    endedAt: e.endedAt ?? null,
    reason: e.reason ?? null,
    verdict: v
      ? {
          regression: v.regression,
          reference: v.reference,
          arms: [
            { role: 'candidate', ...v.candidate },
            { role: 'reference', ...v.referenceArm },
          ],
          errorScore: v.errorScore,
          culprit: v.culprit,
          explanation: v.explanation,
        }
      : null,
  };
}
