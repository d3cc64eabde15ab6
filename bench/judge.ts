/**
 * The judge's scenario suite, run as a user runs it: every scenario is
 * written as JSON lines and replayed by `umbra replay`'s own code (a default
 * daemon's timing: seconds close once their pairs resolved), judged by the
 * judge `umbra replay` uses, with the model `umbra replay --history` trains
 * on each service's history files. Time to detect runs from the onset of
 * the regression to the emission of the rollback verdict. Scenarios: A/A
 * runs and every regression kind at several traffic rates, with nuisances;
 * A/A traps (lost records, empty hashes, a 20 s cold start, stale history,
 * a service that always fails 1–3 %) with and without history; regressions
 * that start mid-run and one present from the first second. Prints a table
 * and, last, one JSON line.
 *
 *   npm run bench:judge                       default suite (a few minutes)
 *   npm run bench:judge -- --quick            a smaller suite
 *   npm run bench:judge -- --untrained        judge with the built-in model (no --history)
 *   npm run bench:judge -- --write DIR        keep each scenario's JSON lines in DIR
 *   npm run bench:judge -- --only KIND        one scenario kind (or trap kind, or `adaptive`)
 *   npm run bench:judge -- --seeds 1,2,3      the A/A traps once per seed, as `--only traps --seed N`
 *                                             runs them (default 1,2,3,4,5; with --quick, --seed only)
 */
import { unlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_JUDGE_PARAMS, type JudgeParams } from '../daemon/judge/types.js';
import type { Model } from '../daemon/model/model.js';
import { runAdaptive } from './scenarios/adaptive.js';
import {
  generate,
  KINDS,
  type Kind,
  makeScenario,
  type Scenario,
  type ServiceProfile,
  suiteProfiles,
} from './scenarios/generator.js';
import { replayForRollback, scenarioDir, trainOnFiles, writeScenario } from './scenarios/replay-run.js';
import { type RunScore, scoreRun, summarise, table } from './scenarios/scorecard.js';
import { JOURNEY_EVERY_S, runJourneyScenario } from './scenarios/synthetic.js';
import { makeTrap, TRAP_KINDS, trapHistory } from './scenarios/traps.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    untrained: { type: 'boolean', default: false },
    write: { type: 'string' },
    threshold: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    seeds: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});

const quick = values.quick === true;
const seed0 = Number(values.seed);
/** Seeds the A/A traps run under for `aa_false_rollback_rate_traps_seeds`, each numbered as `--only traps --seed N`. */
const trapSeeds = parseSeeds(values.seeds ?? (quick ? String(seed0) : '1,2,3,4,5'));
const params: JudgeParams = { ...DEFAULT_JUDGE_PARAMS, anomalyThreshold: Number(values.threshold) };
const RATES = [10, 100, 300];
const PROFILES = quick ? 3 : 6;
const RUNS_PER_RATE: Record<Kind, number> = quick
  ? {
      aa: 10,
      error_step: 3,
      intermittent_errors: 2,
      latency_median: 3,
      latency_tail: 2,
      body_change: 2,
      segment_only: 2,
      slow_leak: 1,
    }
  : {
      aa: 45,
      error_step: 6,
      intermittent_errors: 5,
      latency_median: 6,
      latency_tail: 5,
      body_change: 5,
      segment_only: 5,
      slow_leak: 3,
    };
const GOAL_RUNS = quick ? 8 : 25;
/** Runs per trap kind, each judged with the service's trained model and with none. */
const TRAP_RUNS = quick ? 3 : 8;
/** Regressions that start mid-run, at this second (after any warm-up and cold start). */
const ONSET_S = 30;
const dir = scenarioDir(values.write);

/** Replays one scenario as `umbra replay [--history …] FILE` does and scores it. */
function judgeScenario(s: Scenario, model: Model | undefined, kind: string = s.kind): RunScore {
  const name = `${kind}-${s.rps}rps-${s.seed}${model ? '' : '-untrained'}`;
  const path = writeScenario(dir, name, generate(s), s.emptyHashes === true);
  const rb = replayForRollback(path, params.anomalyThreshold, model);
  if (!values.write) unlinkSync(path);
  const score = scoreRun(s, kind, rb);
  if (values.verbose && (score.falseAlarm || (s.regression && !score.culpritRight) || !score.detected)) {
    console.error(
      JSON.stringify({
        kind,
        rps: s.rps,
        seed: s.seed,
        trained: model !== undefined,
        falseAlarm: score.falseAlarm,
        detected: score.detected,
        rollback: rb,
        regression: s.regression,
        cold: s.coldFactor,
      }),
    );
  }
  return score;
}

