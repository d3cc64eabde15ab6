import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import { setLogLevel } from '../../../daemon/log.js';
import { requestIdBytes } from '../../../daemon/replay/jsonl.js';
import { FRAME_BATCH, FRAME_CLOSE, FRAME_OPEN, RecordingWriter } from '../../../daemon/replay/recording.js';
import { type ReplayVerdict, replay } from '../../../daemon/replay/replay.js';
import { encodeBatch, type RecordInput } from '../../../daemon/telemetry/encode.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import { ARM_BASELINE, ARM_CANDIDATE, ARM_LIVE, ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';

setLogLevel('silent');
const dir = mkdtempSync(join(tmpdir(), 'umbra-replay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(path: string, judge?: (cells: CellStats[], nowUs: number) => ReplayVerdict[]) {
  const lines: Record<string, unknown>[] = [];
  const summary = replay(path, { emit: (l) => lines.push(l), ...(judge ? { judge } : {}) });
  return { lines, summary };
}

test('JSON lines: pairs per second, bad lines with their numbers, a summary last', () => {
  const path = join(dir, 'a.jsonl');
  const l = (o: Record<string, unknown>) =>
    JSON.stringify({ service: 'checkout', endpoint: 'GET /cart', segment: 'eu', ...o });
  writeFileSync(
    path,
    [
      l({
        t_us: 1_000_000,
        request_id: 'r1',
        arm: 'primary',
        status: 200,
        latency_us: 5000,
        body_hash: '9f2c',
      }),
      l({
        t_us: 1_001_000,
        request_id: 'r1',
        arm: 'candidate',
        status: 500,
        latency_us: 6000,
        unknown_field: true,
      }),
      '',
      '{"t_us": "soon"}',
      l({ t_us: 1_100_000, request_id: 'r2', arm: 'primary', status: 200, latency_us: 100 }),
      l({
        t_us: 1_100_000,
        request_id: 'r3',
        arm: 'candidate',
        status: 200,
        latency_us: 100,
        flags: ['sideways'],
      }),
      l({ t_us: 2_100_000, request_id: 'r4', arm: 'live', status: 200, latency_us: 100, cluster: 'v1' }),
      'garbage',
    ].join('\n'),
  );
  const { lines, summary } = run(path);
  const bad = lines.filter((x) => x['type'] === 'bad_line');
  assert.deepEqual(
    bad.map((x) => [x['line'], x['error']]),
    [
      [4, 't_us: must be a number of µs ≥ 0'],
      [
        6,
        'flags[0]: must be one of timeout, reset, connect_failure, body_truncated, generated_id, mirror_abandoned',
      ],
      [8, `not JSON (${errorOf('garbage')})`],
    ],
  );
  const pairs = lines.filter((x) => x['type'] === 'pairs');
  assert.deepEqual(
    pairs.map((x) => [
      x['second'],
      x['pairs'],
      x['errors_shadow_only'],
      x['shadow_missing'],
      x['live_requests'],
    ]),
    [
      [0, 1, 1, 0, 0], // r1 started at 0.995 s (t_us − latency_us): a failed candidate
      [1, 0, 0, 1, 0], // r2: its candidate never came (r3 was refused): missing data, not a failure
      [2, 0, 0, 0, 1],
    ],
  );
  assert.equal(lines.at(-1)!['type'], 'summary');
  assert.equal(summary.records, 4);
  assert.equal(summary.bad_lines, 3);
  assert.equal(summary.pairs, 1);
  assert.equal(summary.shadow_timeouts, 1);
  assert.equal(summary.shadow_missing, 1);
});

test('JSON lines: an empty body_hash is no hash, not a bad line', () => {
  const path = join(dir, 'empty-hash.jsonl');
  const l = (o: Record<string, unknown>) =>
    JSON.stringify({ service: 'checkout', endpoint: 'GET /cart', status: 200, latency_us: 100, ...o });
  writeFileSync(
    path,
    [
      l({ t_us: 1_500_000, request_id: 'r1', arm: 'primary', body_hash: '' }),
      l({ t_us: 1_500_100, request_id: 'r1', arm: 'candidate', body_hash: '' }),
      l({ t_us: 1_500_200, request_id: 'r2', arm: 'primary', body_hash: '' }),
      l({ t_us: 1_500_300, request_id: 'r2', arm: 'candidate' }),
    ].join('\n'),
  );
  const { lines, summary } = run(path);
  assert.equal(summary.bad_lines, 0);
  const pairs = lines.filter((x) => x['type'] === 'pairs');
  assert.deepEqual(
    pairs.map((x) => [x['pairs'], x['body_mismatch']]),
    [[2, 0]],
  );
});

function errorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

test('the judge hook sees each final second once and its verdicts are printed', () => {
  const path = join(dir, 'b.jsonl');
  const rows: string[] = [];
  for (let s = 0; s < 5; s++) {
    for (let i = 0; i < 10; i++) {
      const id = `s${s}-${i}`;
      const t = (s + 1) * 1_000_000 + 1000 + i * 1000;
      rows.push(
        JSON.stringify({
          t_us: t,
          service: 'checkout',
          request_id: id,
          arm: 'primary',
          endpoint: 'GET /',
          status: 200,
          latency_us: 100,
        }),
      );
      rows.push(
        JSON.stringify({
          t_us: t + 10,
          service: 'checkout',
          request_id: id,
          arm: 'candidate',
          endpoint: 'GET /',
          status: s >= 3 ? 503 : 200,
          latency_us: 100,
        }),
      );
    }
  }
  writeFileSync(path, rows.join('\n'));
  const seen: number[] = [];
  let errors = 0;
  const { lines, summary } = run(path, (cells) => {
    seen.push(cells[0]!.key.second);
    for (const c of cells) errors += c.candidate.errShadowOnly;
    const verdict = errors >= 10 ? 'rollback' : 'insufficient';
    return [
      {
        service: 'checkout',
        verdict,
        score: errors / 10,
        threshold: 1,
        culprits: verdict === 'rollback' ? [{ endpoint: 'GET /', segment: '', signal: 'errors' }] : [],
      },
    ];
  });
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  const verdicts = lines.filter((x) => x['type'] === 'verdict');
  assert.equal(verdicts.length, 5);
  assert.deepEqual(verdicts[3], {
    type: 'verdict',
    t_us: verdicts[3]!['t_us'],
    second: seen[3],
    service: 'checkout',
    verdict: 'rollback',
    score: 1,
    threshold: 1,
    culprits: [{ endpoint: 'GET /', segment: '', signal: 'errors' }],
  });
  assert.deepEqual(summary.verdicts, { insufficient: 3, rollback: 2 });
  assert.equal(summary.first_rollback_t_us, verdicts[3]!['t_us']);
});

test('a recording replays to exactly the cells the live pipeline produced, whatever the live ticks', () => {
  // Live: batches from two streams arrive over 30 s with clock ticks in between (as the daemon's timer does).
  const base = 1_732_700_000_000_000;
  const path = join(dir, 'live.rec');
  const w = new RecordingWriter(path);
  const live = createPipeline({ pairing: { ttlUs: 2_000_000 }, aggregate: { closeDelayUs: 3_000_000 } });
  const liveCells: CellStats[] = [];
  live.aggregator.onSecond((c) => liveCells.push(...c));
  let x = 42;
  const rand = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 4294967296;
  };
  const seq = [0, 0, 0];
  let now = base;
  w.write(FRAME_OPEN, 1, now);
  w.write(FRAME_OPEN, 2, now);
  let n = 0;
  for (let b = 0; b < 300; b++) {
    now += Math.floor(rand() * 200_000);
    if (rand() < 0.5) live.ingest.advance(now - Math.floor(rand() * 50_000)); // a tick before the batch
    const stream = 1 + (b % 2);
    const records: RecordInput[] = [];
    for (let i = 0; i < 20; i++) {
      const id = `req-${n - (rand() < 0.3 ? 7 : 0)}`; // some arms of earlier requests arrive late
      n++;
      const arm = [ARM_PRIMARY, ARM_CANDIDATE, ARM_BASELINE, ARM_LIVE][Math.floor(rand() * 4)]!;
      records.push({
        requestId: requestIdBytes(id),
        arm,
        endpoint: 1 + Math.floor(rand() * 2),
        segment: 3,
        startDeltaUs: -Math.floor(rand() * 500_000),
        latencyUs: 1000 + Math.floor(rand() * 20_000),
        status: rand() < 0.1 ? 503 : 200,
        hashLo: rand() < 0.1 ? 1 : 2,
        cluster: 4,
      });
    }
    seq[stream]!++;
    const bytes = encodeBatch({
      service: 'shop',
      proxyId: `envoy-${stream}`,
      sequence: seq[stream],
      baseTimeUs: now,
      dict:
        seq[stream] === 1
          ? [
              { id: 1, value: 'GET /a' },
              { id: 2, value: 'GET /b' },
              { id: 3, value: 'eu' },
              { id: 4, value: 'shop-v1' },
            ]
          : [],
      records,
    });
    const garbage = b % 50 === 7;
    const payload = garbage ? Buffer.from([0xff, 0x01]) : bytes;
    w.write(FRAME_BATCH, stream, now, payload);
    live.ingest.onBatch(stream, payload, now);
  }
  w.write(FRAME_CLOSE, 1, now);
  w.write(FRAME_CLOSE, 2, now);
  w.close();
  live.ingest.closeStream(1);
  live.ingest.closeStream(2);
  // The live daemon keeps ticking after traffic stops.
  for (let t = now; t < now + 30_000_000; t += 250_000) live.ingest.advance(t);

  const replayed: CellStats[] = [];
  const summary = replay(path, {
    pipeline: { pairing: { ttlUs: 2_000_000 }, aggregate: { closeDelayUs: 3_000_000 } },
    emit: () => {},
    judge: (cells) => {
      replayed.push(...cells);
      return [];
    },
  });
  assert.ok(liveCells.length > 20, `live produced ${liveCells.length} cells`);
  assert.deepEqual(replayed, liveCells);
  assert.equal(summary.pairs, live.pairer.counters.pairs);
  assert.equal(summary.shadow_timeouts, live.pairer.counters.shadowTimeouts);
  assert.deepEqual(summary.batches_refused, { bad_wire_type: 6 });
});
