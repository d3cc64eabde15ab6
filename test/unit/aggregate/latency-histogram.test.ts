import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import {
  bucketHigh,
  bucketIndex,
  bucketLow,
  LatencyHistogram,
  MAX_LATENCY_US,
} from '../../../daemon/aggregate/latency-histogram.js';

test('buckets are contiguous, ordered and within 1 % of the value', () => {
  let prev = -1;
  for (let v = 0; v <= MAX_LATENCY_US; v = v < 5000 ? v + 1 : Math.floor(v * 1.003) + 1) {
    const i = bucketIndex(v);
    assert.ok(i >= prev, `index decreases at ${v}`);
    assert.ok(bucketLow(i) <= v && v <= bucketHigh(i), `${v} outside bucket ${i}`);
    assert.ok(bucketHigh(i) - bucketLow(i) <= Math.max(0, v * 0.008), `bucket ${i} too wide at ${v}`);
    prev = i;
  }
  assert.equal(bucketHigh(bucketIndex(MAX_LATENCY_US)), MAX_LATENCY_US);
  assert.equal(bucketIndex(MAX_LATENCY_US * 10), bucketIndex(MAX_LATENCY_US), 'clamped');
  for (let i = 256; i < 2000; i++) assert.equal(bucketLow(i + 1), bucketHigh(i) + 1);
});

test('quantiles agree with hdr-histogram-js on the same values, and the fold is lossless', () => {
  const h = new LatencyHistogram();
  const ref = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_LATENCY_US + 1,
    numberOfSignificantValueDigits: 2,
  });
  let x = 12345;
  for (let i = 0; i < 20_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const v = 200 + (x % 500_000);
    h.record(v);
    ref.recordValue(v);
  }
  const folded = h.toHdr();
  assert.equal(folded.totalCount, 20_000);
  for (const q of [0.01, 0.5, 0.9, 0.99, 0.999]) {
    assert.equal(h.valueAtQuantile(q), ref.getValueAtPercentile(q * 100), `q=${q}`);
    assert.equal(folded.getValueAtPercentile(q * 100), ref.getValueAtPercentile(q * 100), `folded q=${q}`);
  }
  const back = hdr.decodeFromCompressedBase64(h.encode());
  assert.equal(back.totalCount, 20_000);
  h.reset();
  assert.equal(h.total, 0);
  assert.ok(Number.isNaN(h.valueAtQuantile(0.5)));
});
