import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig } from '../../config/load.js';
import type { UmbraConfig } from '../../config/schema.js';
import { DEFAULT_JUDGE_PARAMS } from '../../judge/types.js';
import { serializeModel } from '../../model/model.js';
import { openStore } from '../../store/sqlite.js';
import type { Store } from '../../store/store.js';
import { historyFromFiles, historyFromStore } from '../../training/sources.js';
import { DEFAULT_TRAIN_OPTIONS, type HistoryRun, trainModel } from '../../training/train.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { openConfiguredSharedStore } from './daemon-store.js';

export const modelTrainCommand: Command = {
  path: ['model', 'train'],
  summary: "Train the judge's model (noise floors, mixtures, false-alarm check) on history",
  usage: [
    'Usage: umbra model train [--from FILE]... [--regression FILE]... [-c umbra.yaml | --store DB]',
    '                         [--service NAME] [--threshold T] [--out FILE] [--no-save] [-o json]',
    '',
    'Learns per-endpoint noise floors from A/A runs and healthy deploys, tunes the',
    "tests' mixing distributions to past regressions, and replays the healthy runs",
    'to check the false-alarm rate (inflating the floors when bursts break the',
    'assumptions). The model is saved as a new version in the store, which the',
    'daemon picks up within a minute.',
    '',
    'History: the store (finished deployments: completed = healthy, rolled back =',
    'regression), or files in the replay formats (a recording or JSON lines) with',
    '--from (healthy) and --regression (known regressions). With files and no',
    'store given, nothing is saved unless --store or -c is set.',
    '',
    'Flags:',
    '  --from FILE         healthy history (A/A or a good deploy); repeatable',
    '  --regression FILE   a recorded regression; repeatable',
    '  -c, --config FILE   umbra.yaml (for the store path)',
    '  --store DB          the SQLite store',
    '  --service NAME      only this service (store history)',
    '  --threshold T       anomaly threshold used by the false-alarm check (default 2)',
    '  --out FILE          also write the model as JSON',
    '  --no-save           do not store the model',
    '  -o json             print the model as JSON instead of a summary',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      from: { type: 'string', multiple: true },
      regression: { type: 'string', multiple: true },
      config: { type: 'string', short: 'c' },
      store: { type: 'string' },
      service: { type: 'string' },
      threshold: { type: 'string' },
      out: { type: 'string' },
      'no-save': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const from = (flags['from'] as string[] | undefined) ?? [];
    const regressions = (flags['regression'] as string[] | undefined) ?? [];
    for (const f of [...from, ...regressions]) if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
    const threshold = flags['threshold'] === undefined ? 2 : Number(flags['threshold']);
    if (!(threshold >= 1 && threshold <= 12)) {
      throw new UsageError(`--threshold must be a number from 1 to 12 (got ${String(flags['threshold'])})`);
    }
    let storePath = flags['store'] as string | undefined;
    let shared: UmbraConfig | undefined;
    if (!storePath && flags['config']) {
      const loaded = loadConfig(flags['config'] as string);
      if (!loaded.ok) throw new UsageError(loaded.errors.join('\n'));
      if (loaded.config.daemon.store.postgres) shared = loaded.config;
      else storePath = loaded.config.daemon.store.path;
    }
    if (from.length === 0 && regressions.length === 0 && !storePath && !shared) {
      throw new UsageError('no history: give --from FILE, --store DB or -c umbra.yaml');
    }
    if (storePath && storePath !== ':memory:')
      mkdirSync(dirname(storePath), { recursive: true, mode: 0o700 });
    let store: Store | undefined;
    try {
      // A shared store (docs/ha.md) when the configuration names one, else SQLite.
      store = shared ? openConfiguredSharedStore(shared) : storePath ? openStore(storePath) : undefined;
    } catch (err) {
      console.error(`umbra model train: ${(err as Error).message}`);
      return 1;
    }
    try {
      const runs: HistoryRun[] = [];
      let badLines = 0;
      if (from.length + regressions.length > 0) {
        const r = historyFromFiles(from, regressions);
        runs.push(...r.runs);
        badLines = r.badLines;
      } else if (store) {
        const service = flags['service'] as string | undefined;
        runs.push(...historyFromStore(store, service ? { service } : {}));
      }
      if (runs.length === 0) throw new UsageError('the history holds no paired requests to learn from');
      const params = { ...DEFAULT_JUDGE_PARAMS, anomalyThreshold: threshold };
      const previous = store?.latestModel()?.version ?? 0;
      let model = trainModel(runs, { ...DEFAULT_TRAIN_OPTIONS, params, version: previous + 1 });
      if (store && !flags['no-save']) {
        const row = store.saveModel({
          createdAt: Date.now(),
          params: model.params,
          trainedOn: model.trainedOn,
        });
        model = { ...model, version: row.version };
      }
      if (flags['out']) writeFileSync(flags['out'] as string, `${serializeModel(model)}\n`);
      if (flags['output'] === 'json') {
        console.log(serializeModel(model));
        return 0;
      }
      const t = model.trainedOn!;
      console.log(
        [
          `model v${model.version}${store && !flags['no-save'] ? ' saved' : ''}`,
          `  history: ${t.healthyRuns} healthy runs (${t.healthyPairs} pairs), ${t.regressionRuns} regressions${badLines ? `, ${badLines} bad lines skipped` : ''}`,
          `  endpoints with floors: ${Object.keys(model.params.floors).length}`,
          `  dispersion of discordant errors: ${t.dispersion.toFixed(2)} → floor inflation ×${model.params.floorInflation.toFixed(2)}`,
          `  A/A replay at t=${t.falseAlarms.threshold}: ${t.falseAlarms.rollbacks} rollbacks in ${t.falseAlarms.runs} windows`,
        ].join('\n'),
      );
      return 0;
    } finally {
      store?.close();
    }
  },
};
