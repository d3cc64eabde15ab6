/**
 * The daemon as `umbra daemon` composes it: real gRPC telemetry, the clock,
 * SQLite (in memory), /metrics over HTTP and the recorder; then the recording
 * replayed gives the cells the daemon stored.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import { setLogLevel } from '../../../daemon/log.js';
import { replay } from '../../../daemon/replay/replay.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { TOKEN_METADATA } from '../../../daemon/telemetry/server.js';
import { DEFAULT_PARTS_OPTIONS, defaultParts, startUmbrad } from '../../../daemon/umbrad.js';
import { ARM_CANDIDATE, ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';
import { inProcessConfig, waitFor } from '../../harness/index.js';
import { telemetryClient } from './grpc-client.js';

setLogLevel('silent');

test('umbrad ingests over gRPC, stores final seconds, serves /metrics, and its recording replays to the same cells', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbrad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // Every part of the real daemon runs, each on a port it picks (0), the admin with a private token.
  const config = inProcessConfig(dir, [
    {
      name: 'checkout',
      stable: 'v1',
      provisioner: { kind: 'static', versions: { v1: { endpoints: ['127.0.0.1:9'] } } },
    },
  ]);
  const store = openStore(':memory:');
  const pipeline = {
    pairing: { ttlUs: 1_000_000 },
    aggregate: { closeDelayUs: 2_000_000, futureToleranceS: 2 },
  };
  const recordPath = join(dir, 'telemetry.rec');
  const daemon = await startUmbrad(
    { config: config, store, pipeline },
    defaultParts({
      ...DEFAULT_PARTS_OPTIONS,
      telemetryListen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      recordPath,
      tickMs: 100,
    }),
  );
  let stopped = false;
  t.after(async () => {
    if (!stopped) await daemon.stop();
  });
  // Every listening part says where it bound (what `umbra daemon --ports-file` writes).
  const bound = daemon.context.bound;
  assert.deepEqual(Object.keys(bound).sort(), ['admin', 'metrics', 'telemetry', 'xds']);
  const portOf = (part: string): number => Number(bound[part]!.slice(bound[part]!.lastIndexOf(':') + 1));
  assert.ok(
    Object.keys(bound).every((part) => portOf(part) > 0),
    JSON.stringify(bound),
  );
  const telemetryPort = portOf('telemetry');
  const metricsPort = portOf('metrics');

  // A filter-like client: one stream, a dictionary, then 40 requests with both arms.
  // The daemon created its telemetry token; a filter presents it as initial metadata.
  const client = telemetryClient(telemetryPort);
  t.after(() => client.close());
  const metadata = new grpc.Metadata();
  metadata.set(TOKEN_METADATA, readFileSync(join(dir, 'telemetry.token'), 'utf8').trim());
  const call = client.Stream(metadata);
  call.on('error', () => {});
  const dict = [
    { id: 1, value: 'GET /cart' },
    { id: 2, value: 'eu' },
  ];
  for (let b = 0; b < 4; b++) {
    const records = [];
    for (let i = 0; i < 10; i++) {
      const id = Buffer.from(`req-${b}-${i}`);
      const failed = b === 3 && i < 5;
      records.push({
        requestId: id,
        arm: ARM_PRIMARY,
        endpoint: 1,
        segment: 2,
        latencyUs: 1000 + i,
        status: 200,
      });
      if (!(b === 2 && i === 0)) {
        records.push({
          requestId: id,
          arm: ARM_CANDIDATE,
          endpoint: 1,
          segment: 2,
          latencyUs: 1100 + i,
          status: failed ? 503 : 200,
        });
      }
    }
    call.write({
      schemaVersion: 1,
      proxyId: 'envoy-1',
      service: 'checkout',
      sequence: b + 1,
      baseTimeUs: Date.now() * 1000,
      dict: b === 0 ? dict : [],
      records,
    });
    await new Promise((r) => setTimeout(r, 150));
  }
  const stored = (): CellStats[] =>
    store.listCells({ service: 'checkout', fromSecond: 0, toSecond: 4e9 }).map((r) => r.cell);
  await waitFor(
    'all pairs stored',
    () => stored().reduce((n, c) => n + c.candidate.pairs + c.candidate.shadowMissing, 0) === 40,
    { timeoutMs: 15_000 },
  );
  const cells = stored();
  const total = cells.reduce(
    (a, c) => ({ err: a.err + c.candidate.errShadowOnly, missing: a.missing + c.candidate.shadowMissing }),
    { err: 0, missing: 0 },
  );
  assert.deepEqual(
    total,
    { err: 5, missing: 1 },
    '5 failed candidates; 1 candidate record that never came: missing data, not an error',
  );
  assert.equal(
    cells.reduce((n, c) => n + c.candidate.pairs, 0),
    39,
  );
  assert.equal(cells[0]!.key.endpoint, 'GET /cart');

  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, /^umbra_telemetry_records_total 79$/m);
  assert.match(metrics, /^umbra_pairing_pairs_total 39$/m);
  assert.match(metrics, /^umbra_pairing_shadow_timeouts_total 1$/m);
  assert.match(metrics, /^umbra_aggregate_shadow_missing_total 1$/m);
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);

  call.end();
  await daemon.stop();
  stopped = true;

  const replayed: CellStats[] = [];
  // No options: the recording's metadata carries the daemon's timing.
  const summary = replay(recordPath, {
    emit: () => {},
    judge: (c) => {
      replayed.push(...c);
      return [];
    },
  });
  assert.equal(summary.records, 79);
  assert.equal(summary.ttl_us, 1_000_000);
  assert.equal(summary.close_delay_us, 3_000_000);
  assert.deepEqual(replayed, cells);
});
