import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drive, freePort, startEnvoy, startUpstream } from '../../harness/index.js';
import { FLUSH_LOG_ARGS, filterBootstrap, waitForLog } from './fixture.js';
import { startTelemetryServer, until } from './telemetry-server.js';

test('control messages change the mirrored share and pause/resume within one tick, without a reload', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const candidate = await startUpstream(t, { body: 'ok' });
  const telemetry = await startTelemetryServer(t);
  const b = await filterBootstrap({
    stablePort: stable.port,
    candidatePort: candidate.port,
    telemetryPort: telemetry.port,
    filterConfig: { shadowPercentage: 0, telemetryCluster: 'umbra_telemetry', flushIntervalMs: 200 },
  });
  const envoy = await startEnvoy(t, { config: b.config, name: 'control', args: FLUSH_LOG_ARGS });
  const url = `http://127.0.0.1:${b.listenerPort}/c`;
  // The worker opens its stream once it has seen traffic.
  await drive({ url, requests: 50 });
  assert.equal(candidate.hits, 0, 'nothing mirrored at 0 %');
  await until(() => telemetry.streams >= 1 && telemetry.records.length === 50, 10_000, 'stream open');

  // 100 %: every request is mirrored once the message is in (one tick at most).
  assert.ok(telemetry.control('CONTROL_SET_PERCENTAGE', 100) >= 1);
  assert.ok(await waitForLog(envoy.log, /control: shadowPercentage=100/), 'percentage applied');
  await drive({ url, requests: 50 });
  await until(() => candidate.hits === 50, 5000, 'mirrored at 100 %');

  // Pause: nothing mirrored, counted as skipped_paused; live records continue.
  telemetry.control('CONTROL_PAUSE');
  assert.ok(await waitForLog(envoy.log, /control: mirroring paused/), 'pause applied');
  const liveBefore = telemetry.records.filter((r) => r.arm === 'ARM_LIVE').length;
  await drive({ url, requests: 30 });
  await until(
    () => telemetry.records.filter((r) => r.arm === 'ARM_LIVE').length === liveBefore + 30,
    5000,
    'live',
  );
  assert.equal(candidate.hits, 50);

  // Resume at the current percentage.
  telemetry.control('CONTROL_RESUME');
  assert.ok(await waitForLog(envoy.log, /control: mirroring resumed/), 'resume applied');
  await drive({ url, requests: 20 });
  await until(() => candidate.hits === 70, 5000, 'mirrored after resume');
  await envoy.waitForStat('wasmcustom.umbra.shop.skipped_paused', (v) => v === 30);
  const listeners = await envoy.stat('listener_manager.lds_update_success');
  assert.ok(listeners === undefined || listeners === 0, 'no listener reload');
});

test('with the daemon down the buffer stays bounded (oldest dropped, counted) and the stream reconnects', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const telemetryPort = await freePort();
  const b = await filterBootstrap({
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
  const url = `http://127.0.0.1:${b.listenerPort}/d`;

  // Daemon down: 1000 requests → 1000 live records into a 300-record buffer.
  const res = await drive({ url, requests: 1000, concurrency: 8 });
  assert.equal(res.statuses[200], 1000);
  await envoy.waitForStat('wasmcustom.umbra.shop.requests', (v) => v === 1000);
  // A record is written when its stream context is deleted, a moment after the response: wait for it.
  await envoy.waitForStat('wasmcustom.umbra.shop.dropped_records', (v) => v === 700, 5000);
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.buffered_records'), 300);
  await new Promise((r) => setTimeout(r, 1500)); // several failed reconnect attempts

  // Daemon back on the same port: the stream comes back by itself and drains the buffer.
  const telemetry = await startTelemetryServer(t, telemetryPort);
  await envoy.waitForStat('wasmcustom.umbra.shop.buffered_records', (v) => v === 0, 15_000);
  await until(() => telemetry.records.length >= 300, 5000, 'buffered records delivered');
  // Exactly the buffered (newest) records: nothing was sent into the void
  // while the daemon was down.
  assert.equal(telemetry.records.length, 300);
  const seq = telemetry.batches.map((x) => Number(x.sequence));
  assert.deepEqual(seq.slice(0, 3), [1, 2, 3], 'a new stream starts its sequence at 1');
  await until(() => telemetry.counters()['droppedRecords'] === 700, 5000, 'dropped count reported');
  assert.ok((telemetry.counters()['streamReconnects'] ?? 0) >= 1, 'reconnects counted');
  await envoy.waitForStat('wasmcustom.umbra.shop.stream_connected', (v) => v === 1);
  // New traffic flows straight through.
  await drive({ url, requests: 10 });
  await until(() => telemetry.records.length === 310, 5000, 'new records');
});

test('a daemon that falls behind holds the filter to maxUnackedBatches beyond its last ack', async (t) => {
  const stable = await startUpstream(t, { body: 'ok' });
  const telemetry = await startTelemetryServer(t);
  const b = await filterBootstrap({
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
  const url = `http://127.0.0.1:${b.listenerPort}/d`;
  const maxSeq = (): number => Math.max(0, ...telemetry.batches.map((x) => Number(x.sequence)));

  // No ack seen yet (an older daemon never acks): nothing is held back.
  await drive({ url, requests: 50, concurrency: 4 });
  await until(() => telemetry.records.length === 50, 5000, 'records before any ack');

  // The daemon acks what it has, then falls silent.
  const acked = maxSeq();
  assert.equal(telemetry.ack(acked), 1);
  await drive({ url, requests: 300, concurrency: 4 });
  await envoy.waitForStat('wasmcustom.umbra.shop.dropped_records', (v) => v > 0, 5000);
  await new Promise((r) => setTimeout(r, 1000)); // ten ticks: ample time to overrun, were it allowed
  assert.ok(maxSeq() <= acked + 3, `sent up to ${maxSeq()} with ${acked} acked and 3 allowed`);
  assert.ok(telemetry.records.length <= 50 + 30, `${telemetry.records.length} records got through`);
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.buffered_records'), 100, 'the rest waits, bounded');

  // The daemon catches up: the buffer drains.
  telemetry.ack(maxSeq());
  await until(() => maxSeq() > acked + 3, 5000, 'sending resumes after the ack');
  for (let i = 0; i < 50 && ((await envoy.stat('wasmcustom.umbra.shop.buffered_records')) ?? 0) > 0; i++) {
    telemetry.ack(maxSeq());
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await envoy.stat('wasmcustom.umbra.shop.buffered_records'), 0);
});
