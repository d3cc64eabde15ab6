import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setLogLevel } from '../../../daemon/log.js';
import type { JsonLineRecord } from '../../../daemon/replay/jsonl.js';
import { cellsFromFile } from '../../../daemon/training/sources.js';

// Training reads recorded files through replay's parser and the daemon's own pairer and aggregator:
// these are the cells the live judge would have seen, counted as the aggregate contract defines.
setLogLevel('silent');
const dir = mkdtempSync(join(tmpdir(), 'umbra-sources-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function rec(over: Partial<JsonLineRecord>): JsonLineRecord {
  const start = over.start_us ?? 1_000_000;
  const latency = over.latency_us ?? 1000;
  return {
    t_us: start + latency,
    start_us: start,
    service: 's',
    request_id: 'r',
    arm: 'primary',
    endpoint: 'GET /a',
    segment: 'eu',
    status: 200,
    latency_us: latency,
    body_hash: 'aa',
    flags: [],
    ...over,
  };
}

function pair(id: string, p: Partial<JsonLineRecord>, c: Partial<JsonLineRecord> | null): JsonLineRecord[] {
  const out = [rec({ request_id: id, ...p })];
  if (c) out.push(rec({ request_id: id, arm: 'candidate', ...c }));
  return out;
}

function cellsOf(name: string, lines: (JsonLineRecord | string)[]) {
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
  return cellsFromFile(path);
}

describe('training history from files: JSON lines', () => {
  it('skips and counts bad lines, keeps the good ones, and takes live records', () => {
    const { cells, badLines } = cellsOf('bad-lines', [
      rec({ request_id: 'a' }),
      'not json',
      '',
      rec({ request_id: 'a', arm: 'sideways' as 'primary' }),
      '{"t_us":"x"}',
      '{"t_us":10,"service":"s","request_id":"b","arm":"primary","endpoint":"GET /a","latency_us":5}',
      rec({ request_id: 'l', arm: 'live', cluster: 'v1', start_us: 1_200_000 }),
    ]);
    assert.equal(badLines, 4);
    assert.equal(cells.length, 1);
    const c = cells[0]!;
    assert.equal(c.key.second, 1);
    assert.equal(c.candidate.shadowMissing, 1, "a's candidate never came");
    assert.deepEqual(c.live, { v1: { requests: 1, failed: 0, overTail: 0, latSumUs: 1000, tailChecked: 0 } });
  });
});

describe('training history from files: cells', () => {
  it('counts discordant failures, missing arms, mismatches and latency signs as the contract defines', () => {
    const { cells, badLines } = cellsOf('contract', [
      ...pair('ok', {}, { latency_us: 2000 }),
      ...pair('shadow-5xx', {}, { status: 503, body_hash: '' }),
      ...pair('primary-5xx', { status: 500, body_hash: '' }, {}),
      ...pair('both-5xx', { status: 502, body_hash: '' }, { status: 503, body_hash: '' }),
      ...pair('missing', {}, null),
      ...pair('timeout', {}, { status: 0, flags: ['timeout'], body_hash: '' }),
      ...pair('404', {}, { status: 404 }),
      ...pair('body', {}, { body_hash: 'bb' }),
      ...pair('truncated', {}, { body_hash: 'cc', flags: ['body_truncated'] }),
      ...pair('faster', { latency_us: 3000 }, { latency_us: 1000 }),
    ]);
    assert.equal(badLines, 0);
    const [cell, ...rest] = cells;
    assert.equal(rest.length, 0);
    const c = cell!.candidate;
    // A missing shadow is missing data: counted, and in no other count.
    assert.equal(c.pairs, 9);
    assert.equal(c.errShadowOnly, 2); // 5xx, timeout
    assert.equal(c.errPrimaryOnly, 1);
    assert.equal(c.shadowMissing, 1);
    assert.equal(c.shadowFailed, 3);
    assert.equal(c.primaryFailed, 2);
    assert.equal(c.statusMismatch, 5); // shadow-5xx, primary-5xx, both-5xx (502 vs 503), timeout, 404
    assert.equal(c.bodyMismatch, 1);
    assert.equal(c.latShadowSlower, 1);
    // The shadow less the tolerated slowdown (300 µs) is below the primary in the other 4 latency pairs.
    assert.equal(c.latPrimarySlower, 4);
    assert.deepEqual(cell!.examples.errors, ['shadow-5xx', 'timeout']);
  });

  it("puts a pair in the second of its primary's start and counts tail exceedances only once a threshold is known", () => {
    const lines: JsonLineRecord[] = [];
    for (let i = 0; i < 200; i++) {
      const start = (i % 100) * 1000 + Math.floor(i / 100) * 1_000_000;
      lines.push(
        ...pair(
          `r${i}`,
          { start_us: start, latency_us: 1000 + i },
          { start_us: start, latency_us: 1000 + i },
        ),
      );
    }
    // Second 5: by then the threshold is the p99 of seconds 0–1, and the candidate is far above it.
    lines.push(...pair('slow', { start_us: 5_000_000 }, { start_us: 5_000_000, latency_us: 50_000 }));
    // The first request of all: its slow candidate comes before enough primaries for a threshold.
    lines.push(...pair('first-slow', { start_us: 0 }, { start_us: 0, latency_us: 50_000 }));
    const { cells } = cellsOf(
      'tail',
      lines.sort((a, b) => a.t_us - b.t_us),
    );
    assert.deepEqual(
      cells.map((c) => c.key.second),
      [0, 1, 5],
    );
    assert.equal(cells[0]!.candidate.tailShadowOnly + cells[1]!.candidate.tailShadowOnly, 0);
    assert.equal(cells[2]!.candidate.tailShadowOnly, 1);
    assert.deepEqual(cells[2]!.examples.latency_tail, ['slow']);
  });
});
