import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { Aggregator, type LiveRecord } from '../../../daemon/aggregate/aggregator.js';
import { SeriesRegistry } from '../../../daemon/aggregate/series.js';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import type { PairView } from '../../../daemon/pairing/pairer.js';
import type { HistogramRow } from '../../../daemon/store/store.js';
import {
  ARM_BASELINE,
  FLAG_BODY_TRUNCATED,
  FLAG_RESET,
  FLAG_TIMEOUT,
} from '../../../daemon/wire/record-contract.js';
import { pairView } from './pair-view.js';

const T0 = 1_700_000_000; // a Unix second

function setup(opts: ConstructorParameters<typeof Aggregator>[1] = {}) {
  const registry = new SeriesRegistry();
  const agg = new Aggregator(registry, {
    closeDelayUs: 2_000_000,
    futureToleranceS: 5,
    latencyMarginRel: 0.1,
    latencyMarginAbsUs: 2000,
    minTailSamples: 10,
    ...opts,
  });
  const seconds: { second: number; cells: CellStats[] }[] = [];
  agg.onSecond((cells, second) => seconds.push({ second, cells }));
  const series = registry.series('checkout', 'GET /cart', 'eu');
  let n = 0;
  const pair = (p: Partial<PairView> = {}): void => {
    const id = `req-${n++}`;
    agg.onPair(pairView(series, T0 * 1e6 + 100, id, p));
  };
  return { registry, agg, seconds, series, pair };
}

test('paired counts follow the contract: failures, discordance, margins, mismatches', () => {
  const { agg, seconds, pair } = setup();
  agg.advance(T0 * 1e6);
  pair(); // identical
  pair({ sStatus: 503 }); // shadow failed, status mismatch
  pair({ pStatus: 0, pFlags: FLAG_TIMEOUT, sStatus: 200 }); // primary failed (timeout)
  pair({ sStatus: 0, sFlags: FLAG_RESET, pStatus: 0, pFlags: FLAG_RESET }); // both failed
  pair({ missing: true, sStatus: 0 }); // shadow never arrived: missing data, in no other count
  pair({ sLatencyUs: 13_100 }); // 13.1 ms > 10 ms × 1.1 + 2 ms = 13 ms: slower
  pair({ sLatencyUs: 12_900 }); // within the tolerance: counts for the primary, as identical pairs do
  pair({ pLatencyUs: 20_000, sLatencyUs: 10_000 }); // primary slower
  pair({ sHashLo: 9 }); // body mismatch
  pair({ sHashLo: 9, sFlags: FLAG_BODY_TRUNCATED }); // truncated: not a body mismatch
  pair({ sStatus: 0, sFlags: 0 }); // status 0 without a failure flag: not failed, but a status mismatch
  agg.advance((T0 + 3) * 1e6);
  assert.equal(seconds.length, 1);
  const { cells, second } = seconds[0]!;
  assert.equal(second, T0);
  assert.equal(cells.length, 1);
  const c = cells[0]!;
  assert.deepEqual(c.key, { service: 'checkout', endpoint: 'GET /cart', segment: 'eu', second: T0 });
  assert.deepEqual(c.candidate, {
    pairs: 10,
    primaryFailed: 2,
    shadowFailed: 2,
    errShadowOnly: 1,
    errPrimaryOnly: 1,
    shadowMissing: 1,
    latShadowSlower: 1,
    // The shadow, less the tolerated slowdown, is below the primary in 6 of the 7 latency pairs:
    // the 4 identical ones, the one within the tolerance and the one where the primary is slower.
    latPrimarySlower: 6,
    tailShadowOnly: 0,
    tailPrimaryOnly: 0,
    statusMismatch: 3,
    bodyMismatch: 1,
    latDeltaSumUs: 3100 + 2900 - 10_000,
    latPairs: 7,
    latPrimarySumUs: 10_000 * 6 + 20_000, // the primaries of the 7 latency pairs
    bodyHashed: 8, // successful primaries with a body hash
    bodyNovel: 1, // all the same body: new only the first time
  });
  assert.equal(c.baseline.pairs, 0);
  assert.deepEqual(c.examples.errors, ['req-1']);
  assert.equal(agg.counters.missing, 1);
  assert.equal(agg.counters.pairs, 10);
  assert.deepEqual(c.examples.latency_shift, ['req-5']);
  assert.deepEqual(c.examples.body_mismatch, ['req-8']);
  assert.deepEqual(c.examples.status_mismatch, ['req-1', 'req-2', 'req-10']);
});

