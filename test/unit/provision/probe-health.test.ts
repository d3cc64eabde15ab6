import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextHealth, UNHEALTHY_AFTER } from '../../../daemon/provision/probe.js';

test('a new endpoint is healthy once it answers, never before', () => {
  assert.deepEqual(nextHealth(undefined, false), { healthy: false, failures: 1 });
  assert.deepEqual(nextHealth({ healthy: false, failures: 5 }, false), { healthy: false, failures: 6 });
  assert.deepEqual(nextHealth(undefined, true), { healthy: true, failures: 0 });
});

test('a healthy endpoint survives one lost probe and turns unhealthy after two in a row', () => {
  assert.equal(UNHEALTHY_AFTER, 2);
  const once = nextHealth({ healthy: true, failures: 0 }, false);
  assert.deepEqual(once, { healthy: true, failures: 1 });
  assert.deepEqual(nextHealth(nextHealth(once, true), false), { healthy: true, failures: 1 });
  assert.deepEqual(nextHealth(once, false), { healthy: false, failures: 2 });
});
