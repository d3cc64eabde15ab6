/**
 * The adaptive share policy, rule by rule: inputs of one closed second in,
 * the share for the next requests and its reason out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  initialShare,
  type JudgeSignal,
  nextShare,
  type ShareInputs,
  type ShareState,
} from '../../../daemon/adaptive/policy.js';

const range = { min: 1, max: 20 };
const judge = (over: Partial<JudgeSignal> = {}): JudgeSignal => ({
  verdict: 'healthy',
  reason: null,
  score: 0,
  threshold: 2,
  predictedSecondsToThreshold: null,
  ...over,
});
const input = (over: Partial<ShareInputs> = {}): ShareInputs => ({
  second: 100,
  judge: judge(),
  production: { healthy: true },
  pool: {},
  ...over,
});
const at = (share: number, calmSince: number | null = null): ShareState => ({ share, calmSince });

test('a phase begins at max: nothing is known yet', () => {
  assert.deepEqual(initialShare(range), { share: 20, calmSince: null });
});

test('production unhealthy pauses mirroring whatever the evidence', () => {
  const r = nextShare(
    range,
    at(20),
    input({
      production: { healthy: false, reason: 'production unhealthy: 7% 5xx' },
      judge: judge({ score: 1.5 }),
    }),
  );

  assert.equal(r.state.share, 0);
  assert.match(r.reason, /^paused: production unhealthy/);
});

test('a saturated pool halves the share, never below min', () => {
  const cpu = nextShare(range, at(20), input({ pool: { cpuPercent: 93 } }));
  const slow = nextShare(range, at(1.5), input({ pool: { latencyRatio: 4 } }));

  assert.equal(cpu.state.share, 10);
  assert.match(cpu.reason, /saturated \(CPU 93% of a core\)/);
  assert.equal(slow.state.share, 1);
  assert.match(slow.reason, /latency 4\.0× production's/);
});

test('the judge lacking evidence raises the share toward max, doubling', () => {
  const r = nextShare(range, at(4), input({ judge: judge({ verdict: 'insufficient', reason: 'warm-up' }) }));
  const capped = nextShare(range, at(16), input({ judge: null }));

  assert.equal(r.state.share, 8);
  assert.match(r.reason, /judge lacks evidence \(warm-up\): raising toward 20%/);
  assert.equal(capped.state.share, 20);
});

test('no headroom holds the share instead of raising it; unknown load is no reason to hold', () => {
  const held = nextShare(range, at(4), input({ judge: null, pool: { cpuPercent: 75 } }));
  const unknown = nextShare(range, at(4), input({ judge: null, pool: {} }));

  assert.equal(held.state.share, 4);
  assert.match(held.reason, /no headroom \(CPU 75% of a core\)/);
  assert.equal(unknown.state.share, 8);
});

test('evidence building raises the share, unless the verdict is due soon', () => {
  const raised = nextShare(range, at(1), input({ judge: judge({ score: 0.6 }) }));
  const due = nextShare(
    range,
    at(5),
    input({ judge: judge({ score: 0.6, predictedSecondsToThreshold: 3 }) }),
  );

  assert.equal(raised.state.share, 2);
  assert.match(raised.reason, /evidence building \(score 0\.60 of 2\)/);
  assert.equal(due.state.share, 5);
  assert.match(due.reason, /verdict due in 3 s/);
});

test('a candidate that looks broken gets at most 3/4 of max, never raised', () => {
  const high = nextShare(range, at(20), input({ judge: judge({ score: 1.2 }) }));
  const low = nextShare(range, at(2), input({ judge: judge({ score: 1.2 }) }));

  assert.equal(high.state.share, 15);
  assert.match(high.reason, /anomaly score 1\.20 of 2: less load on a candidate that looks broken/);
  assert.equal(low.state.share, 2);
});

test('a rollback verdict drops to min', () => {
  const r = nextShare(range, at(20), input({ judge: judge({ verdict: 'rollback', score: 2.3 }) }));

  assert.equal(r.state.share, 1);
});

test('healthy with a low score holds the share until calm long enough, then min', () => {
  let s = at(20);
  const shares: number[] = [];
  for (let second = 10; second < 26; second++) {
    const r = nextShare(range, s, input({ second }));
    s = r.state;
    shares.push(s.share);
  }

  assert.deepEqual(shares.slice(0, 14), Array(14).fill(20), 'kept while calm for less than 15 s');
  assert.equal(shares[14], 1, 'min after 15 s of calm');
  assert.equal(s.calmSince, 10);
});

test('a score that climbs again ends the calm and raises the share from min', () => {
  const calm = at(1, 10);

  const r = nextShare(range, calm, input({ second: 40, judge: judge({ score: 0.7 }) }));

  assert.equal(r.state.calmSince, null);
  assert.equal(r.state.share, 2);
});

test('after a pause for production, a healthy production resumes at max; a min of 0 is no pause', () => {
  const resumed = nextShare(range, { share: 0, calmSince: null, paused: true }, input({ second: 10 }));
  const zero = nextShare({ min: 0, max: 20 }, at(0, 1), input({ second: 40 }));

  assert.equal(resumed.state.share, 20);
  assert.match(resumed.reason, /production healthy again: resuming at 20%/);
  assert.equal(zero.state.share, 0, 'calm at min 0 stays there');
});