test('baseline pairs go to the baseline counts and give no examples', () => {
  const { agg, seconds, pair } = setup();
  agg.advance(T0 * 1e6);
  pair({ shadowArm: ARM_BASELINE, sStatus: 500 });
  agg.advance((T0 + 3) * 1e6);
  const c = seconds[0]!.cells[0]!;
  assert.equal(c.baseline.pairs, 1);
  assert.equal(c.baseline.errShadowOnly, 1);
  assert.equal(c.candidate.pairs, 0);
  assert.deepEqual(c.examples, {});
});

test('a second is final only after the close delay; late and future records are counted and dropped', () => {
  const { agg, seconds, pair } = setup();
  agg.advance(T0 * 1e6);
  pair({ startUs: (T0 + 1) * 1e6 });
  agg.advance((T0 + 3) * 1e6 - 1); // second T0+1 ends at T0+2, final at T0+4
  assert.deepEqual(
    seconds.map((s) => s.second),
    [],
  );
  agg.advance((T0 + 4) * 1e6);
  assert.deepEqual(
    seconds.map((s) => s.second),
    [T0 + 1],
  );
  pair({ startUs: (T0 + 1) * 1e6 + 5 }); // its second is final: late
  pair({ startUs: (T0 + 60) * 1e6 }); // beyond the window: future
  assert.equal(agg.counters.late, 1);
  assert.equal(agg.counters.future, 1);
  agg.flush((T0 + 100) * 1e6);
  assert.equal(seconds.length, 1, 'nothing else was accepted');
});

test('a clock jump far past the window still emits what was open, once', () => {
  const { agg, seconds, pair } = setup();
  agg.advance(T0 * 1e6);
  pair({ startUs: T0 * 1e6 });
  pair({ startUs: (T0 + 4) * 1e6 });
  agg.advance((T0 + 3600) * 1e6);
  assert.deepEqual(
    seconds.map((s) => s.second),
    [T0, T0 + 4],
  );
  agg.advance((T0 + 3601) * 1e6);
  assert.equal(seconds.length, 2);
});

test('tail exceedances use the endpoint primary quantile once enough samples exist', () => {
  const { agg, seconds, pair } = setup({ tailQuantile: 0.9 });
  agg.advance(T0 * 1e6);
  // Second T0: 20 pairs, primary 1..20 ms; no threshold yet (needs 10 samples at a second's close).
  for (let i = 1; i <= 20; i++) pair({ pLatencyUs: i * 1000, sLatencyUs: i * 1000 });
  agg.advance((T0 + 3) * 1e6); // finalizes T0, threshold = p90 of 1..20 ms ≈ 18 ms
  const thr = agg.tailThresholdUs(0);
  assert.ok(thr >= 18_000 && thr < 18_200, `threshold ${thr}`);
  const start = (T0 + 1) * 1e6;
  pair({ startUs: start, pLatencyUs: 5000, sLatencyUs: 30_000 }); // shadow over, primary not
  pair({ startUs: start, pLatencyUs: 30_000, sLatencyUs: 30_000 }); // both over
  pair({ startUs: start, pLatencyUs: 30_000, sLatencyUs: 5000 }); // primary over only
  agg.advance((T0 + 4) * 1e6);
  const c = seconds.find((s) => s.second === T0 + 1)!.cells[0]!;
  assert.equal(c.candidate.tailShadowOnly, 1);
  assert.equal(c.candidate.tailPrimaryOnly, 1);
  assert.equal(seconds.find((s) => s.second === T0)!.cells[0]!.candidate.tailShadowOnly, 0);
});

test('live records are compared with the tail threshold only once one exists (tailChecked)', () => {
  const { agg, seconds, pair, registry, series } = setup({ tailQuantile: 0.9 });
  const v1 = registry.cluster('checkout-v1');
  const live = (second: number, latencyUs: number, status = 200): void =>
    agg.onLive({
      series,
      cluster: v1,
      startUs: second * 1e6 + 5,
      latencyUs,
      status,
      flags: 0,
      idBuf: Buffer.from([1]),
      idOff: 0,
      idLen: 1,
      user: 0,
      outcomeMilli: 0,
    });
  agg.advance(T0 * 1e6);
  // Second T0: no threshold yet; a very slow live request is neither checked nor over.
  live(T0, 1_000_000);
  for (let i = 1; i <= 20; i++) pair({ pLatencyUs: i * 1000, sLatencyUs: i * 1000 });
  agg.advance((T0 + 3) * 1e6); // threshold ≈ 18 ms from here on
  // Second T0+1: two under, one over, one failed (failures are not tail evidence).
  live(T0 + 1, 5000);
  live(T0 + 1, 6000);
  live(T0 + 1, 40_000);
  live(T0 + 1, 40_000, 503);
  agg.advance((T0 + 4) * 1e6);
  const at = (s: number) => seconds.find((x) => x.second === s)!.cells[0]!.live['checkout-v1'];
  assert.deepEqual(at(T0), { requests: 1, failed: 0, overTail: 0, latSumUs: 1_000_000, tailChecked: 0 });
  assert.deepEqual(at(T0 + 1), { requests: 4, failed: 1, overTail: 1, latSumUs: 91_000, tailChecked: 3 });
});

