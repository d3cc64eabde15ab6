/**
 * The chaos calls of the admin API at the edge: every bad fault named with
 * its path and nothing started; a refusal by the runner is a failed
 * precondition with its reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chaosHandlers, chaosRequest } from '../../../daemon/admin/chaos-api.js';
import { AdminError } from '../../../daemon/admin/port.js';
import { ChaosRefusal } from '../../../daemon/controller/chaos-runner.js';

test('a start request: faults parsed, defaults filled, every bad one named with its path', () => {
  assert.deepEqual(
    chaosRequest({ service: 'shop', version: 'v4', faults: ['db:delay=200ms'], durationMs: 0 }),
    {
      service: 'shop',
      version: 'v4',
      faults: [{ kind: 'delay', dependency: 'db', ms: 200, percent: 100 }],
      durationMs: 60_000,
      onRegression: 'report',
    },
  );
  assert.throws(
    () =>
      chaosRequest({ service: 'shop', version: '', faults: ['db:delay=200ms', 'db:slow', 'db:abort=99'] }),
    (e: Error) =>
      e instanceof AdminError &&
      e.code === 'invalid_argument' &&
      e.message ===
        'version: required; faults[1]: must be DEP:delay=200ms[@P%], DEP:abort=503[@P%], reset:P%@DEP or lose-replica=N (got "db:slow"); ' +
          'faults[2]: abort must be an HTTP status 200..599 (got "99")',
  );
});

test("the runner's refusal is a failed precondition with its reason", () => {
  const started: unknown[] = [];
  const handlers = chaosHandlers({
    start: (req) => {
      started.push(req);
      throw new ChaosRefusal("faults[0]: unknown dependency 'cache' (declared: db)");
    },
    status: () => [],
    stop: () => {
      throw new ChaosRefusal('service: no chaos experiment runs on shop');
    },
  });

  assert.throws(
    () => handlers['ChaosStart']!({ service: 'shop', version: 'v4', faults: ['cache:abort=503'] }),
    (e: Error) =>
      e instanceof AdminError &&
      e.code === 'failed_precondition' &&
      /unknown dependency 'cache'/.test(e.message),
  );
  assert.throws(() => handlers['ChaosStop']!({ service: 'shop' }), /no chaos experiment runs on shop/);
  assert.equal(started.length, 1);
});
