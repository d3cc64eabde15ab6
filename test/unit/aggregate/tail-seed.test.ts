/**
 * Tail thresholds across a daemon restart: the minute histograms one daemon
 * stored seed the next daemon's thresholds, so live requests of a restored
 * version are compared with a threshold although nothing is mirrored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LiveRecord } from '../../../daemon/aggregate/aggregator.js';
import { LatencyHistogram } from '../../../daemon/aggregate/latency-histogram.js';
import type { CellStats, HistogramRow } from '../../../daemon/aggregate/stats.js';
import { tailSeeds } from '../../../daemon/aggregate/tail-seed.js';
import type { UmbraConfig } from '../../../daemon/config/schema.js';
import { seedTailThresholds } from '../../../daemon/parts/store.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import type { Store } from '../../../daemon/store/store.js';
import { createPipeline, type Pipeline } from '../../../daemon/telemetry/pipeline.js';
import { pairView } from './pair-view.js';

const M = 1_700_000_040; // a minute's first Unix second
const OPTS = { aggregate: { closeDelayUs: 2_000_000, minTailSamples: 10, tailQuantile: 0.9 } };
const config = { services: [{ name: 'checkout' }] } as unknown as UmbraConfig;

/** A daemon's pipeline whose finished minutes go to `store`, and the cells it emits. */
function daemon(store: Store) {
  const pipeline = createPipeline(OPTS);
  const cells: CellStats[] = [];
  pipeline.aggregator.onMinute((rows) => store.saveHistograms(rows));
  pipeline.aggregator.onSecond((c) => cells.push(...c));
  const series = pipeline.registry.series('checkout', 'GET /cart', 'eu');
  return { pipeline, cells, series };
}

function live(p: Pipeline, series: number, second: number, latencyUs: number): void {
  const r: LiveRecord = {
    series,
    cluster: p.registry.cluster('checkout-v1'),
    startUs: second * 1e6 + 5,
    latencyUs,
    status: 200,
    flags: 0,
    idBuf: Buffer.from([1]),
    idOff: 0,
    idLen: 1,
    user: 0,
    outcomeMilli: 0,
  };
  p.aggregator.onLive(r);
}

/** Live counts of checkout-v1 in the cells of `second`. */
const liveAt = (cells: CellStats[], second: number) =>
  cells.find((c) => c.key.second === second)?.live['checkout-v1'];

test('a restarted daemon reads the last stored tail threshold back: live requests are compared with it', () => {
  const store = openStore(':memory:');
  // Arrange: the first daemon mirrors 200 requests in minute M (primary 1..200 ms) and finishes the minute.
  const first = daemon(store);
  const agg = first.pipeline.aggregator;
  agg.advance(M * 1e6);
  for (let i = 1; i <= 200; i++)
    agg.onPair(
      pairView(first.series, (M + 1) * 1e6, `r${i}`, { pLatencyUs: i * 1000, sLatencyUs: i * 1000 }),
    );
  agg.advance((M + 61) * 1e6 + agg.options.closeDelayUs);
  const measured = agg.tailThresholdUs(first.pipeline.registry.endpoint('checkout', 'GET /cart'));
  assert.ok(measured >= 180_000 && measured < 182_000, `measured ${measured}`);
  assert.equal(
    store.listHistograms({ service: 'checkout', fromMinute: M, toMinute: M + 60, arm: 'primary' }).length,
    1,
  );

  // Act: a new daemon over the same store, two minutes later; nothing is mirrored any more.
  const now = (M + 180) * 1000;
  const restarted = daemon(store);
  const seeded = seedTailThresholds({ store, pipeline: restarted.pipeline, config, now: () => now });
  const cold = daemon(store); // the same restart without the seed: the behaviour before it
  for (const d of [restarted, cold]) {
    d.pipeline.aggregator.advance((M + 180) * 1e6);
    live(d.pipeline, d.series, M + 181, 50_000);
    live(d.pipeline, d.series, M + 181, 400_000);
    d.pipeline.aggregator.advance((M + 182) * 1e6 + d.pipeline.aggregator.options.closeDelayUs);
  }

  // Assert: the same threshold as the first daemon's, and both live requests compared with it.
  assert.equal(seeded, 1);
  const ep = restarted.pipeline.registry.endpoint('checkout', 'GET /cart');
  assert.equal(restarted.pipeline.aggregator.tailThresholdUs(ep), measured);
  assert.deepEqual(liveAt(restarted.cells, M + 181), {
    requests: 2,
    failed: 0,
    overTail: 1,
    latSumUs: 450_000,
    tailChecked: 2,
  });
  assert.equal(liveAt(cold.cells, M + 181)?.tailChecked, 0, 'without the seed nothing is compared');
});

test('a seed never replaces a threshold measured here, and the first minute measured here replaces it', () => {
  const store = openStore(':memory:');
  const d = daemon(store);
  const agg = d.pipeline.aggregator;
  const ep = d.pipeline.registry.endpoint('checkout', 'GET /cart');
  assert.equal(agg.seedTail('checkout', 'GET /cart', Number.NaN), false, 'a bad value is not a threshold');
  assert.equal(agg.tailThresholdUs(ep), Number.POSITIVE_INFINITY);
  assert.equal(agg.seedTail('checkout', 'GET /cart', 900_000), true);
  assert.equal(agg.seedTail('checkout', 'GET /cart', 5_000), false, 'the first seed stands');
  agg.advance(M * 1e6);
  for (let i = 1; i <= 20; i++)
    agg.onPair(pairView(d.series, (M + 1) * 1e6, `r${i}`, { pLatencyUs: i * 1000, sLatencyUs: i * 1000 }));
  agg.advance((M + 2) * 1e6 + agg.options.closeDelayUs);
  const now = agg.tailThresholdUs(ep);
  assert.ok(now >= 18_000 && now < 18_200, `measured here: ${now}`);
});

test('tailSeeds: per endpoint the latest primary minute with enough values, at the aggregator quantile', () => {
  const hist = (values: number[]) => {
    const h = new LatencyHistogram();
    for (const v of values) h.record(v);
    return h;
  };
  const slow = hist(Array.from({ length: 100 }, (_, i) => (i + 1) * 1000));
  const fast = hist(Array.from({ length: 100 }, (_, i) => i + 1));
  const row = (p: Partial<HistogramRow>): HistogramRow => ({
    service: 'checkout',
    endpoint: 'GET /cart',
    arm: 'primary',
    minute: M,
    count: 100,
    encoded: slow.encode(),
    ...p,
  });
  const seeds = tailSeeds(
    [
      row({}),
      row({ minute: M + 60, encoded: fast.encode() }), // latest: wins
      row({ minute: M + 120, count: 5 }), // later, but too few values
      row({ minute: M + 180, arm: 'candidate' }), // not a primary
      row({ endpoint: 'GET /pay', minute: M + 60, encoded: 'not a histogram' }), // does not decode
    ],
    0.99,
    10,
  );
  assert.deepEqual(seeds, [
    {
      service: 'checkout',
      endpoint: 'GET /cart',
      minute: M + 60,
      samples: 100,
      thresholdUs: fast.valueAtQuantile(0.99),
    },
  ]);
  assert.equal(tailSeeds([row({})], 0.99, 10)[0]!.thresholdUs, slow.valueAtQuantile(0.99));
});
