import { existsSync } from 'node:fs';
import { DEFAULT_JUDGE_PARAMS } from '../../judge/index.js';
import type { Model } from '../../model/model.js';
import { judgeHook } from '../../replay/judge-hook.js';
import { type ReplayJudge, replay } from '../../replay/replay.js';
import { modelFromHistoryFiles } from '../../training/sources.js';
import { intFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';

/** The judge used by `umbra replay` (built-in parameters, the default or a given model, optional threshold). */
export function replayJudge(anomalyThreshold?: number, model?: Model): ReplayJudge {
  return judgeHook({
    ...(anomalyThreshold !== undefined ? { params: { anomalyThreshold } } : {}),
    ...(model ? { model } : {}),
  });
}

export const replayCommand: Command = {
  path: ['replay'],
  summary: 'Replay recorded telemetry (or JSON lines) in virtual time and print the timeline',
  usage: [
    'Usage: umbra replay [--history FILE]... FILE [--threshold T] [--pairs-only] [--ttl SECONDS] [--max-in-flight N]',
    '',
    'FILE is a recording written by `umbra daemon --record FILE`, or JSON lines,',
    'one record per line (docs/replay-format.md). Records go through the same',
    'ingest → pairing → aggregation path as in the daemon, in virtual time, as fast',
    'as the CPU allows. Prints JSON lines: `pairs` per service and second, `verdict`',
    'per service and second from the judge, `bad_line` for skipped input, and a final',
    '`summary`.',
    '',
    'Flags:',
    '  --threshold T         anomaly threshold t of the judge (P(false rollback) ≤ 10^-t)',
    '  --pairs-only          do not run the judge',
    '  --history FILE        train the judge on this recorded history first (repeatable;',
    '                        A/A or healthy runs), then replay FILE with the trained model',
    "  --ttl SECONDS         pairing TTL (default: the recording daemon's, else a default daemon's: 7)",
    '  --max-in-flight N     pairing capacity (default 262144)',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      ttl: { type: 'string' },
      'max-in-flight': { type: 'string' },
      threshold: { type: 'string' },
      'pairs-only': { type: 'boolean' },
      history: { type: 'string', multiple: true },
    });
    if (positionals.length !== 1) throw new UsageError('expects exactly one FILE');
    const path = positionals[0]!;
    if (!existsSync(path)) throw new UsageError(`${path}: no such file`);
    const ttlS = intFlag(flags['ttl'], 'ttl', 1, 3600);
    const maxInFlight = intFlag(flags['max-in-flight'], 'max-in-flight', 1, 50_000_000);
    const out: string[] = [];
    const flush = (): void => {
      if (out.length === 0) return;
      process.stdout.write(out.join('\n') + '\n');
      out.length = 0;
    };
    let threshold: number | undefined;
    if (flags['threshold'] !== undefined) {
      threshold = Number(flags['threshold']);
      if (!(threshold >= 1 && threshold <= 12)) {
        throw new UsageError(`--threshold must be a number from 1 to 12 (got ${String(flags['threshold'])})`);
      }
    }
    const history = (flags['history'] as string[] | undefined) ?? [];
    for (const h of history) if (!existsSync(h)) throw new UsageError(`--history ${h}: no such file`);
    const model =
      history.length > 0
        ? modelFromHistoryFiles(history, {
            ...DEFAULT_JUDGE_PARAMS,
            ...(threshold ? { anomalyThreshold: threshold } : {}),
          })
        : undefined;
    if (model) {
      out.push(JSON.stringify({ type: 'model', version: model.version, trainedOn: model.trainedOn }));
    }
    const judge = flags['pairs-only'] ? undefined : replayJudge(threshold, model);
    replay(path, {
      pipeline: {
        pairing: {
          ...(ttlS !== undefined ? { ttlUs: ttlS * 1e6 } : {}),
          ...(maxInFlight !== undefined ? { maxInFlight } : {}),
        },
      },
      ...(judge ? { judge } : {}),
      emit(line) {
        out.push(JSON.stringify(line));
        if (out.length >= 512) flush();
      },
    });
    flush();
    return 0;
  },
};
