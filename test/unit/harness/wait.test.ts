/** The tests' one wait: returns what it awaited, and a timeout names it with the last value seen. */
import assert from 'node:assert/strict';
import test from 'node:test';
import { waitFor } from '../../harness/wait.js';

test('returns the first value the probe gives that is there (0 counts, false and undefined do not)', async () => {
  const values = [undefined, false, 0];
  assert.equal(await waitFor('a value', () => values.shift(), { intervalMs: 1 }), 0);
});

test('with a predicate, returns the first accepted value', async () => {
  let n = 0;
  assert.equal(
    await waitFor(
      'n to reach 3',
      () => ++n,
      (v) => v >= 3,
      { intervalMs: 1 },
    ),
    3,
  );
});

test('a probe that throws is "not yet"; the timeout names what was awaited and the last error', async () => {
  await assert.rejects(
    waitFor(
      'the admin API',
      () => {
        throw new Error('ECONNREFUSED');
      },
      { timeoutMs: 30, intervalMs: 10 },
    ),
    /timed out after 30 ms \(\d+ tries\) waiting for the admin API; last seen: error: ECONNREFUSED/,
  );
});

test('bounded in tries as well as in time, and the last value is in the message', async () => {
  let tries = 0;
  await assert.rejects(
    waitFor(
      'five pairs',
      () => ++tries,
      (v) => v >= 1000,
      { timeoutMs: 100, intervalMs: 20 },
    ),
    /waiting for five pairs; last seen: \d+$/,
  );
  assert.ok(tries <= 100 / 20 + 1, `${tries} tries`);
});
