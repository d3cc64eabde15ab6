import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generate, makeScenario, randomProfile, toJsonLines } from '../../../bench/scenarios/generator.js';
import type { CellStats, PairedCounts } from '../../../daemon/aggregate/stats.js';
import { cellsFromRecords } from '../../../daemon/model/history.js';
import { cellsFromFile } from '../../../daemon/model/sources.js';

/** Fields both reductions must agree on (tail thresholds are estimated differently). */
const SAME: (keyof PairedCounts)[] = [
  'pairs',
  'primaryFailed',
  'shadowFailed',
  'errShadowOnly',
  'errPrimaryOnly',
  'shadowMissing',
  'latShadowSlower',
  'latPrimarySlower',
  'statusMismatch',
  'bodyMismatch',
  'latPairs',
];

function totals(cells: CellStats[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of cells) {
    const key = `${c.key.endpoint}|${c.key.segment}`;
    for (const f of SAME) out[`${key}|${f}`] = (out[`${key}|${f}`] ?? 0) + c.candidate[f];
  }
  return out;
}

describe('history cells vs the daemon replay path', () => {
  it('gives the same paired counts per endpoint and segment as umbra replay', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-history-replay-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const s = makeScenario('error_step', randomProfile(9, 'shop'), 80, 21);
    s.durationS = 30;
    const records = generate(s);
    const path = join(dir, 'run.jsonl');
    writeFileSync(path, `${toJsonLines(records)}\n`);
    const replayed = cellsFromFile(path);
    assert.equal(replayed.badLines, 0);
    assert.deepEqual(totals(cellsFromRecords(records)), totals(replayed.cells));
  });
});
