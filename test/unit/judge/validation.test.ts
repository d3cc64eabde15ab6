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
  let s = startValidation({ requests: 10_000, failed: 10_000 * histRate, overTail: 100 });
  let first: number | null = null;
  for (let sec = 0; sec < seconds; sec++) {
    let failed = 0;
    let over = 0;
    for (let i = 0; i < rps; i++) {
      if (r() < pFail) failed++;
      if (r() < 0.01) over++;
    }
    s = observeValidation(s, { requests: rps, failed, overTail: over });
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
  const s = startValidation({ requests: 0, failed: 0, overTail: 0 });
  const v = validationVerdict(
    observeValidation(s, { requests: 0, failed: 0, overTail: 0 }),
    DEFAULT_VALIDATION_PARAMS,
  );
  assert.equal(v.verdict, 'insufficient');
  assert.equal(v.score, 0);
});

test('without history the null rate is the configured default and the tail is not tested', () => {
  const s = startValidation({ requests: 10, failed: 5, overTail: 0 });
  assert.equal(s.p0Failure, DEFAULT_VALIDATION_PARAMS.noHistoryFailureRate);
  // Arrange: every request over the tail threshold, none failed.
  let t = s;
  for (let i = 0; i < 30; i++) t = observeValidation(t, { requests: 50, failed: 0, overTail: 50 });
  // Assert: no comparable tail history, so no tail evidence at all.
  assert.notEqual(validationVerdict(t, DEFAULT_VALIDATION_PARAMS).verdict, 'rollback');
});

test('a tail far heavier than history fails validation when history measured the tail', () => {
  let s = startValidation({ requests: 10_000, failed: 0, overTail: 100 });
  for (let i = 0; i < 20; i++) s = observeValidation(s, { requests: 50, failed: 0, overTail: 10 });
  const v = validationVerdict(s, DEFAULT_VALIDATION_PARAMS);
  assert.equal(v.verdict, 'rollback');
  assert.equal(v.signal, 'live_latency');
});