/**
 * The service's history, as `umbra replay --history` reads it: four A/A
 * runs of five minutes, and two past regressions (a 5xx step and a latency
 * shift, of random sizes) that were rolled back, each a JSON-lines file.
 */
function train(profile: ServiceProfile, seed: number): Model | undefined {
  if (values.untrained) return undefined;
  const healthy: string[] = [];
  const regressions: string[] = [];
  for (let i = 0; i < 4; i++) {
    const s = makeScenario('aa', profile, 100, seed * 1000 + i);
    s.durationS = 300;
    healthy.push(writeScenario(dir, `history-${seed}-aa-${i}`, generate(s)));
  }
  for (const kind of ['error_step', 'latency_median'] as const) {
    const s = makeScenario(kind, profile, 100, seed * 1000 + 77);
    regressions.push(writeScenario(dir, `history-${seed}-${kind}`, generate(s)));
  }
  const model = trainOnFiles(healthy, regressions, params);
  if (!values.write) for (const p of [...healthy, ...regressions]) unlinkSync(p);
  return model;
}

const started = Date.now();
const profiles = suiteProfiles(seed0, PROFILES);
const models = modelsFor(seed0, profiles);
const trainedMs = Date.now() - started;
const wanted = (kind: string): boolean => !values.only || values.only === kind;

const scores: RunScore[] = [];
let seed = seed0 * 1_000_000;
for (const kind of KINDS) {
  if (!wanted(kind)) continue;
  for (const rps of RATES) {
    for (let i = 0; i < RUNS_PER_RATE[kind]; i++) {
      seed++;
      let pi = seed % PROFILES;
      if (kind === 'segment_only') {
        for (let j = 0; j < PROFILES && profiles[pi]!.segments.length < 2; j++) pi = (pi + 1) % PROFILES;
      }
      scores.push(judgeScenario(makeScenario(kind, profiles[pi]!, rps, seed), models[pi]));
    }
  }
}
// The stated goals, exactly: +1 % absolute 5xx, +20 % median on one endpoint, at 100 mirrored requests/s;
// from the first second (as before) and from the middle of a run (onset at ONSET_S), and a latency
// regression present from the first second without a cold start (detection includes the warm-up).
const goalErrors: RunScore[] = [];
const goalLatency: RunScore[] = [];
const onsetErrors: RunScore[] = [];
const onsetLatency: RunScore[] = [];
const firstSecond: RunScore[] = [];
for (let i = 0; i < GOAL_RUNS && wanted('goals'); i++) {
  seed++;
  const pi = seed % PROFILES;
  const e = makeScenario('error_step', profiles[pi]!, 100, seed);
  e.regression!.magnitude = 0.01;
  goalErrors.push(judgeScenario(e, models[pi]));
  const l = makeScenario('latency_median', profiles[pi]!, 100, seed);
  l.regression!.magnitude = 0.2;
  goalLatency.push(judgeScenario(l, models[pi]));
  const eo = makeScenario('error_step', profiles[pi]!, 100, seed);
  eo.regression = { magnitude: 0.01, onsetS: ONSET_S };
  onsetErrors.push(judgeScenario(eo, models[pi], 'errors_1pct_from_onset'));
  const lo = makeScenario('latency_median', profiles[pi]!, 100, seed);
  lo.regression = { ...lo.regression!, magnitude: 0.2, onsetS: ONSET_S };
  onsetLatency.push(judgeScenario(lo, models[pi], 'latency_20pct_from_onset'));
  const f = makeScenario('latency_median', profiles[pi]!, 100, seed);
  f.regression!.magnitude = 0.2;
  f.coldFactor = 0;
  firstSecond.push(judgeScenario(f, models[pi], 'regression_from_first_second'));
}
// A/A traps, each with the service's history (`--history`) and without.
const trapsFrom = seed;
const traps = runTraps(seed0, profiles, models);
// The same traps under other seeds, each numbered as `--only traps --seed N` numbers them
// (the suite's own seed reuses the traps above when nothing ran before them).
const trapsSeeds: RunScore[] = [];
for (const s of TRAP_KINDS.some((k) => wanted(k) || wanted('traps')) ? trapSeeds : []) {
  if (s === seed0 && trapsFrom === seed0 * 1_000_000) {
    trapsSeeds.push(...traps);
    continue;
  }
  seed = s * 1_000_000;
  const ps = suiteProfiles(s, PROFILES);
  trapsSeeds.push(...runTraps(s, ps, s === seed0 ? models : []));
}

