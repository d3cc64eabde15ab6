import assert from 'node:assert/strict';
import test from 'node:test';
import {
  DEFAULT_VALIDATION_PARAMS,
  observeValidation,
  startValidation,
  validationVerdict,
} from '../../../daemon/judge/validation.js';

/** A small deterministic PRNG so the simulations are repeatable. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function simulate(pFail: number, seconds: number, rps: number, seed: number, histRate = 0.01) {
  const r = rng(seed);
  let s = startValidation({
    requests: 10_000,
    failed: 10_000 * histRate,
    overTail: 100,
    tailChecked: 10_000,
  });
  let first: number | null = null;
  for (let sec = 0; sec < seconds; sec++) {
    let failed = 0;
    let over = 0;
    for (let i = 0; i < rps; i++) {
      if (r() < pFail) failed++;
      if (r() < 0.01) over++;
    }
    s = observeValidation(s, { requests: rps, failed, overTail: over, tailChecked: rps - failed });
    if (first === null && validationVerdict(s, DEFAULT_VALIDATION_PARAMS).verdict === 'rollback') first = sec;
  }
  return first;
}

test('a restored version as healthy as its history passes validation (false alarms within 10^-t)', () => {
  // Arrange: 200 runs of 60 s at 50 rps, failure rate equal to history.
  let alarms = 0;
  for (let run = 0; run < 200; run++) if (simulate(0.01, 60, 50, run + 1) !== null) alarms++;
  // Assert: t = 2 allows 1 %; allow sampling slack.
  assert.ok(alarms <= 4, `false alarms ${alarms}/200`);
});

test('a restored version failing far more than before fails validation quickly', () => {
  const times: number[] = [];
  for (let run = 0; run < 20; run++) {
    const t = simulate(0.1, 60, 50, 1000 + run);
    assert.notEqual(t, null, 'a 10 % failure rate against a 1 % history must be detected');
    times.push(t!);
  }
  times.sort((a, b) => a - b);
  assert.ok(times[10]! <= 10, `median detection ${times[10]} s`);
});

test('no traffic is insufficient, never a rollback', () => {
  const s = startValidation({ requests: 0, failed: 0, overTail: 0, tailChecked: 0 });
  const v = validationVerdict(
    observeValidation(s, { requests: 0, failed: 0, overTail: 0, tailChecked: 0 }),
    DEFAULT_VALIDATION_PARAMS,
  );
  assert.equal(v.verdict, 'insufficient');
  assert.equal(v.score, 0);
});

test('without history the null rate is the configured default and the tail is not tested', () => {
  const s = startValidation({ requests: 10, failed: 5, overTail: 0, tailChecked: 5 });
  assert.equal(s.p0Failure, DEFAULT_VALIDATION_PARAMS.noHistoryFailureRate);
  // Arrange: every request over the tail threshold, none failed.
  let t = s;
  for (let i = 0; i < 30; i++)
    t = observeValidation(t, { requests: 50, failed: 0, overTail: 50, tailChecked: 50 });
  // Assert: no comparable tail history, so no tail evidence at all.
  assert.notEqual(validationVerdict(t, DEFAULT_VALIDATION_PARAMS).verdict, 'rollback');
});

test('a tail far heavier than history fails validation when history measured the tail', () => {
  let s = startValidation({ requests: 10_000, failed: 0, overTail: 100, tailChecked: 10_000 });
  for (let i = 0; i < 20; i++)
    s = observeValidation(s, { requests: 50, failed: 0, overTail: 10, tailChecked: 50 });
  const v = validationVerdict(s, DEFAULT_VALIDATION_PARAMS);
  assert.equal(v.verdict, 'rollback');
  assert.equal(v.signal, 'live_latency');
});

test('history counted before a tail threshold existed does not dilute the tail yardstick', () => {
  // Arrange: the demo's shape. 10,000 historical requests, of which only the 3,000 served once
  // primaries were mirrored were compared with a threshold (1 % of them over it, as a 0.99
  // quantile puts it); then 5 minutes of validation at 50 rps with 1.4 % over the frozen threshold.
  // Counted against all 10,000 (0.3 %, tolerance 0.9 %) this failed a healthy restored version.
  const r = rng(7);
  let s = startValidation({ requests: 10_000, failed: 50, overTail: 30, tailChecked: 3_000 });
  for (let sec = 0; sec < 300; sec++) {
    let over = 0;
    for (let i = 0; i < 50; i++) if (r() < 0.014) over++;
    s = observeValidation(s, { requests: 50, failed: 0, overTail: over, tailChecked: 50 });
  }
  // Assert
  const v = validationVerdict(s, DEFAULT_VALIDATION_PARAMS);
  assert.notEqual(v.verdict, 'rollback', v.explanation);
  assert.ok(s.p0Tail >= 3 * DEFAULT_VALIDATION_PARAMS.tailShare, `p0Tail ${s.p0Tail}`);
});

test('requests not compared with a threshold are no tail evidence, and a real tail regression still fails', () => {
  const s0 = startValidation({ requests: 10_000, failed: 0, overTail: 30, tailChecked: 3_000 });
  // Arrange: the threshold is gone (a restarted daemon mirrors nothing): no request is checked.
  let unchecked = s0;
  for (let i = 0; i < 60; i++)
    unchecked = observeValidation(unchecked, { requests: 50, failed: 0, overTail: 50, tailChecked: 0 });
  assert.deepEqual(unchecked.logTail, s0.logTail, 'no tail evidence either way');
  assert.equal(unchecked.seen.overTail, 0);
  assert.notEqual(validationVerdict(unchecked, DEFAULT_VALIDATION_PARAMS).verdict, 'rollback');
  // Arrange: checked, and 20 % of them over the threshold (the restored version's p80 is its old p99).
  const r = rng(11);
  let slow = s0;
  let at = -1;
  for (let sec = 0; sec < 60 && at < 0; sec++) {
    let over = 0;
    for (let i = 0; i < 50; i++) if (r() < 0.2) over++;
    slow = observeValidation(slow, { requests: 50, failed: 0, overTail: over, tailChecked: 50 });
    if (validationVerdict(slow, DEFAULT_VALIDATION_PARAMS).verdict === 'rollback') at = sec;
  }
  assert.ok(at >= 0 && at <= 15, `detected at ${at} s`);
  const v = validationVerdict(slow, DEFAULT_VALIDATION_PARAMS);
  assert.equal(v.signal, 'live_latency');
  assert.match(v.explanation, /^tail \d+\/\d+ .* from 3000 historical requests measured against/);
});
