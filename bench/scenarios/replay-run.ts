/**
 * Runs a scenario as a user would: its records written as JSON lines and
 * replayed by `umbra replay`'s own code (daemon/replay, with a default
 * daemon's timing and the judge `umbra replay` uses), with or without a
 * model trained by `umbra replay --history`'s code on history files.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayJudge } from '../../daemon/cli/commands/replay.js';
import type { Culprit, JudgeParams } from '../../daemon/judge/types.js';
import type { Model } from '../../daemon/model/model.js';
import { replay } from '../../daemon/replay/replay.js';
import { modelFromHistoryFiles } from '../../daemon/training/sources.js';
import { type ScenarioRecord, toJsonLines } from './generator.js';

/** The first rollback verdict: when it was emitted (s from the first record) and which second it judged. */
export interface RollbackSeen {
  atS: number;
  second: number;
  culprits: Culprit[];
}

const dir = join(tmpdir(), `umbra-bench-judge-${process.pid}`);

/** Where scenario files go (--write DIR keeps them; otherwise a temporary directory removed at exit). */
export function scenarioDir(keep?: string): string {
  const d = keep ?? dir;
  mkdirSync(d, { recursive: true });
  if (!keep) process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return d;
}

export function writeScenario(
  d: string,
  name: string,
  records: ScenarioRecord[],
  emptyHashes = false,
): string {
  const path = join(d, `${name}.jsonl`);
  writeFileSync(path, `${toJsonLines(records, emptyHashes)}\n`);
  return path;
}

/** The rollback a line of replay's timeline announces, or null. */
export function rollbackOf(line: Record<string, unknown>): RollbackSeen | null {
  if (line['type'] !== 'verdict' || line['verdict'] !== 'rollback') return null;
  return {
    atS: (line['t_us'] as number) / 1e6,
    second: line['second'] as number,
    culprits: line['culprits'] as Culprit[],
  };
}

/** `umbra replay FILE` (with `--threshold`); the first rollback, or null. */
export function replayForRollback(path: string, threshold: number, model?: Model): RollbackSeen | null {
  let first: RollbackSeen | null = null;
  replay(path, {
    judge: replayJudge(threshold, model),
    emit(line) {
      first ??= rollbackOf(line);
    },
  });
  return first;
}

/** `umbra replay --history H… FILE`'s model: trained on the history files (regressions labelled as such). */
export function trainOnFiles(healthy: string[], regressions: string[], params: JudgeParams): Model {
  return modelFromHistoryFiles(healthy, params, regressions);
}