test('live records count per cluster, in the same cell as pairs of that second', () => {
  const { registry, agg, seconds, series, pair } = setup();
  agg.advance(T0 * 1e6);
  const stable = registry.cluster('checkout-v1');
  const canary = registry.cluster('checkout-v2');
  const live = (cluster: number, status: number, latencyUs: number, flags = 0): void => {
    const r: LiveRecord = {
      series,
      cluster,
      startUs: T0 * 1e6 + 5,
      latencyUs,
      status,
      flags,
      idBuf: Buffer.from([0xab, 0xcd]),
      idOff: 0,
      idLen: 2,
      user: 0,
      outcomeMilli: 0,
    };
    agg.onLive(r);
  };
  live(stable, 200, 1000);
  live(stable, 200, 3000);
  live(canary, 502, 500);
  live(canary, 0, 10, FLAG_TIMEOUT);
  pair();
  agg.advance((T0 + 3) * 1e6);
  const c = seconds[0]!.cells[0]!;
  assert.equal(c.candidate.pairs, 1);
  assert.deepEqual(c.live, {
    'checkout-v1': { requests: 2, failed: 0, overTail: 0, latSumUs: 4000, tailChecked: 0 },
    'checkout-v2': { requests: 2, failed: 2, overTail: 0, latSumUs: 510, tailChecked: 0 },
  });
  assert.deepEqual(c.examples.live_errors, ['abcd', 'abcd']);
});

test('examples are capped per signal', () => {
  const { agg, seconds, pair } = setup({ examplesPerSignal: 2 });
  agg.advance(T0 * 1e6);
  for (let i = 0; i < 10; i++) pair({ sStatus: 500 });
  agg.advance((T0 + 3) * 1e6);
  assert.deepEqual(seconds[0]!.cells[0]!.examples.errors, ['req-0', 'req-1']);
});

test('per-minute histograms per arm are emitted encoded when a minute closes', () => {
  const { agg, pair } = setup();
  const rows: HistogramRow[] = [];
  agg.onMinute((r) => rows.push(...r));
  const m0 = Math.floor(T0 / 60) * 60;
  agg.advance(m0 * 1e6);
  for (let i = 1; i <= 100; i++) pair({ startUs: m0 * 1e6 + i, pLatencyUs: i * 100, sLatencyUs: i * 200 });
  pair({ startUs: m0 * 1e6, missing: true, sStatus: 0 });
  agg.advance((m0 + 59) * 1e6);
  assert.equal(rows.length, 0);
  agg.advance((m0 + 63) * 1e6);
  assert.deepEqual(rows.map((r) => [r.arm, r.count, r.minute, r.endpoint]).sort(), [
    ['candidate', 100, m0, 'GET /cart'],
    ['primary', 101, m0, 'GET /cart'],
  ]);
  const cand = hdr.decodeFromCompressedBase64(rows.find((r) => r.arm === 'candidate')!.encoded);
  assert.equal(cand.totalCount, 100);
  const p50 = cand.getValueAtPercentile(50);
  assert.ok(Math.abs(p50 - 10_000) <= 100, `p50 ${p50}`);
});

test('the latency sign test: a constant excess within the tolerance is no evidence, a larger one is', () => {
  // Identical versions whose copies take a constant 250 µs longer (the mirror callout's own path),
  // then a real +2 ms regression; service times spread 1–5 ms around each other.
  const counts = (excessUs: number) => {
    const { agg, pair, seconds } = setup({ latencyMarginRel: 0, latencyMarginAbsUs: 300 });
    agg.advance(T0 * 1e6);
    let x = 12345;
    const next = () => {
      x = (x * 48271) % 2147483647;
      return x / 2147483647;
    };
    for (let i = 0; i < 2000; i++) {
      pair({
        pLatencyUs: Math.round(1000 + 4000 * next()),
        sLatencyUs: Math.round(1000 + 4000 * next() + excessUs),
      });
    }
    agg.advance((T0 + 3) * 1e6);
    const c = seconds[0]!.cells[0]!.candidate;
    return { shadow: c.latShadowSlower, primary: c.latPrimarySlower };
  };
  const path = counts(250);
  assert.ok(path.shadow < path.primary, `a 250 µs path excess tips nothing: ${JSON.stringify(path)}`);
  const regression = counts(2000);
  assert.ok(
    regression.shadow > 1.5 * regression.primary,
    `a 2 ms regression shows: ${JSON.stringify(regression)}`,
  );
});
