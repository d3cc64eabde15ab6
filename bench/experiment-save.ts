/**
 * What keeping an A/B experiment in the store costs the daemon: one save
 * (the runner's snapshot, the row, the SQLite write, as the desk does every
 * 5 s) and one restore (a restarted daemon's read and rebuild), at growing
 * numbers of users, beside the experiment's own once-a-second tick at the
 * same size. Prints a table and, last, one JSON line.
 *
 *   npm run bench:experiments
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRow, rowOf } from '../daemon/controller/experiments-journal.js';
import { type ExperimentStatus, startingStatus } from '../daemon/controller/experiments-status.js';
import { ExperimentRunner } from '../daemon/experiment/runner.js';
import { EXPERIMENT_DEFAULTS, type ExperimentSpec } from '../daemon/experiment/spec.js';
import { setLogLevel } from '../daemon/log.js';
import { defaultModel } from '../daemon/model/model.js';
import { openStore } from '../daemon/store/sqlite.js';

setLogLevel('silent');
const MIXTURE = defaultModel().params.rateMixture;
const SPEC: ExperimentSpec = {
  service: 'shop',
  version: 'v2',
  split: 50,
  outcome: { kind: 'conversion', path: '/buy' },
  ...EXPERIMENT_DEFAULTS,
};
const REPEAT = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-experiments-'));
const store = openStore(join(dir, 'umbra.db'));
const rows: Record<string, number>[] = [];
try {
  for (const users of [10_000, 100_000, 1_000_000]) {
    const runner = new ExperimentRunner(SPEC, MIXTURE, 2);
    // Most users finished, the last minute's still in their window.
    for (let u = 1; u <= users; u++)
      runner.add({
        arm: u % 2 ? 'A' : 'B',
        user: u,
        atMs: u < users * 0.9 ? 0 : 100_000,
        endpoint: '/',
        failed: false,
        latencyUs: 1000,
      });
    runner.tick(80_000);
    const status: ExperimentStatus = {
      ...startingStatus(`bench-${users}`, SPEC, 'v1', 0),
      phase: 'running',
      latest: runner.tick(80_000),
    };
    let bytes = 0;
    const save = median(
      Array.from({ length: REPEAT }, () =>
        timed(() => {
          const row = rowOf(status, runner.snapshot(), 80_000);
          bytes = JSON.stringify(row.state).length;
          store.saveExperiment(row);
        }),
      ),
    );
    const restore = median(
      Array.from({ length: REPEAT }, () =>
        timed(() => {
          const got = fromRow(store.getExperiment(status.id)!, MIXTURE.length);
          if (typeof got === 'string' || !got.state) throw new Error(String(got));
          new ExperimentRunner(SPEC, MIXTURE, 2).restore(got.state);
        }),
      ),
    );
    const tick = median(Array.from({ length: REPEAT }, () => timed(() => runner.tick(80_000))));
    rows.push({ users, save_ms: save, restore_ms: restore, tick_ms: tick, row_kb: bytes / 1024 });
  }
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log('users      save (every 5 s)   restore    tick (every 1 s)   save/tick   state row');
for (const r of rows)
  console.log(
    `${String(r['users']).padEnd(10)} ${r['save_ms']!.toFixed(1).padStart(8)} ms ${r['restore_ms']!.toFixed(1).padStart(9)} ms ${r['tick_ms']!.toFixed(2).padStart(12)} ms ${(r['save_ms']! / r['tick_ms']!).toFixed(0).padStart(10)}× ${r['row_kb']!.toFixed(0).padStart(8)} KB`,
  );
const round = (x: number) => Math.round(x * 100) / 100;
console.log(
  JSON.stringify({
    bench: 'experiment-save',
    every_ms: 5000,
    sizes: rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
  }),
);
