/**
 * The telemetry token end to end on a real Envoy: the filter, given the
 * daemon's token in its configuration (`telemetryToken`), presents it on its
 * stream through the GrpcService's initial metadata, and a server that
 * requires the token accepts its records.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setLogLevel } from '../../../daemon/log.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import { startTelemetryServer } from '../../../daemon/telemetry/server.js';
import { drive, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterBootstrap } from '../filter/fixture.js';

setLogLevel('silent');

test('the filter presents the telemetry token from its configuration, and its records are accepted', async (t) => {
  const stable = await startUpstream(t, { body: 'same body' });
  const candidate = await startUpstream(t, { body: 'same body' });
  const p = createPipeline({ pairing: { ttlUs: 3_000_000 }, aggregate: { closeDelayUs: 4_000_000 } });
  const token = 'Zq7-token_from.the-daemon';
  const server = await startTelemetryServer(p.ingest, { host: '127.0.0.1', port: 0, token });
  t.after(() => server.close());
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    telemetryPort: server.port,
    filterConfig: {
      shadowPercentage: 100,
      telemetryCluster: 'umbra_telemetry',
      telemetryToken: token,
      flushIntervalMs: 100,
    },
  });
  const envoy = await startEnvoy(t, {
    config: b.config,
    name: 'telemetry-token',
    concurrency: 1,
    args: FLUSH_LOG_ARGS,
  });

  const res = await drive({
    url: `http://127.0.0.1:${envoy.listenerPort}/cart`,
    requests: 20,
    concurrency: 2,
  });

  assert.equal(res.statuses[200], 20, 'production is never affected');
  await waitFor('20 pairs', () => p.pairer.counters.pairs === 20);
  assert.deepEqual(p.ingest.counters.batchesRefused, {}, 'no stream was refused');
});
