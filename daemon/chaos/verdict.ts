/**
 * The verdict of a chaos experiment: did the candidate take the faults worse
 * than the reference did? Pure functions of counts (the aggregator's cells
 * over the seconds the faults were on); no time, no I/O.
 *
 * The reference is the baseline arm (the previous version, same size, same
 * faults, same mirrored requests) when one runs: the result is then a
 * resilience *difference*. Without a baseline it is production, which the
 * faults never reach, so the result is the candidate's own degradation.
 *
 * - Errors: the calls only the candidate failed against those only the
 *   reference failed, as the judge's one-sided sign test (judge/evalue.ts):
 *   an e-value that may be looked at every second; `threshold` t declares a
 *   regression when it reaches 10^t, so an equally resilient candidate is
 *   named a regression with probability at most 10^-t.
 * - Latency: growth is the mean latency of an arm over production's on the
 *   same requests. A candidate whose growth exceeds the reference's by
 *   `latencyRatio` (with `minPairs` successful pairs each) is named too. This
 *   part is a fixed rule on means, not a sequential test.
 */
import { addPaired, type CellStats, emptyPaired, type PairedCounts } from '../aggregate/stats.js';
import { logSignMarginE } from '../judge/evalue.js';
import type { MixtureAtom } from '../model/model.js';

/** The counts of the seconds under faults, whole and per endpoint. */
export interface ChaosTally {
  candidate: PairedCounts;
  baseline: PairedCounts;
  byEndpoint: Map<string, { candidate: PairedCounts; baseline: PairedCounts }>;
}

export function emptyTally(): ChaosTally {
  return { candidate: emptyPaired(), baseline: emptyPaired(), byEndpoint: new Map() };
}

/** Adds one second's cells of `service` to the tally (cells of other services are ignored). */
export function addCells(tally: ChaosTally, cells: readonly CellStats[], service: string): void {
  for (const c of cells) {
    if (c.key.service !== service) continue;
    addPaired(tally.candidate, c.candidate);
    addPaired(tally.baseline, c.baseline);
    const e = tally.byEndpoint.get(c.key.endpoint) ?? { candidate: emptyPaired(), baseline: emptyPaired() };
    addPaired(e.candidate, c.candidate);
    addPaired(e.baseline, c.baseline);
    tally.byEndpoint.set(c.key.endpoint, e);
  }
}

/** What one arm did under the faults. */
export interface ArmFigures {
  /** Version name (`production` for production's own arm). */
  version: string;
  pairs: number;
  /** Share of the calls that failed (status ≥ 500, timeout, reset), 0..1. */
  failureRate: number;
  /** Mean latency over production's on the same requests (1: no growth). */
  latencyGrowth: number;
}

export interface ChaosVerdict {
  /** The candidate took the faults worse than the reference. */
  regression: boolean;
  reference: 'baseline' | 'production';
  candidate: ArmFigures;
  referenceArm: ArmFigures;
  /** log10 of the error e-value (the evidence that the candidate fails more). */
  errorScore: number;
  /** The endpoint and signal behind the regression (`/cart/errors`), or null. */
  culprit: string | null;
  /** One sentence a person reads. */
  explanation: string;
}

export interface VerdictOptions {
  candidate: string;
  /** The baseline's version, or null when no baseline arm runs. */
  baseline: string | null;
  /** The faults, as written (for the explanation). */
  faults: string;
  /** Declare an error regression at an e-value of 10^threshold (default 2). */
  threshold?: number;
  /** Growth ratio over the reference's that names a latency regression (default 1.5). */
  latencyRatio?: number;
  /** Successful pairs per arm before latency is judged (default 50). */
  minPairs?: number;
  mixture: readonly MixtureAtom[];
}

function growth(p: PairedCounts): number {
  return p.latPrimarySumUs > 0 ? 1 + p.latDeltaSumUs / p.latPrimarySumUs : 1;
}

const rate = (failed: number, pairs: number) => (pairs > 0 ? failed / pairs : 0);

