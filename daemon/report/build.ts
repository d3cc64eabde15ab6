/**
 * Builds a {@link DeploymentReport} from the store: the deployment and its
 * transitions, the judge's decisions, the per-second cells and the HDR
 * histograms of the deployment's time span. Read-only; synchronous like the
 * store. What cannot be reported is returned as a refusal with a message for
 * people, never as an empty report.
 */
import type { CellStats } from '../aggregate/stats.js';
import { shareOfTransition } from '../rollout/desired.js';
import { isPhase, isTerminal } from '../rollout/phases.js';
import type { Store } from '../store/store.js';
import { experimentsSection, type HeldExperiments } from './experiments.js';
import { FRESH_DECODER, type HistogramDecoder, latencyCurves } from './latency.js';
import type { DeploymentReport, LatencyGroup, PhaseSpan, ReportConfig, ShareChange } from './model.js';
import { evidenceHeatmap, heatSignal, rateSeries } from './series.js';
import { decidingVerdict, scoreSeries } from './verdict.js';

export type ReportRefusal = 'no_history' | 'unknown_deployment' | 'no_cells';

export type BuildResult =
  | { ok: true; report: DeploymentReport }
  | { ok: false; reason: ReportRefusal; message: string };

/** Read-only part of the store a report needs (an in-memory store works as well as SQLite). */
export type ReportSource = Pick<
  Store,
  | 'getDeployment'
  | 'listDeployments'
  | 'listTransitions'
  | 'listDecisions'
  | 'listCells'
  | 'listHistograms'
  | 'listExperiments'
  | 'listChaosRuns'
>;

/** Where the bulky inputs come from: the store each time (a report file), or a cache (the live page: report/cache.ts). */
export interface BulkReader {
  cells(service: string, fromSecond: number, toSecond: number): CellStats[];
  histograms: HistogramDecoder;
}

function storeReader(store: ReportSource): BulkReader {
  return {
    cells: (service, fromSecond, toSecond) =>
      store.listCells({ service, fromSecond, toSecond }).map((s) => s.cell),
    histograms: FRESH_DECODER,
  };
}

const ISO = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function buildReport(
  store: ReportSource,
  deploymentId: string,
  nowMs: number,
  reader: BulkReader = storeReader(store),
  held: HeldExperiments = {},
): BuildResult {
  const d = store.getDeployment(deploymentId);
  if (!d) {
    const recent = store.listDeployments({ limit: 5 });
    if (recent.length === 0) {
      return {
        ok: false,
        reason: 'no_history',
        message: 'the store holds no deployments yet (a daemon without history): nothing to report',
      };
    }
    return {
      ok: false,
      reason: 'unknown_deployment',
      message: `no deployment '${deploymentId}' in the store; recent ones: ${recent.map((r) => r.id).join(', ')}`,
    };
  }
  const final = isPhase(d.phase) && isTerminal(d.phase);
  const end = final ? d.updatedAt : nowMs;
  const cells = reader.cells(d.service, Math.floor(d.createdAt / 1000), Math.floor(end / 1000) + 1);
  if (!cells.some((c) => c.candidate.pairs > 0 || Object.keys(c.live).length > 0)) {
    return {
      ok: false,
      reason: 'no_cells',
      message: `deployment '${d.id}' has no stored traffic between ${ISO(d.createdAt)} and ${ISO(end)} (no records reached the daemon, or retention removed them): nothing to plot`,
    };
  }
  const transitions = store.listTransitions(d.id);
  const decisions = store.listDecisions({ deploymentId: d.id, limit: 100_000 });
  const threshold = decisions[0]?.threshold ?? null;
  const verdict = decidingVerdict(decisions);
  const notes: string[] = [];
  if (decisions.length === 0) notes.push('no judge decision was stored for this deployment');

  const culpritKeys = new Set(
    (verdict?.subject === 'candidate' ? verdict.culprits : []).map((c) => {
      const [endpoint = '*', segment = '*'] = c.split(' ');
      return `${endpoint}\u0000${segment}`;
    }),
  );
  const latency = latencyGroups(store, reader.histograms, d.service, d.createdAt, end, culpritKeys, notes);
  const plan = (d.phaseData as { plan?: unknown } | null)?.plan;
  const config: ReportConfig = {
    anomalyThreshold: threshold,
    modelVersion: verdict?.modelVersion ?? null,
    plan: plan !== null && typeof plan === 'object' ? (plan as Record<string, unknown>) : null,
  };
  const weight = (d.phaseData as { candidateWeight?: unknown } | null)?.candidateWeight;
  return {
    ok: true,
    report: {
      formatVersion: 1,
      generatedAt: nowMs,
      deployment: {
        id: d.id,
        service: d.service,
        version: d.version,
        previousVersion: d.previousVersion ?? '',
        phase: d.phase,
        final,
        candidateWeight: typeof weight === 'number' ? weight : 0,
        createdAt: d.createdAt,
        updatedAt: d.updatedAt,
      },
      phases: phaseSpans(transitions, d.createdAt),
      shares: shareChanges(transitions),
      score: scoreSeries(decisions, threshold ?? 0),
      rates: rateSeries(cells),
      heatmap: evidenceHeatmap(
        cells,
        culpritKeys,
        heatSignal(verdict?.subject === 'candidate' ? verdict.culprits[0]?.split(' ')[2] : undefined),
      ),
      latency,
      verdict,
      config,
      experiments: experimentsSection(store, d.service, held),
      notes,
    },
  };
}

