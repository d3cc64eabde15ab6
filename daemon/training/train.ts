/**
 * Training on history: noise floors from healthy runs, mixing distributions
 * tuned to past regressions' effect sizes, and a false-alarm check by
 * replaying the healthy runs through the judge, inflating the floors while
 * the replay shows more alarms than the e-value guarantee allows (bursty,
 * correlated errors break the independence the rate tests assume). Pure.
 */
import type { CellStats } from '../aggregate/stats.js';
import { statusChanges, upperRate } from '../judge/counts.js';
import { clearlyAbove } from '../judge/evalue.js';
import { judgeSeries } from '../judge/series.js';
import type { JudgeParams } from '../judge/types.js';
import { defaultModel, type MixtureAtom, type Model, type NoiseFloor } from '../model/model.js';

/** One run of history: the cells of one deployment (or one file). */
export interface HistoryRun {
  /** A file name or deployment id, for `trainedOn`. */
  source: string;
  cells: CellStats[];
  /** True for a run known to be a regression (rolled back); false/undefined for A/A or a healthy deploy. */
  regression?: boolean;
}

export interface TrainOptions {
  /** The judge parameters the model will be used with (warm-up, shares, threshold). */
  params: JudgeParams;
  /** Version to stamp (the store assigns the real one on save). */
  version: number;
  /** Replay windows: healthy runs are cut into pieces this long, each judged from a fresh state. */
  replayWindowSeconds: number;
  /** Most inflation steps (×1.5 each). */
  maxInflationSteps: number;
}

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'params'> = {
  version: 0,
  replayWindowSeconds: 60,
  maxInflationSteps: 6,
};

interface Sums {
  pairs: number;
  discordant: number;
  primaryFailed: number;
  status: number;
  body: number;
  bodyPairs: number;
}

function emptySums(): Sums {
  return { pairs: 0, discordant: 0, primaryFailed: 0, status: 0, body: 0, bodyPairs: 0 };
}

/**
 * Floors are upper 95 % bounds of history's rates (upperRate): a floor is a
 * null the candidate is held to, so history's uncertainty must go against
 * detection, not for it.
 */
function floorOf(s: Sums): NoiseFloor {
  const n = s.pairs;
  return {
    pairs: n,
    discordantErrorRate: upperRate(s.discordant / 2, n),
    primaryErrorRate: upperRate(s.primaryFailed, n),
    statusMismatchRate: upperRate(s.status, n),
    bodyMismatchRate: upperRate(s.body, s.bodyPairs),
  };
}

/** Cells after the run's warm-up (the judge ignores those seconds too). */
function afterWarmup(cells: CellStats[], warmupSeconds: number): CellStats[] {
  if (cells.length === 0) return [];
  let first = Number.POSITIVE_INFINITY;
  for (const c of cells) first = Math.min(first, c.key.second);
  return cells.filter((c) => c.key.second >= first + warmupSeconds);
}

/**
 * The quiet seconds of a run: after warm-up, and without a burst of
 * discordant errors (both directions) clearly above the run's own rate —
 * the seconds in which the judge's error-rate test runs (it stands aside
 * while the primary arm is noisy), so those are what its floor must
 * describe. Two passes, so a burst does not hide behind its own mean.
 */
export function quietCells(cells: CellStats[], warmupSeconds: number): CellStats[] {
  const warm = afterWarmup(cells, warmupSeconds);
  const perSecond = new Map<number, { k: number; n: number }>();
  for (const c of warm) {
    const x = perSecond.get(c.key.second) ?? { k: 0, n: 0 };
    perSecond.set(c.key.second, x);
    x.k += c.candidate.errShadowOnly + c.candidate.errPrimaryOnly;
    x.n += c.candidate.pairs;
  }
  let loud = new Set<number>();
  for (let pass = 0; pass < 2; pass++) {
    let k = 0;
    let n = 0;
    for (const [sec, x] of perSecond) {
      if (loud.has(sec)) continue;
      k += x.k;
      n += x.n;
    }
    const rate = n > 0 ? k / n : 0;
    const next = new Set<number>();
    for (const [sec, x] of perSecond) if (clearlyAbove(x.k, x.n, rate)) next.add(sec);
    loud = next;
  }
  return warm.filter((c) => !loud.has(c.key.second));
}

/**
 * Index of dispersion (variance / mean) of per-second discordant error counts
 * per endpoint, pooled: 1 for independent errors, larger when they come in bursts.
 */
