import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ArmRecord, formatRequestId, Pairer, type PairView } from '../../../daemon/pairing/pairer.js';
import { hashRequestId, lastIdH2 } from '../../../daemon/telemetry/decode.js';
import {
  ARM_BASELINE,
  ARM_CANDIDATE,
  ARM_PRIMARY,
  FLAG_MIRROR_ABANDONED,
} from '../../../daemon/wire/record-contract.js';

interface Seen {
  id: string;
  arm: number;
  missing: boolean;
  series: number;
  startUs: number;
  p: [number, number];
  s: [number, number];
}

function harness(opts: ConstructorParameters<typeof Pairer>[1] = {}) {
  const seen: Seen[] = [];
  const pairer = new Pairer(
    {
      onPair(v: PairView) {
        seen.push({
          id: v.requestId(),
          arm: v.shadowArm,
          missing: v.missing,
          series: v.series,
          startUs: v.startUs,
          p: [v.pStatus, v.pLatencyUs],
          s: [v.sStatus, v.sLatencyUs],
        });
      },
    },
    { ttlUs: 1000, maxInFlight: 64, baselineWindowUs: 5000, ...opts },
  );
  const rec = (id: string, arm: number, fields: Partial<ArmRecord> = {}): ArmRecord => {
    const idBuf = Buffer.from(id);
    const h1 = hashRequestId(idBuf);
    return {
      series: 0,
      h1,
      h2: lastIdH2,
      arm,
      startUs: 5_000_000,
      latencyUs: 100,
      status: 200,
      flags: 0,
      hashLo: 1,
      hashHi: 2,
      idBuf,
      idOff: 0,
      idLen: idBuf.length,
      ...fields,
    };
  };
  return { pairer, seen, rec };
}

test('primary and candidate pair in either order; the pair carries both arms', () => {
  const { pairer, seen, rec } = harness();
  pairer.add(rec('a', ARM_CANDIDATE, { status: 503, latencyUs: 900 }), 10);
  assert.equal(seen.length, 0, 'no pair before the primary');
  pairer.add(rec('a', ARM_PRIMARY, { startUs: 7_000_000 }), 20);
  pairer.add(rec('b', ARM_PRIMARY), 30);
  pairer.add(rec('b', ARM_CANDIDATE, { latencyUs: 150 }), 40);
  assert.deepEqual(seen, [
    {
      id: 'a',
      arm: ARM_CANDIDATE,
      missing: false,
      series: 0,
      startUs: 7_000_000,
      p: [200, 100],
      s: [503, 900],
    },
    {
      id: 'b',
      arm: ARM_CANDIDATE,
      missing: false,
      series: 0,
      startUs: 5_000_000,
      p: [200, 100],
      s: [200, 150],
    },
  ]);
  assert.equal(pairer.counters.pairs, 2);
  assert.equal(pairer.counters.records, 4);
});

test('a candidate still missing after the TTL is a shadow timeout; not before', () => {
  const { pairer, seen, rec } = harness();
  pairer.add(rec('a', ARM_PRIMARY), 0);
  pairer.advance(999);
  assert.equal(seen.length, 0);
  pairer.advance(1000);
  assert.deepEqual(
    seen.map((s) => [s.id, s.arm, s.missing]),
    [['a', ARM_CANDIDATE, true]],
  );
  assert.equal(pairer.counters.shadowTimeouts, 1);
  assert.equal(pairer.inFlight, 0);
  // The late candidate opens a new slot that expires as an orphan.
  pairer.add(rec('a', ARM_CANDIDATE), 1500);
  pairer.advance(3000);
  assert.equal(pairer.counters.orphanShadows, 1);
  assert.equal(seen.length, 1);
});

test('duplicates within the TTL are counted and ignored, also after the pair completed', () => {
  const { pairer, seen, rec } = harness();
  pairer.add(rec('a', ARM_PRIMARY), 0);
  pairer.add(rec('a', ARM_PRIMARY, { status: 500 }), 1);
  pairer.add(rec('a', ARM_CANDIDATE), 2);
  pairer.add(rec('a', ARM_CANDIDATE), 3);
  pairer.add(rec('a', ARM_PRIMARY), 4);
  pairer.advance(5000);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.p[0], 200, 'first primary kept');
  assert.equal(pairer.counters.duplicates, 3);
  assert.equal(pairer.counters.shadowTimeouts, 0);
});

test('baseline pairs are emitted separately; a missing baseline times out only where baselines run', () => {
  const { pairer, seen, rec } = harness();
  // Series 1 has no baseline: no baseline timeout.
  pairer.add(rec('x', ARM_PRIMARY, { series: 1 }), 0);
  pairer.add(rec('x', ARM_CANDIDATE, { series: 1 }), 1);
  // Series 0 runs a baseline.
  pairer.add(rec('a', ARM_PRIMARY), 2);
  pairer.add(rec('a', ARM_BASELINE), 3);
  pairer.add(rec('a', ARM_CANDIDATE), 4);
  pairer.add(rec('b', ARM_PRIMARY), 5);
  pairer.add(rec('b', ARM_CANDIDATE), 6);
  pairer.advance(10_000);
  assert.deepEqual(
    seen.map((s) => [s.id, s.arm, s.missing]),
    [
      ['x', ARM_CANDIDATE, false],
      ['a', ARM_BASELINE, false],
      ['a', ARM_CANDIDATE, false],
      ['b', ARM_CANDIDATE, false],
      ['b', ARM_BASELINE, true],
    ],
  );
});

