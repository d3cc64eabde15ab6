/**
 * Adaptive shadowing against a fixed share, on the judge's scenarios: each
 * scenario is generated at the range's max (its `rps` are the copies a fixed
 * share at max sends) and replayed twice through `umbra replay`'s code:
 * once whole (fixed at max), once through a sampler in front of the pipeline
 * that keeps a request's records with probability share/max, the share set
 * after every final second by the adaptive policy (daemon/adaptive/policy.ts)
 * from the judge's verdict, exactly as the daemon would (a share in force
 * applies to requests that start after it was set; the coin is a hash of the
 * request id, independent of its outcome). Mirroring stops at the first
 * rollback: copies are counted up to it.
 *
 * The pool's load and production's health are not modelled here (the
 * scenarios' production is healthy and the pool unmeasured): these runs
 * measure the evidence rules.
 */
import { unlinkSync } from 'node:fs';
import {
  type AdaptiveRange,
  initialShare,
  nextShare,
  type ShareState,
} from '../../daemon/adaptive/policy.js';
import { replayJudge } from '../../daemon/cli/commands/replay.js';
import type { Model } from '../../daemon/model/model.js';
import { replay } from '../../daemon/replay/replay.js';
import { generate, KINDS, type Kind, makeScenario, type Scenario, type ServiceProfile } from './generator.js';
import { type RollbackSeen, rollbackOf, writeScenario } from './replay-run.js';
import { scoreRun } from './scorecard.js';

/** The comparison: adaptive 1..20 % against a fixed 20 %. */
export const ADAPTIVE_RANGE: AdaptiveRange = { min: 1, max: 20 };

/** The onset of the late regressions: well after a healthy start has dropped the share to min. */
const LATE_ONSET_S = 40;

/** One replay of a scenario: its first rollback and the copies sent until then. */
interface ShadowRun {
  rollback: RollbackSeen | null;
  mirrored: number;
}

/** A uniform number in [0, 1) from a request id (FNV-1a): the filter's coin, blind to outcomes. */
function coin(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 4294967296;
}

/**
 * Replays `path` with the share set by the policy after each final second
 * (`range` null: every record, a fixed share at max).
 */
function replayShadowed(
  path: string,
  threshold: number,
  model: Model | undefined,
  range: AdaptiveRange | null,
): ShadowRun {
  const judge = replayJudge(threshold, model);
  /** Share changes on the replay clock (µs), in order: a request gets the share in force when it started. */
  const timeline: { atUs: number; share: number }[] = [
    { atUs: Number.NEGATIVE_INFINITY, share: range?.max ?? 100 },
  ];
  let state: ShareState | null = range ? initialShare(range) : null;
  const decided = new Map<string, boolean>();
  const mirroredStarts: number[] = [];
  let rollback: RollbackSeen | null = null;
  const shareAt = (us: number): number => {
    for (let i = timeline.length - 1; i >= 0; i--) if (timeline[i]!.atUs <= us) return timeline[i]!.share;
    return timeline[0]!.share;
  };
  replay(path, {
    judge(cells, nowUs) {
      const verdicts = judge(cells, nowUs);
      const v = verdicts[0];
      if (range && state && v) {
        const r = nextShare(range, state, {
          second: Math.floor(nowUs / 1e6),
          judge: {
            verdict: v.verdict,
            reason: v.reason ?? null,
            score: v.score,
            threshold: v.threshold,
            predictedSecondsToThreshold: v.predictedSecondsToThreshold ?? null,
          },
          production: { healthy: true },
          pool: {},
        });
        if (r.state.share !== state.share) timeline.push({ atUs: nowUs, share: r.state.share });
        state = r.state;
      }
      return verdicts;
    },
    keepLine(text) {
      if (!range) {
        if (text.includes('"arm":"primary"'))
          mirroredStarts.push((JSON.parse(text) as { start_us: number }).start_us);
        return true;
      }
      const r = JSON.parse(text) as { request_id: string; arm: string; start_us: number };
      let keep = decided.get(r.request_id);
      if (keep === undefined) {
        keep = coin(r.request_id) < shareAt(r.start_us) / range.max;
        decided.set(r.request_id, keep);
      }
      if (keep && r.arm === 'primary') mirroredStarts.push(r.start_us);
      return keep;
    },
    emit(line) {
      rollback ??= rollbackOf(line);
    },
  });
  const stopUs = rollback === null ? Number.POSITIVE_INFINITY : (rollback as RollbackSeen).atS * 1e6;
  return { rollback, mirrored: mirroredStarts.filter((s) => s <= stopUs).length };
}

export interface AdaptiveOptions {
  profiles: ServiceProfile[];
  models: (Model | undefined)[];
  threshold: number;
  dir: string;
  keepFiles: boolean;
  quick: boolean;
  /** First seed (the suite's running counter). */
  seed: number;
}