/** Adaptive shadowing's changes of share, from the history. */
function shareChanges(transitions: { event: string; at: number; detail: unknown }[]): ShareChange[] {
  const out: ShareChange[] = [];
  for (const t of transitions) {
    const reason = (t.detail as { reason?: unknown } | null)?.reason;
    const s = t.event === 'share' && typeof reason === 'string' ? shareOfTransition(reason) : null;
    if (s) out.push({ at: t.at, percentage: s.percentage, reason: s.why });
  }
  return out;
}

/** Each phase from the transition that entered it to the next one. */
function phaseSpans(
  transitions: { from: string; to: string; event: string; at: number; detail: unknown }[],
  createdAt: number,
): PhaseSpan[] {
  const spans: PhaseSpan[] = [];
  for (const t of transitions) {
    if (spans.length > 0 && t.to === t.from) continue;
    const prev = spans[spans.length - 1];
    if (prev) prev.to = t.at;
    const reason = (t.detail as { reason?: unknown } | null)?.reason;
    spans.push({
      phase: t.to,
      from: spans.length === 0 ? Math.min(t.at, createdAt) : t.at,
      to: null,
      event: t.event,
      reason: typeof reason === 'string' ? reason : '',
    });
  }
  return spans;
}

/** Overall, and one group per culprit endpoint (histograms are kept per endpoint, not per segment). */
function latencyGroups(
  store: ReportSource,
  decoder: HistogramDecoder,
  service: string,
  from: number,
  to: number,
  culprits: Set<string>,
  notes: string[],
): LatencyGroup[] {
  const rows = store.listHistograms({
    service,
    fromMinute: Math.floor(from / 60_000) * 60,
    toMinute: Math.floor(to / 60_000) * 60 + 60,
  });
  if (rows.length === 0) {
    notes.push(
      'no latency histograms stored for these minutes (they are written when a minute ends): no distributions',
    );
    return [];
  }
  const groups: LatencyGroup[] = [];
  let bad = 0;
  const overall = latencyCurves(rows, decoder);
  bad += overall.bad;
  groups.push({ title: 'All endpoints', endpoint: '*', arms: overall.curves });
  const endpoints = new Set([...culprits].map((k) => k.split('\u0000')[0]!).filter((e) => e !== '*'));
  for (const endpoint of [...endpoints].sort()) {
    const mine = latencyCurves(
      rows.filter((r) => r.endpoint === endpoint),
      decoder,
    );
    bad += mine.bad;
    if (mine.curves.length > 0)
      groups.push({ title: `Culprit endpoint ${endpoint}`, endpoint, arms: mine.curves });
  }
  if (bad > 0) notes.push(`${bad} stored histogram rows could not be decoded and are left out`);
  return groups;
}