export function dispersion(runs: HistoryRun[], warmupSeconds: number): number {
  let num = 0;
  let den = 0;
  for (const run of runs) {
    const perEndpoint = new Map<string, Map<number, number>>();
    for (const c of quietCells(run.cells, warmupSeconds)) {
      const m = perEndpoint.get(c.key.endpoint) ?? new Map<number, number>();
      perEndpoint.set(c.key.endpoint, m);
      m.set(
        c.key.second,
        (m.get(c.key.second) ?? 0) + c.candidate.errShadowOnly + c.candidate.errPrimaryOnly,
      );
    }
    for (const m of perEndpoint.values()) {
      const xs = [...m.values()];
      if (xs.length < 5) continue;
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      if (!(mean > 0)) continue;
      const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
      num += v * xs.length;
      den += mean * xs.length;
    }
  }
  return den > 0 ? Math.max(1, num / den) : 1;
}

/** Per-endpoint and pooled floors from healthy runs. */
export function learnFloors(
  runs: HistoryRun[],
  warmupSeconds: number,
): { floors: Record<string, NoiseFloor>; pooled: NoiseFloor; pairs: number } {
  const per = new Map<string, Sums>();
  const all = emptySums();
  for (const run of runs) {
    for (const c of quietCells(run.cells, warmupSeconds)) {
      const s = per.get(c.key.endpoint) ?? emptySums();
      per.set(c.key.endpoint, s);
      for (const t of [s, all]) {
        // Both directions of A/A discordance measure the same per-arm rate; the baseline arm, when present, too.
        for (const p of [c.candidate, c.baseline]) {
          t.pairs += p.pairs;
          t.discordant += p.errShadowOnly + p.errPrimaryOnly;
          t.primaryFailed += p.primaryFailed;
          t.status += statusChanges(p);
          t.body += p.bodyMismatch;
          t.bodyPairs += p.pairs - p.statusMismatch;
        }
      }
    }
  }
  const floors: Record<string, NoiseFloor> = {};
  for (const [endpoint, s] of per) if (s.pairs > 0) floors[endpoint] = floorOf(s);
  return { floors, pooled: floorOf(all), pairs: all.pairs };
}

/** Nearest atom index of a grid. */
function nearest(grid: number[], x: number): number {
  let best = 0;
  for (let i = 1; i < grid.length; i++) if (Math.abs(grid[i]! - x) < Math.abs(grid[best]! - x)) best = i;
  return best;
}

/**
 * Reweights a mixture towards observed effects: half the mass stays uniform
 * over the grid (so unexpected effects are still found), half is spread over
 * the atoms nearest to the effects seen in past regressions.
 */
export function tuneMixture(grid: number[], effects: number[]): MixtureAtom[] {
  const w = grid.map(() => 0.5 / grid.length);
  if (effects.length === 0) return grid.map((x) => ({ x, w: 1 / grid.length }));
  for (const e of effects) w[nearest(grid, e)]! += 0.5 / effects.length;
  return grid.map((x, i) => ({ x, w: w[i]! }));
}

/** Observed effects of regression runs: sign-test proportions and rate odds multipliers. */
export function regressionEffects(
  runs: HistoryRun[],
  floors: Record<string, NoiseFloor>,
  pooled: NoiseFloor,
  warmupSeconds: number,
): { sign: number[]; rate: number[] } {
  const sign: number[] = [];
  const rate: number[] = [];
  for (const run of runs) {
    const per = new Map<string, { up: number[]; down: number[]; k: number; n: number; floor: number }>();
    for (const c of afterWarmup(run.cells, warmupSeconds)) {
      const e = per.get(c.key.endpoint) ?? { up: [0, 0], down: [0, 0], k: 0, n: 0, floor: 0 };
      per.set(c.key.endpoint, e);
      const p = c.candidate;
      e.up[0]! += p.latShadowSlower;
      e.down[0]! += p.latPrimarySlower;
      e.up[1]! += p.errShadowOnly + p.tailShadowOnly;
      e.down[1]! += p.errPrimaryOnly + p.tailPrimaryOnly;
      e.k += p.errShadowOnly;
      e.n += p.pairs;
      e.floor = (floors[c.key.endpoint] ?? pooled).discordantErrorRate;
    }
    for (const e of per.values()) {
      for (let i = 0; i < 2; i++) {
        const d = e.up[i]! + e.down[i]!;
        if (d >= 20 && e.up[i]! / d > 0.55) sign.push(e.up[i]! / d);
      }
      if (e.n >= 100) {
        const r = e.k / e.n;
        if (r > 1.5 * e.floor && e.floor > 0 && r < 1) {
          rate.push(r / (1 - r) / (e.floor / (1 - e.floor)));
        }
      }
    }
  }
  return { sign, rate };
}