test('an abandoned mirror expects no shadow', () => {
  const { pairer, seen, rec } = harness();
  pairer.add(rec('a', ARM_PRIMARY, { flags: FLAG_MIRROR_ABANDONED }), 0);
  pairer.advance(5000);
  assert.equal(seen.length, 0);
  assert.equal(pairer.counters.abandoned, 1);
  assert.equal(pairer.counters.shadowTimeouts, 0);
});

test('the in-flight cap evicts the oldest, counting incomplete ones, and memory stays fixed', () => {
  const { pairer, seen, rec } = harness({ maxInFlight: 4, ttlUs: 1e12 });
  for (let i = 0; i < 10; i++) pairer.add(rec(`r${i}`, ARM_PRIMARY), i);
  assert.equal(pairer.inFlight, 4);
  assert.equal(pairer.counters.evicted, 6);
  assert.equal(pairer.counters.evictedIncomplete, 6);
  assert.equal(seen.length, 0, 'evicted slots are not reported as timeouts');
  // The newest four are still pairable.
  for (let i = 6; i < 10; i++) pairer.add(rec(`r${i}`, ARM_CANDIDATE), 100 + i);
  assert.deepEqual(
    seen.map((s) => s.id),
    ['r6', 'r7', 'r8', 'r9'],
  );
  // An evicted one is not.
  pairer.add(rec('r0', ARM_CANDIDATE), 200);
  assert.equal(seen.length, 4);
});

test('the index stays consistent under heavy churn (hash table deletions)', () => {
  const { pairer, seen, rec } = harness({ maxInFlight: 50, ttlUs: 100 });
  let t = 0;
  for (let i = 0; i < 5000; i++) {
    t += 3;
    pairer.advance(t);
    pairer.add(rec(`id-${i}`, ARM_PRIMARY), t);
    if (i >= 7) pairer.add(rec(`id-${i - 7}`, ARM_CANDIDATE), t);
  }
  pairer.flush();
  const real = seen.filter((s) => !s.missing).length;
  const missing = seen.filter((s) => s.missing).length;
  // Candidate i-7 arrives 21 µs after its primary, well inside the TTL.
  assert.equal(real, 4993);
  assert.equal(missing, 7);
  assert.equal(pairer.counters.evicted, 0);
  assert.equal(pairer.inFlight, 0);
});

for (const [what, h2Of] of [
  ['distinct tags', (k: number) => k],
  ['equal tags', (k: number) => k * 2 ** 20],
] as const) {
  test(`requests sharing a hash bucket pair like a plain map would, through expiry and eviction (${what})`, () => {
    // Every id gets the same h1 (one bucket, one long chain) and its own h2; a
    // straightforward model (a Map in arrival order) says what must happen.
    const cap = 16;
    const ttl = 50;
    const { pairer, seen, rec } = harness({ maxInFlight: cap, ttlUs: ttl });
    const model = new Map<string, { created: number; arrived: number; done: boolean }>();
    const expected: [string, boolean][] = [];
    let duplicates = 0;
    let evicted = 0;
    let x = 7;
    const rnd = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    let t = 0;
    for (let i = 0; i < 20_000; i++) {
      t += rnd(3);
      for (const [id, m] of model) {
        if (m.created + ttl > t) break;
        if (m.arrived & 1 && !m.done) expected.push([id, true]);
        model.delete(id);
      }
      pairer.advance(t);
      const n = rnd(60);
      const id = `q${i - n}`;
      const arm = rnd(2) === 0 ? ARM_PRIMARY : ARM_CANDIDATE;
      const bit = arm === ARM_PRIMARY ? 1 : 2;
      let m = model.get(id);
      if (!m) {
        if (model.size >= cap) {
          model.delete(model.keys().next().value as string);
          evicted++;
        }
        m = { created: t, arrived: 0, done: false };
        model.set(id, m);
      }
      if (m.arrived & bit) duplicates++;
      else {
        m.arrived |= bit;
        if (m.arrived === 3) {
          m.done = true;
          expected.push([id, false]);
        }
      }
      pairer.add(rec(id, arm, { h1: 42, h2: h2Of(i - n) | 0 }), t);
    }
    assert.deepEqual(
      seen.map((s) => [s.id, s.missing]),
      expected,
    );
    assert.equal(pairer.counters.duplicates, duplicates);
    assert.equal(pairer.counters.evicted, evicted);
    assert.ok(evicted > 100 && expected.length > 1000, 'the run exercises eviction and pairing');
  });
}

test('request ids format as UUID, text or hex', () => {
  const uuid = Buffer.from('9f2c8e0a1b2c4d5e8f90a1b2c3d4e5f6', 'hex');
  assert.equal(formatRequestId(uuid), '9f2c8e0a-1b2c-4d5e-8f90-a1b2c3d4e5f6');
  assert.equal(formatRequestId(Buffer.from('req-42')), 'req-42');
  assert.equal(formatRequestId(Buffer.from([0, 1, 255])), '0001ff');
});
