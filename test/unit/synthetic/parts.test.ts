/**
 * The schema-independent pieces of journeys: templates, the JSON-path
 * subset, assertions, and how an outcome becomes a record.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkStep, type StepResponse } from '../../../daemon/synthetic/assertions.js';
import { compileJourney, type Journey } from '../../../daemon/synthetic/journey.js';
import { parseJsonPath, readJsonPath } from '../../../daemon/synthetic/json-path.js';
import { ASSERTION_FAILED_STATUS, armOutcome } from '../../../daemon/synthetic/records.js';
import { fillTemplate, parseTemplate } from '../../../daemon/synthetic/template.js';
import { FLAG_TIMEOUT } from '../../../daemon/wire/record-contract.js';

test('templates fill names and refuse anything else', () => {
  const t = parseTemplate('/cart/{{ user }}/{{run}}');
  assert.ok(!('error' in t));
  assert.equal(
    fillTemplate(
      t,
      new Map([
        ['user', 'u1'],
        ['run', '7'],
      ]),
    ),
    '/cart/u1/7',
  );
  assert.deepEqual(parseTemplate('no placeholders'), { parts: ['no placeholders'] });
  assert.ok('error' in parseTemplate('/{{a.b}}'));
  assert.ok('error' in parseTemplate('/{{}}'));
  assert.ok('error' in parseTemplate('/{{a'));
  assert.throws(() => fillTemplate(t, new Map()), /user/);
});

test('the JSON-path subset reads members and indices, and refuses the rest', () => {
  const doc = { order: { id: 17, 'line items': [{ sku: 'a' }, { sku: 'b' }] } };
  const read = (p: string) => {
    const path = parseJsonPath(p);
    assert.ok(!('error' in path), p);
    return readJsonPath(path, doc);
  };
  assert.equal(read('$.order.id'), 17);
  assert.equal(read("$.order['line items'][1].sku"), 'b');
  assert.deepEqual(read('$'), doc);
  assert.equal(read('$.order.missing'), undefined);
  assert.equal(read("$.order['line items'][5]"), undefined);
  assert.equal(read('$.order.id.deeper'), undefined);
  for (const bad of [
    'order.id',
    '$..id',
    '$.items[*]',
    '$.items[-1]',
    '$.items[0:2]',
    '$[?(@.a)]',
    '$.',
    "$['x",
  ]) {
    assert.ok('error' in parseJsonPath(bad), bad);
  }
});

function journey(yamlish: Parameters<typeof compileJourney>[0]): Journey {
  const c = compileJourney(yamlish);
  assert.ok('journey' in c, JSON.stringify(c));
  return c.journey;
}

const J = journey({
  name: 'j',
  every: 1000,
  timeout: 1000,
  variables: {},
  steps: [
    {
      name: 's',
      method: 'GET',
      path: '/',
      headers: {},
      extract: { id: '$.id' },
      expect: { status: [200], body: { '$.ok': true }, latency: 50 },
    },
  ],
});
const response = (over: Partial<StepResponse>): StepResponse => ({
  status: 200,
  latencyUs: 1_000,
  body: Buffer.from('{"ok":true,"id":"x1"}'),
  truncated: false,
  ...over,
});

test('assertions: status, body fields, latency budget; extraction only when the step passed', () => {
  const step = J.steps[0]!;
  assert.deepEqual(checkStep(step, response({})), { failures: [], extracted: [['id', 'x1']] });
  const bad = checkStep(
    step,
    response({ status: 201, latencyUs: 80_000, body: Buffer.from('{"ok":false}') }),
  );
  assert.deepEqual(bad.failures, [
    'status 201, expected 200',
    'latency 80.0 ms over the 50 ms budget',
    '$.ok is false, expected true',
    'extract id: $.id has no value',
  ]);
  assert.deepEqual(bad.extracted, []);
  assert.deepEqual(checkStep(step, response({ body: Buffer.from('<html>') })).failures, ['body is not JSON']);
  assert.deepEqual(checkStep(step, response({ status: 0, transport: 'timeout' })).failures, [
    'no response: timeout',
  ]);
});

test('an outcome is a record: a failed assertion is a failure, no response carries its flag', () => {
  const ok = armOutcome(response({}), []);
  assert.equal(ok.status, 200);
  assert.notDeepEqual([ok.hashLo, ok.hashHi], [0, 0]);
  assert.equal(armOutcome(response({}), ['x']).status, ASSERTION_FAILED_STATUS);
  assert.equal(armOutcome(response({ status: 503 }), ['x']).status, 503);
  const timeout = armOutcome(response({ status: 0, transport: 'timeout', body: Buffer.alloc(0) }), ['t']);
  assert.deepEqual([timeout.status, timeout.flags, timeout.hashLo, timeout.hashHi], [0, FLAG_TIMEOUT, 0, 0]);
});