/** Cuts runs into windows and judges each from a fresh state; returns each window's max score. */
export function replayMaxScores(
  runs: HistoryRun[],
  model: Model,
  params: JudgeParams,
  windowSeconds: number,
): number[] {
  const out: number[] = [];
  for (const run of runs) {
    const bySecond = new Map<number, CellStats[]>();
    for (const c of run.cells) {
      const l = bySecond.get(c.key.second);
      if (l) l.push(c);
      else bySecond.set(c.key.second, [c]);
    }
    const seconds = [...bySecond.keys()].sort((a, b) => a - b);
    for (let i = 0; i < seconds.length; i += windowSeconds) {
      const window = seconds.slice(i, i + windowSeconds);
      if (window.length < windowSeconds / 2) continue;
      const cells = window.flatMap((s) => bySecond.get(s)!);
      let max = 0;
      for (const v of judgeSeries(cells, model, params, false)) {
        if (v.verdict.verdict !== 'insufficient') max = Math.max(max, v.verdict.score);
      }
      out.push(max);
    }
  }
  return out;
}

/**
 * Is the replayed false-alarm record compatible with Ville's bound? For
 * levels s = 1 and the threshold, the share of windows whose score ever
 * reached s must not exceed 10^-s by more than sampling error (2 standard
 * errors, plus one window).
 */
export function withinGuarantee(maxScores: number[], threshold: number): boolean {
  const n = maxScores.length;
  if (n === 0) return true;
  for (const s of [1, threshold]) {
    const a = 10 ** -s;
    const seen = maxScores.filter((m) => m >= s).length;
    if (seen > n * a + 2 * Math.sqrt(n * a * (1 - a)) + 1) return false;
  }
  return true;
}

/**
 * Trains a model: floors (with a pooled default), dispersion-based initial
 * inflation, mixtures tuned to regressions, then A/A replay that inflates
 * the floors until the record is within the guarantee (or the steps run out,
 * which `trainedOn.falseAlarms` shows).
 */
export function trainModel(runs: HistoryRun[], opts: TrainOptions): Model {
  const base = defaultModel();
  const healthy = runs.filter((r) => !r.regression);
  const regressions = runs.filter((r) => r.regression);
  const warm = opts.params.warmupSeconds;
  const { floors, pooled, pairs } = learnFloors(healthy, warm);
  const endpoints = Math.max(1, Object.keys(floors).length);
  const disp = dispersion(healthy, warm);
  const effects = regressionEffects(regressions, floors, pooled, warm);
  const signGrid = base.params.signMixture.map((a) => a.x);
  const rateGrid = base.params.rateMixture.map((a) => a.x);
  const model: Model = {
    version: opts.version,
    params: {
      floors,
      // Unknown endpoints: the pooled error and status floors, but bodies are not compared.
      defaultFloor: pairs > 0 ? { ...pooled, pairs: 0, bodyMismatchRate: 1 } : base.params.defaultFloor,
      floorInflation: Math.min(4, Math.sqrt(disp)),
      priorStrength: Math.round(Math.min(5000, Math.max(200, pairs / endpoints / 4))),
      signMixture: tuneMixture(signGrid, effects.sign),
      rateMixture: tuneMixture(rateGrid, effects.rate),
    },
    trainedOn: {
      healthyRuns: healthy.length,
      healthyPairs: pairs,
      regressionRuns: regressions.length,
      sources: runs.map((r) => r.source),
      falseAlarms: { runs: 0, rollbacks: 0, threshold: opts.params.anomalyThreshold, maxScores: [] },
      dispersion: disp,
    },
  };
  let scores = replayMaxScores(healthy, model, opts.params, opts.replayWindowSeconds);
  for (
    let step = 0;
    step < opts.maxInflationSteps && !withinGuarantee(scores, opts.params.anomalyThreshold);
    step++
  ) {
    model.params.floorInflation *= 1.5;
    scores = replayMaxScores(healthy, model, opts.params, opts.replayWindowSeconds);
  }
  model.trainedOn!.falseAlarms = {
    runs: scores.length,
    rollbacks: scores.filter((s) => s >= opts.params.anomalyThreshold).length,
    threshold: opts.params.anomalyThreshold,
    maxScores: scores.map((s) => Math.round(s * 1000) / 1000),
  };
  return model;
}
