import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cellsFromRecords, parseRecords, type ReplayRecord } from '../../../daemon/model/history.js';

function rec(over: Partial<ReplayRecord>): ReplayRecord {
  return {
    t_us: 1_000_000,
    start_us: 1_000_000,
    service: 's',
    request_id: 'r',
    arm: 'primary',
    endpoint: 'GET /a',
    segment: 'eu',
    status: 200,
    latency_us: 1000,
    body_hash: 'aa',
    flags: [],
    ...over,
  };
}

function pair(id: string, p: Partial<ReplayRecord>, c: Partial<ReplayRecord> | null): ReplayRecord[] {
  const out = [rec({ request_id: id, ...p })];
  if (c) out.push(rec({ request_id: id, arm: 'candidate', ...c }));
  return out;
}

describe('history: JSON lines', () => {
  it('reports bad lines with their number and keeps the good ones', () => {
    const text = [
      '{"t_us":10,"service":"s","request_id":"a","arm":"primary","endpoint":"GET /a","status":200,"latency_us":5}',
      'not json',
      '',
      '{"t_us":10,"service":"s","request_id":"a","arm":"sideways","endpoint":"GET /a","status":200,"latency_us":5}',
      '{"t_us":"x"}',
    ].join('\n');
    const { records, errors } = parseRecords(text);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.start_us, 5);
    assert.deepEqual(
      errors.map((e) => e.line),
      [2, 4, 5],
    );
  });
});

describe('history: cells', () => {
  it('counts discordant failures, missing arms, mismatches and latency signs as the contract defines', () => {
    const records = [
      ...pair('ok', {}, { latency_us: 2000 }),
      ...pair('shadow-5xx', {}, { status: 503 }),
      ...pair('primary-5xx', { status: 500 }, {}),
      ...pair('both-5xx', { status: 502 }, { status: 503 }),
      ...pair('missing', {}, null),
      ...pair('timeout', {}, { status: 0, flags: ['timeout'] }),
      ...pair('404', {}, { status: 404 }),
      ...pair('body', {}, { body_hash: 'bb' }),
      ...pair('truncated', {}, { body_hash: 'cc', flags: ['body_truncated'] }),
      ...pair('faster', { latency_us: 3000 }, { latency_us: 1000 }),
    ];
    const [cell, ...rest] = cellsFromRecords(records);
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
    assert.equal(c.latPrimarySlower, 1);
    assert.deepEqual(cell!.examples.errors, ['shadow-5xx', 'timeout']);
  });

  it('puts a pair in the second of its primary start and sets tail thresholds from earlier seconds only', () => {
    const records: ReplayRecord[] = [];
    for (let i = 0; i < 200; i++) {
      const start = (i % 100) * 1000 + Math.floor(i / 100) * 1_000_000;
      records.push(
        ...pair(
          `r${i}`,
          { start_us: start, latency_us: 1000 + i },
          { start_us: start, latency_us: 1000 + i },
        ),
      );
    }
    // Second 2: the candidate is far above second 0–1's p99.
    records.push(...pair('slow', { start_us: 2_000_000 }, { start_us: 2_000_000, latency_us: 50_000 }));
    const cells = cellsFromRecords(records);
    assert.deepEqual(
      cells.map((c) => c.key.second),
      [0, 1, 2],
    );
    assert.equal(cells[0]!.candidate.tailShadowOnly + cells[1]!.candidate.tailShadowOnly, 0);
    assert.equal(cells[2]!.candidate.tailShadowOnly, 1);
  });
});
