import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setLogLevel } from '../../../daemon/log.js';
import { pipelineCollector } from '../../../daemon/metrics/pipeline-metrics.js';
import { byLabel, MetricsRegistry, single } from '../../../daemon/metrics/registry.js';
import { encodeBatch } from '../../../daemon/telemetry/encode.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import { ARM_CANDIDATE, ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';

setLogLevel('silent');

test('renders the Prometheus text format with escaped labels and merged families', () => {
  const r = new MetricsRegistry();
  r.register(() => [single('umbra_x_total', 'An x.\nTwo lines.', 'counter', 3)]);
  r.register(() => [byLabel('umbra_y', 'A y.', 'gauge', 'reason', { 'a"b\\c': 1, 'new\nline': Number.NaN })]);
  const off = r.register(() => [single('umbra_x_total', 'ignored duplicate help', 'counter', 4)]);
  assert.equal(
    r.render(),
    [
      '# HELP umbra_x_total An x.\\nTwo lines.',
      '# TYPE umbra_x_total counter',
      'umbra_x_total 3',
      'umbra_x_total 4',
      '# HELP umbra_y A y.',
      '# TYPE umbra_y gauge',
      'umbra_y{reason="a\\"b\\\\c"} 1',
      'umbra_y{reason="new\\nline"} NaN',
      '',
    ].join('\n'),
  );
  off();
  assert.ok(!r.render().includes('umbra_x_total 4'));
});

test('pipeline metrics reflect records, pairs, refusals and streams', () => {
  const p = createPipeline({ pairing: { maxInFlight: 1024 } });
  const r = new MetricsRegistry();
  r.register(pipelineCollector(p));
  const base = 1_732_700_000_000_000;
  const rec = (arm: number) => ({ requestId: Buffer.from('x'), arm, status: 200, latencyUs: 10 });
  p.ingest.onBatch(
    1,
    encodeBatch({
      service: 's',
      proxyId: 'envoy-1',
      sequence: 1,
      baseTimeUs: base,
      records: [rec(ARM_PRIMARY), rec(ARM_CANDIDATE)],
    }),
    base + 1000,
  );
  p.ingest.onBatch(1, Buffer.from([0xff]), base + 2000);
  const text = r.render();
  assert.match(text, /^umbra_telemetry_records_total 2$/m);
  assert.match(text, /^umbra_pairing_pairs_total 1$/m);
  assert.match(text, /^umbra_telemetry_batches_refused_total\{reason="truncated"\} 1$/m);
  assert.match(text, /^umbra_telemetry_streams 1$/m);
  assert.match(
    text,
    /^umbra_telemetry_stream_lag_seconds\{proxy="envoy-1",worker="0",service="s"\} 0\.00099$/m,
  );
  assert.match(text, /^umbra_pairing_capacity 1024$/m);
});