/** Each profile's model, trained on its own history (numbered as the profiles are). */
function modelsFor(benchSeed: number, ps: ServiceProfile[]): (Model | undefined)[] {
  return ps.map((p, i) => train(p, benchSeed * 100 + i + 1));
}

/**
 * Every wanted trap kind, TRAP_RUNS runs each (seeds from the running counter), with history and without.
 * Each is judged with a model trained on the trap's history (trapHistory: the profile's own, unless the
 * trap says otherwise), numbered as modelsFor numbers the profile's; `trained` holds those already trained
 * (by profile index), the others are trained when first needed.
 */
function runTraps(benchSeed: number, ps: ServiceProfile[], trained: (Model | undefined)[]): RunScore[] {
  const out: RunScore[] = [];
  const byHistory = new Map<string, Model | undefined>(trained.map((m, i) => [`/${i}`, m]));
  for (const kind of TRAP_KINDS) {
    if (!wanted(kind) && !wanted('traps')) continue;
    for (let i = 0; i < TRAP_RUNS; i++) {
      seed++;
      const pi = seed % PROFILES;
      const t = makeTrap(kind, ps[pi]!, seed);
      const history = trapHistory(kind, ps[pi]!);
      const key = `${history === ps[pi] ? '' : kind}/${pi}`;
      if (!byHistory.has(key)) byHistory.set(key, train(history, benchSeed * 100 + pi + 1));
      const m = byHistory.get(key);
      out.push(judgeScenario(t, m, kind));
      if (m) out.push(judgeScenario(t, undefined, `${kind} (no history)`));
    }
  }
  return out;
}

/** `--seeds 1,2,3`: positive integers, at least one. */
function parseSeeds(text: string): number[] {
  const seeds = text.split(',').map((x) => Number(x.trim()));
  if (seeds.length === 0 || !seeds.every((x) => Number.isInteger(x) && x > 0)) {
    throw new Error(`--seeds: expected positive integers separated by commas, got "${text}"`);
  }
  return [...new Set(seeds)];
}

// A regression on an endpoint real traffic never reaches, covered by a journey every JOURNEY_EVERY_S s (and A/A).
const journeys: RunScore[] = [];
for (let i = 0; i < GOAL_RUNS && wanted('journeys'); i++) {
  const pi = i % PROFILES;
  journeys.push(
    runJourneyScenario(profiles[pi]!, seed0 * 7919 + i, params.anomalyThreshold, models[pi], true),
  );
  journeys.push(
    runJourneyScenario(profiles[pi]!, seed0 * 7919 + i, params.anomalyThreshold, models[pi], false),
  );
}
const journeyOnly = summarise(journeys.filter((x) => x.kind === 'journey_only_regression'));
console.log(
  `journeys (one every ${JOURNEY_EVERY_S} s): ${JSON.stringify({ regression: journeyOnly, aa: summarise(journeys.filter((x) => x.kind === 'journey_aa')) })}`,
);
// Adaptive shadowing (1..20 %) against a fixed 20 %, on seeds of its own (bench/scenarios/adaptive.ts).
const adaptive = wanted('adaptive')
  ? runAdaptive({
      profiles,
      models,
      threshold: params.anomalyThreshold,
      dir,
      keepFiles: values.write !== undefined,
      quick,
      seed: seed0 * 1_000_000 + 900_000,
    })
  : null;

