import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Mirroring } from '../../../daemon/config/schema.js';
import type { ArmRecord } from '../../../daemon/pairing/pairer.js';
import { hashRequestId, lastIdH2 } from '../../../daemon/telemetry/decode.js';
import {
  createPipeline,
  DEFAULT_MIRROR_TIMEOUT_MS,
  pipelineTiming,
} from '../../../daemon/telemetry/pipeline.js';
import { ARM_BASELINE, ARM_CANDIDATE, ARM_PRIMARY } from '../../../daemon/wire/record-contract.js';

const S = 1_700_000_000; // a Unix second
const US = 1e6;

/** A real pairer feeding a real aggregator: TTL 7 s, close bound 13 s, grace 2 s (a default daemon). */
function setup() {
  const p = createPipeline({
    pairing: { ttlUs: 7 * US },
    aggregate: { closeDelayUs: 13 * US, arrivalGraceUs: 2 * US },
  });
  const closed: { second: number; atUs: number; pairs: number; missing: number }[] = [];
  p.aggregator.onSecond((cells, second, nowUs) => {
    let pairs = 0;
    let missing = 0;
    for (const c of cells) {
      pairs += c.candidate.pairs;
      missing += c.candidate.shadowMissing;
    }
    closed.push({ second, atUs: nowUs, pairs, missing });
  });
  const series = p.registry.series('checkout', 'GET /cart', '');
  const add = (id: string, arm: number, startUs: number, atUs: number): void => {
    const idBuf = Buffer.from(id);
    const r: ArmRecord = {
      series,
      h1: hashRequestId(idBuf),
      h2: lastIdH2,
      arm,
      startUs,
      latencyUs: 1000,
      status: 200,
      flags: 0,
      hashLo: 1,
      hashHi: 1,
      idBuf,
      idOff: 0,
      idLen: idBuf.length,
    };
    p.ingest.advance(atUs);
    p.pairer.add(r, atUs);
  };
  const tick = (atUs: number) => p.ingest.advance(atUs);
  /** Both arms of request `id`, started at `startUs`: the primary's record arriving at `pAt`, the candidate's at `cAt`. */
  const both = (id: string, startUs: number, pAt: number, cAt: number): void => {
    add(id, ARM_PRIMARY, startUs, pAt);
    add(id, ARM_CANDIDATE, startUs, cAt);
  };
  return { p, closed, add, both, tick };
}

test('a second closes once its grace has passed and every pair that started in it resolved', () => {
  const { p, closed, add, both, tick } = setup();
  tick(S * US);
  both('a', S * US + 100_000, S * US + 110_000, S * US + 130_000);
  add('b', ARM_PRIMARY, S * US + 900_000, S * US + 910_000);
  // b's candidate is slow (4 s): its second must wait for it, past the grace.
  tick((S + 3) * US + 1);
  assert.equal(closed.length, 0);
  add('b', ARM_CANDIDATE, S * US + 900_000, (S + 4) * US + 900_000);
  tick((S + 4) * US + 900_001);
  assert.deepEqual(closed, [{ second: S, atUs: (S + 4) * US + 900_001, pairs: 2, missing: 0 }]);
  assert.equal(p.aggregator.counters.closedAtBound, 0, 'every second so far closed early');
});

test('a second with nothing pending closes at the grace, not at the close delay', () => {
  const { closed, both, tick } = setup();
  tick(S * US);
  both('a', S * US + 100_000, S * US + 110_000, S * US + 130_000);
  tick((S + 3) * US - 1);
  assert.equal(closed.length, 0, 'within the grace: a primary of that second may still be on its way');
  tick((S + 3) * US);
  assert.deepEqual(
    closed.map((c) => c.second),
    [S],
  );
});

test('a shadow that never comes holds its second only until the TTL, then counts as missing', () => {
  const { p, closed, add, both, tick } = setup();
  tick(S * US);
  add('a', ARM_PRIMARY, S * US + 100_000, S * US + 110_000);
  both('b', S * US + 200_000, S * US + 210_000, S * US + 230_000);
  tick(S * US + 110_000 + 7 * US - 1);
  assert.equal(closed.length, 0);
  tick(S * US + 110_000 + 7 * US);
  assert.deepEqual(closed, [{ second: S, atUs: S * US + 110_000 + 7 * US, pairs: 1, missing: 1 }]);
  assert.equal(p.aggregator.counters.missing, 1);
});

test('seconds close in order: a resolved second waits for an earlier unresolved one', () => {
  const { closed, add, both, tick } = setup();
  tick(S * US);
  add('a', ARM_PRIMARY, S * US + 100_000, S * US + 110_000);
  both('b', (S + 1) * US + 100_000, (S + 1) * US + 110_000, (S + 1) * US + 120_000);
  tick((S + 5) * US);
  assert.equal(closed.length, 0);
  add('a', ARM_CANDIDATE, S * US + 100_000, (S + 5) * US + 1);
  tick((S + 5) * US + 2);
  assert.deepEqual(
    closed.map((c) => c.second),
    [S, S + 1],
  );
});

test('where a baseline runs, a second also waits for the baseline arm', () => {
  const { closed, add, both, tick } = setup();
  tick(S * US);
  add('x', ARM_BASELINE, S * US, S * US + 1); // baselines run for this series
  both('a', S * US + 100_000, S * US + 110_000, S * US + 120_000);
  tick((S + 4) * US);
  assert.equal(closed.length, 0);
  add('a', ARM_BASELINE, S * US + 100_000, (S + 4) * US + 1);
  tick((S + 4) * US + 2);
  assert.deepEqual(
    closed.map((c) => c.second),
    [S],
  );
});

test("replay's default timing is a default daemon's: the mirroring timeout's default", () => {
  assert.equal(Mirroring.parse({}).timeout, DEFAULT_MIRROR_TIMEOUT_MS);
  assert.deepEqual(pipelineTiming(DEFAULT_MIRROR_TIMEOUT_MS), {
    pairing: { ttlUs: 7 * US },
    aggregate: { closeDelayUs: 13 * US, arrivalGraceUs: 2 * US },
  });
});
