import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drive, freePort, startEnvoy, startUpstream, waitFor } from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterBootstrap, startMirrorRig, ticksPass } from './fixture.js';
import { startTelemetryServer } from './telemetry-server.js';

test('control messages change the mirrored share and pause/resume within one tick, without a reload', async (t) => {
  const { candidate, telemetry, envoy } = await startMirrorRig(t, {
    name: 'control',
    filterConfig: { shadowPercentage: 0, flushIntervalMs: 200 },
  });
  const url = `http://127.0.0.1:${envoy.listenerPort}/c`;
  // The worker opens its stream once it has seen traffic.
  await drive({ url, requests: 50 });
  assert.equal(candidate.hits, 0, 'nothing mirrored at 0 %');
  await waitFor('stream open', () => telemetry.streams >= 1 && telemetry.records.length === 50);

  // 100 %: every request is mirrored once the message is in (one tick at most).
  assert.ok(telemetry.control('CONTROL_SET_PERCENTAGE', 100) >= 1);
  await waitFor('percentage applied', () => /control: shadowPercentage=100/.test(envoy.log()), {
    timeoutMs: 5000,
  });
  await drive({ url, requests: 50 });
  await waitFor('mirrored at 100 %', () => candidate.hits === 50, { timeoutMs: 5000 });

  // Pause: nothing mirrored, counted as skipped_paused; live records continue.
  telemetry.control('CONTROL_PAUSE');
  await waitFor('pause applied', () => /control: mirroring paused/.test(envoy.log()), { timeoutMs: 5000 });
  const liveBefore = telemetry.records.filter((r) => r.arm === 'ARM_LIVE').length;
  await drive({ url, requests: 30 });
  await waitFor(
    'live',
    () => telemetry.records.filter((r) => r.arm === 'ARM_LIVE').length === liveBefore + 30,
    { timeoutMs: 5000 },
  );
  assert.equal(candidate.hits, 50);

  // Resume at the current percentage.
  telemetry.control('CONTROL_RESUME');
  await waitFor('resume applied', () => /control: mirroring resumed/.test(envoy.log()), { timeoutMs: 5000 });
  await drive({ url, requests: 20 });
  await waitFor('mirrored after resume', () => candidate.hits === 70, { timeoutMs: 5000 });
  await envoy.waitForStat('wasmcustom.umbra.shop.skipped_paused', 30);
  const listeners = await envoy.stat('listener_manager.lds_update_success');
  assert.ok(listeners === undefined || listeners === 0, 'no listener reload');
});

test('with the daemon down the buffer stays bounded (oldest dropped, counted) and the stream reconnects', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const telemetryPort = await freePort();
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: stable.port,
    telemetryPort,
    filterConfig: {
      shadowPercentage: 0,
      telemetryCluster: 'umbra_telemetry',
      flushIntervalMs: 100,
      batchMaxRecords: 100,
      bufferMaxRecords: 300,
      reconnectMinMs: 100,
      reconnectMaxMs: 400,
    },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'daemon-down', args: FLUSH_LOG_ARGS });
  const url = `http://127.0.0.1:${envoy.listenerPort}/d`;

  // Daemon down: 1000 requests → 1000 live records into a 300-record buffer.
  const res = await drive({ url, requests: 1000, concurrency: 8 });
  assert.equal(res.statuses[200], 1000);
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', 1000);
  // A record is written when its stream context is deleted, a moment after the response: wait for it.
  await envoy.waitForStat('wasmcustom.umbra.shop.dropped_records', 700, { timeoutMs: 5000 });
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.buffered_records'), 300);
  // Several failed reconnect attempts, and still nothing sent into the void.
  await envoy.waitForStat('wasmcustom.umbra.shop.stream_reconnects', (v) => v >= 3);
  assert.equal((await envoy.stat('wasmcustom.umbra.shop.records_sent')) ?? 0, 0, 'nothing sent while down');

  // Daemon back on the same port: the stream comes back by itself and drains the buffer.
  const telemetry = await startTelemetryServer(t, telemetryPort);
  await envoy.waitForStat('wasmcustom.umbra.shop.buffered_records', 0, { timeoutMs: 15_000 });
  await waitFor('buffered records delivered', () => telemetry.records.length >= 300, { timeoutMs: 5000 });
  // Exactly the buffered (newest) records: nothing was sent into the void
  // while the daemon was down.
  assert.equal(telemetry.records.length, 300);
  const seq = telemetry.batches.map((x) => Number(x.sequence));
  assert.deepEqual(seq.slice(0, 3), [1, 2, 3], 'a new stream starts its sequence at 1');
  await waitFor('dropped count reported', () => telemetry.counters()['droppedRecords'] === 700, {
    timeoutMs: 5000,
  });
  assert.ok((telemetry.counters()['streamReconnects'] ?? 0) >= 1, 'reconnects counted');
  await envoy.waitForStat('wasmcustom.umbra.shop.stream_connected', 1);
  // New traffic flows straight through.
  await drive({ url, requests: 10 });
  await waitFor('new records', () => telemetry.records.length === 310, { timeoutMs: 5000 });
});

test('a daemon that falls behind holds the filter to maxUnackedBatches beyond its last ack', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const telemetry = await startTelemetryServer(t);
  const b = filterBootstrap({
    stablePort: stable.port,
    candidatePort: stable.port,
    telemetryPort: telemetry.port,
    filterConfig: {
      shadowPercentage: 0,
      telemetryCluster: 'umbra_telemetry',
      flushIntervalMs: 100,
      batchMaxRecords: 10,
      bufferMaxRecords: 100,
      maxUnackedBatches: 3,
    },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'daemon-behind', args: FLUSH_LOG_ARGS });
  const url = `http://127.0.0.1:${envoy.listenerPort}/d`;
  const maxSeq = (): number => Math.max(0, ...telemetry.batches.map((x) => Number(x.sequence)));

  // No ack seen yet (an older daemon never acks): nothing is held back.
  await drive({ url, requests: 50, concurrency: 4 });
  await waitFor('records before any ack', () => telemetry.records.length === 50, { timeoutMs: 5000 });

  // The daemon acks what it has, then falls silent.
  const acked = maxSeq();
  assert.equal(telemetry.ack(acked), 1);
  await drive({ url, requests: 300, concurrency: 4 });
  await envoy.waitForStat('wasmcustom.umbra.shop.dropped_records', (v) => v > 0, { timeoutMs: 5000 });
  // Ten more ticks: ample chances to overrun, were it allowed.
  await ticksPass(envoy, url, 350, 10);
  assert.ok(maxSeq() <= acked + 3, `sent up to ${maxSeq()} with ${acked} acked and 3 allowed`);
  assert.ok(telemetry.records.length <= 50 + 30, `${telemetry.records.length} records got through`);
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.buffered_records'), 100, 'the rest waits, bounded');

  // The daemon catches up: the buffer drains.
  telemetry.ack(maxSeq());
  await waitFor('sending resumes after the ack', () => maxSeq() > acked + 3, { timeoutMs: 5000 });
  await waitFor(
    'the buffer to drain as the daemon acks',
    async () => {
      telemetry.ack(maxSeq());
      return envoy.stat('wasmcustom.umbra.shop.buffered_records');
    },
    (v) => v === 0,
    { timeoutMs: 5000, intervalMs: 100 },
  );
});