const rows: [string, ReturnType<typeof summarise>][] = KINDS.map((k) => [
  k,
  summarise(scores.filter((x) => x.kind === k)),
]);
const byRate: [string, ReturnType<typeof summarise>][] = RATES.map((r) => [
  `all regressions @${r} rps`,
  summarise(scores.filter((x) => x.rps === r && x.kind !== 'aa')),
]);
const goals: [string, ReturnType<typeof summarise>][] = [
  ['goal: +1% 5xx @100 rps', summarise(goalErrors)],
  ['goal: +20% median @100 rps', summarise(goalLatency)],
  [`+1% 5xx from ${ONSET_S} s`, summarise(onsetErrors)],
  [`+20% median, one endpoint, from ${ONSET_S} s`, summarise(onsetLatency)],
  ['+20% median from the first second', summarise(firstSecond)],
];
const trapKinds = [...new Set(traps.map((x) => x.kind))];
const trapRows: [string, ReturnType<typeof summarise>][] = trapKinds.map((k) => [
  `trap: ${k}`,
  summarise(traps.filter((x) => x.kind === k)),
]);
const loss = summarise(traps.filter((x) => x.kind.startsWith('aa_loss_3pct')));
console.log(
  `judge scenario suite through umbra replay: threshold t=${params.anomalyThreshold}, ${values.untrained ? 'untrained model' : `models trained on history files (${trainedMs} ms)`}`,
);
console.log(
  table([
    ...rows,
    ...byRate,
    ...goals,
    ...trapRows,
    [`A/A traps, seeds ${trapSeeds.join(',')}`, summarise(trapsSeeds)],
  ]),
);
if (adaptive) console.log(`adaptive 1..20 % vs fixed 20 %: ${JSON.stringify(adaptive)}`);
const aa = rows.find(([k]) => k === 'aa')![1];
const result = {
  bench: 'judge',
  threshold: params.anomalyThreshold,
  trained: !values.untrained,
  path: 'umbra replay',
  elapsed_s: Math.round((Date.now() - started) / 100) / 10,
  kinds: Object.fromEntries(rows),
  traps: Object.fromEntries(trapRows.map(([k, v]) => [k.slice('trap: '.length), v])),
  trap_seeds: {
    seeds: trapSeeds,
    ...Object.fromEntries(
      [...new Set(trapsSeeds.map((x) => x.kind))].map((k) => [
        k,
        summarise(trapsSeeds.filter((x) => x.kind === k)),
      ]),
    ),
  },
  goals: {
    aa_false_rollback_rate: aa.false_alarm_rate,
    errors_1pct_100rps_median_s: goals[0]![1].median_ttd_s,
    errors_1pct_100rps_detection_rate: goals[0]![1].detection_rate,
    latency_20pct_100rps_median_s: goals[1]![1].median_ttd_s,
    latency_20pct_100rps_detection_rate: goals[1]![1].detection_rate,
    culprit_rate_one_place: summarise(
      scores.filter(
        (x) => x.kind === 'latency_median' || x.kind === 'body_change' || x.kind === 'segment_only',
      ),
    ).culprit_rate,
    /** Goal 0. */
    aa_false_rollback_rate_traps: summarise(traps).false_alarm_rate,
    /** Goal 0: the A/A traps over every seed of `--seeds`. */
    aa_false_rollback_rate_traps_seeds: summarise(trapsSeeds).false_alarm_rate,
    /** Goal 0. */
    loss_3pct_false_rollback_rate: loss.false_alarm_rate,
    /** Goal ≤ 5. */
    errors_1pct_median_s_from_onset: goals[2]![1].median_ttd_s,
    /** Goal ≤ 10. */
    latency_20pct_one_endpoint_median_s_from_onset: goals[3]![1].median_ttd_s,
    /** Goal ≤ 15, including warm-up. */
    regression_from_first_second_detect_s: goals[4]![1].median_ttd_s,
    /** Goal ≤ 30 with a journey every 5 s: a regression only a journey reaches (bench/scenarios/synthetic.ts). */
    synthetic_only_detect_s: journeyOnly.median_ttd_s,
    /** Goal ≤ 1.25: median time to detect, adaptive 1..20 % ÷ fixed 20 %. */
    adaptive_detect_s_ratio_vs_fixed_max: adaptive?.adaptive_detect_s_ratio_vs_fixed_max ?? null,
    /** Goal ≤ 0.5: copies over whole runs (healthy and regressed), adaptive ÷ fixed 20 %. */
    adaptive_mirrored_ratio_vs_fixed_max: adaptive?.adaptive_mirrored_ratio_vs_fixed_max ?? null,
    /** Goal 0 at t = 2. */
    adaptive_aa_false_rollback_rate: adaptive?.adaptive_aa_false_rollback_rate ?? null,
  },
};
console.log(JSON.stringify(result));
