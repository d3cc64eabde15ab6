import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generate, makeScenario, randomProfile } from '../../../bench/scenarios/generator.js';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import { setLogLevel } from '../../../daemon/log.js';
import { type JsonLineRecord, requestIdBytes } from '../../../daemon/replay/jsonl.js';
import { encodeBatch, type RecordInput } from '../../../daemon/telemetry/encode.js';
import {
  createPipeline,
  DEFAULT_MIRROR_TIMEOUT_MS,
  pipelineTiming,
} from '../../../daemon/telemetry/pipeline.js';
import { cellsFromFile } from '../../../daemon/training/sources.js';
import { ARM_CANDIDATE, ARM_PRIMARY, FLAG_TIMEOUT } from '../../../daemon/wire/record-contract.js';

setLogLevel('silent');

/** The filter's flush interval here: every record reaches the daemon at the end of its flush period. */
const FLUSH_US = 250_000;

/** Records as one filter worker sends them: in batches, one per flush, with the daemon's clock ticking between. */
function liveCells(records: JsonLineRecord[]): CellStats[] {
  const live = createPipeline(pipelineTiming(DEFAULT_MIRROR_TIMEOUT_MS));
  const cells: CellStats[] = [];
  live.aggregator.onSecond((c) => cells.push(...c));
  live.ingest.openStream(1);
  const dict = new Map<string, number>();
  const ref = (s: string | undefined, added: { id: number; value: string }[]): number => {
    if (!s) return 0;
    let id = dict.get(s);
    if (id === undefined) {
      id = dict.size + 1;
      dict.set(s, id);
      added.push({ id, value: s });
    }
    return id;
  };
  let sequence = 0;
  let last = 0;
  for (let i = 0; i < records.length; ) {
    const at = records[i]!.t_us;
    const added: { id: number; value: string }[] = [];
    const batch: RecordInput[] = [];
    for (; i < records.length && records[i]!.t_us === at; i++) {
      const r = records[i]!;
      batch.push({
        requestId: requestIdBytes(r.request_id),
        arm: r.arm === 'primary' ? ARM_PRIMARY : ARM_CANDIDATE,
        endpoint: ref(r.endpoint, added),
        segment: ref(r.segment, added),
        startDeltaUs: r.start_us! - at,
        latencyUs: r.latency_us,
        status: r.status,
        flags: r.flags?.includes('timeout') ? FLAG_TIMEOUT : 0,
        ...hashOf(r.body_hash),
      });
    }
    // The daemon's timer ticks between batches, at times of its own.
    for (let t = last + 100_000; t < at; t += 100_000) live.ingest.advance(t);
    const bytes = encodeBatch({
      proxyId: 'envoy-1',
      service: batch.length > 0 ? records[i - 1]!.service : '',
      sequence: ++sequence,
      baseTimeUs: at,
      dict: added,
      records: batch,
    });
    assert.ok(live.ingest.onBatch(1, bytes, at).ok);
    last = at;
  }
  // Traffic stops; the daemon keeps ticking until every second has closed.
  for (let t = last; t < last + 30_000_000; t += 100_000) live.ingest.advance(t);
  return cells;
}

function hashOf(h: string | undefined): { hashLo: number; hashHi: number } {
  if (!h) return { hashLo: 0, hashHi: 0 };
  const padded = h.padStart(16, '0');
  return {
    hashHi: Number.parseInt(padded.slice(0, 8), 16) | 0,
    hashLo: Number.parseInt(padded.slice(8), 16) | 0,
  };
}

describe('training history from files vs the live daemon', () => {
  it('gives exactly the cells the daemon builds from the same records received live', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-history-live-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // A minute and a half (tail thresholds from a finished minute) of a regression with timeouts,
    // failures, body changes and 3 % of records lost.
    const s = makeScenario('latency_tail', randomProfile(9, 'shop'), 80, 21);
    s.durationS = 90;
    s.lossRate = 0.03;
    const records: JsonLineRecord[] = generate(s).map((r) => ({
      ...r,
      t_us: (Math.floor(r.t_us / FLUSH_US) + 1) * FLUSH_US,
    }));
    const path = join(dir, 'run.jsonl');
    writeFileSync(path, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);

    const fromFile = cellsFromFile(path);
    const fromLive = liveCells(records);

    assert.equal(fromFile.badLines, 0);
    assert.ok(fromLive.length > 200, `${fromLive.length} cells`);
    const sum = (k: 'shadowMissing' | 'tailShadowOnly' | 'shadowFailed' | 'bodyMismatch') =>
      fromLive.reduce((a, c) => a + c.candidate[k], 0);
    for (const k of ['shadowMissing', 'tailShadowOnly', 'shadowFailed', 'bodyMismatch'] as const) {
      assert.ok(sum(k) > 0, `the scenario exercises ${k}`);
    }
    assert.deepEqual(fromFile.cells, fromLive);
  });
});
