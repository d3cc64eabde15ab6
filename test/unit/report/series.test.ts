import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketSecondsFor, evidenceHeatmap, heatSignal } from '../../../daemon/report/series.js';
import { rng, simulateCell, spec } from '../judge/sim.js';

test('the heat map shows the culprit signal, so a latency regression is visible where it is', () => {
  const r = rng(3);
  const cells = [];
  for (let second = 100; second < 130; second++) {
    for (const segment of ['eu', 'us']) {
      const slow = segment === 'us';
      cells.push(
        simulateCell(
          r,
          spec({
            endpoint: '/cart',
            segment,
            pairsPerSecond: 20,
            ...(slow ? { shadow: { latencyFactor: 1.6 } } : {}),
          }),
          second,
        ),
      );
    }
  }
  const culprit = new Set(['/cart\u0000us']);
  const latency = evidenceHeatmap(cells, culprit, heatSignal('latency_shift'));
  assert.equal(latency.signal, 'latency_shift');
  assert.deepEqual(
    latency.rows.map((row) => [row.segment, row.culprit]),
    [
      ['us', true],
      ['eu', false],
    ],
  );
  assert.ok(latency.rows[0]!.total > 0.5, `slower share ${latency.rows[0]!.total}`);
  assert.ok(Math.abs(latency.rows[1]!.total) < 0.2);
  // The same cells as excess failures show nothing: the wrong signal would hide the regression.
  const errors = evidenceHeatmap(cells, culprit, heatSignal('live_errors'));
  assert.equal(errors.signal, 'errors');
  assert.ok(errors.rows.every((row) => Math.abs(row.total) < 0.05));
  assert.match(latency.label, /slower/);
});

test('buckets widen with the span so a chart keeps at most 300 of them', () => {
  assert.equal(bucketSecondsFor(60), 1);
  assert.equal(bucketSecondsFor(600), 2);
  assert.equal(bucketSecondsFor(3600), 15);
  assert.equal(bucketSecondsFor(86_400), 300);
});