/** The `adaptive_*` fields of bench:judge's goals line, and a row per side for the table. */
/**
 * Medians of time to detect are over the regressions both sides detected;
 * `detected` counts each side's detections.
 */
export interface AdaptiveResult {
  adaptive_detect_s_ratio_vs_fixed_max: number | null;
  adaptive_mirrored_ratio_vs_fixed_max: number | null;
  adaptive_aa_false_rollback_rate: number;
  fixed_max: { median_detect_s: number | null; detected: number; runs: number; mirrored: number };
  adaptive: {
    median_detect_s: number | null;
    detected: number;
    runs: number;
    mirrored: number;
    aa_runs: number;
  };
  /** Error and latency regressions that begin at LATE_ONSET_S, when the share has dropped to min (not in the goals). */
  late_onset: {
    onset_s: number;
    runs: number;
    fixed_max: { median_detect_s: number | null; detected: number };
    adaptive: { median_detect_s: number | null; detected: number };
  };
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Regressions of every kind and A/A runs at 100 copies/s at max (500 production requests/s), both ways. */
export function runAdaptive(o: AdaptiveOptions): AdaptiveResult {
  const regressionsPerKind = o.quick ? 2 : 4;
  const aaRuns = o.quick ? 10 : 30;
  let seed = o.seed;
  const fixed = { ttd: [] as number[], detected: 0, runs: 0, mirrored: 0 };
  const adaptive = { ttd: [] as number[], detected: 0, runs: 0, mirrored: 0, aaRuns: 0, aaFalse: 0 };
  const late = { fixed: [] as number[], adaptive: [] as number[], runs: 0 };
  const one = (kind: Kind, onsetS?: number): void => {
    seed++;
    const pi = seed % o.profiles.length;
    const s: Scenario = makeScenario(kind, o.profiles[pi]!, 100, seed);
    if (onsetS !== undefined && s.regression) {
      s.regression.onsetS = onsetS;
      s.durationS = onsetS + 60;
    }
    const path = writeScenario(o.dir, `adaptive-${kind}-${seed}`, generate(s));
    const f = replayShadowed(path, o.threshold, o.models[pi], null);
    const a = replayShadowed(path, o.threshold, o.models[pi], ADAPTIVE_RANGE);
    if (!o.keepFiles) unlinkSync(path);
    const fs = scoreRun(s, kind, f.rollback);
    const as = scoreRun(s, kind, a.rollback);
    if (onsetS !== undefined) {
      // Beside the goals: the cost of a regression that begins once the share is at min.
      late.runs++;
      if (fs.detected) late.fixed.push(fs.secondsToDetect!);
      if (as.detected) late.adaptive.push(as.secondsToDetect!);
      return;
    }
    fixed.runs++;
    adaptive.runs++;
    fixed.mirrored += f.mirrored;
    adaptive.mirrored += a.mirrored;
    if (kind === 'aa') {
      adaptive.aaRuns++;
      if (as.falseAlarm) adaptive.aaFalse++;
      return;
    }
    if (fs.detected) fixed.detected++;
    if (as.detected) adaptive.detected++;
    // Times are compared on the regressions both detected: a miss is counted, never a shorter median.
    if (fs.detected && as.detected) {
      fixed.ttd.push(fs.secondsToDetect!);
      adaptive.ttd.push(as.secondsToDetect!);
    }
  };
  for (const kind of KINDS) {
    if (kind === 'aa') continue;
    for (let i = 0; i < regressionsPerKind; i++) one(kind);
  }
  for (let i = 0; i < aaRuns; i++) one('aa');
  for (let i = 0; i < regressionsPerKind; i++) one('error_step', LATE_ONSET_S);
  for (let i = 0; i < regressionsPerKind; i++) one('latency_median', LATE_ONSET_S);
  const mf = median(fixed.ttd);
  const ma = median(adaptive.ttd);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    adaptive_detect_s_ratio_vs_fixed_max: mf && ma !== null ? round(ma / mf) : null,
    adaptive_mirrored_ratio_vs_fixed_max:
      fixed.mirrored > 0 ? round(adaptive.mirrored / fixed.mirrored) : null,
    adaptive_aa_false_rollback_rate: round(adaptive.aaRuns ? adaptive.aaFalse / adaptive.aaRuns : 0),
    fixed_max: {
      median_detect_s: mf,
      detected: fixed.detected,
      runs: fixed.runs,
      mirrored: fixed.mirrored,
    },
    adaptive: {
      median_detect_s: ma,
      detected: adaptive.detected,
      runs: adaptive.runs,
      mirrored: adaptive.mirrored,
      aa_runs: adaptive.aaRuns,
    },
    late_onset: {
      onset_s: LATE_ONSET_S,
      runs: late.runs,
      fixed_max: { median_detect_s: median(late.fixed), detected: late.fixed.length },
      adaptive: { median_detect_s: median(late.adaptive), detected: late.adaptive.length },
    },
  };
}
