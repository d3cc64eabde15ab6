/**
 * The real chain: Envoy with the built Umbra filter streams records to the
 * daemon's telemetry server; the pipeline pairs them and makes cells; a
 * control message from the daemon changes what the filter mirrors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import { setLogLevel } from '../../../daemon/log.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import { startTelemetryServer, wallClockUs } from '../../../daemon/telemetry/server.js';
import { drive, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterBootstrap } from '../filter/fixture.js';

setLogLevel('silent');

test('records from Envoy are paired into cells, and a control message stops mirroring', async (t) => {
  const stable = await startUpstream(t, { body: 'same body' });
  let n = 0;
  // Every 10th candidate answer fails; the others answer like production.
  const candidate = await startUpstream(t, () =>
    ++n % 10 === 0 ? { status: 500, body: 'oops' } : { body: 'same body' },
  );
  const p = createPipeline({ pairing: { ttlUs: 3_000_000 }, aggregate: { closeDelayUs: 4_000_000 } });
  const cells: CellStats[] = [];
  p.aggregator.onSecond((c) => cells.push(...c));
  const server = await startTelemetryServer(p.ingest, { host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    telemetryPort: server.port,
    filterConfig: { shadowPercentage: 100, telemetryCluster: 'umbra_telemetry', flushIntervalMs: 100 },
  });
  const envoy = await startEnvoy(t, {
    config: b.config,
    name: 'telemetry-e2e',
    concurrency: 1,
    args: FLUSH_LOG_ARGS,
  });
  const url = `http://127.0.0.1:${envoy.listenerPort}/cart`;

  const res = await drive({ url, requests: 100, concurrency: 4 });
  assert.equal(res.statuses[200], 100, 'production is never affected');
  await waitFor('100 pairs', () => p.pairer.counters.pairs === 100);
  assert.deepEqual(p.ingest.counters.batchesRefused, {});
  assert.ok(p.ingest.counters.filter['mirrored']! >= 100, JSON.stringify(p.ingest.counters.filter));

  // Pause through the daemon: nothing more is mirrored, live records keep coming.
  assert.equal(server.pause('shop'), 1);
  await waitFor('the filter to apply the pause', () => /control: mirroring paused/.test(envoy.log()));
  const hits = candidate.hits;
  await drive({ url, requests: 20 });
  await waitFor('live records', () => p.ingest.counters.records >= 220);
  assert.equal(candidate.hits, hits);

  // Close every second and look at the cells.
  p.ingest.advance(wallClockUs() + 60_000_000);
  const total = cells.reduce(
    (a, c) => ({
      pairs: a.pairs + c.candidate.pairs,
      err: a.err + c.candidate.errShadowOnly,
      status: a.status + c.candidate.statusMismatch,
      body: a.body + c.candidate.bodyMismatch,
      live: a.live + Object.values(c.live).reduce((x, l) => x + l.requests, 0),
    }),
    { pairs: 0, err: 0, status: 0, body: 0, live: 0 },
  );
  assert.deepEqual(total, { pairs: 100, err: 10, status: 10, body: 0, live: 20 });
  assert.equal(cells[0]!.key.service, 'shop');
  assert.ok(
    cells.every((c) => c.key.endpoint !== '(unknown)'),
    JSON.stringify(cells.map((c) => c.key)),
  );
  assert.equal(cells.find((c) => c.candidate.errShadowOnly > 0)!.examples.errors!.length > 0, true);
});
