import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadConfig } from '../../config/load.js';
import type { UmbraConfig } from '../../config/schema.js';
import { buildReport } from '../../report/build.js';
import { renderReportPage } from '../../report/page.js';
import { openStore } from '../../store/sqlite.js';
import type { Store } from '../../store/store.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { openConfiguredSharedStore } from './daemon-store.js';

const DEFAULT_CONFIG = 'umbra.yaml';

/** `umbra report DEPLOYMENT [-o FILE]`. */
export const reportCommand: Command = {
  path: ['report'],
  summary: 'Write a deployment report: one self-contained HTML file with its plots',
  usage: [
    'Usage: umbra report DEPLOYMENT [-o FILE] [-c umbra.yaml | --store DB]',
    '',
    'Writes one HTML file that opens offline (nothing is fetched): the phase',
    'timeline, the anomaly score against the threshold with the predicted time to',
    'it, the evidence per endpoint × segment as a heat map, latency distributions',
    'per arm from the stored HDR histograms (overall and for each culprit',
    'endpoint), failure and status-mismatch rates per arm over time, the verdict',
    'with its explanation and example request ids, the service’s A/B tests (decision,',
    'users per arm, the effect with its interval over time) and chaos runs (faults,',
    'figures per arm, verdict, culprit), and the configuration in force.',
    "Reads the daemon's store (safe while the daemon runs). `umbra history` lists",
    'deployment ids.',
    '',
    'Flags:',
    '  -o, --out FILE      where to write (default report-DEPLOYMENT.html)',
    '  -c, --config FILE   umbra.yaml, for the store path (default ./umbra.yaml)',
    '  --store DB          the SQLite store (instead of -c)',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      out: { type: 'string', short: 'o' },
      config: { type: 'string', short: 'c' },
      store: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('expected one DEPLOYMENT id (see `umbra history`)');
    const id = positionals[0]!;
    if (flags['store'] && flags['config']) throw new UsageError('give either --store or -c, not both');
    const target = storeFrom(flags['store'] as string | undefined, flags['config'] as string | undefined);
    let store: Store;
    if (typeof target === 'string') {
      // A missing store is a daemon that never ran here: opening it would create an empty one.
      if (!existsSync(target)) {
        console.error(
          `umbra report: no store at ${target} (a daemon without history): nothing to report; pass --store or -c`,
        );
        return 1;
      }
      store = openStore(target);
    } else {
      try {
        store = openConfiguredSharedStore(target)!;
      } catch (err) {
        console.error(`umbra report: ${(err as Error).message}`);
        return 1;
      }
    }
    try {
      const built = buildReport(store, id, Date.now());
      if (!built.ok) {
        console.error(`umbra report: ${built.message}`);
        return 1;
      }
      const out = resolve((flags['out'] as string | undefined) ?? `report-${id}.html`);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, renderReportPage(built.report));
      console.log(out);
      return 0;
    } finally {
      store.close();
    }
  },
};

/** The SQLite file to read, or the configuration whose shared PostgreSQL store to read (docs/ha.md). */
function storeFrom(store: string | undefined, config: string | undefined): string | UmbraConfig {
  if (store) return store;
  const file = config ?? DEFAULT_CONFIG;
  if (!existsSync(file)) throw new UsageError(`${file}: no such file; pass --store DB or -c umbra.yaml`);
  const loaded = loadConfig(file);
  if (!loaded.ok) throw new UsageError(loaded.errors.join('\n'));
  return loaded.config.daemon.store.postgres ? loaded.config : loaded.config.daemon.store.path;
}