/** Candidate-only and reference-only failures, and the share of failures the candidate owns under H0. */
function errorCounts(cand: PairedCounts, base: PairedCounts, withBaseline: boolean) {
  if (!withBaseline) return { up: cand.errShadowOnly, down: cand.errPrimaryOnly, p0: 0.5 };
  // Equal exposure gives ½; unequal pairs shift it towards the arm with more calls.
  const p0 = cand.pairs + base.pairs > 0 ? cand.pairs / (cand.pairs + base.pairs) : 0.5;
  return { up: cand.errShadowOnly, down: base.errShadowOnly, p0: Math.max(0.5, p0) };
}

function errorScore(cand: PairedCounts, base: PairedCounts, o: VerdictOptions): number {
  const { up, down, p0 } = errorCounts(cand, base, o.baseline !== null);
  return logSignMarginE(up, down, o.mixture, p0) / Math.LN10;
}

/** The endpoint with the largest excess of the regressing signal. */
function culpritOf(t: ChaosTally, o: VerdictOptions, signal: 'errors' | 'latency'): string | null {
  let best: string | null = null;
  let bestExcess = 0;
  for (const [endpoint, e] of t.byEndpoint) {
    const ref = o.baseline !== null ? e.baseline : null;
    const excess =
      signal === 'errors'
        ? rate(e.candidate.errShadowOnly, e.candidate.pairs) -
          (ref ? rate(ref.errShadowOnly, ref.pairs) : rate(e.candidate.errPrimaryOnly, e.candidate.pairs))
        : growth(e.candidate) - (ref ? growth(ref) : 1);
    if (excess > bestExcess) {
      best = `${endpoint}/${signal}`;
      bestExcess = excess;
    }
  }
  return best;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** The verdict over a tally. Pure. */
export function chaosVerdict(t: ChaosTally, o: VerdictOptions): ChaosVerdict {
  const withBaseline = o.baseline !== null;
  const ref = withBaseline ? t.baseline : null;
  const candidate: ArmFigures = {
    version: o.candidate,
    pairs: t.candidate.pairs,
    failureRate: rate(t.candidate.shadowFailed, t.candidate.pairs),
    latencyGrowth: growth(t.candidate),
  };
  const referenceArm: ArmFigures = ref
    ? {
        version: o.baseline!,
        pairs: ref.pairs,
        failureRate: rate(ref.shadowFailed, ref.pairs),
        latencyGrowth: growth(ref),
      }
    : {
        version: 'production',
        pairs: t.candidate.pairs,
        failureRate: rate(t.candidate.primaryFailed, t.candidate.pairs),
        latencyGrowth: 1,
      };
  const score = errorScore(t.candidate, t.baseline, o);
  const errorsWorse = score >= (o.threshold ?? 2);
  const minPairs = o.minPairs ?? 50;
  const judged = t.candidate.latPairs >= minPairs && (!ref || ref.latPairs >= minPairs);
  const latencyWorse =
    judged && candidate.latencyGrowth > referenceArm.latencyGrowth * (o.latencyRatio ?? 1.5);
  const regression = errorsWorse || latencyWorse;
  const culprit = errorsWorse ? culpritOf(t, o, 'errors') : latencyWorse ? culpritOf(t, o, 'latency') : null;
  const c = candidate;
  const r = referenceArm;
  const figures =
    `under ${o.faults}, ${c.version}'s latency grows ${c.latencyGrowth.toFixed(1)}× where ${r.version}'s grows ` +
    `${r.latencyGrowth.toFixed(1)}×; ${c.version} fails ${pct(c.failureRate)} of requests where ${r.version} fails ${pct(r.failureRate)}`;
  const outcome = regression
    ? `resilience regression${culprit ? ` at ${culprit}` : ''} (error evidence 10^${score.toFixed(1)})`
    : c.pairs === 0
      ? 'no verdict: no mirrored request was paired under the faults'
      : `no resilience regression found (error evidence 10^${score.toFixed(1)})`;
  return {
    regression,
    reference: withBaseline ? 'baseline' : 'production',
    candidate,
    referenceArm,
    errorScore: score,
    culprit,
    explanation: `${outcome}: ${figures}`,
  };
}
