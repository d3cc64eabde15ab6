/**
 * Journeys in umbra.yaml: a valid one compiles; each kind of bad input
 * (unknown variable, invalid JSON path, a write without a sandbox, a bad
 * template, duplicate names) is refused at config check with its path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';

const SERVICE = [
  'services:',
  '  - name: shop',
  '    stable: v1',
  '    provisioner:',
  '      kind: static',
  '      versions: { v1: { endpoints: ["127.0.0.1:9001"] }, v2: { endpoints: ["127.0.0.1:9002"] } }',
];

/** The service with `lines` appended (indented under the service). */
function config(...lines: string[]): string {
  return [...SERVICE, ...lines].join('\n');
}

function errorsOf(text: string): string[] {
  const r = parseConfig(text);
  assert.equal(r.ok, false, 'expected the config to be refused');
  return r.ok ? [] : r.errors;
}

const CHECKOUT = [
  '    journeys:',
  '      - name: checkout',
  '        every: 5s',
  '        variables: { user: "u-{{run}}" }',
  '        steps:',
  '          - name: cart',
  '            path: /cart/{{user}}',
  '            extract: { itemId: "$.items[0].id" }',
  '            expect: { status: [200, 203], body: { "$.owner": "x" }, latency: 300ms }',
  '          - name: item',
  '            path: /items/{{itemId}}',
];

test('a journey with variables, extraction and assertions is valid, with defaults', () => {
  const r = parseConfig(config(...CHECKOUT));
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  const s = r.config.services[0]!;
  assert.equal(s.sideEffects, 'production');
  assert.equal(s.judge.syntheticShare, 0.2);
  const j = s.journeys[0]!;
  assert.equal(j.every, 5_000);
  assert.equal(j.timeout, 5_000);
  assert.equal(j.weight, 1);
  assert.equal(j.steps[0]!.method, 'GET');
  assert.equal(j.steps[0]!.expect.latency, 300);
  assert.equal(j.steps[1]!.expect.latency, undefined, 'no latency budget unless one is set');
});

test('a variable nobody defines is refused with its path', () => {
  const lines = [...CHECKOUT];
  lines[lines.length - 1] = '            path: /items/{{orderId}}';
  const errors = errorsOf(config(...lines));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^services\[0\]\.journeys\[0\]\.steps\[1\]\.path: unknown variable 'orderId'/);
});

test('a variable extracted by a later step is unknown to an earlier one', () => {
  const errors = errorsOf(
    config(
      '    journeys:',
      '      - name: j',
      '        steps:',
      '          - { name: a, path: "/a/{{id}}" }',
      '          - { name: b, path: /b, extract: { id: $.id } }',
    ),
  );
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^services\[0\]\.journeys\[0\]\.steps\[0\]\.path: unknown variable 'id'/);
});

test('a JSON path outside the supported subset is refused with its path', () => {
  const errors = errorsOf(
    config(
      '    journeys:',
      '      - name: j',
      '        steps:',
      '          - { name: a, path: /a, extract: { id: "$.items[*].id" } }',
      '          - { name: b, path: /b, expect: { body: { "items.id": 1 } } }',
    ),
  );
  assert.equal(errors.length, 2);
  assert.match(errors[0]!, /^services\[0\]\.journeys\[0\]\.steps\[0\]\.extract\.id: expected an array index/);
  assert.match(
    errors[1]!,
    /^services\[0\]\.journeys\[0\]\.steps\[1\]\.expect\.body\.items\.id: a JSON path starts with '\$'/,
  );
});

test('a write is refused unless the service writes to a sandbox', () => {
  const journey = [
    '    journeys:',
    '      - name: j',
    '        steps:',
    '          - { name: buy, method: POST, path: /buy }',
  ];
  const errors = errorsOf(config(...journey));
  assert.equal(errors.length, 1);
  assert.match(
    errors[0]!,
    /^services\[0\]\.journeys\[0\]\.steps\[0\]\.method: POST writes: .*sideEffects: sandbox/,
  );
  const r = parseConfig(config('    sideEffects: sandbox', ...journey));
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
});

test('a bad period and an empty journey are refused with their paths', () => {
  const errors = errorsOf(
    config(
      '    journeys:',
      '      - name: j',
      '        every: 10ms',
      '        steps: [{ name: a, path: /a }]',
      '      - name: k',
      '        steps: []',
    ),
  );
  assert.deepEqual(
    errors.map((e) => e.slice(0, e.indexOf(':'))),
    ['services[0].journeys[0].every', 'services[0].journeys[1].steps'],
  );
});

test('malformed templates and duplicate names are refused with their paths', () => {
  const errors = errorsOf(
    config(
      '    journeys:',
      '      - name: j',
      '        steps:',
      '          - { name: a, path: "/a/{{ bad name }}" }',
      '          - { name: a, path: "/b/{{run", headers: { x-user: "{{uuid}}" } }',
      '      - name: j',
      '        steps: [{ name: a, path: / }]',
    ),
  );
  assert.deepEqual([...errors].sort(), [
    "services[0].journeys[0].steps[0].path: '{{ bad name }}' is not a variable name (letters, digits, '_')",
    "services[0].journeys[0].steps[1].name: duplicate step 'a'",
    "services[0].journeys[0].steps[1].path: unclosed '{{' at character 4",
    "services[0].journeys[1].name: duplicate journey 'j'",
  ]);
});
