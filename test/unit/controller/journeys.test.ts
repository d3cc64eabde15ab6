/**
 * Journeys in the daemon: which pools each phase compares, the weights the
 * judge gets, and the feed that turns a step's outcomes into pairs of the
 * shared aggregator without counting as user traffic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellStats } from '../../../daemon/aggregate/stats.js';
import { parseConfig } from '../../../daemon/config/load.js';
import {
  JourneyFeed,
  journeyPools,
  serviceJourneys,
  syntheticWeights,
} from '../../../daemon/controller/journeys.js';
import type { ArmOutcome } from '../../../daemon/synthetic/records.js';
import { createPipeline } from '../../../daemon/telemetry/pipeline.js';
import { shadowing } from '../rollout/fixtures.js';

function service(journeys: string[]) {
  const r = parseConfig(
    [
      'services:',
      '  - name: checkout',
      '    stable: v1',
      '    provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:9001"] } } }',
      '    judge: { syntheticShare: 0.3 }',
      '    journeys:',
      ...journeys,
    ].join('\n'),
  );
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  return r.config.services[0]!;
}

test('each journey step weighs its share of syntheticShare: by journey weight, then evenly by step', () => {
  const cfg = service([
    '      - { name: a, weight: 2, steps: [{ name: x, path: / }, { name: y, path: / }] }',
    '      - { name: b, steps: [{ name: z, path: / }] }',
  ]);
  const w = Object.fromEntries(
    Object.entries(syntheticWeights(cfg)).map(([k, v]) => [k, Math.round(v * 1e12) / 1e12]),
  );
  assert.deepEqual(w, {
    'synthetic:a/x': 0.1,
    'synthetic:a/y': 0.1,
    'synthetic:b/z': 0.1,
  });
});

test('shadowing compares the stable version (or its baseline) with the candidate; baking the reverse; nothing else runs', () => {
  const d = shadowing();
  assert.deepEqual(journeyPools(d), {
    primary: { version: 'v1', pool: 'main' },
    candidate: { version: 'v2', pool: 'main' },
  });
  assert.deepEqual(journeyPools({ ...d, plan: { ...d.plan, baseline: true } })?.primary, {
    version: 'v1',
    pool: 'baseline',
  });
  assert.deepEqual(journeyPools({ ...d, phase: 'baking' }), {
    primary: { version: 'v2', pool: 'main' },
    candidate: { version: 'v1', pool: 'main' },
  });
  for (const phase of ['provisioning', 'promoting', 'validating', 'completed', 'rolled_back'] as const) {
    assert.equal(journeyPools({ ...d, phase }), undefined, phase);
  }
  assert.equal(
    journeyPools({ ...d, paused: { at: 0, reason: 'x', remainingMs: null, auto: false } }),
    undefined,
  );
  assert.equal(journeyPools(undefined), undefined);
});

const S = 1_700_000_000;
const arm = (status: number, failures: string[] = []): ArmOutcome => ({
  status,
  flags: 0,
  latencyUs: 3000,
  hashLo: 1,
  hashHi: 0,
  failures,
});

test('the feed pairs a step into the shared aggregator under its own endpoint, not as user traffic', () => {
  const p = createPipeline({
    pairing: { ttlUs: 7e6 },
    aggregate: { closeDelayUs: 13e6, arrivalGraceUs: 2e6 },
  });
  const cells: CellStats[] = [];
  p.aggregator.onSecond((c) => cells.push(...c));
  const cfg = service(['      - { name: pay, steps: [{ name: total, path: / }] }']);
  let now = S * 1e6;
  const feed = new JourneyFeed('checkout', p.registry, p.aggregator, () => now);
  p.ingest.advance(now);

  // A step starts at S + 0.5 s and its answers take 4 s: the second must wait for them.
  const start = S * 1e6 + 500_000;
  feed.stepStarting(start);
  now = start + 4e6;
  p.ingest.advance(now);
  assert.equal(cells.length, 0, 'second S still open while its step runs');
  feed.pair(serviceJourneys(cfg)[0]!, 1, {
    step: 'total',
    startUs: start,
    primary: arm(200),
    candidate: arm(599, ['$.total is 0']),
  });
  feed.stepEnded(start);
  p.ingest.advance(now + 1e6);

  const cell = cells.find((c) => c.key.endpoint === 'synthetic:pay/total');
  assert.ok(cell, 'a cell for the journey endpoint');
  assert.deepEqual([cell.key.second, cell.key.segment], [S, '']);
  assert.deepEqual(
    [cell.candidate.pairs, cell.candidate.errShadowOnly, cell.candidate.statusMismatch],
    [1, 1, 1],
  );
  assert.deepEqual(cell.examples.errors, ['synthetic pay/total #1']);
  // Not user traffic: the filters' pairer and ingest never saw it.
  assert.deepEqual([p.pairer.counters.records, p.ingest.counters.records], [0, 0]);
  assert.deepEqual([feed.pairer.counters.records, feed.pairer.counters.pairs], [2, 1]);
});
