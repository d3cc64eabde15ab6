/**
 * The judge's stored decisions as the report shows them: the score line and
 * the deciding verdict with its explanation. Explanations are JSON written
 * by the judging loop (controller/judging.ts) over several versions of the
 * daemon, so every field is read defensively: a missing one is shown as
 * missing, never invented.
 */
import type { DecisionRow } from '../store/store.js';
import type { ReportVerdict, ScoreSeries } from './model.js';

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Decisions about the restored version carry `phase: 'validating'`. */
function subjectOf(d: DecisionRow): 'candidate' | 'restored' {
  return obj(d.explanation)['phase'] === 'validating' ? 'restored' : 'candidate';
}

/** Per-second scores a decision carries (`recentScores`: the judge's last seconds), else none. */
function recentScores(d: DecisionRow): Map<number, number> {
  const out = new Map<number, number>();
  const list = obj(d.explanation)['recentScores'];
  if (!Array.isArray(list)) return out;
  for (const p of list) {
    const second = num(obj(p)['second']);
    const score = num(obj(p)['score']);
    if (second !== null && score !== null) out.set(second * 1000, score);
  }
  return out;
}

/**
 * The score line, oldest first (`decisions` in any order). The candidate's
 * line is drawn per second of traffic from the scores decisions carry
 * (stored decisions are sparser: on a change, a rollback, every 10 s), or
 * at each decision when they carry none; the restored version's at each
 * decision. The rollback point is the rollback decision's last second.
 */
export function scoreSeries(decisions: DecisionRow[], threshold: number): ScoreSeries {
  const rows = [...decisions].sort((a, b) => a.at - b.at || a.id - b.id);
  const rollback = rows.find((d) => d.verdict === 'rollback' && subjectOf(d) === 'candidate');
  const points = new Map<
    number,
    { candidate: number | null; restored: number | null; verdict: string; phase: string }
  >();
  let rollbackX: number | null = null;
  for (const d of rows) {
    const phase = str(obj(d.explanation)['phase']) ?? '';
    if (subjectOf(d) === 'restored') {
      points.set(d.at, { candidate: null, restored: d.score, verdict: d.verdict, phase });
      continue;
    }
    const perSecond = recentScores(d);
    if (perSecond.size === 0) perSecond.set(d.at, d.score);
    let last = d.at;
    for (const [x, score] of perSecond) {
      points.set(x, { candidate: score, restored: null, verdict: d.verdict, phase });
      last = x;
    }
    if (d === rollback) rollbackX = Math.max(...perSecond.keys(), last);
  }
  const xs = [...points.keys()].sort((a, b) => a - b);
  const last = rows[rows.length - 1];
  const lastExplanation = obj(obj(last?.explanation)['explanation']);
  return {
    at: xs,
    candidate: xs.map((x) => points.get(x)!.candidate),
    restored: xs.map((x) => points.get(x)!.restored),
    threshold,
    verdicts: xs.map((x) => points.get(x)!.verdict),
    phases: xs.map((x) => points.get(x)!.phase),
    rollbackAt: rollback?.at ?? null,
    rollbackIndex: rollbackX === null ? null : xs.indexOf(rollbackX),
    predictedSecondsToThreshold: num(lastExplanation['predictedSecondsToThreshold']),
  };
}

/** The rollback decision when there is one, else the latest decision; null without decisions. */
export function decidingVerdict(decisions: DecisionRow[]): ReportVerdict | null {
  const rows = [...decisions].sort((a, b) => a.at - b.at || a.id - b.id);
  const d =
    rows.find((r) => r.verdict === 'rollback' && subjectOf(r) === 'candidate') ?? rows[rows.length - 1];
  if (!d) return null;
  const e = obj(d.explanation);
  const inner = obj(e['explanation']);
  const subject = subjectOf(d);
  const culprits = Array.isArray(e['culprits'])
    ? e['culprits'].map((c) => {
        const o = obj(c);
        return `${str(o['endpoint']) ?? '*'} ${str(o['segment']) ?? '*'} ${str(o['signal']) ?? '?'}`;
      })
    : [];
  const signals = Array.isArray(inner['signals'])
    ? inner['signals'].map((s) => {
        const o = obj(s);
        const eValue = num(o['eValue']) ?? 1;
        const counts: Record<string, number> = {};
        for (const [k, v] of Object.entries(obj(o['counts']))) if (num(v) !== null) counts[k] = v as number;
        return {
          name: str(o['name']) ?? '?',
          endpoint: str(o['endpoint']) ?? '*',
          segment: str(o['segment']) ?? '*',
          score: eValue > 0 ? Math.log10(eValue) : 0,
          effectSize: num(o['effectSize']) ?? 0,
          weight: num(o['weight']) ?? 0,
          counts,
        };
      })
    : [];
  const reason =
    subject === 'restored' ? (str(e['explanation']) ?? str(e['reason'])) : (str(e['reason']) ?? null);
  return {
    decisionId: d.id,
    at: d.at,
    verdict: d.verdict,
    subject,
    score: d.score,
    threshold: d.threshold,
    culprits:
      subject === 'restored' && d.verdict === 'rollback' ? [`* * ${str(e['signal']) ?? '?'}`] : culprits,
    reason,
    pairs: num(inner['pairs']),
    signals,
    examples: strings(inner['examples']),
    model: strings(inner['model']),
    modelVersion: d.modelVersion,
  };
}
