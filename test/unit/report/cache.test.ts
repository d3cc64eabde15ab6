import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildReport } from '../../../daemon/report/build.js';
import { cachingReader } from '../../../daemon/report/cache.js';
import { openStore } from '../../../daemon/store/sqlite.js';
import { SERVICE, seedRegression } from './fixture.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

test('the live page reads each stored second and histogram once and builds the same report', () => {
  const store = openStore(':memory:');
  const { id } = seedRegression(store, T0);
  const reader = cachingReader(store);
  const from = Math.floor(T0 / 1000);
  const stored = (to: number) =>
    store.listCells({ service: SERVICE, fromSecond: from, toSecond: to }).map((c) => c.cell);
  // A growing window, as a deployment in progress is seen: each read matches the store's.
  for (const to of [from + 5, from + 9, from + 9, from + 40]) {
    assert.deepEqual(reader.cells(SERVICE, from, to), stored(to), `cells up to ${to}`);
  }
  assert.deepEqual(
    reader.cells(SERVICE, from + 6, from + 8),
    stored(from + 8).slice(stored(from + 6).length),
  );
  // Twice through the cache (decoded histograms reused, never changed) equals a cold build.
  const cold = buildReport(store, id, T0);
  const warm1 = buildReport(store, id, T0, reader);
  const warm2 = buildReport(store, id, T0, reader);
  store.close();
  assert.ok(cold.ok && warm1.ok && warm2.ok);
  assert.deepEqual(warm1.report, cold.report);
  assert.deepEqual(warm2.report, cold.report);
});
